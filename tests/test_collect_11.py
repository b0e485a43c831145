"""Collecting the operations of snapshot format 1.1 from moto: every page stored, each call
made as the registry says (per load balancer, per batch of 20 ARNs, IAM once per account
under `global` with `Filter` `["Role"]`), and a failing one recorded while the rest is
collected. moto answers most of them in one page: tests/aws_pages.py pages its answers as
AWS would, so "more than one page" is real for every paginated operation."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_pages import MOTO_UNPAGED, PagedAnswers
from botocore.exceptions import ClientError
from moto import mock_aws

from bulkgraph.errors import ExitCode
from bulkgraph.extract import operations as ops
from bulkgraph.extract.collect import clean_page, collect
from bulkgraph.extract.native import NativeSnapshot
from bulkgraph.extract.operations import GLOBAL_REGION, OPERATIONS, Scope
from bulkgraph.extract.verify import verify

REGION = "us-east-1"
ACCT = "123456789012"
NEW = tuple(op for op in OPERATIONS if op.since == "1.1")
PAGE = 2  # items a page: every operation below has at least three


def _client(service: str) -> Any:
    session: Any = boto3.session.Session(region_name=REGION)
    return session.client(service)


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("h.py", "def h(event, context):\n    return {}\n")
    return buf.getvalue()


def _build() -> dict[str, Any]:
    """At least three of everything the 1.1 operations list; 2 load balancers and 22
    target groups (24 ARNs: two DescribeTags batches); one load balancer with 3 listeners."""
    ec2 = _client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{n}.0/24", AvailabilityZone=f"{REGION}{az}")[
            "Subnet"
        ]["SubnetId"]
        for n, az in enumerate("ab")
    ]
    for n in range(3):
        ec2.create_network_interface(SubnetId=subnets[0], Description=f"eni-{n}")
        ec2.create_route_table(VpcId=vpc)
        ec2.create_internet_gateway()
        alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
        ec2.create_nat_gateway(SubnetId=subnets[1], AllocationId=alloc)
        ec2.create_network_acl(VpcId=vpc)
    iam = _client("iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    roles = [
        iam.create_role(RoleName=f"role-{n}", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        for n in range(3)
    ]
    iam.create_user(UserName="not-asked-for")  # Filter ["Role"]: users are not collected
    lam = _client("lambda")
    for n in range(3):
        lam.create_function(
            FunctionName=f"fn-{n}",
            Runtime="python3.12",
            Role=roles[0],
            Handler="h.h",
            Code={"ZipFile": _zip()},
        )
    elb = _client("elbv2")
    lbs = [
        elb.create_load_balancer(Name=f"lb-{n}", Subnets=subnets, Tags=[{"Key": "n", "Value": n}])[
            "LoadBalancers"
        ][0]["LoadBalancerArn"]
        for n in ("0", "1")
    ]
    tgs = [
        elb.create_target_group(
            Name=f"tg-{n}", Protocol="HTTP", Port=80, VpcId=vpc, Tags=[{"Key": "n", "Value": "x"}]
        )["TargetGroups"][0]["TargetGroupArn"]
        for n in range(22)
    ]
    for port in (80, 81, 82):
        elb.create_listener(
            LoadBalancerArn=lbs[0],
            Protocol="HTTP",
            Port=port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tgs[port - 80]}],
        )
    return {"lbs": lbs, "tgs": tgs, "roles": roles}


def _items(pages: list[dict[str, Any]], key: str) -> list[Any]:
    return [item for page in pages for item in page.get(key, [])]


@pytest.mark.slow  # a moto estate collected (~10 s)
def test_every_1_1_operation_is_collected_page_by_page(tmp_path: Path, aws_env: None) -> None:
    paged = PagedAnswers(PAGE)
    with mock_aws():
        made = _build()
        result = collect(
            tmp_path,
            session_factory=paged.session_factory,
            regions=REGION,
            snapshot_id="p",
            operations=OPERATIONS,
        )
        # what moto holds, asked in one go (it does not page): the stored pages must add up
        whole = {
            "ec2:DescribeNetworkInterfaces": _client("ec2").describe_network_interfaces(),
            "ec2:DescribeRouteTables": _client("ec2").describe_route_tables(),
            "ec2:DescribeInternetGateways": _client("ec2").describe_internet_gateways(),
            "ec2:DescribeNatGateways": _client("ec2").describe_nat_gateways(),
            "ec2:DescribeNetworkAcls": _client("ec2").describe_network_acls(),
            "lambda:ListFunctions": _client("lambda").list_functions(),
        }
    assert result.errors == [] and result.exit_code == ExitCode.OK
    snap = NativeSnapshot(result.folder)
    assert verify(snap) == []
    by_op = {(r.operation, r.region): r for r in snap.responses()}
    assert {op for op, _ in by_op} == {op.name for op in OPERATIONS}

    list_key = {
        "ec2:DescribeNetworkInterfaces": "NetworkInterfaces",
        "ec2:DescribeRouteTables": "RouteTables",
        "ec2:DescribeInternetGateways": "InternetGateways",
        "ec2:DescribeNatGateways": "NatGateways",
        "ec2:DescribeNetworkAcls": "NetworkAcls",
        "lambda:ListFunctions": "Functions",
    }
    for name, key in list_key.items():
        (call,) = by_op[(name, REGION)].calls
        assert call["request"] == {}, name
        assert len(call["pages"]) > 1, name  # really paged: 3+ items, 2 a page
        assert _items(call["pages"], key) == clean_page(whole[name])[key], name
        assert all("NextToken" not in p and "NextMarker" not in p for p in call["pages"]), name

    # listeners: one call per load balancer, naming it; lb-0's three listeners on two pages
    listeners = by_op[("elbv2:DescribeListeners", REGION)].calls
    assert [c["request"] for c in listeners] == [{"LoadBalancerArn": a} for a in made["lbs"]]
    assert [len(c["pages"]) for c in listeners] == [2, 1]
    assert sorted(x["Port"] for x in _items(listeners[0]["pages"], "Listeners")) == [80, 81, 82]
    assert _items(listeners[1]["pages"], "Listeners") == []

    # tags: batches of at most 20 ARNs, load balancers first (then target groups, in the
    # order DescribeTargetGroups lists them), every ARN once
    tags = by_op[("elbv2:DescribeTags", REGION)].calls
    arns = [*made["lbs"], *made["tgs"]]
    batches = [c["request"]["ResourceArns"] for c in tags]
    assert [len(b) for b in batches] == [20, 4]
    asked = [a for b in batches for a in b]
    assert asked[:2] == made["lbs"] and sorted(asked) == sorted(arns)
    described = [d for c in tags for d in _items(c["pages"], "TagDescriptions")]
    assert sorted(d["ResourceArn"] for d in described) == sorted(arns)

    # IAM: once for the account, under `global`, roles only, every page kept
    iam = by_op[("iam:GetAccountAuthorizationDetails", GLOBAL_REGION)]
    (call,) = iam.calls
    assert call["request"] == {"Filter": ["Role"]}
    assert len(call["pages"]) > 1
    assert [p["IsTruncated"] for p in call["pages"]][-1] is False
    assert "Marker" not in call["pages"][0]
    role_arns = {r["Arn"] for r in _items(call["pages"], "RoleDetailList")}
    assert set(made["roles"]) <= role_arns
    assert _items(call["pages"], "UserDetailList") == []
    assert not any((op.name, REGION) in by_op for op in OPERATIONS if op.scope is Scope.GLOBAL)

    # the pages came from the paging handler, not from moto's one answer
    assert {op.name for op in MOTO_UNPAGED} == set(paged.served)
    assert all(paged.served[op.name] > 1 for op in MOTO_UNPAGED)


def _deny(*operations: str) -> Any:
    """Sessions on which the named operations fail with AccessDenied."""

    def hook(model: Any, **_: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": model.name}}, model.name)

    def factory(**kwargs: Any) -> Any:
        session = PagedAnswers(PAGE).session_factory(**kwargs)
        for name in operations:
            service, action = name.split(":")
            # first: before the paging handler answers in moto's place
            session.events.register_first(f"before-call.{service}.{action}", hook)
        return session

    return factory


@pytest.mark.slow  # two moto collections
@pytest.mark.parametrize(
    ("denied", "also_unknown"),
    [
        # independent of each other: the global one, a regional one, one called per batch
        (
            (
                (GLOBAL_REGION, "iam:GetAccountAuthorizationDetails"),
                (REGION, "ec2:DescribeRouteTables"),
                (REGION, "elbv2:DescribeTags"),
            ),
            (),
        ),
        # the listeners and tags of load balancers nobody could list: not called, recorded
        (
            ((REGION, "elbv2:DescribeLoadBalancers"),),
            ((REGION, "elbv2:DescribeListeners"), (REGION, "elbv2:DescribeTags")),
        ),
    ],
)
def test_denied_1_1_operations_are_recorded_and_the_rest_collected(
    tmp_path: Path,
    aws_env: None,
    denied: tuple[tuple[str, str], ...],
    also_unknown: tuple[tuple[str, str], ...],
) -> None:
    with mock_aws():
        _build()
        result = collect(
            tmp_path,
            session_factory=_deny(*(op for _, op in denied)),
            regions=REGION,
            snapshot_id="d",
        )
    assert result.exit_code == ExitCode.PARTIAL
    failed = {(e.region, e.operation) for e in result.errors}
    assert failed == set(denied) | set(also_unknown)
    # AccessDenied for what was denied; NotCalled for what needed its items
    assert {e.error_code for e in result.errors if (e.region, e.operation) in denied} == {
        "AccessDenied"
    }
    snap = NativeSnapshot(result.folder)
    assert verify(snap) == []
    # everything else is there; a failed operation has no file (not an empty one)
    held = {(r.region, r.operation) for r in snap.responses()}
    everything = {(r, op.name) for op in OPERATIONS for r in op.regions([REGION])}
    assert held == everything - failed


@pytest.mark.slow  # a moto estate collected (~10 s)
def test_a_failing_listener_call_keeps_the_other_load_balancers(
    tmp_path: Path, aws_env: None
) -> None:
    """Per item, one failing call is recorded; the calls for the other items are kept."""
    with mock_aws():
        made = _build()

        def hook(context: dict[str, Any], **_: Any) -> None:
            if context["api_params"].get("LoadBalancerArn") == made["lbs"][0]:
                raise ClientError({"Error": {"Code": "Throttling", "Message": "x"}}, "X")

        def factory(**kwargs: Any) -> Any:
            session = PagedAnswers(PAGE).session_factory(**kwargs)
            # first: before the paging handler answers in moto's place
            session.events.register_first("before-call.elbv2.DescribeListeners", hook)
            return session

        result = collect(tmp_path, session_factory=factory, regions=REGION, snapshot_id="l")
    assert [(e.operation, e.error_code) for e in result.errors] == [
        ("elbv2:DescribeListeners", "Throttling")
    ]
    (listeners,) = [
        r
        for r in NativeSnapshot(result.folder).responses()
        if r.operation == ops.DESCRIBE_LISTENERS.name
    ]
    assert [c["request"] for c in listeners.calls] == [{"LoadBalancerArn": made["lbs"][1]}]
