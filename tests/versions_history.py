"""Six nightly native snapshots with churn of every kind, for the versions layout's tests
(tests/test_load_versions.py), written with the collector's own SnapshotWriter.

Account 111111111111, regions us-east-1 (US) and eu-west-1 (EU). Night by night:

- N1: US: instances i-a (running, sg-a, tag Name=a) and i-b (running, sg-a); groups sg-a
  (tcp/22 from 10.0.0.0/8) and sg-b (tcp/443 from 10.0.0.0/8); db-us (in sg-a).
  EU: instance i-e (sg-e), group sg-e, database db-eu (unencrypted).
- N2: i-a stopped (a property changes) and re-tagged Name=a2 (a TAGGED relationship
  changes, a new Tag); i-b moves from sg-a to sg-b (a relationship changes, i-b does not).
- N3: i-b is gone; sg-a opens tcp/22 to 0.0.0.0/0 (a new IPRange, ALLOWED changes).
- N4: i-b is back, exactly as in N2; rds:DescribeDBInstances failed in EU (AccessDenied):
  RDS is unknown there; db-eu was encrypted meanwhile, but N4 cannot tell.
- N5: RDS known again (db-eu encrypted: its first version ends now, not at N4); i-a also
  names group sg-x, which no snapshot describes yet: a stub.
- N6: sg-x is described (the stub's version ends, the group's begins); db-us is gone.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from pathlib import Path
from typing import Any

from unknown_estate import _EMPTY, ACCOUNT, EU, US, write_snapshot

NIGHTS = tuple(f"2026030{n}T020000Z" for n in range(1, 7))
N1, N2, N3, N4, N5, N6 = NIGHTS
#: night -> (region, operation) that failed
DENIED = {N4: ((EU, "rds:DescribeDBInstances"),)}


def taken_at(night: str) -> dt.datetime:
    return dt.datetime.strptime(night, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)


def _instance(iid: str, ip: str, groups: list[str], state: str = "running", **tags: str) -> Any:
    return {
        "InstanceId": iid,
        "PrivateIpAddress": ip,
        "State": {"Name": state},
        "InstanceType": "t3.micro",
        "SecurityGroups": [{"GroupId": g, "GroupName": g} for g in groups],
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }


def _group(gid: str, port: int, cidr: str) -> dict[str, Any]:
    return {
        "GroupId": gid,
        "GroupName": gid,
        "Description": "test",
        "IpPermissions": [
            {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": cidr}]}
        ],
        "IpPermissionsEgress": [],
    }


def _db(name: str, encrypted: bool, groups: list[str]) -> dict[str, Any]:
    return {
        "DBInstanceIdentifier": name,
        "DBInstanceStatus": "available",
        "Engine": "postgres",
        "StorageEncrypted": encrypted,
        "PubliclyAccessible": False,
        "VpcSecurityGroups": [{"VpcSecurityGroupId": g, "Status": "active"} for g in groups],
    }


def _pages(night: int, region: str) -> dict[str, dict[str, Any]]:
    """Night `night` (1-6): operation -> its one page in `region`."""
    if region == US:
        a_groups = ["sg-a", "sg-x"] if night >= 5 else ["sg-a"]
        instances = [
            _instance("i-a", "10.0.0.1", a_groups, "running" if night == 1 else "stopped",
                      Name="a" if night == 1 else "a2"),
        ]  # fmt: skip
        if night != 3:
            instances.append(_instance("i-b", "10.0.0.2", ["sg-a" if night == 1 else "sg-b"]))
        groups = [
            _group("sg-a", 22, "10.0.0.0/8" if night < 3 else "0.0.0.0/0"),
            _group("sg-b", 443, "10.0.0.0/8"),
        ]
        if night >= 6:
            groups.append(_group("sg-x", 8080, "10.0.0.0/8"))
        dbs = [_db("db-us", True, ["sg-a"])] if night < 6 else []
    else:
        instances = [_instance("i-e", "10.1.0.1", ["sg-e"])]
        groups = [_group("sg-e", 22, "0.0.0.0/0")]
        dbs = [_db("db-eu", night >= 4, [])]
    return {
        **_EMPTY,
        "ec2:DescribeInstances": {"Reservations": [{"Instances": instances}]},
        "ec2:DescribeSecurityGroups": {"SecurityGroups": groups},
        "rds:DescribeDBInstances": {"DBInstances": dbs},
    }


def write_history(root: Path) -> list[Path]:
    """The six snapshot folders under `root`, oldest first (written as `unknown_estate.py`
    writes its snapshots)."""
    return [
        write_snapshot(root, sid, taken_at(sid), partial(_pages, n), DENIED.get(sid, ()))
        for n, sid in enumerate(NIGHTS, 1)
    ]


#: the account and regions are unknown_estate's: its writer writes these nights too
__all__ = [
    "ACCOUNT",
    "DENIED",
    "EU",
    "N1",
    "N2",
    "N3",
    "N4",
    "N5",
    "N6",
    "NIGHTS",
    "US",
    "taken_at",
    "write_history",
]
