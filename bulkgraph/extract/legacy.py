"""Reading `aws_neo4j_map` archive folders as snapshots, in native boto3 response shapes.

The older tool wrote five flattened JSON files per run (`{region: [records]}`) into
`archive/[<profile>_]archive_YYYYmmdd_HHMMSS/`. This reader turns each record back into the
shape the EC2/RDS/ELBv2 APIs return, so the transform reads legacy and native snapshots
through one path.

What the old fields held (from its collector, `get_instance_1.py`: boto3 `ec2.Instance`):
`FQDN` = `instance.public_dns_name` (an empty string when the instance has no public DNS)
and `Hostname` = `instance.private_dns_name`; its loader stored `Hostname` as
`Instance.aws_hostname`. So `FQDN` -> `PublicDnsName`, `Hostname` -> `PrivateDnsName`.

What the legacy format never recorded is *unknown*, not empty: for every region seen, a
missing file, and DescribeVpcs/DescribeSubnets (never collected by the old tool), become
`CollectionError`s with error code `LegacyFileMissing` / `NotInLegacyFormat`. Which file
carries which operation, and which operations it never carried, is the registry's
(`extract/operations.py`, `legacy_file`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bulkgraph.errors import InputError
from bulkgraph.extract import jsonread
from bulkgraph.extract import operations as ops
from bulkgraph.extract.model import (
    LEGACY_FORMAT,
    AccountInfo,
    ApiResponse,
    CollectionError,
    SnapshotInfo,
    is_valid_snapshot_id,
)
from bulkgraph.extract.operations import (
    GLOBAL_REGION,
    OPERATIONS,
    Operation,
    Scope,
    legacy_files,
)

UNKNOWN_ACCOUNT = "unknown"

#: file -> the operations its records become (the registry's `legacy_file`)
LEGACY_FILES: dict[str, tuple[str, ...]] = legacy_files()
#: what the legacy format never recorded: unknown in every legacy snapshot
NEVER_COLLECTED: tuple[Operation, ...] = tuple(op for op in OPERATIONS if not op.in_legacy_format)

_STAMP_RE = re.compile(r"archive_(\d{8})_(\d{6})$")


def is_legacy_folder(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_file() for name in LEGACY_FILES)


def taken_at_from_name(name: str) -> datetime | None:
    """`[profile_]archive_YYYYmmdd_HHMMSS` -> that time in UTC."""
    match = _STAMP_RE.search(name)
    if not match:
        return None
    try:
        return datetime.strptime(match[1] + match[2], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def snapshot_id_from_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", name)[:128]
    return cleaned


def _tags(value: object) -> list[dict[str, str]]:
    if not isinstance(value, dict):
        return []
    return [{"Key": str(k), "Value": "" if v is None else str(v)} for k, v in value.items()]


def _records(value: object, what: str) -> list[dict[str, Any]]:
    """A list of objects, or TypeError (reported as a bad record by the reader)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise TypeError(f"{what} must be a list of objects, got {value!r:.60}")
    return value


def _put(target: dict[str, Any], key: str, value: object) -> None:
    # AWS leaves out what it has no value for; so do we (null and "" alike for ids/IPs)
    if value is not None and value != "":
        target[key] = value


def instance_to_api(rec: dict[str, Any]) -> dict[str, Any]:
    inst: dict[str, Any] = {"InstanceId": rec.get("Instance ID")}
    _put(inst, "PrivateIpAddress", rec.get("Internal IP"))
    _put(inst, "PublicIpAddress", rec.get("External IP"))
    # kept as recorded, "" included: that is what DescribeInstances returns too
    if rec.get("Hostname") is not None:
        inst["PrivateDnsName"] = rec["Hostname"]
    if rec.get("FQDN") is not None:
        inst["PublicDnsName"] = rec["FQDN"]
    _put(inst, "VpcId", rec.get("VPC"))
    _put(inst, "SubnetId", rec.get("Subnet ID"))
    if rec.get("State") is not None:
        inst["State"] = {"Name": rec["State"]}
    inst["SecurityGroups"] = [
        {"GroupName": g.get("GroupName"), "GroupId": g.get("GroupId")}
        for g in _records(rec.get("Security Groups"), "Security Groups")
    ]
    tags = _tags(rec.get("Tags"))
    if tags:
        inst["Tags"] = tags
    return inst


