"""A history with churn of every kind, collected from the moto estate (tests/estate.py), for the
versions layout's tests (docs/versions-layout.md).

Six snapshots, oldest first:
- S0 `archive_20261201_020000`: a legacy aws_neo4j_map archive (format 1.0: no interfaces,
  routes, gateways, ACLs, IAM ...) written from S1's files: what 1.0 does not carry is
  unknown there.
- S1: the estate as `build_estate()` makes it, plus a stale rule: sg `web` of us-east-1
  admits 8443 from a group deleted since (a stub).
- S2: instance `web-2` of us-east-1 stopped (a property change); `web-1` of us-east-1
  tagged `patched=yes` (a relationship added); the rule of sg `web` (us-east-1) from
  198.51.100.0/24 revoked (a relationship removed; the CIDR vanishes); RDS `orders-db`
  of eu-west-1 deleted (vanishes).
- S3: the 198.51.100.0/24 rule back (the CIDR comes back the same); `orders-db` of eu-west-1
  back, encrypted this time (comes back changed).
- S4: rds:DescribeDBInstances in us-east-1 denied (RDS unknown there), and `reports-db` of
  us-east-1 really deleted meanwhile; `web-1` untagged `patched` (a relationship removed).
- S5: everything known again; `reports-db` of us-east-1 is gone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from estate import ACCOUNT_ID, Estate, build_estate, realistic_session_factory
from legacy_writer import write_legacy_archive
from moto import mock_aws

from bulkgraph.extract.collect import collect

US, EU = "us-east-1", "eu-west-1"
REGIONS = f"{US},{EU}"
LEGACY = "archive_20261201_020000"
S1, S2, S3, S4, S5 = (f"202612{d:02d}T020000Z" for d in range(2, 7))
SNAPSHOTS = (LEGACY, S1, S2, S3, S4, S5)
#: the snapshot that does not know RDS in us-east-1
UNKNOWN_RDS = S4
CIDR = "198.51.100.0/24"


@dataclass
class History:
    root: Path
    estate: Estate
    #: the snapshot folders and the legacy archive, oldest first
    sources: list[Path]

    @property
    def sources_text(self) -> list[str]:
        return [str(p) for p in self.sources]


def _taken(sid: str) -> dt.datetime:
    return dt.datetime.strptime(sid, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)


def _denied(region: str, operation: str) -> Any:
    """A session factory whose `operation` (`service:Name`) fails with AccessDenied in
    `region`: a collection error of one operation."""
    service, name = operation.split(":")

    def deny(context: dict[str, Any], **_: Any) -> None:
        if context.get("client_region") == region:
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, name
            )

    def factory(**kwargs: Any) -> Any:
        session = realistic_session_factory(**kwargs)
        session.events.register(f"before-call.{service}.{name}", deny)
        return session

    return factory


def _collect(root: Path, sid: str, factory: Any = realistic_session_factory) -> Path:
    result = collect(
        root,
        session_factory=factory,
        regions=REGIONS,
        snapshot_id=sid,
        now=lambda: _taken(sid),
    )
    return result.folder


def _rule(cidr: str, port: int) -> list[dict[str, Any]]:
    return [
        {
            "IpProtocol": "tcp",
            "FromPort": port,
            "ToPort": port,
            "IpRanges": [{"CidrIp": cidr, "Description": "partner"}],
        }
    ]


def _db(region: str, name: str, *, encrypted: bool, sg: str) -> None:
    boto3.client("rds", region_name=region).create_db_instance(
        DBInstanceIdentifier=name,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-123",
        AllocatedStorage=20,
        DBSubnetGroupName="main",
        VpcSecurityGroupIds=[sg],
        StorageEncrypted=encrypted,
        PubliclyAccessible=False,
        DBName="app",
    )


def build_history(root: Path) -> History:
    """Collect the six snapshots under `root` (see the module doc)."""
    with pytest.MonkeyPatch.context() as mp:
        for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
            mp.delenv(key, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", US)
        with mock_aws():
            return _history(root)


def _history(root: Path) -> History:
    estate = build_estate()
    us, eu = estate.regions[US], estate.regions[EU]
    ec2: Any = boto3.client("ec2", region_name=US)
    rds_eu = boto3.client("rds", region_name=EU)
    rds_us = boto3.client("rds", region_name=US)
    # a stale rule: from a group deleted since (a stub)
    partner = ec2.create_security_group(GroupName="partner", Description="p", VpcId=us.vpc)
    ec2.authorize_security_group_ingress(
        GroupId=us.sg_web,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 8443,
                "ToPort": 8443,
                "UserIdGroupPairs": [{"GroupId": partner["GroupId"]}],
            }
        ],
    )
    ec2.delete_security_group(GroupId=partner["GroupId"])
    ec2.authorize_security_group_ingress(GroupId=us.sg_web, IpPermissions=_rule(CIDR, 9000))
    folders = [_collect(root / "native", S1)]

    ec2.stop_instances(InstanceIds=[us.instances[f"web-2-{US}"]])
    ec2.create_tags(
        Resources=[us.instances[f"web-1-{US}"]], Tags=[{"Key": "patched", "Value": "yes"}]
    )
    ec2.revoke_security_group_ingress(GroupId=us.sg_web, IpPermissions=_rule(CIDR, 9000))
    orders_eu = next(d for d in eu.db_instances if d.startswith("orders-db"))
    rds_eu.delete_db_instance(DBInstanceIdentifier=orders_eu, SkipFinalSnapshot=True)
    folders.append(_collect(root / "native", S2))

    ec2.authorize_security_group_ingress(GroupId=us.sg_web, IpPermissions=_rule(CIDR, 9000))
    _db(EU, orders_eu, encrypted=True, sg=eu.sg_db)
    folders.append(_collect(root / "native", S3))

    reports_us = next(d for d in us.db_instances if d.startswith("reports-db"))
    rds_us.delete_db_instance(DBInstanceIdentifier=reports_us, SkipFinalSnapshot=True)
    ec2.delete_tags(Resources=[us.instances[f"web-1-{US}"]], Tags=[{"Key": "patched"}])
    folders.append(_collect(root / "native", S4, _denied(US, "rds:DescribeDBInstances")))

    folders.append(_collect(root / "native", S5))
    legacy = write_legacy_archive(folders[0], root / "legacy" / LEGACY)
    return History(root, estate, [legacy, *folders])


__all__ = ["ACCOUNT_ID", "SNAPSHOTS", "History", "build_history"]
