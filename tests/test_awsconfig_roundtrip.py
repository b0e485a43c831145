"""One moto estate two ways (issue 19): collected natively, and expressed as the AWS Config
files Config would have delivered for it (its Describe records in Config's item shape, in a
snapshot file and in history files). Both are transformed; every node and relationship CSV of
the families Config records must be the same. What Config cannot give (target groups, their
targets and health) is left out of the comparison, and must be unknown in the Config
snapshot, not empty."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from config_files import item, java_bean, write_history, write_snapshot
from estate import REGIONS, build_estate, realistic_session_factory
from legacy_writer import native_pages
from moto import mock_aws

from bulkgraph.extract.awsconfig.build import NOT_IN_AWS_CONFIG, NOT_RECORDED, from_config
from bulkgraph.extract.collect import collect
from bulkgraph.extract.sources import discover
from bulkgraph.transform.run import transform
from bulkgraph.transform.unknown import PRODUCES

pytestmark = pytest.mark.slow

T = datetime(2026, 11, 28, tzinfo=UTC)
SID = "20261128T000000Z"

#: operation -> (Config resource type, list of records in a page, id field, tags field)
CONFIG_TYPES: dict[str, tuple[str, str, str, str | None]] = {
    "ec2:DescribeVpcs": ("AWS::EC2::VPC", "Vpcs", "VpcId", "Tags"),
    "ec2:DescribeSubnets": ("AWS::EC2::Subnet", "Subnets", "SubnetId", "Tags"),
    "ec2:DescribeSecurityGroups": ("AWS::EC2::SecurityGroup", "SecurityGroups", "GroupId", "Tags"),
    "ec2:DescribeInstances": ("AWS::EC2::Instance", "Reservations", "InstanceId", "Tags"),
    "ec2:DescribeVpcPeeringConnections": (
        "AWS::EC2::VPCPeeringConnection",
        "VpcPeeringConnections",
        "VpcPeeringConnectionId",
        "Tags",
    ),
    # Config's resourceId of a database is its DbiResourceId, which moto gives every
    # database alike: the identifier keeps them apart here
    "rds:DescribeDBInstances": (
        "AWS::RDS::DBInstance",
        "DBInstances",
        "DBInstanceIdentifier",
        "TagList",
    ),
    "elbv2:DescribeLoadBalancers": (
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "LoadBalancers",
        "LoadBalancerArn",
        None,  # from elbv2:DescribeTags
    ),
    # snapshot format 1.1
    "ec2:DescribeNetworkInterfaces": (
        "AWS::EC2::NetworkInterface",
        "NetworkInterfaces",
        "NetworkInterfaceId",
        "TagSet",
    ),
    "ec2:DescribeRouteTables": ("AWS::EC2::RouteTable", "RouteTables", "RouteTableId", "Tags"),
    "ec2:DescribeInternetGateways": (
        "AWS::EC2::InternetGateway",
        "InternetGateways",
        "InternetGatewayId",
        "Tags",
    ),
    "ec2:DescribeNatGateways": ("AWS::EC2::NatGateway", "NatGateways", "NatGatewayId", "Tags"),
    "ec2:DescribeNetworkAcls": ("AWS::EC2::NetworkAcl", "NetworkAcls", "NetworkAclId", "Tags"),
    "elbv2:DescribeListeners": (
        "AWS::ElasticLoadBalancingV2::Listener",
        "Listeners",
        "ListenerArn",
        None,
    ),
    "lambda:ListFunctions": ("AWS::Lambda::Function", "Functions", "FunctionName", None),
    "iam:GetAccountAuthorizationDetails": ("AWS::IAM::Role", "RoleDetailList", "RoleId", "Tags"),
}
#: Config writes these in CloudFormation's case, not as Java beans
CLOUDFORMATION_CASE = ("AWS::ElasticLoadBalancingV2::Listener",)
#: Config records global resources in one region, with `awsRegion` `global`
GLOBAL_IN = "us-east-1"


def _configuration(rtype: str, record: dict[str, Any]) -> dict[str, Any]:
    if rtype in CLOUDFORMATION_CASE:
        return record
    if rtype == "AWS::IAM::Role":
        # Config writes policy documents URL-encoded
        record = json.loads(json.dumps(record))
        record["AssumeRolePolicyDocument"] = quote(json.dumps(record["AssumeRolePolicyDocument"]))
        for policy in record.get("RolePolicyList", []):
            policy["PolicyDocument"] = quote(json.dumps(policy["PolicyDocument"]))
    return dict(java_bean(record))


#: delivered in the periodic snapshot file; the rest arrive as history files
IN_SNAPSHOT_FILE = ("AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::SecurityGroup")


def _not_in_config() -> set[str]:
    """The labels only the operations Config does not cover give (target groups, and the
    IP addresses and Lambda functions that are targets)."""
    from bulkgraph.extract.awsconfig.adapters import BY_OPERATION

    unknown = {lb for op, lbs in PRODUCES.items() if op not in BY_OPERATION for lb in lbs}
    known = {lb for op, lbs in PRODUCES.items() if op in BY_OPERATION for lb in lbs}
    return unknown - known


def _compared(name: str) -> bool:
    """`nodes/<Label>/...` or `relationships/<TYPE>__<Start>__<End>/...` of what Config gives."""
    kind, group = name.split("/")[:2]
    if kind == "nodes" and group == "Snapshot":
        return False  # what it does not know differs: compared apart
    labels = [group] if kind == "nodes" else group.split("__")[1:]
    return not any(label in NOT_IN_CONFIG for label in labels)


def _records(op: str, page: dict[str, Any]) -> Iterator[dict[str, Any]]:
    _, key, _, _ = CONFIG_TYPES[op]
    if op == "ec2:DescribeInstances":
        for reservation in page[key]:
            yield from reservation["Instances"]
    else:
        yield from page[key]


def write_config_files(native: Path, root: Path, account: str) -> None:
    """The Config files of the native snapshot's resources."""
    state = iter(range(1, 100_000))
    lb_tags = {
        d["ResourceArn"]: {t["Key"]: t.get("Value", "") for t in d.get("Tags", [])}
        for op, _, _, page in native_pages(native)
        if op == "elbv2:DescribeTags"
        for d in page["TagDescriptions"]
    }
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for op, region, _, page in native_pages(native):
        if op not in CONFIG_TYPES:
            continue
        rtype, _, id_field, tags_field = CONFIG_TYPES[op]
        file_region = GLOBAL_IN if region == "global" else region
        for record in _records(op, page):
            rid = record[id_field]
            tags = {t["Key"]: t.get("Value", "") for t in record.get(tags_field or "", []) or []}
            arn = (
                record.get("LoadBalancerArn")
                or record.get("DBInstanceArn")
                or record.get("ListenerArn")
                or record.get("FunctionArn")
                or record.get("Arn")
            )
            found.setdefault((file_region, rtype), []).append(
                item(
                    rtype,
                    str(rid),
                    _configuration(rtype, record),
                    account=account,
                    region=region,
                    # resources in the snapshot file were captured before it, the others after
                    captured=T - timedelta(hours=48 if rtype in IN_SNAPSHOT_FILE else 27),
                    state_id=next(state),
                    status="ResourceDiscovered",
                    arn=arn,
                    tags=lb_tags.get(str(arn), tags),
                )
            )
    for region in REGIONS:
        snapshot = [i for rtype in IN_SNAPSHOT_FILE for i in found.get((region, rtype), [])]
        write_snapshot(root, account, region, T - timedelta(hours=36), snapshot)
    for (region, rtype), items in sorted(found.items()):
        if rtype not in IN_SNAPSHOT_FILE:
            write_history(
                root,
                account,
                region,
                rtype,
                T - timedelta(hours=30),
                T - timedelta(hours=24),
                items,
            )