def security_group_to_api(rec: dict[str, Any], account_id: str) -> dict[str, Any]:
    sg: dict[str, Any] = {
        "GroupName": rec.get("GroupName"),
        "GroupId": rec.get("GroupId"),
        "Description": rec.get("Description"),
        "IpPermissions": rec.get("InboundRules") or [],
        "IpPermissionsEgress": rec.get("OutboundRules") or [],
    }
    if account_id != UNKNOWN_ACCOUNT:
        sg["OwnerId"] = account_id
    for key in ("VpcId", "Tags"):  # not in the spec's record, but kept if a variant had them
        if key in rec:
            sg[key] = rec[key] if key != "Tags" or isinstance(rec[key], list) else _tags(rec[key])
    return sg


def rds_to_api(rec: dict[str, Any]) -> dict[str, Any]:
    db: dict[str, Any] = {}
    for key in (
        "DBInstanceIdentifier",
        "DBInstanceStatus",
        "Engine",
        "EngineVersion",
        "DBInstanceClass",
        "MasterUsername",
        "MultiAZ",
        "PubliclyAccessible",
        "StorageEncrypted",
        "IAMDatabaseAuthenticationEnabled",
        "BackupRetentionPeriod",
        "DBName",
    ):
        if rec.get(key) is not None:
            db[key] = rec[key]
    if rec.get("Endpoint"):
        endpoint: dict[str, Any] = {"Address": rec["Endpoint"]}
        if rec.get("Port") is not None:
            endpoint["Port"] = rec["Port"]
        db["Endpoint"] = endpoint
    if rec.get("VPCId"):
        db["DBSubnetGroup"] = {"VpcId": rec["VPCId"]}
    db["VpcSecurityGroups"] = [
        {"VpcSecurityGroupId": g.get("VpcSecurityGroupId"), "Status": g.get("Status")}
        for g in _records(rec.get("VpcSecurityGroups"), "VpcSecurityGroups")
    ]
    return db


def peering_to_api(rec: dict[str, Any]) -> dict[str, Any]:
    pc: dict[str, Any] = {"VpcPeeringConnectionId": rec.get("PeeringConnectionId")}
    if rec.get("Status") is not None:
        pc["Status"] = {"Code": rec["Status"]}
    if rec.get("RequesterVPC"):
        pc["RequesterVpcInfo"] = {"VpcId": rec["RequesterVPC"]}
    if rec.get("AccepterVPC"):
        pc["AccepterVpcInfo"] = {"VpcId": rec["AccepterVPC"]}
    tags = _tags(rec.get("Tags"))
    if tags:
        pc["Tags"] = tags
    return pc


_LB_TYPES = {"app": "application", "net": "network", "gwy": "gateway"}


def _lb_name_and_type(arn: str) -> tuple[str | None, str | None]:
    # arn:aws:elasticloadbalancing:<region>:<acct>:loadbalancer/<app|net>/<name>/<id>
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[5].startswith("loadbalancer/"):
        bits = parts[5].split("/")
        if len(bits) >= 3:
            return bits[2], _LB_TYPES.get(bits[1])
    return None, None


def _target_type(target_id: str) -> str:
    if target_id.startswith("arn:") and ":lambda:" in target_id:
        return "lambda"
    if target_id.startswith("i-"):
        return "instance"
    if target_id.startswith("arn:") and ":loadbalancer/" in target_id:
        return "alb"
    return "ip"


