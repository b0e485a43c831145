"""The registry of operations (extract/operations.py) and everything that must agree with it."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import xform_name
from estate import build_estate, realistic_session_factory
from moto import mock_aws

from bulkgraph.errors import InputError
from bulkgraph.extract import operations
from bulkgraph.extract.collect import collect
from bulkgraph.extract.legacy import LegacySnapshot
from bulkgraph.extract.model import ApiResponse
from bulkgraph.extract.native import NativeSnapshot
from bulkgraph.extract.operations import (
    GLOBAL_REGION,
    OPERATIONS,
    Once,
    Operation,
    PerItem,
    RegistryError,
    Scope,
    Source,
)
from bulkgraph.extract.verify import call_problem
from bulkgraph.extract.writer import SnapshotWriter
from bulkgraph.transform.families import FAMILIES

ACCT = "123456789012"

LB_SOURCE = Source("elbv2:DescribeLoadBalancers", "LoadBalancers", "LoadBalancerArn")
IAM_DETAILS = operations.GET_ACCOUNT_AUTHORIZATION_DETAILS
LISTENERS = operations.DESCRIBE_LISTENERS
TAGS = operations.DESCRIBE_TAGS


def test_registry_can_express_global_per_load_balancer_and_per_batch_operations() -> None:
    assert IAM_DETAILS.path(ACCT, GLOBAL_REGION) == (
        f"{ACCT}/global/iam/GetAccountAuthorizationDetails.json.gz"
    )
    assert IAM_DETAILS.regions(["us-east-1", "eu-west-1"]) == [GLOBAL_REGION]
    assert LISTENERS.regions(("us-east-1", "eu-west-1")) == ["us-east-1", "eu-west-1"]
    assert not IAM_DETAILS.in_legacy_format and IAM_DETAILS.since == "1.1"
    assert IAM_DETAILS.describe() == (
        'once per account, `Filter` `["Role"]`, paginated; stored under the region folder '
        "`global` (`<account>/global/iam/...`)"
    )
    assert LISTENERS.describe() == "once per load balancer, `request` names it, paginated"
    assert TAGS.describe() == (
        "once per batch of at most 20 ARNs (load balancers and target groups), `request` names them"
    )
    arns = [f"arn:{n}" for n in range(45)]
    batches = TAGS.calls.requests([*arns, arns[0]])  # type: ignore[union-attr]
    assert [len(b["ResourceArns"]) for b in batches] == [20, 20, 5]
    assert [a for b in batches for a in b["ResourceArns"]] == arns
    assert LISTENERS.calls.requests(["a", "b", "a"]) == [  # type: ignore[union-attr]
        {"LoadBalancerArn": "a"},
        {"LoadBalancerArn": "b"},
    ]
    # their items come from operations listed before them, in the same scope
    assert OPERATIONS.index(LISTENERS) > OPERATIONS.index(operations.DESCRIBE_LOAD_BALANCERS)
    assert OPERATIONS.index(TAGS) > OPERATIONS.index(operations.DESCRIBE_TARGET_GROUPS)
    operations.check(OPERATIONS)


def test_registry_check_refuses_contradictions() -> None:
    with pytest.raises(RegistryError, match="not listed before it"):
        operations.check((TAGS, *OPERATIONS))
    with pytest.raises(RegistryError, match="listed twice"):
        operations.check((*OPERATIONS, operations.DESCRIBE_VPCS))
    global_per_lb = Operation(
        "iam", "X", None, scope=Scope.GLOBAL, calls=PerItem("lb", (LB_SOURCE,), "Arn")
    )
    with pytest.raises(RegistryError, match="differ in scope"):
        operations.check((*OPERATIONS, global_per_lb))


def test_version_1_registry_is_the_format_page_table() -> None:
    """The nine operations of snapshot-format.md version 1 and the nine added in 1.1, called
    as its two tables say (the "called" column, word for word)."""
    version_1 = {
        "ec2/DescribeInstances": "once, paginated",
        "ec2/DescribeSecurityGroups": "once, paginated",
        "ec2/DescribeVpcs": "once, paginated",
        "ec2/DescribeSubnets": "once, paginated",
        "ec2/DescribeVpcPeeringConnections": "once, paginated",
        "rds/DescribeDBInstances": "once, paginated",
        "elbv2/DescribeLoadBalancers": "once, paginated",
        "elbv2/DescribeTargetGroups": "once, paginated",
        "elbv2/DescribeTargetHealth": "once per target group, `request` names it",
    }
    version_1_1 = {
        "ec2/DescribeNetworkInterfaces": "once, paginated",
        "ec2/DescribeRouteTables": "once, paginated",
        "ec2/DescribeInternetGateways": "once, paginated",
        "ec2/DescribeNatGateways": "once, paginated",
        "ec2/DescribeNetworkAcls": "once, paginated",
        "elbv2/DescribeListeners": "once per load balancer, `request` names it",
        "elbv2/DescribeTags": "once per batch of at most 20 ARNs (load balancers and target "
        "groups), `request` names them",
        "lambda/ListFunctions": "once, paginated",
        "iam/GetAccountAuthorizationDetails": 'once per account, `Filter` `["Role"]`, paginated; '
        "stored under the region folder `global` (`<account>/global/iam/...`)",
    }
    # the page's one liberty: DescribeListeners paginates (boto3 has a paginator for it)
    # though its row does not say so; test_paginators_are_botocore_s holds the registry to it
    described = {op.key: op.describe() for op in OPERATIONS}
    described["elbv2/DescribeListeners"] = described["elbv2/DescribeListeners"].removesuffix(
        ", paginated"
    )
    assert described == version_1 | version_1_1
    assert {op.key for op in OPERATIONS if op.since == "1"} == set(version_1)
    assert {op.key for op in OPERATIONS if op.since == "1.1"} == set(version_1_1)
    assert {op.name for op in OPERATIONS if op.scope is Scope.GLOBAL} == {
        "iam:GetAccountAuthorizationDetails"
    }
    assert {op.name for op in OPERATIONS if not op.in_legacy_format} == {
        "ec2:DescribeVpcs",
        "ec2:DescribeSubnets",
        *(key.replace("/", ":") for key in version_1_1),
    }


def test_paginators_are_botocore_s() -> None:
    """An operation has a paginator exactly when boto3 has one, under that name."""
    session: Any = boto3.session.Session()  # Any: the stubs know client names as literals
    for op in OPERATIONS:
        client = session.client(op.service, region_name="us-east-1")
        method = xform_name(op.action)
        assert hasattr(client, method), op.name
        assert client.can_paginate(method) == (op.paginator is not None), op.name
        assert op.paginator in (None, method), op.name


def test_every_operation_has_a_family_or_is_marked_not_transformed() -> None:
    mapped = {op.name for op in OPERATIONS if op.transformed}
    assert set(FAMILIES) == mapped
    assert set(FAMILIES) <= set(operations.BY_NAME)


def _recording(calls: list[tuple[str, str]]) -> Any:
    def factory(**kwargs: Any) -> Any:
        session = realistic_session_factory(**kwargs)

        def hook(model: Any, context: dict[str, Any], **_: Any) -> None:
            service = model.service_model.service_name
            calls.append((f"{service}:{model.name}", context.get("client_region") or ""))

        session.events.register("before-call", hook)
        return session

    return factory


@pytest.mark.slow  # building the moto estate: ~10 s, more on a busy machine
def test_collector_calls_exactly_the_registry_s_operations(tmp_path: Path, aws_env: None) -> None:
    calls: list[tuple[str, str]] = []
    with mock_aws():
        build_estate()
        result = collect(
            tmp_path,
            session_factory=_recording(calls),
            regions="us-east-1,eu-west-1",
            snapshot_id="ops",
        )
    assert result.errors == []
    # botocore names the elbv2 service "elasticloadbalancing" in its model
    called = {
        op.replace("elasticloadbalancing:", "elbv2:")
        for op, _ in calls
        if not op.startswith("sts:")
    }
    assert called == {op.name for op in OPERATIONS}
    manifest = json.loads((result.folder / "manifest.json").read_text())
    assert sorted(f["path"] for f in manifest["files"]) == sorted(
        op.path(ACCT, r) for op in OPERATIONS for r in op.regions(("us-east-1", "eu-west-1"))
    )
    # each target group's health is asked once, naming it
    snap = NativeSnapshot(result.folder)
    for response in snap.responses():
        assert call_problem(response) is None


def test_collector_calls_a_global_operation_once_per_account(tmp_path: Path, aws_env: None) -> None:
    """Not one of the 1.1 operations: any global one shows where the collector puts it."""
    aliases = Operation("iam", "ListAccountAliases", "list_account_aliases", scope=Scope.GLOBAL)
    calls: list[tuple[str, str]] = []
    with mock_aws():
        result = collect(
            tmp_path,
            session_factory=_recording(calls),
            regions="us-east-1,eu-west-1",
            snapshot_id="g",
            operations=(operations.DESCRIBE_VPCS, aliases),
        )
    assert result.errors == []
    assert sorted(op for op, _ in calls if not op.startswith("sts:")) == [
        "ec2:DescribeVpcs",
        "ec2:DescribeVpcs",
        "iam:ListAccountAliases",
    ]
    manifest = json.loads((result.folder / "manifest.json").read_text())
    assert sorted(f["path"] for f in manifest["files"]) == [
        f"{ACCT}/eu-west-1/ec2/DescribeVpcs.json.gz",
        f"{ACCT}/global/iam/ListAccountAliases.json.gz",
        f"{ACCT}/us-east-1/ec2/DescribeVpcs.json.gz",
    ]
    doc = json.loads(gzip.decompress((result.folder / aliases.path(ACCT, "global")).read_bytes()))
    assert doc["region"] == "global" and doc["calls"][0]["pages"][0]["AccountAliases"] == []


def test_global_is_no_region_of_the_account(tmp_path: Path) -> None:
    """`global` holds the account's IAM; the transform and `unknown` go by the regions, so it
    is not one of them, even when the manifest's accounts list leaves regions out."""
    from datetime import UTC, datetime

    w = SnapshotWriter(tmp_path, "s", datetime(2026, 1, 1, tzinfo=UTC))
    w.write(operations.DESCRIBE_VPCS, ACCT, "us-east-1", [{"request": {}, "pages": []}])
    iam_call = {"request": {"Filter": ["Role"]}, "pages": [{"RoleDetailList": []}]}
    w.write(IAM_DETAILS, ACCT, GLOBAL_REGION, [iam_call])
    w.finish({}, [], datetime(2026, 1, 1, tzinfo=UTC))
    snap = NativeSnapshot(tmp_path / "s")
    assert [(a.account_id, a.regions) for a in snap.info.accounts] == [(ACCT, ("us-east-1",))]
    assert {(r.region, r.operation) for r in snap.responses()} == {
        ("us-east-1", "ec2:DescribeVpcs"),
        (GLOBAL_REGION, IAM_DETAILS.name),
    }


