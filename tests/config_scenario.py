"""A history of two accounts and two regions in AWS Config files (issue 19's scenario).

`write_scenario(base)` writes under `base/o-org1/AWSLogs/...`:

- account A, us-east-1: a snapshot file at D1-12h (VPC, subnet, security group `sg-web`,
  instances `i-old` 10.0.0.5 and `i-idle` stopped, an S3 bucket nobody adapts, an IAM role
  with awsRegion `global`); instance history in which `i-old` is deleted (07:00) and `i-new`
  discovered with 10.0.0.5 (08:00); a security group history straddling D2 in which an SSH
  rule is added (D1 20:00) and removed (D2 03:00);
- account A, eu-west-1: a VPC history, an instance history file that is not gzip, and an
  S3 bucket history file that is not gzip either (no adapter: never read);
- account B, us-east-1: its first file at D1 12:00 (the type URL-encoded in its key);
- account B, eu-west-1: RDS only as ResourceNotRecorded / ResourceDeletedNotRecorded, a VPC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from config_files import item, java_bean, write_history, write_snapshot

A, B = "111111111111", "222222222222"
US, EU = "us-east-1", "eu-west-1"
D1 = datetime(2026, 11, 1, tzinfo=UTC)
D2, D3 = D1 + timedelta(days=1), D1 + timedelta(days=2)
IDS = ["20261101T000000Z", "20261102T000000Z", "20261103T000000Z"]


def at(day: datetime, hour: int) -> datetime:
    return day + timedelta(hours=hour)


def _instance(iid: str, ip: str | None, state: str = "running") -> dict[str, Any]:
    boto: dict[str, Any] = {
        "InstanceId": iid,
        "State": {"Code": 16, "Name": state},
        "VpcId": "vpc-a1",
        "SubnetId": "subnet-a1",
        "LaunchTime": "2026-10-01T08:00:00+00:00",
        "SecurityGroups": [{"GroupName": "web", "GroupId": "sg-web"}],
        "Tags": [{"Key": "Name", "Value": iid}],
    }
    if ip:
        boto["PrivateIpAddress"] = ip
        boto["NetworkInterfaces"] = [
            {"PrivateIpAddresses": [{"PrivateIpAddress": ip, "Primary": True}]}
        ]
    return dict(java_bean(boto))


def _sg(*extra: dict[str, Any]) -> dict[str, Any]:
    rules = [
        {
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
        },
        *extra,
    ]
    return dict(
        java_bean(
            {"GroupId": "sg-web", "GroupName": "web", "VpcId": "vpc-a1", "IpPermissions": rules}
        )
    )


SSH = {
    "IpProtocol": "tcp",
    "FromPort": 22,
    "ToPort": 22,
    "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "ssh from the office"}],
}


@dataclass
class Scenario:
    root: Path
    corrupt: Path


def write_scenario(base: Path) -> Scenario:
    """Two accounts, two regions, every item status, an IP that moves from one instance to
    another, and a security group rule added and later removed."""
    root = base / "o-org1"
    n = iter(range(1000, 2000))

    def it(
        rtype: str,
        rid: str,
        conf: dict[str, Any] | None,
        account: str,
        region: str,
        when: datetime,
        status: str = "OK",
        **kw: Any,
    ) -> dict[str, Any]:
        return item(
            rtype,
            rid,
            conf,
            account=account,
            region=region,
            captured=when,
            state_id=next(n),
            status=status,
            **kw,
        )

    before = at(D1, -12)  # 2026-10-31T12:00Z
    write_snapshot(
        root,
        A,
        US,
        before,
        [
            it(
                "AWS::EC2::VPC",
                "vpc-a1",
                java_bean({"VpcId": "vpc-a1", "CidrBlock": "10.0.0.0/16"}),
                A,
                US,
                at(D1, -48),
            ),
            it(
                "AWS::EC2::Subnet",
                "subnet-a1",
                java_bean({"SubnetId": "subnet-a1", "VpcId": "vpc-a1"}),
                A,
                US,
                at(D1, -48),
            ),
            it("AWS::EC2::SecurityGroup", "sg-web", _sg(), A, US, at(D1, -48)),
            it(
                "AWS::EC2::Instance",
                "i-old",
                _instance("i-old", "10.0.0.5"),
                A,
                US,
                at(D1, -40),
                tags={"Name": "i-old"},
            ),
            it(
                "AWS::EC2::Instance",
                "i-idle",
                _instance("i-idle", "10.0.0.6", "stopped"),
                A,
                US,
                at(D1, -40),
            ),
            it("AWS::S3::Bucket", "logs", {"name": "logs"}, A, US, at(D1, -40)),  # not adapted
            it(
                "AWS::IAM::Role",
                "AROA1",
                java_bean({"RoleName": "app", "Path": "/"}),
                A,
                "global",
                at(D1, -40),
                arn=f"arn:aws:iam::{A}:role/app",
            ),
        ],
    )
    # the IP moves: i-old is deleted, i-new is discovered with its address
    write_history(
        root,
        A,
        US,
        "AWS::EC2::Instance",
        at(D1, 6),
        at(D1, 12),
        [
            it("AWS::EC2::Instance", "i-old", None, A, US, at(D1, 7), "ResourceDeleted"),
            it(
                "AWS::EC2::Instance",
                "i-new",
                _instance("i-new", "10.0.0.5"),
                A,
                US,
                at(D1, 8),
                "ResourceDiscovered",
            ),
        ],
    )
    # a rule added before D2 and removed after it, in one file that straddles D2
    write_history(
        root,
        A,
        US,
        "AWS::EC2::SecurityGroup",
        at(D1, 18),
        at(D2, 6),
        [
            it("AWS::EC2::SecurityGroup", "sg-web", _sg(SSH), A, US, at(D1, 20)),
            it("AWS::EC2::SecurityGroup", "sg-web", _sg(), A, US, at(D2, 3)),
        ],
    )
    write_history(
        root,
        A,
        EU,
        "AWS::EC2::VPC",
        at(D1, -24),
        at(D1, -18),
        [
            it(
                "AWS::EC2::VPC",
                "vpc-e1",
                java_bean({"VpcId": "vpc-e1"}),
                A,
                EU,
                at(D1, -23),
                "ResourceDiscovered",
            )
        ],
    )
    corrupt = write_history(root, A, EU, "AWS::EC2::Instance", at(D1, -24), at(D1, -18), [])
    corrupt.write_bytes(b"this is not gzip")
    # the history of a type no adapter reads is never opened (so this one is no problem)
    unread = write_history(root, A, EU, "AWS::S3::Bucket", at(D1, -24), at(D1, -18), [])
    unread.write_bytes(b"not gzip either, and nobody reads it")
    # account B's us-east-1 starts later (and its key has the type URL-encoded)
    write_history(
        root,
        B,
        US,
        "AWS::EC2::Instance",
        at(D1, 12),
        at(D1, 18),
        [
            it(
                "AWS::EC2::Instance",
                "i-b1",
                _instance("i-b1", "10.9.0.1"),
                B,
                US,
                at(D1, 13),
                "ResourceDiscovered",
            )
        ],
        encoded=True,
    )
    # account B's eu-west-1 does not record RDS
    write_history(
        root,
        B,
        EU,
        "AWS::RDS::DBInstance",
        at(D1, -24),
        at(D1, -18),
        [it("AWS::RDS::DBInstance", "db-X", None, B, EU, at(D1, -23), "ResourceNotRecorded")],
    )
    write_history(
        root,
        B,
        EU,
        "AWS::RDS::DBInstance",
        at(D1, 12),
        at(D1, 18),
        [it("AWS::RDS::DBInstance", "db-X", None, B, EU, at(D1, 13), "ResourceDeletedNotRecorded")],
    )
    write_history(
        root,
        B,
        EU,
        "AWS::EC2::VPC",
        at(D1, -24),
        at(D1, -18),
        [
            it(
                "AWS::EC2::VPC",
                "vpc-b1",
                java_bean({"VpcId": "vpc-b1"}),
                B,
                EU,
                at(D1, -23),
                "ResourceDiscovered",
            )
        ],
    )
    return Scenario(root.parent, corrupt)
