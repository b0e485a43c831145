"""The collector against an in-process moto estate."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from estate import build_estate, realistic_session_factory
from moto import mock_aws
from typer.testing import CliRunner

from bulkgraph.cli import app
from bulkgraph.errors import BulkgraphError, ExitCode
from bulkgraph.extract.collect import clean_page, collect, parse_role
from bulkgraph.extract.native import NativeSnapshot
from bulkgraph.extract.operations import OPERATIONS
from bulkgraph.extract.verify import verify

REGIONS = "us-east-1,eu-west-1"


def pages_of(snap: NativeSnapshot, operation: str, region: str) -> list[dict[str, Any]]:
    (resp,) = [r for r in snap.responses() if r.operation == operation and r.region == region]
    return list(resp.pages())


@pytest.mark.slow  # a whole moto estate collected
def test_collect_estate_then_verify(tmp_path: Path, aws_env: None) -> None:
    with mock_aws():
        estate = build_estate()
        result = collect(
            tmp_path,
            session_factory=realistic_session_factory,
            regions=REGIONS,
            snapshot_id="t1",
        )
    assert result.errors == []
    assert result.exit_code == ExitCode.OK
    assert result.files == 18  # nine operations, two regions
    snap = NativeSnapshot(result.folder)
    assert verify(snap) == []
    info = snap.info
    assert info.accounts[0].account_id == estate.account_id
    assert info.accounts[0].regions == ("eu-west-1", "us-east-1")
    assert info.completed_at is not None and info.completed_at >= info.taken_at

    us = estate.regions["us-east-1"]
    instances = {
        i["InstanceId"]: i
        for page in pages_of(snap, "ec2:DescribeInstances", "us-east-1")
        for r in page["Reservations"]
        for i in r["Instances"]
    }
    assert set(instances) == set(us.instances.values())
    assert {i: v["State"]["Name"] for i, v in instances.items()} == us.states
    terminated = instances[us.instances["old-us-east-1"]]
    assert "VpcId" not in terminated and "SubnetId" not in terminated
    assert isinstance(instances[us.instances["web-1-us-east-1"]]["LaunchTime"], str)
    for page in pages_of(snap, "ec2:DescribeInstances", "us-east-1"):
        assert "ResponseMetadata" not in page and "NextToken" not in page

    health = next(
        r
        for r in snap.responses()
        if r.operation == "elbv2:DescribeTargetHealth" and r.region == "us-east-1"
    )
    got = {
        call["request"]["TargetGroupArn"]: sorted(
            d["Target"]["Id"] for p in call["pages"] for d in p["TargetHealthDescriptions"]
        )
        for call in health.calls
    }
    assert got == {us.target_groups[name]: ids for name, ids in us.targets.items()}

    (rds_page,) = pages_of(snap, "rds:DescribeDBInstances", "eu-west-1")
    dbs = {d["DBInstanceIdentifier"]: d for d in rds_page["DBInstances"]}
    assert dbs["orders-db-eu-west-1"]["StorageEncrypted"] is False
    assert dbs["reports-db-eu-west-1"]["PubliclyAccessible"] is True

    peerings = pages_of(snap, "ec2:DescribeVpcPeeringConnections", "us-east-1")
    assert estate.peering in {
        p["VpcPeeringConnectionId"] for page in peerings for p in page["VpcPeeringConnections"]
    }
    # gzip data files, manifest written last and whole
    manifest = json.loads((result.folder / "manifest.json").read_text())
    assert manifest["errors"] == []
    first = result.folder / manifest["files"][0]["path"]
    assert json.loads(gzip.decompress(first.read_bytes()))["operation"]
    assert not list(result.folder.glob(".*tmp"))


def _deny_rds_in(region: str) -> Any:
    def hook(context: dict[str, Any], **_: Any) -> None:
        if context.get("client_region") == region:
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": f"denied in {region}"}},
                "DescribeDBInstances",
            )

    def factory(**kwargs: Any) -> Any:
        session = realistic_session_factory(**kwargs)
        session.events.register("before-call.rds.DescribeDBInstances", hook)
        return session

    return factory


@pytest.mark.slow  # a whole moto estate collected
def test_denied_region_is_recorded_not_fatal(tmp_path: Path, aws_env: None) -> None:
    with mock_aws():
        build_estate()
        result = collect(
            tmp_path, session_factory=_deny_rds_in("eu-west-1"), regions=REGIONS, snapshot_id="d"
        )
    assert result.exit_code == ExitCode.PARTIAL
    assert result.files == 17
    manifest = json.loads((result.folder / "manifest.json").read_text())
    assert manifest["errors"] == [
        {
            "account_id": "123456789012",
            "region": "eu-west-1",
            "operation": "rds:DescribeDBInstances",
            "error_code": "AccessDenied",
            "message": manifest["errors"][0]["message"],
        }
    ]
    assert "denied in eu-west-1" in manifest["errors"][0]["message"]
    snap = NativeSnapshot(result.folder)
    assert verify(snap) == []
    assert [(e.region, e.error_code) for e in snap.info.errors] == [("eu-west-1", "AccessDenied")]
    assert ("rds:DescribeDBInstances", "us-east-1") in {
        (r.operation, r.region) for r in snap.responses()
    }


def test_nothing_collected_is_failure(tmp_path: Path, aws_env: None) -> None:
    def deny_all(**kwargs: Any) -> Any:
        session = realistic_session_factory(**kwargs)

        def hook(event_name: str, **_: Any) -> None:
            if not event_name.startswith("before-call.sts."):
                raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "Any")

        session.events.register("before-call", hook)
        return session

    with mock_aws():
        result = collect(tmp_path, session_factory=deny_all, regions="us-east-1", snapshot_id="x")
    assert result.exit_code == ExitCode.FAILED
    assert result.manifest is None
    # every operation is recorded once: those called per item as not called for want of items
    assert sorted((e.region, e.operation) for e in result.errors) == sorted(
        (r, op.name) for op in OPERATIONS for r in op.regions(["us-east-1"])
    )
    assert not (tmp_path / "x").exists()


@pytest.mark.slow  # a whole moto estate collected
def test_assume_role_per_account(tmp_path: Path, aws_env: None) -> None:
    with mock_aws():
        result = collect(
            tmp_path,
            session_factory=realistic_session_factory,
            regions=["us-east-1"],
            role_arns=["arn:aws:iam::210987654321:role/audit,ext-1"],
            snapshot_id="r",
        )
    assert result.exit_code == ExitCode.OK
    assert list(result.accounts) == ["210987654321"]
    assert NativeSnapshot(result.folder).info.files[0].startswith("210987654321/us-east-1/")


def test_all_regions_uses_describe_regions(tmp_path: Path, aws_env: None) -> None:
    from bulkgraph.extract.collect import _resolve_regions

    with mock_aws():
        import boto3

        names = _resolve_regions(boto3.session.Session(), "all")
    assert "us-east-1" in names and "eu-west-1" in names and names == sorted(names)


def test_clean_page_and_role_parsing() -> None:
    from datetime import UTC, datetime

    page = {
        "ResponseMetadata": {"RequestId": "x"},
        "NextToken": "t",
        "Items": [{"When": datetime(2026, 1, 1, tzinfo=UTC), "Marker": "kept inside"}],
    }
    assert clean_page(page) == {
        "Items": [{"When": "2026-01-01T00:00:00+00:00", "Marker": "kept inside"}]
    }
    role = parse_role("arn:aws:iam::111122223333:role/x,secret")
    assert (role.account_id, role.external_id) == ("111122223333", "secret")


@pytest.mark.slow  # a whole moto estate collected
def test_cli_collect_and_list(
    tmp_path: Path, aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BULKGRAPH_CACHE_DIR", str(tmp_path / "cache"))
    from bulkgraph.settings import get_settings

    get_settings.cache_clear()
    runner = CliRunner()
    with mock_aws():
        build_estate()
        res = runner.invoke(
            app,
            [
                "collect",
                "--out",
                str(tmp_path / "out"),
                "--regions",
                REGIONS,
                "--snapshot-id",
                "cli-1",
                "--pack",
                "--json",
            ],
        )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["files"] == 18 and summary["archive"].endswith("cli-1.tar.gz")
    res = runner.invoke(app, ["snapshots", "list", "--json", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    listed = json.loads(res.stdout)
    # the folder and its tar are one snapshot
    assert [s["snapshot_id"] for s in listed["snapshots"]] == ["cli-1"]
    assert listed["snapshots"][0]["valid"] is True
    assert listed["snapshots"][0]["regions"] == ["eu-west-1", "us-east-1"]
    res = runner.invoke(app, ["collect", "--out", str(tmp_path), "--snapshot-id", "bad id"])
    # CliRunner bypasses run_main, which turns this into the message and exit code 2
    assert isinstance(res.exception, BulkgraphError)
    assert res.exception.exit_code == ExitCode.USAGE
    get_settings.cache_clear()
