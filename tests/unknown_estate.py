"""Three native snapshots where RDS and security groups of one region are AccessDenied in
the middle one, written with the collector's own SnapshotWriter (tests/test_unknown.py).

Account 111111111111, regions us-east-1 and eu-west-1:
- S1: us-east-1 holds db-us (encrypted, publicly accessible, in sg-us which admits
  10.0.0.0/8 only) and db-us-gone, instances i-us and i-us-gone; eu-west-1 holds db-eu
  (unencrypted), instance i-eu and sg-eu (tcp/22 from 0.0.0.0/0).
- S2: db-us-gone and i-us-gone are really gone (their calls succeeded); in eu-west-1,
  rds:DescribeDBInstances and ec2:DescribeSecurityGroups failed with AccessDenied, in
  us-east-1 ec2:DescribeSecurityGroups did.
- S3: everything known again; eu-west-1 holds db-eu as before and a new db-eu-new.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from functools import partial
from pathlib import Path
from typing import Any

from bulkgraph.extract.model import CollectionError
from bulkgraph.extract.operations import GLOBAL_REGION, OPERATIONS
from bulkgraph.extract.writer import SnapshotWriter
from bulkgraph.transform.families import FAMILIES

ACCOUNT = "111111111111"
US, EU = "us-east-1", "eu-west-1"
S1, S2, S3 = "20260101T000000Z", "20260102T000000Z", "20260103T000000Z"
#: region -> the calls that fail in S2
DENIED = {
    EU: ("rds:DescribeDBInstances", "ec2:DescribeSecurityGroups"),
    US: ("ec2:DescribeSecurityGroups",),
}

_EMPTY: dict[str, dict[str, Any]] = {
    "ec2:DescribeVpcs": {"Vpcs": []},
    "ec2:DescribeSubnets": {"Subnets": []},
    "ec2:DescribeVpcPeeringConnections": {"VpcPeeringConnections": []},
    "elbv2:DescribeLoadBalancers": {"LoadBalancers": []},
    "elbv2:DescribeTargetGroups": {"TargetGroups": []},
    # snapshot format 1.1: known and empty in every snapshot here
    "ec2:DescribeNetworkInterfaces": {"NetworkInterfaces": []},
    "ec2:DescribeRouteTables": {"RouteTables": []},
    "ec2:DescribeInternetGateways": {"InternetGateways": []},
    "ec2:DescribeNatGateways": {"NatGateways": []},
    "ec2:DescribeNetworkAcls": {"NetworkAcls": []},
    "lambda:ListFunctions": {"Functions": []},
}
#: called per item (per target group, per load balancer): no items, so no calls
_PER_ITEM = ("elbv2:DescribeTargetHealth", "elbv2:DescribeListeners", "elbv2:DescribeTags")
#: the global operation, once per account under the region folder `global`
_IAM = "iam:GetAccountAuthorizationDetails"
_IAM_CALL = {"request": {"Filter": ["Role"]}, "pages": [{"RoleDetailList": []}]}


def _instance(iid: str, ip: str, sg: str) -> dict[str, Any]:
    return {
        "InstanceId": iid,
        "PrivateIpAddress": ip,
        "State": {"Name": "running"},
        "SecurityGroups": [{"GroupId": sg, "GroupName": sg}],
    }


def _db(name: str, encrypted: bool, public: bool = False, sg: str = "") -> dict[str, Any]:
    return {
        "DBInstanceIdentifier": name,
        "DBInstanceStatus": "available",
        "Engine": "postgres",
        "StorageEncrypted": encrypted,
        "PubliclyAccessible": public,
        "IAMDatabaseAuthenticationEnabled": True,
        "VpcSecurityGroups": [{"VpcSecurityGroupId": sg, "Status": "active"}] if sg else [],
    }


def _group(gid: str, open_to_world: bool) -> dict[str, Any]:
    ranges = [{"CidrIp": "0.0.0.0/0" if open_to_world else "10.0.0.0/8"}]
    return {
        "GroupId": gid,
        "GroupName": gid,
        "Description": "test",
        "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": ranges}],
        "IpPermissionsEgress": [],
    }


def _pages(n: int, region: str) -> dict[str, dict[str, Any]]:
    """Snapshot n (1-3): operation -> its one page in `region`."""
    if region == US:
        instances = [_instance("i-us", "10.0.0.1", "sg-us")]
        dbs = [_db("db-us", True, public=True, sg="sg-us")]
        if n == 1:
            instances.append(_instance("i-us-gone", "10.0.0.2", "sg-us"))
            dbs.append(_db("db-us-gone", True))
        groups = [_group("sg-us", False)]
    else:
        instances = [_instance("i-eu", "10.1.0.1", "sg-eu")]
        dbs = [_db("db-eu", False)] + ([_db("db-eu-new", True)] if n == 3 else [])
        groups = [_group("sg-eu", True)]
    return {
        **_EMPTY,
        "ec2:DescribeInstances": {"Reservations": [{"Instances": instances}]},
        "ec2:DescribeSecurityGroups": {"SecurityGroups": groups},
        "rds:DescribeDBInstances": {"DBInstances": dbs},
    }


def write_snapshots(root: Path) -> list[Path]:
    """The three snapshot folders under `root`, oldest first."""
    folders = []
    for n, sid in enumerate((S1, S2, S3), 1):
        taken = dt.datetime.strptime(sid, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        denied = {(r, op) for r, ops in DENIED.items() for op in ops} if n == 2 else set()
        folders.append(write_snapshot(root, sid, taken, partial(_pages, n), denied))
    return folders


def write_snapshot(
    root: Path,
    sid: str,
    taken: dt.datetime,
    pages: Callable[[str], dict[str, dict[str, Any]]],
    denied: Collection[tuple[str, str]] = (),
) -> Path:
    """One snapshot of ACCOUNT in US and EU: `pages(region)` gives operation -> its one page
    there (with `_EMPTY` for the operations the estate has nothing for), the (region,
    operation) calls in `denied` failed with AccessDenied. tests/versions_history.py writes
    its nights with it too.

    Only the operations the transform has a family for are written: any other would be
    ignored input (exit 3) for the transform. test_operations holds the registry to having
    a family for every operation, so this is all of them once every family exists."""
    writer = SnapshotWriter(root, sid, taken)
    errors: list[CollectionError] = []
    for region in (US, EU):
        region_pages = pages(region)
        # every operation of the registry is written (or recorded failed) below
        assert {*region_pages, *_PER_ITEM, _IAM} == {op.name for op in OPERATIONS}
        for op, page in region_pages.items():
            if op not in FAMILIES:
                continue
            if (region, op) in denied:
                errors.append(
                    CollectionError(ACCOUNT, region, op, "AccessDenied", "not authorized")
                )
                continue
            writer.write(op, ACCOUNT, region, [{"request": {}, "pages": [page]}])
        for op in _PER_ITEM:
            if op in FAMILIES:
                writer.write(op, ACCOUNT, region, [])
    if _IAM in FAMILIES:
        writer.write(_IAM, ACCOUNT, GLOBAL_REGION, [_IAM_CALL])
    writer.finish({ACCOUNT: [US, EU]}, errors, taken + dt.timedelta(minutes=3))
    return writer.folder
