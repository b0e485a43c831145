"""Snapshots from AWS Config files (issue 19): keys, adapters, the fold over a history of two
accounts and two regions, unknowns, unreadable files, byte-identical re-runs."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from config_scenario import D1, D2, D3, EU, IDS, US, A, B, Scenario, at, write_scenario

from bulkgraph.errors import BulkgraphError, ExitCode
from bulkgraph.extract.awsconfig import adapters
from bulkgraph.extract.awsconfig.build import (
    BEFORE_FIRST_CONFIG_FILE,
    NOT_IN_AWS_CONFIG,
    NOT_RECORDED,
    UNREADABLE_CONFIG_FILE,
    ConfigResult,
    from_config,
    parse_every,
    steps,
)
from bulkgraph.extract.awsconfig.files import ConfigItem
from bulkgraph.extract.awsconfig.keys import Kind, parse_key
from bulkgraph.extract.sources import discover

# --------------------------------------------------------------------------- keys


def test_keys_of_snapshot_and_history_files_at_any_depth() -> None:
    snap = parse_key(
        "/config/o-abc123/AWSLogs/111111111111/Config/us-east-1/2026/11/1/ConfigSnapshot/"
        "111111111111_Config_us-east-1_ConfigSnapshot_20261101T020304Z_0a1b-c2.json.gz"
    )
    assert snap is not None and snap.kind is Kind.SNAPSHOT
    assert (snap.account_id, snap.region, snap.start) == (
        A,
        US,
        datetime(2026, 11, 1, 2, 3, 4, tzinfo=UTC),
    )
    hist = parse_key(
        "AWSLogs/111111111111/Config/eu-west-1/2026/1/9/ConfigHistory/111111111111_Config_"
        "eu-west-1_ConfigHistory_AWS%3A%3AEC2%3A%3AInstance_20260109T000000Z_20260109T060000Z_1"
        ".json.gz"
    )
    assert hist is not None and hist.kind is Kind.HISTORY
    assert hist.resource_type == "AWS::EC2::Instance"
    assert (hist.start, hist.end) == (
        datetime(2026, 1, 9, tzinfo=UTC),
        datetime(2026, 1, 9, 6, tzinfo=UTC),
    )
    # not Config files: the writability check, oversized notifications, CloudTrail
    assert parse_key("AWSLogs/111111111111/Config/ConfigWritabilityCheckFile") is None
    assert parse_key("AWSLogs/111111111111/CloudTrail/us-east-1/2026/11/01/x.json.gz") is None


def test_steps_on_a_grid_from_midnight() -> None:
    assert steps(at(D1, 5), at(D3, 0), timedelta(days=1)) == [D2, D3]
    assert steps(D1, at(D1, 13), parse_every("6h")) == [D1, at(D1, 6), at(D1, 12)]
    with pytest.raises(BulkgraphError):
        parse_every("daily")


# --------------------------------------------------------------------------- adapters


def _item(rtype: str, configuration: dict[str, Any], **kw: Any) -> ConfigItem:
    return ConfigItem(
        resource_type=rtype,
        resource_id=kw.pop("resource_id", "r-1"),
        account_id=A,
        region=US,
        capture_time=D1,
        state_id=1,
        status="OK",
        arn=kw.pop("arn", None),
        tags=kw.pop("tags", {}),
        configuration=configuration,
    )


def test_rds_java_bean_names_become_boto3_names() -> None:
    rds = adapters.ADAPTERS[adapters.DB_INSTANCE]
    record = rds.record(
        _item(
            adapters.DB_INSTANCE,
            {
                "dBInstanceIdentifier": "orders",
                "iAMDatabaseAuthenticationEnabled": True,
                "multiAZ": False,
                "dbiResourceId": "db-ABC",
                "dbinstancePort": 0,  # the spelling the generic rule would get wrong
                "dBSubnetGroup": {"vpcId": "vpc-1", "dBSubnetGroupName": "main"},
                "endpoint": {"address": "orders.x", "port": 5432},
                "instanceCreateTime": "2026-10-01T10:00:00.250Z",
            },
            tags={"team": "data"},
        )
    )
    assert record == {
        "DBInstanceIdentifier": "orders",
        "IAMDatabaseAuthenticationEnabled": True,
        "MultiAZ": False,
        "DbiResourceId": "db-ABC",
        "DbInstancePort": 0,
        "DBSubnetGroup": {"VpcId": "vpc-1", "DBSubnetGroupName": "main"},
        "Endpoint": {"Address": "orders.x", "Port": 5432},
        "InstanceCreateTime": "2026-10-01T10:00:00.250000+00:00",
        "TagList": [{"Key": "team", "Value": "data"}],
    }


def test_load_balancer_dns_name_and_arn() -> None:
    lb = adapters.ADAPTERS[adapters.LOAD_BALANCER].record(
        _item(
            adapters.LOAD_BALANCER,
            {"dNSName": "web.elb", "loadBalancerName": "web", "state": {"code": "active"}},
            arn="arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/app/web/1",
        )
    )
    assert lb["DNSName"] == "web.elb" and lb["State"] == {"Code": "active"}
    assert lb["LoadBalancerArn"].endswith("app/web/1") and "Tags" not in lb


def test_security_group_ranges_flat_and_v4() -> None:
    sg = adapters.ADAPTERS[adapters.SECURITY_GROUP]
    flat = sg.record(
        _item(
            adapters.SECURITY_GROUP,
            {
                "groupId": "sg-1",
                "ipPermissions": [{"ipProtocol": "tcp", "ipRanges": ["10.0.0.0/8"]}],
            },
        )
    )
    assert flat["IpPermissions"] == [{"IpProtocol": "tcp", "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]
    both = sg.record(
        _item(
            adapters.SECURITY_GROUP,
            {
                "groupId": "sg-1",
                "ipPermissionsEgress": [
                    {
                        "ipProtocol": "-1",
                        "ipRanges": ["0.0.0.0/0"],
                        "ipv4Ranges": [{"cidrIp": "0.0.0.0/0", "description": "all"}],
                        "ipv6Ranges": [{"cidrIpv6": "::/0"}],
                    }
                ],
            },
        )
    )
    assert both["IpPermissionsEgress"] == [
        {
            "IpProtocol": "-1",
            "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "all"}],
            "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
        }
    ]


def test_lambda_variables_and_iam_policies_keep_their_data() -> None:
    fn = adapters.ADAPTERS[adapters.FUNCTION].record(
        _item(
            adapters.FUNCTION,
            {"functionName": "hook", "environment": {"variables": {"db_host": "x", "mode": "y"}}},
        )
    )
    assert fn["Environment"] == {"Variables": {"db_host": "x", "mode": "y"}}
    doc = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*"}]}'
    from urllib.parse import quote

    role = adapters.ADAPTERS[adapters.ROLE].record(
        _item(
            adapters.ROLE,
            {
                "roleName": "app",
                "assumeRolePolicyDocument": quote(doc),
                "rolePolicyList": [{"policyName": "p", "policyDocument": quote(doc)}],
                "createDate": "2026-01-01T00:00:00.000Z",
            },
            resource_id="AROA1",
            arn="arn:aws:iam::111111111111:role/app",
            tags={"k": "v"},
        )
    )
    assert role["AssumeRolePolicyDocument"] == json.loads(doc)
    assert role["RolePolicyList"][0]["PolicyDocument"]["Statement"][0]["Action"] == "s3:*"
    assert role["RoleId"] == "AROA1" and role["Arn"].endswith(":role/app")
    assert role["CreateDate"] == "2026-01-01T00:00:00+00:00"
    assert role["Tags"] == [{"Key": "k", "Value": "v"}]


def test_listener_in_cloudformation_case_is_kept() -> None:
    listener = adapters.ADAPTERS[adapters.LISTENER].record(
        _item(
            adapters.LISTENER,
            {"LoadBalancerArn": "arn:lb", "Port": 80, "Protocol": "HTTP", "DefaultActions": []},
            resource_id="arn:listener",
            arn="arn:listener",
        )
    )
    assert listener == {
        "LoadBalancerArn": "arn:lb",
        "Port": 80,
        "Protocol": "HTTP",
        "DefaultActions": [],
        "ListenerArn": "arn:listener",
    }


# --------------------------------------------------------------------------- a history


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return write_scenario(tmp_path_factory.mktemp("config") / "bucket")


def _run(scenario: Scenario, out: Path, **kw: Any) -> ConfigResult:
    return from_config([str(scenario.root)], out, since=D1, until=D3, **kw)


@pytest.fixture(scope="module")
def built(
    scenario: Scenario, tmp_path_factory: pytest.TempPathFactory
) -> tuple[ConfigResult, Path]:
    out = tmp_path_factory.mktemp("snapshots")
    return _run(scenario, out), out


class View:
    """One written snapshot: its manifest, errors and records."""

    def __init__(self, folder: Path) -> None:
        self.manifest = json.loads((folder / "manifest.json").read_text())
        self.folder = folder

    def errors(self) -> dict[tuple[str, str, str], str]:
        return {
            (e["account_id"], e["region"], e["operation"]): e["error_code"]
            for e in self.manifest["errors"]
        }

    def calls(self, account: str, region: str, key: str) -> list[dict[str, Any]]:
        doc = json.loads(
            gzip.decompress((self.folder / account / region / f"{key}.json.gz").read_bytes())
        )
        return list(doc["calls"])

    def page(self, account: str, region: str, key: str) -> dict[str, Any]:
        (call,) = self.calls(account, region, key)
        (page,) = call["pages"]
        return dict(page)

    def instances(self, account: str, region: str) -> dict[str, str | None]:
        page = self.page(account, region, "ec2/DescribeInstances")
        return {
            i["InstanceId"]: i.get("PrivateIpAddress")
            for r in page["Reservations"]
            for i in r["Instances"]
        }

    def ports(self) -> list[int]:
        (sg,) = self.page(A, US, "ec2/DescribeSecurityGroups")["SecurityGroups"]
        return [r["FromPort"] for r in sg["IpPermissions"]]


def test_one_snapshot_per_step_with_the_unreadable_file_named(
    built: tuple[ConfigResult, Path], scenario: Scenario
) -> None:
    result, out = built
    assert result.written == IDS and result.skipped == []
    assert [p.location for p in result.problems] == [str(scenario.corrupt)]
    assert "cannot be read" in result.problems[0].message
    assert result.exit_code is ExitCode.PARTIAL
    view = View(out / IDS[0])
    assert view.manifest["format"] == "bulkgraph-snapshot/1"
    assert view.manifest["collector"]["name"] == "aws-config"
    assert view.manifest["taken_at"] == "2026-11-01T00:00:00+00:00"
    assert view.manifest["accounts"] == [
        {"account_id": A, "regions": [EU, US]},
        {"account_id": B, "regions": [EU, US]},
    ]


def test_the_ip_moves_from_one_instance_to_another(built: tuple[ConfigResult, Path]) -> None:
    _, out = built
    assert View(out / IDS[0]).instances(A, US) == {"i-idle": "10.0.0.6", "i-old": "10.0.0.5"}
    assert View(out / IDS[1]).instances(A, US) == {"i-idle": "10.0.0.6", "i-new": "10.0.0.5"}
    d1 = View(out / IDS[0]).page(A, US, "ec2/DescribeInstances")["Reservations"]
    old = next(r["Instances"][0] for r in d1 if r["Instances"][0]["InstanceId"] == "i-old")
    assert old["LaunchTime"] == "2026-10-01T08:00:00+00:00"
    assert old["Tags"] == [{"Key": "Name", "Value": "i-old"}]


def test_a_rule_added_and_later_removed(built: tuple[ConfigResult, Path]) -> None:
    _, out = built
    assert [View(out / sid).ports() for sid in IDS] == [[443], [443, 22], [443]]
    (sg,) = View(out / IDS[1]).page(A, US, "ec2/DescribeSecurityGroups")["SecurityGroups"]
    assert sg["IpPermissions"][1]["IpRanges"] == [
        {"CidrIp": "10.0.0.0/8", "Description": "ssh from the office"}
    ]


def test_what_config_cannot_tell_is_unknown(built: tuple[ConfigResult, Path]) -> None:
    _, out = built
    d1, d2 = View(out / IDS[0]).errors(), View(out / IDS[1]).errors()
    # never in Config
    assert d1[(A, US, "elbv2:DescribeTargetGroups")] == NOT_IN_AWS_CONFIG
    assert d1[(A, US, "elbv2:DescribeTargetHealth")] == NOT_IN_AWS_CONFIG
    # B's us-east-1 starts after D1
    assert d1[(B, US, "ec2:DescribeInstances")] == BEFORE_FIRST_CONFIG_FILE
    assert (B, US, "ec2:DescribeInstances") not in d2
    assert View(out / IDS[1]).instances(B, US) == {"i-b1": "10.9.0.1"}
    # the unreadable history file: A's eu-west-1 instances are unknown, its VPCs known
    assert d1[(A, EU, "ec2:DescribeInstances")] == UNREADABLE_CONFIG_FILE
    assert (A, EU, "ec2:DescribeVpcs") not in d1
    assert View(out / IDS[0]).page(A, EU, "ec2/DescribeVpcs") == {"Vpcs": [{"VpcId": "vpc-e1"}]}
    # RDS only ever ResourceNotRecorded / ResourceDeletedNotRecorded in B's eu-west-1
    assert d1[(B, EU, "rds:DescribeDBInstances")] == NOT_RECORDED
    assert d2[(B, EU, "rds:DescribeDBInstances")] == NOT_RECORDED
    # types with no item are unknown, never empty
    assert d1[(A, US, "rds:DescribeDBInstances")] == NOT_RECORDED
    assert not (out / IDS[0] / A / US / "rds").exists()
    # load balancers unknown: so are their listeners and tags
    assert d1[(A, US, "elbv2:DescribeListeners")] == NOT_RECORDED
    assert d1[(A, US, "elbv2:DescribeTags")] == NOT_RECORDED


def test_iam_roles_go_to_the_global_folder(built: tuple[ConfigResult, Path]) -> None:
    _, out = built
    view = View(out / IDS[0])
    (call,) = view.calls(A, "global", "iam/GetAccountAuthorizationDetails")
    assert call["request"] == {"Filter": ["Role"]}
    assert [r["RoleName"] for r in call["pages"][0]["RoleDetailList"]] == ["app"]
    assert view.errors()[(B, "global", "iam:GetAccountAuthorizationDetails")] == NOT_RECORDED


def test_the_archives_are_native_snapshots(
    built: tuple[ConfigResult, Path], tmp_path: Path
) -> None:
    _, out = built
    found = discover([str(out)], cache_dir=tmp_path)
    assert found.problems == []
    assert [s.info.snapshot_id for s in found.snapshots] == IDS
    assert all(s.info.warnings == () for s in found.snapshots)
    # and the transform takes them as any other: nothing failed, nothing rejected
    from bulkgraph.transform.run import transform

    done = transform(found.snapshots, tmp_path / "csv", workers=1)
    assert done.failed == {} and done.rejected == 0
    instances = (tmp_path / "csv" / "nodes" / "Instance" / f"{IDS[1]}.csv").read_text()
    assert '"i-new"' in instances and '"10.0.0.5"' in instances and '"i-old"' not in instances


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_rerun_is_byte_identical_and_skips_what_exists(
    built: tuple[ConfigResult, Path], scenario: Scenario, tmp_path: Path
) -> None:
    _, out = built
    again = _run(scenario, tmp_path / "again")
    assert again.written == IDS
    assert _digests(tmp_path / "again") == _digests(out)
    before = _digests(out)
    skipped = _run(scenario, out)
    assert skipped.written == [] and skipped.skipped == IDS
    assert _digests(out) == before


def test_filters_and_no_files(scenario: Scenario, tmp_path: Path) -> None:
    result = _run(scenario, tmp_path / "a", accounts=[B], regions=[US])
    view = View(tmp_path / "a" / IDS[1])
    assert view.manifest["accounts"] == [{"account_id": B, "regions": [US]}]
    assert result.problems == []
    with pytest.raises(BulkgraphError, match="no AWS Config files"):
        _run(scenario, tmp_path / "b", accounts=["999999999999"])


# --------------------------------------------------------------------------- the fold


def test_latest_item_wins_whatever_the_reading_order(tmp_path: Path) -> None:
    """Items of one resource read newest first: the newest stays; at the same capture time
    the higher configurationStateId wins; a deletion is not undone by an older item."""
    from bulkgraph.extract.awsconfig.files import ConfigFile as _File
    from bulkgraph.extract.awsconfig.fold import RegionState
    from bulkgraph.extract.awsconfig.keys import Kind
    from bulkgraph.extract.awsconfig.store import Store

    def vpc(rid: str, hour: int, state: int, status: str = "OK", cidr: str = "") -> ConfigItem:
        return ConfigItem(
            "AWS::EC2::VPC",
            rid,
            A,
            US,
            at(D1, hour),
            state,
            status,
            None,
            configuration=None
            if status == "ResourceDeleted"
            else {"vpcId": rid, "cidrBlock": cidr},
        )

    items = [
        vpc("vpc-1", 5, 20, cidr="10.2.0.0/16"),
        vpc("vpc-1", 5, 10, cidr="10.1.0.0/16"),  # same time, lower state id: older
        vpc("vpc-1", 2, 5, cidr="10.0.0.0/16"),
        vpc("vpc-2", 6, 30, "ResourceDeleted"),
        vpc("vpc-2", 3, 7, "ResourceDiscovered", cidr="10.9.0.0/16"),
    ]
    file = _File(D1, at(D1, 6), A, US, Kind.HISTORY, "AWS::EC2::VPC", "mem")
    store = Store(tmp_path / "s.sqlite")
    state = RegionState(A, US, store)
    state.add(file)
    state.prepare()
    assert state.advance(at(D1, 12), lambda _: iter(items)) == []
    (held,) = list(state.current("AWS::EC2::VPC"))
    assert json.loads(held.record or b"") == {"VpcId": "vpc-1", "CidrBlock": "10.2.0.0/16"}
    store.close()
