"""aws_neo4j_map archive folders read as native boto3 response shapes."""

from __future__ import annotations

import shutil
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bulkgraph.extract.legacy import LegacySnapshot
from bulkgraph.extract.model import ApiResponse
from bulkgraph.extract.sources import discover
from bulkgraph.extract.verify import verify

FIXTURES = Path(__file__).parent / "fixtures" / "legacy"
FULL = FIXTURES / "archive_20240315_103000"
PARTIAL = FIXTURES / "prod_archive_20240316_103000"


def by_op(snapshot: LegacySnapshot) -> dict[tuple[str, str], ApiResponse]:
    return {(r.operation, r.region): r for r in snapshot.responses()}


def test_info_from_folder_name() -> None:
    snap = LegacySnapshot(FULL)
    info = snap.info
    assert info.snapshot_id == "archive_20240315_103000"
    assert info.taken_at == datetime(2024, 3, 15, 10, 30, tzinfo=UTC)
    assert info.source == "aws_neo4j_map"
    assert info.accounts[0].account_id == "unknown"
    assert info.accounts[0].regions == ("eu-west-1", "us-east-1")
    assert len(info.files) == 5
    assert {e.error_code for e in info.errors} == {"NotInLegacyFormat"}
    assert verify(snap) == []


def test_options_override() -> None:
    when = datetime(2024, 1, 1, tzinfo=UTC)
    snap = LegacySnapshot(FULL, account_id="123456789012", taken_at=when)
    assert snap.info.taken_at == when
    assert snap.info.accounts[0].account_id == "123456789012"
    resp = by_op(snap)[("ec2:DescribeInstances", "us-east-1")]
    assert resp.account_id == "123456789012"
    assert resp.calls[0]["pages"][0]["Reservations"][0]["OwnerId"] == "123456789012"


def test_instances_in_native_shape() -> None:
    resp = by_op(LegacySnapshot(FULL))[("ec2:DescribeInstances", "us-east-1")]
    (page,) = list(resp.pages())
    instances = {i["InstanceId"]: i for r in page["Reservations"] for i in r["Instances"]}
    web = instances["i-0aaa000000000001"]
    assert web["PrivateDnsName"] == "ip-10-0-1-5.ec2.internal"  # old "Hostname"
    assert web["PublicDnsName"] == "ec2-54-10-0-5.compute-1.amazonaws.com"  # old "FQDN"
    assert web["PrivateIpAddress"] == "10.0.1.5"
    assert web["PublicIpAddress"] == "54.10.0.5"
    assert web["VpcId"] == "vpc-0a1"
    assert web["SubnetId"] == "subnet-0a1"
    assert web["State"] == {"Name": "running"}
    assert web["SecurityGroups"] == [{"GroupName": "web", "GroupId": "sg-0web"}]
    assert web["Tags"] == [{"Key": "Name", "Value": "web-1"}, {"Key": "owner", "Value": "alice"}]
    db = instances["i-0aaa000000000002"]
    assert "PublicIpAddress" not in db  # null in the old file: absent, like AWS
    assert db["PublicDnsName"] == ""  # what DescribeInstances returns without public DNS
    assert db["State"] == {"Name": "stopped"}
    empty = by_op(LegacySnapshot(FULL))[("ec2:DescribeInstances", "eu-west-1")]
    assert list(empty.pages()) == [{"Reservations": []}]


def test_security_groups_rds_peering() -> None:
    ops = by_op(LegacySnapshot(FULL))
    (sg_page,) = list(ops[("ec2:DescribeSecurityGroups", "us-east-1")].pages())
    groups = {g["GroupId"]: g for g in sg_page["SecurityGroups"]}
    assert groups["sg-0web"]["IpPermissions"][0]["IpRanges"] == [
        {"CidrIp": "0.0.0.0/0", "Description": "https"}
    ]
    assert groups["sg-0web"]["IpPermissionsEgress"][0]["IpProtocol"] == "-1"
    assert groups["sg-0db"]["IpPermissions"][0]["UserIdGroupPairs"][0]["GroupId"] == "sg-0web"
    assert groups["sg-0db"]["IpPermissionsEgress"] == []
    (rds_page,) = list(ops[("rds:DescribeDBInstances", "us-east-1")].pages())
    (db,) = rds_page["DBInstances"]
    assert db["Endpoint"] == {"Address": "orders.abc123.us-east-1.rds.amazonaws.com", "Port": 5432}
    assert db["DBSubnetGroup"] == {"VpcId": "vpc-0a1"}
    assert db["StorageEncrypted"] is False and db["PubliclyAccessible"] is True
    assert db["VpcSecurityGroups"] == [{"VpcSecurityGroupId": "sg-0db", "Status": "active"}]
    assert db["DBName"] == "orders" and db["BackupRetentionPeriod"] == 7
    (pcx_page,) = list(ops[("ec2:DescribeVpcPeeringConnections", "us-east-1")].pages())
    assert pcx_page["VpcPeeringConnections"] == [
        {
            "VpcPeeringConnectionId": "pcx-0ab",
            "Status": {"Code": "active"},
            "RequesterVpcInfo": {"VpcId": "vpc-0a1"},
            "AccepterVpcInfo": {"VpcId": "vpc-0b1"},
            "Tags": [{"Key": "Name", "Value": "us-eu"}],
        }
    ]