def load_balancers_to_api(
    records: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(LoadBalancers, TargetGroups, TargetHealth calls) from the old flattened records."""
    lbs: list[dict[str, Any]] = []
    tgs: dict[str, dict[str, Any]] = {}
    health: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        arn = rec.get("LoadBalancerArn")
        lb: dict[str, Any] = {"LoadBalancerArn": arn}
        name, lb_type = _lb_name_and_type(arn or "")
        _put(lb, "LoadBalancerName", name)
        _put(lb, "Type", lb_type)
        for key in ("DNSName", "VpcId", "Scheme", "CreatedTime"):
            _put(lb, key, rec.get(key))
        if isinstance(rec.get("State"), dict):
            lb["State"] = rec["State"]
        groups = rec.get("SecurityGroups") or []
        if not isinstance(groups, list):
            raise TypeError(f"SecurityGroups must be a list, got {groups!r:.60}")
        lb["SecurityGroups"] = list(groups)
        lbs.append(lb)
        for tg_rec in _records(rec.get("TargetGroups"), "TargetGroups"):
            tg_arn = tg_rec.get("TargetGroupArn")
            if not isinstance(tg_arn, str) or not tg_arn:
                raise TypeError(f"target group without TargetGroupArn: {tg_rec!r:.60}")
            tg = tgs.setdefault(
                tg_arn,
                {
                    "TargetGroupArn": tg_arn,
                    "TargetGroupName": tg_rec.get("TargetGroupName"),
                    "LoadBalancerArns": [],
                },
            )
            if arn and arn not in tg["LoadBalancerArns"]:
                tg["LoadBalancerArns"].append(arn)
            descriptions = health.setdefault(tg_arn, [])
            types = set()
            for t in _records(tg_rec.get("Targets"), "Targets"):
                target_id = str(t.get("Target"))
                types.add(_target_type(target_id))
                desc: dict[str, Any] = {"Target": {"Id": target_id}}
                if t.get("Health") is not None:
                    desc["TargetHealth"] = {"State": t["Health"]}
                if desc not in descriptions:
                    descriptions.append(desc)
            if len(types) == 1:
                # unambiguous from the ids (i-…, lambda ARN, IP): TargetType is implied
                tg["TargetType"] = types.pop()
    calls = [
        {"request": {"TargetGroupArn": tg_arn}, "pages": [{"TargetHealthDescriptions": descs}]}
        for tg_arn, descs in health.items()
    ]
    return lbs, list(tgs.values()), calls


def _read_json(root: Path, name: str, where: str) -> tuple[bytes, dict[str, list[dict[str, Any]]]]:
    data, doc = jsonread.load_file(root / name, where, root=root)
    if not isinstance(doc, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(r, dict) for r in v)
        for k, v in doc.items()
    ):
        raise InputError(f"{where}: expected {{region: [records]}}")
    return data, doc


class LegacySnapshot:
    """An `aws_neo4j_map` archive folder, read as native API responses."""

    def __init__(
        self,
        root: Path,
        *,
        account_id: str | None = None,
        taken_at: datetime | None = None,
        location: str | None = None,
    ) -> None:
        self.root = root
        self.location = location or str(root)
        self.account_id = account_id or UNKNOWN_ACCOUNT
        when = taken_at or taken_at_from_name(root.name)
        if when is None:
            raise InputError(
                f"{self.location}: legacy archive folder name has no archive_YYYYmmdd_HHMMSS "
                "time stamp; give the time with --taken-at"
            )
        if when.tzinfo is None:
            raise InputError(f"{self.location}: taken_at {when.isoformat()} has no timezone")
        snapshot_id = snapshot_id_from_name(root.name)
        if not is_valid_snapshot_id(snapshot_id):
            raise InputError(f"{self.location}: cannot derive a snapshot id from the folder name")
        present = [name for name in sorted(LEGACY_FILES) if (root / name).is_file()]
        if not present:
            raise InputError(f"{self.location}: none of the aws_neo4j_map *_data.json files")
        digest = hashlib.sha256()
        regions: set[str] = set()
        for name in present:
            data, doc = _read_json(root, name, f"{self.location}/{name}")
            digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
            regions.update(doc)
        self.present = present
        self.regions = sorted(regions)
        errors: list[CollectionError] = []
        warnings: list[str] = []
        for name, operations in LEGACY_FILES.items():
            if name not in present:
                warnings.append(f"{name} missing: {', '.join(operations)} unknown")
                errors.extend(
                    CollectionError(self.account_id, r, op, "LegacyFileMissing", f"{name} missing")
                    for r in self.regions
                    for op in operations
                )
        unknown = [
            (r, op) for r in self.regions for op in NEVER_COLLECTED if op.scope is Scope.REGIONAL
        ]
        # a global operation is unknown once per account, not once per region
        unknown += [(GLOBAL_REGION, op) for op in NEVER_COLLECTED if op.scope is Scope.GLOBAL]
        errors.extend(
            CollectionError(
                self.account_id, r, op.name, "NotInLegacyFormat", "aws_neo4j_map never collected it"
            )
            for r, op in unknown
        )
        self._info = SnapshotInfo(
            snapshot_id=snapshot_id,
            taken_at=when,
            source=LEGACY_FORMAT,
            location=self.location,
            accounts=(AccountInfo(self.account_id, tuple(self.regions)),),
            errors=tuple(errors),
            checksum=digest.hexdigest(),
            collector={"name": LEGACY_FORMAT},
            warnings=tuple(warnings),
            files=tuple(present),
        )

    @property
    def info(self) -> SnapshotInfo:
        return self._info

    def _response(self, operation: str, region: str, name: str, calls: list[Any]) -> ApiResponse:
        return ApiResponse(
            operation=operation,
            account_id=self.account_id,
            region=region,
            path=f"{self.location}/{name}#{region}",
            calls=calls,
        )

    def responses(self) -> Iterator[ApiResponse]:
        for name in self.present:
            _, doc = _read_json(self.root, name, f"{self.location}/{name}")
            for region in sorted(doc):
                try:
                    converted = self._convert(name, region, doc[region])
                except (AttributeError, TypeError, KeyError, ValueError) as exc:
                    raise InputError(
                        f"{self.location}/{name}: region {region}: unexpected record shape "
                        f"({type(exc).__name__}: {exc})"
                    ) from None
                yield from converted

    def _convert(self, name: str, region: str, records: list[Any]) -> list[ApiResponse]:
        acct = self.account_id

        def one(operation: str, page: dict[str, Any]) -> ApiResponse:
            return self._response(operation, region, name, [{"request": {}, "pages": [page]}])

        if name == "instance_data.json":
            instances = [instance_to_api(r) for r in records]
            reservation: dict[str, Any] = {"Instances": instances}
            if acct != UNKNOWN_ACCOUNT:
                reservation["OwnerId"] = acct
            # the old tool kept no reservations: one per region holds all its instances
            return [
                one(
                    ops.DESCRIBE_INSTANCES.name,
                    {"Reservations": [reservation] if instances else []},
                )
            ]
        if name == "security_group_data.json":
            groups = [security_group_to_api(r, acct) for r in records]
            return [one(ops.DESCRIBE_SECURITY_GROUPS.name, {"SecurityGroups": groups})]
        if name == "rds_data.json":
            return [
                one(
                    ops.DESCRIBE_DB_INSTANCES.name,
                    {"DBInstances": [rds_to_api(r) for r in records]},
                )
            ]
        if name == "vpc_peering_data.json":
            pcs = [peering_to_api(r) for r in records]
            return [one(ops.DESCRIBE_VPC_PEERING_CONNECTIONS.name, {"VpcPeeringConnections": pcs})]
        if name == "alb_data.json":
            lbs, tgs, health_calls = load_balancers_to_api(records)
            return [
                one(ops.DESCRIBE_LOAD_BALANCERS.name, {"LoadBalancers": lbs}),
                one(ops.DESCRIBE_TARGET_GROUPS.name, {"TargetGroups": tgs}),
                self._response(ops.DESCRIBE_TARGET_HEALTH.name, region, name, health_calls),
            ]
        return []
