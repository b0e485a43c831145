"""Three snapshots of a small estate, for the query, diff and alert tests.

Written as raw API responses through the product's snapshot writer, then transformed and
bulk-imported by the product's own code (`QueryGraphs`), so the tests query the graph that
production builds: its uids, fingerprints, stubs and time links.

Account 111111111111, region us-east-1, two peered VPCs, five security groups, instances,
two RDS instances, an application load balancer fronted by a network load balancer.

What changes:
- S1 -> S2: sg-admin opens tcp/22 to 0.0.0.0/0 (was 10.0.0.0/8); i-app1 stops; i-web1's
  owner tag alice -> dave; i-new1 appears; i-old1 (10.0.1.60) is gone.
- S2 -> S3: i-reuse1 appears with i-old1's former address 10.0.1.60; i-db1 gains env=prod;
  rds-2 goes from available to stopped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from conftest import ManagedNeo4j, import_settings
from graph_cache import BuiltGraphs

from bulkgraph.csvfolder import read_manifest
from bulkgraph.extract.sources import discover
from bulkgraph.extract.writer import SnapshotWriter
from bulkgraph.layout import Layout
from bulkgraph.load.bulk import bulk_import
from bulkgraph.transform.run import transform

ACCOUNT = "111111111111"
PARTNER = "222222222222"
REGION = "us-east-1"
S1, S2, S3 = "20260101T000000Z", "20260201T000000Z", "20260301T000000Z"
SNAPSHOT_ORDER = [S1, S2, S3]
TAKEN = {
    S1: dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    S2: dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
    S3: dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
}
ALB_ARN = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/alb-1/aaa"
NLB_ARN = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/net/nlb-1/bbb"
TG_WEB = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/tg-web/111"
TG_NLB = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/tg-nlb/222"

JSON = dict[str, Any]


def _tags(pairs: dict[str, str]) -> list[JSON]:
    return [{"Key": k, "Value": v} for k, v in pairs.items()]


def _rule(protocol: str, port: int | None = None, **peers: list[JSON]) -> JSON:
    rule: JSON = {"IpProtocol": protocol}
    if port is not None:
        rule |= {"FromPort": port, "ToPort": port}
    return rule | {
        "IpRanges": peers.get("IpRanges", []),
        "Ipv6Ranges": peers.get("Ipv6Ranges", []),
        "PrefixListIds": peers.get("PrefixListIds", []),
        "UserIdGroupPairs": peers.get("UserIdGroupPairs", []),
    }


def _cidr(cidr: str, description: str | None = None) -> list[JSON]:
    entry: JSON = {"CidrIp": cidr}
    if description is not None:
        entry["Description"] = description
    return [entry]


def _group_pair(group_id: str, account: str = ACCOUNT) -> list[JSON]:
    return [{"GroupId": group_id, "UserId": account}]


def _security_groups(n: int) -> list[JSON]:
    anywhere = _cidr("0.0.0.0/0")
    office = _cidr("10.0.0.0/8", "office vpn")
    everything = _rule("-1", IpRanges=anywhere)
    rules: dict[str, tuple[list[JSON], list[JSON]]] = {  # group -> (ingress, egress)
        "web": (
            [
                _rule("tcp", 443, IpRanges=anywhere),
                _rule("tcp", 80, Ipv6Ranges=[{"CidrIpv6": "::/0"}]),
            ],
            [everything],
        ),
        "app": (
            [
                _rule("tcp", 8080, UserIdGroupPairs=_group_pair("sg-web")),
                _rule("tcp", 22, IpRanges=office),
            ],
            [everything],
        ),
        "db": (
            [
                _rule("tcp", 5432, UserIdGroupPairs=_group_pair("sg-app")),
                # a group of another account: a stub in the graph
                _rule("tcp", 5432, UserIdGroupPairs=_group_pair("sg-partner", PARTNER)),
            ],
            [everything, _rule("tcp", 443, PrefixListIds=[{"PrefixListId": "pl-123"}])],
        ),
        # S2 opens ssh to the world; S1 allowed it from the office range only
        "admin": ([_rule("tcp", 22, IpRanges=anywhere if n >= 1 else _cidr("10.0.0.0/8"))], []),
        "lb": (
            [_rule("tcp", 443, IpRanges=anywhere)],
            [_rule("tcp", 80, UserIdGroupPairs=_group_pair("sg-web"))],
        ),
    }
    return [
        {
            "GroupId": f"sg-{name}",
            "GroupName": name,
            "Description": f"{name} group",
            "VpcId": "vpc-a",
            "OwnerId": ACCOUNT,
            "IpPermissions": ingress,
            "IpPermissionsEgress": egress,
        }
        for name, (ingress, egress) in rules.items()
    ]


def _instance(iid: str, ip: str, groups: list[str], tags: dict[str, str], **extra: Any) -> JSON:
    state = extra.pop("state", "running")
    item: JSON = {
        "InstanceId": iid,
        "ImageId": "ami-1",
        "InstanceType": "t3.micro",
        "LaunchTime": "2025-12-01T10:00:00+00:00",
        "State": {"Code": 16 if state == "running" else 80, "Name": state},
        "PrivateDnsName": f"ip-{ip.replace('.', '-')}.ec2.internal",
        "PrivateIpAddress": ip,
        "PublicDnsName": "",
        "VpcId": "vpc-a",
        "SubnetId": "subnet-a1",
        "SecurityGroups": [{"GroupId": g, "GroupName": g.removeprefix("sg-")} for g in groups],
        "Tags": _tags(tags),
    }
    return item | extra


def _instances(n: int) -> list[JSON]:
    found = [
        _instance(
            "i-web1",
            "10.0.1.10",
            ["sg-web"],
            {"Name": "web1", "owner": "alice" if n == 0 else "dave", "role": "frontend"},
            PublicIpAddress="54.0.0.10",
            PublicDnsName="ec2-54-0-0-10.compute-1.amazonaws.com",
        ),
        _instance(
            "i-app1",
            "10.0.1.20",
            ["sg-app"],
            {"Name": "app1", "owner": "bob"},
            state="running" if n == 0 else "stopped",
        ),
        _instance(
            "i-db1",
            "10.0.1.30",
            ["sg-db"],
            {"Name": "db1", "role": "database", "owner": "carol"}
            | ({"env": "prod"} if n == 2 else {}),
        ),
        _instance(
            "i-db2", "10.0.1.31", ["sg-db"], {"Name": "db2", "role": "db-standby", "owner": "carol"}
        ),
        _instance("i-admin1", "10.0.1.40", ["sg-admin", "sg-app"], {"Name": "bastion"}),
    ]
    if n == 0:
        found.append(_instance("i-old1", "10.0.1.60", ["sg-app"], {"Name": "old1"}))
    if n >= 1:
        found.append(_instance("i-new1", "10.0.1.50", ["sg-app"], {"Name": "new1"}))
    if n == 2:
        found.append(_instance("i-reuse1", "10.0.1.60", ["sg-web"], {"Name": "reuse1"}))
    return [{"ReservationId": f"r-{i['InstanceId']}", "Instances": [i]} for i in found]


def _rds(ident: str, groups: list[str], tags: dict[str, str], port: int, **extra: Any) -> JSON:
    return {
        "DBInstanceIdentifier": ident,
        "DBInstanceArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{ident}",
        "DBInstanceClass": "db.t3.micro",
        "MasterUsername": "admin",
        "DBSubnetGroup": {"VpcId": "vpc-a"},
        "MultiAZ": False,
        "Endpoint": {"Address": f"{ident}.abc.{REGION}.rds.amazonaws.com", "Port": port},
        "BackupRetentionPeriod": 7,
        "VpcSecurityGroups": [{"VpcSecurityGroupId": g, "Status": "active"} for g in groups],
        "TagList": _tags(tags),
    } | extra


def _databases(n: int) -> list[JSON]:
    return [
        _rds(
            "rds-1",
            ["sg-db"],
            {"owner": "erin"},
            5432,
            DBInstanceStatus="available",
            Engine="postgres",
            EngineVersion="16.1",
            StorageEncrypted=False,
            PubliclyAccessible=True,
            IAMDatabaseAuthenticationEnabled=False,
        ),
        _rds(
            "rds-2",
            ["sg-lb"],
            {},
            3306,
            DBInstanceStatus="available" if n < 2 else "stopped",
            Engine="mysql",
            EngineVersion="8.0",
            StorageEncrypted=True,
            PubliclyAccessible=False,
            IAMDatabaseAuthenticationEnabled=True,
        ),
    ]


def _peering(pcx: str, requester: JSON, accepter: JSON, status: str) -> JSON:
    return {
        "VpcPeeringConnectionId": pcx,
        "RequesterVpcInfo": requester,
        "AccepterVpcInfo": accepter,
        "Status": {"Code": status},
        "Tags": [],
    }


def _vpc_info(vpc_id: str, account: str = ACCOUNT, cidr: str | None = None) -> JSON:
    info: JSON = {"VpcId": vpc_id, "OwnerId": account, "Region": REGION}
    return info | ({"CidrBlock": cidr} if cidr else {})


def records(n: int) -> dict[str, list[JSON]]:
    """operation -> the calls of snapshot `n` (0, 1, 2), as boto3 answers them."""

    def one(key: str, items: list[JSON]) -> list[JSON]:
        return [{"request": {}, "pages": [{key: items}]}]

    vpc_a = _vpc_info("vpc-a", cidr="10.0.0.0/16")
    load_balancers = [
        {
            "LoadBalancerArn": arn,
            "LoadBalancerName": name,
            "DNSName": f"{name}.example.com",
            "Scheme": "internet-facing",
            "State": {"Code": "active"},
            "Type": kind,
            "VpcId": "vpc-a",
        }
        | extra
        for arn, name, kind, extra in (
            (ALB_ARN, "alb-1", "application", {"SecurityGroups": ["sg-lb"]}),
            (NLB_ARN, "nlb-1", "network", {}),
        )
    ]
    target_groups = [
        {
            "TargetGroupArn": arn,
            "TargetGroupName": name,
            "Protocol": protocol,
            "Port": port,
            "TargetType": kind,
            "LoadBalancerArns": [lb],
        }
        for arn, name, protocol, port, kind, lb in (
            (TG_WEB, "tg-web", "HTTP", 80, "instance", ALB_ARN),
            (TG_NLB, "tg-nlb", "TCP", 443, "alb", NLB_ARN),
        )
    ]
    return {
        "ec2:DescribeInstances": one("Reservations", _instances(n)),
        "ec2:DescribeSecurityGroups": one("SecurityGroups", _security_groups(n)),
        "ec2:DescribeVpcs": one(
            "Vpcs",
            [
                {"VpcId": v, "CidrBlock": c, "IsDefault": False, "State": "available"}
                for v, c in (("vpc-a", "10.0.0.0/16"), ("vpc-b", "10.1.0.0/16"))
            ],
        ),
        "ec2:DescribeSubnets": one(
            "Subnets",
            [
                {
                    "SubnetId": "subnet-a1",
                    "CidrBlock": "10.0.1.0/24",
                    "AvailabilityZone": "us-east-1a",
                    "VpcId": "vpc-a",
                }
            ],
        ),
        # vpc-x (another account) and vpc-p are not in the snapshot: stubs in the graph
        "ec2:DescribeVpcPeeringConnections": one(
            "VpcPeeringConnections",
            [
                _peering("pcx-1", vpc_a, _vpc_info("vpc-b", cidr="10.1.0.0/16"), "active"),
                _peering("pcx-2", _vpc_info("vpc-x", PARTNER), vpc_a, "active"),
                _peering("pcx-3", vpc_a, _vpc_info("vpc-p"), "pending-acceptance"),
            ],
        ),
        "rds:DescribeDBInstances": one("DBInstances", _databases(n)),
        "elbv2:DescribeLoadBalancers": one("LoadBalancers", load_balancers),
        "elbv2:DescribeTargetGroups": one("TargetGroups", target_groups),
        "elbv2:DescribeTargetHealth": [
            {
                "request": {"TargetGroupArn": tg},
                "pages": [
                    {
                        "TargetHealthDescriptions": [
                            {"Target": {"Id": target, "Port": port}, "TargetHealth": health}
                        ]
                    }
                ],
            }
            for tg, target, port, health in (
                (TG_WEB, "i-web1", 80, {"State": "healthy"}),
                (TG_NLB, ALB_ARN, 443, {"State": "healthy"}),
            )
        ],
    }


def write_snapshot(out: Path, snapshot_id: str) -> Path:
    """The snapshot's native folder under `out`, written by the product's writer."""
    writer = SnapshotWriter(out, snapshot_id, TAKEN[snapshot_id])
    for operation, calls in records(SNAPSHOT_ORDER.index(snapshot_id)).items():
        writer.write(operation, ACCOUNT, REGION, calls)
    writer.finish({ACCOUNT: [REGION]}, [], TAKEN[snapshot_id] + dt.timedelta(minutes=1))
    return writer.folder


class QueryGraphs:
    """Builds the estate's graphs with the product's transform and bulk import.

    Each set of snapshots is written and transformed once per test session; `load` imports
    it into the test server, replacing whatever graph that held.
    """

    def __init__(
        self,
        root: Path,
        built: BuiltGraphs,
        write: Callable[[Path, str], Path] | None = None,
    ) -> None:
        self.root = root
        #: writes one snapshot's native folder: this module's estate unless told otherwise
        self.write = write or write_snapshot
        #: the session's built graphs: an import made once is put back from its store copy
        self.built = built
        self._csv: dict[tuple[tuple[str, ...], Layout], Path] = {}

    def csv(self, snapshot_ids: Sequence[str], layout: Layout = Layout.snapshots) -> Path:
        ids = tuple(snapshot_ids)
        if (ids, layout) not in self._csv:
            folder = self.root / "-".join(ids) / layout.value
            folders = [str(self.write(folder / "snapshots", sid)) for sid in ids]
            found = discover(folders)
            assert found.problems == []
            result = transform(found.snapshots, folder / "csv", workers=1, layout=layout)
            assert result.failed == {} and result.rejected == 0
            self._csv[(ids, layout)] = folder / "csv"
        return self._csv[(ids, layout)]

    def load(
        self,
        server: ManagedNeo4j,
        snapshot_ids: Sequence[str] = SNAPSHOT_ORDER,
        layout: Layout = Layout.snapshots,
    ) -> None:
        """Import the graph of `snapshot_ids` (the order of another estate's ids when `write`
        is its writer) in `layout`, unless the server holds it already."""
        csv_dir = self.csv(snapshot_ids, layout)

        def build() -> None:
            summary = bulk_import(csv_dir, server.home, settings=import_settings())
            assert summary.snapshots == list(snapshot_ids)
            assert summary.report_lines == 0  # nothing skipped by the importer
            server.start()  # no-op when the import left it running

        # kept since an earlier module imported it, put back from its copy, or imported (with
        # the server stopped: the new store is checked on it, no staging server beside it)
        self.built.ensure(("query-estate", str(csv_dir)), build)
        assert self._holds(server, csv_dir)

    @staticmethod
    def _holds(server: ManagedNeo4j, csv_dir: Path) -> bool:
        """Whether the server's graph is this folder's: its snapshots, and as many nodes
        and relationships of each kind as the manifest lists (the query tests only read;
        any other test that writes changes a count or clears the database)."""
        manifest = read_manifest(csv_dir)
        [held] = server.run("MATCH (s:Snapshot) RETURN collect(s.snapshot_id) AS ids")
        if sorted(held["ids"]) != sorted(s.snapshot_id for s in manifest.snapshots):
            return False
        [nodes] = server.run("MATCH (n) RETURN count(n) AS n")
        [rels] = server.run("MATCH ()-[r]->() RETURN count(r) AS n")
        if (nodes["n"], rels["n"]) != (
            sum(manifest.nodes_per_label.values()),
            sum(manifest.relationships_per_type.values()),
        ):
            return False
        counts = [
            *(("n", f"`{label}`", n) for label, n in manifest.nodes_per_label.items()),
            *(("r", f"`{t}`", n) for t, n in manifest.relationships_per_type.items()),
        ]
        for kind, name, count in counts:
            pattern = f"(n:{name})" if kind == "n" else f"()-[n:{name}]->()"
            [row] = server.run(f"MATCH {pattern} RETURN count(n) AS n")
            if row["n"] != count:
                return False
        return True