def test_reader_refuses_a_regional_operation_under_global(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    w = SnapshotWriter(tmp_path, "s", datetime(2026, 1, 1, tzinfo=UTC))
    w.write(operations.DESCRIBE_VPCS, ACCT, GLOBAL_REGION, [{"request": {}, "pages": []}])
    w.finish({ACCT: [GLOBAL_REGION]}, [], datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(InputError, match="ec2:DescribeVpcs is regional"):
        NativeSnapshot(tmp_path / "s")


def _response(operation: str, calls: list[dict[str, Any]]) -> ApiResponse:
    return ApiResponse(operation, ACCT, "us-east-1", "f.json.gz", calls)


def test_verify_checks_calls_against_how_the_operation_is_called() -> None:
    one: dict[str, Any] = {"request": {}, "pages": []}
    assert call_problem(_response("ec2:DescribeVpcs", [one])) is None
    assert "holds 2 calls" in str(call_problem(_response("ec2:DescribeVpcs", [one, one])))
    health = {"request": {"TargetGroupArn": "arn:tg"}, "pages": []}
    assert call_problem(_response("elbv2:DescribeTargetHealth", [health, health])) is None
    problem = call_problem(_response("elbv2:DescribeTargetHealth", [health, one, one]))
    assert problem == (
        "elbv2:DescribeTargetHealth is called once per target group, `request` names it, "
        "but request.TargetGroupArn is missing in calls[1] and 1 more"
    )
    assert call_problem(_response("sqs:ListQueues", [])) is None  # not known: not judged
    assert isinstance(operations.DESCRIBE_VPCS.calls, Once)


def test_legacy_reader_gives_the_registry_s_legacy_operations() -> None:
    folder = Path(__file__).parent.parent / "samples" / "archive_20261124_020000"
    snap = LegacySnapshot(folder, account_id=ACCT)
    assert len(snap.present) == 5
    produced = {(r.path.rsplit("/", 1)[1].split("#")[0], r.operation) for r in snap.responses()}
    declared = {(op.legacy_file, op.name) for op in OPERATIONS if op.legacy_file is not None}
    assert produced == declared
    unknown = {(e.region, e.operation) for e in snap.info.errors}
    assert unknown == {
        (r, op.name)
        for op in OPERATIONS
        if not op.in_legacy_format
        for r in op.regions(snap.regions)
    }