def test_load_balancers_split_into_three_operations() -> None:
    ops = by_op(LegacySnapshot(FULL))
    (lb_page,) = list(ops[("elbv2:DescribeLoadBalancers", "us-east-1")].pages())
    lbs = {lb["LoadBalancerName"]: lb for lb in lb_page["LoadBalancers"]}
    assert lbs["web"]["Type"] == "application"
    assert lbs["db"]["Type"] == "network"
    assert lbs["web"]["State"] == {"Code": "active"}
    assert lbs["web"]["CreatedTime"] == "2024-01-02T03:04:05.678000+00:00"
    assert lbs["web"]["SecurityGroups"] == ["sg-0web"]
    (tg_page,) = list(ops[("elbv2:DescribeTargetGroups", "us-east-1")].pages())
    tgs = {tg["TargetGroupName"]: tg for tg in tg_page["TargetGroups"]}
    assert {n: tg["TargetType"] for n, tg in tgs.items()} == {
        "web": "instance",
        "hook": "lambda",
        "db": "ip",
    }
    assert tgs["web"]["LoadBalancerArns"] == [lbs["web"]["LoadBalancerArn"]]
    health = ops[("elbv2:DescribeTargetHealth", "us-east-1")]
    targets: dict[str, Any] = defaultdict(list)
    for call in health.calls:
        for page in call["pages"]:
            for d in page["TargetHealthDescriptions"]:
                targets[call["request"]["TargetGroupArn"]].append(
                    (d["Target"]["Id"], d["TargetHealth"]["State"])
                )
    assert targets[tgs["db"]["TargetGroupArn"]] == [("10.0.2.9", "unhealthy")]
    assert targets[tgs["web"]["TargetGroupArn"]] == [("i-0aaa000000000001", "healthy")]


def test_missing_files_make_families_unknown() -> None:
    snap = LegacySnapshot(PARTIAL, account_id="999988887777")
    info = snap.info
    assert info.snapshot_id == "prod_archive_20240316_103000"
    assert info.taken_at == datetime(2024, 3, 16, 10, 30, tzinfo=UTC)
    missing = {(e.region, e.operation) for e in info.errors if e.error_code == "LegacyFileMissing"}
    assert ("us-east-1", "rds:DescribeDBInstances") in missing
    assert ("eu-west-1", "elbv2:DescribeTargetHealth") in missing
    assert {op for _, op in missing} == {
        "rds:DescribeDBInstances",
        "ec2:DescribeVpcPeeringConnections",
        "elbv2:DescribeLoadBalancers",
        "elbv2:DescribeTargetGroups",
        "elbv2:DescribeTargetHealth",
    }
    assert {r.operation for r in snap.responses()} == {
        "ec2:DescribeInstances",
        "ec2:DescribeSecurityGroups",
    }
    assert any("rds_data.json missing" in w for w in info.warnings)


def test_folder_without_time_needs_option(tmp_path: Path) -> None:
    folder = tmp_path / "old-run"
    shutil.copytree(PARTIAL, folder)
    result = discover([str(folder)], cache_dir=tmp_path / "c")
    assert result.snapshots == [] and "--taken-at" in result.problems[0].message
    when = datetime(2023, 5, 6, tzinfo=UTC)
    result = discover([str(folder)], cache_dir=tmp_path / "c", taken_at=when)
    assert [s.info.taken_at for s in result.snapshots] == [when]


def test_corrupt_record_reported(tmp_path: Path) -> None:
    folder = tmp_path / "archive_20240101_000000"
    folder.mkdir()
    (folder / "instance_data.json").write_text('{"us-east-1": [{"Security Groups": "oops"}]}')
    snap = LegacySnapshot(folder)
    problems = verify(snap)
    assert len(problems) == 1 and "unexpected record shape" in problems[0].message
    (folder / "rds_data.json").write_text("[1, 2")
    with pytest.raises(Exception, match="not valid JSON"):
        LegacySnapshot(folder)