@dataclass
class Both:
    native_snapshot: Path
    native: Path
    config: Path
    config_snapshot: Path


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Both:
    root = tmp_path_factory.mktemp("roundtrip")
    with pytest.MonkeyPatch.context() as mp:
        for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
            mp.delenv(key, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        with mock_aws():
            estate = build_estate()
            result = collect(
                root / "native",
                session_factory=realistic_session_factory,
                regions=list(REGIONS),
                snapshot_id=SID,
                now=lambda: T,
            )
    assert result.manifest is not None
    write_config_files(result.folder, root / "bucket", estate.account_id)
    built = from_config([str(root / "bucket")], root / "config", since=T, until=T)
    assert built.written == [SID] and built.problems == []

    def csv(source: Path, name: str) -> Path:
        found = discover([str(source)], cache_dir=root / "cache")
        assert found.problems == []
        out = root / name
        done = transform(found.snapshots, out, workers=1)
        assert done.failed == {} and done.rejected == 0
        return out

    return Both(
        result.folder,
        csv(result.folder, "csv-native"),
        csv(root / "config" / SID, "csv-config"),
        root / "config" / SID,
    )


NOT_IN_CONFIG = _not_in_config()


def _csvs(folder: Path) -> dict[str, Path]:
    return {
        str(p.relative_to(folder)): p
        for p in sorted(folder.rglob("*.csv"))
        if p.name != "header.csv" and "state" not in p.relative_to(folder).parts
    }


def _rows(path: Path) -> list[list[str]]:
    """The rows, sorted, without `fingerprint`: it hashes a node's relationships too, and
    those to target groups are not in Config (the relationships themselves are compared one
    by one). Rows come in the order of the API's records, which Config does not keep."""
    header = next(csv.reader((path.parent / "header.csv").open()))
    keep = [i for i, name in enumerate(header) if name != "fingerprint"]
    return sorted([row[i] for i in keep] for row in csv.reader(path.open()))


def test_both_give_the_same_csvs_for_what_config_records(both: Both) -> None:
    native, config = _csvs(both.native), _csvs(both.config)

    # a tag only a target group carries: Config records no target groups, so not its tags
    def tag_ends(kinds: str) -> set[str]:
        return {
            row[1]
            for name, path in native.items()
            if name.split("/")[1].startswith("TAGGED__")
            and name.split("/")[1].endswith("__Tag")
            and (name.split("/")[1] == "TAGGED__TargetGroup__Tag") == (kinds == "tg")
            for row in _rows(path)
        }

    tg_only = tag_ends("tg") - tag_ends("other")
    compared = []
    for name, path in native.items():
        if not _compared(name):
            continue
        assert name in config, f"{name}: missing from the Config side"
        want = [row for row in _rows(path) if not tg_only.intersection(row)]
        assert _rows(config[name]) == want, name
        compared.append(name.split("/")[1])
    for group in (
        "Instance",
        "SecurityGroup",
        "VPC",
        "Subnet",
        "RDSInstance",
        "LoadBalancer",
        "Tag",
        "ALLOWED__IPRange__SecurityGroup",
        "ALLOWED__SecurityGroup__SecurityGroup",
        "PEERED_TO__VPC__VPC",
        "BELONGS_TO__RDSInstance__SecurityGroup",
    ):
        assert group in compared, (group, compared)
    # every label a transformed family gives from a type Config records, wherever the estate
    # has such resources (graph model 1.1's too, once their families are in the transform)
    had = {
        op
        for op, _, _, page in native_pages(both.native_snapshot)
        if op in CONFIG_TYPES and any(_records(op, page))
    }
    held = {name.split("/")[1] for name in native if name.startswith("nodes/")}
    for op in sorted(had & set(PRODUCES)):
        for label in PRODUCES[op]:
            # a label the estate has no node of (Gateway: no transit gateway route) is not
            # compared, there is nothing to compare
            assert label in compared or label not in held, (op, label, compared)
    extra = sorted(n for n in set(config) - set(native) if _compared(n))
    assert extra == [], extra


def test_the_config_snapshot_knows_all_but_target_groups(both: Both, tmp_path: Path) -> None:
    """The Config snapshot of a fully recorded estate does not know what Config never
    records, nor the types of which no resource exists (Config then says nothing of them);
    everything else it knows. The transform says so on the Snapshot node."""
    (snap,) = discover([str(both.config_snapshot)], cache_dir=tmp_path).snapshots
    codes = {(e.region, e.operation): e.error_code for e in snap.info.errors}
    never = {"elbv2:DescribeTargetGroups", "elbv2:DescribeTargetHealth"}
    assert {k: c for k, c in codes.items() if k[1] in never} == {
        (r, op): NOT_IN_AWS_CONFIG for r in REGIONS for op in never
    }
    native_counts: dict[tuple[str, str], int] = {}
    for op, region, _, page in native_pages(both.native_snapshot):
        if op in CONFIG_TYPES:
            n = len(list(_records(op, page)))
            native_counts[(region, op)] = native_counts.get((region, op), 0) + n
    # a type with no resource (if the estate has one) is unknown: Config cannot say "none"
    silent = {k for k, c in codes.items() if c == NOT_RECORDED}
    assert all(native_counts.get(k, 0) == 0 for k in silent), silent
    assert NOT_IN_AWS_CONFIG in set(codes.values()) <= {NOT_IN_AWS_CONFIG, NOT_RECORDED}
    (row,) = _rows(next((both.config / "nodes" / "Snapshot").glob("2*.csv")))
    assert "TargetGroup/123456789012/us-east-1" in ";".join(row)
