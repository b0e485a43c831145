"""End to end: the moto estate -> native snapshot -> transform -> bulk import into real Neo4j.

Every expectation is computed here from the raw JSON data files of the snapshot (plain
Python over the API answers), never with the transform's own code. The same estate is also
written as a legacy aws_neo4j_map archive (tests/legacy_writer.py) and must give the same
graph for the families that format carries.

On top of `build_estate()` the setup adds (through boto3, in us-east-1):
- `replica`: an instance with a public IP in the default VPC, tagged `role=db-standby`,
  `service=Analytics Database`, `owner=erin` (one tag the first legacy query keeps, one it
  drops for "standby");
- a stale rule: sg `web` allows 8443 from a group that was deleted since (a stub).
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import ManagedNeo4j, import_settings
from estate import AMI, Estate, build_estate, realistic_session_factory
from legacy_writer import native_pages, write_legacy_archive
from moto import mock_aws

from bulkgraph.extract.collect import collect
from bulkgraph.extract.sources import discover
from bulkgraph.load.bulk import bulk_import
from bulkgraph.transform.run import transform

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parent / "fixtures"
REGIONS = "us-east-1,eu-west-1"
SNAPSHOT_ID = "20261128T020000Z"
LEGACY_NAME = "archive_20261128_020000"
REPLICA_TAGS = {
    "Name": "replica-us-east-1",
    "owner": "erin",
    "role": "db-standby",
    "service": "Analytics Database",
}


# --------------------------------------------------------------------------- estate


def _extend(estate: Estate) -> tuple[str, str]:
    """The replica instance and the stale group reference; returns (replica id, stale sg)."""
    us = estate.regions["us-east-1"]
    ec2 = boto3.client("ec2", region_name="us-east-1")
    default_vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][
        0
    ]["VpcId"]
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [default_vpc]}])["Subnets"][
        0
    ]["SubnetId"]
    default_sg = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [default_vpc]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"][0]["GroupId"]
    replica = ec2.run_instances(
        ImageId=AMI,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.small",
        SubnetId=subnet,
        SecurityGroupIds=[default_sg],
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [{"Key": k, "Value": v} for k, v in REPLICA_TAGS.items()],
            }
        ],
    )["Instances"][0]["InstanceId"]
    partner = ec2.create_security_group(
        GroupName="partner", Description="gone since", VpcId=us.vpc
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=us.sg_web,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 8443,
                "ToPort": 8443,
                "UserIdGroupPairs": [{"GroupId": partner}],
            }
        ],
    )
    ec2.delete_security_group(GroupId=partner)
    return str(replica), str(partner)


class EstateFiles:
    def __init__(self, root: Path, estate: Estate, replica: str, stale_sg: str) -> None:
        self.root = root
        self.estate = estate
        self.replica = replica
        self.stale_sg = stale_sg
        self.native = root / "native" / SNAPSHOT_ID
        self.legacy = root / "legacy" / LEGACY_NAME


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EstateFiles]:
    root = tmp_path_factory.mktemp("estate")
    with pytest.MonkeyPatch.context() as mp:
        for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
            mp.delenv(key, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        with mock_aws():
            estate = build_estate()
            replica, stale = _extend(estate)
            result = collect(
                root / "native",
                session_factory=realistic_session_factory,
                regions=REGIONS,
                snapshot_id=SNAPSHOT_ID,
            )
    assert result.errors == []
    out = EstateFiles(root, estate, replica, stale)
    assert result.folder == out.native
    write_legacy_archive(out.native, out.legacy)
    yield out


@pytest.fixture(scope="module")
def native_csv(files: EstateFiles) -> Path:
    found = discover([str(files.native)], cache_dir=files.root / "cache")
    assert found.problems == []
    out = files.root / "csv-native"
    result = transform(found.snapshots, out, workers=1)
    assert result.failed == {} and result.rejected == 0
    return out


@pytest.fixture(scope="module")
def legacy_csv(files: EstateFiles) -> Path:
    found = discover([str(files.legacy)], cache_dir=files.root / "cache", account_id=ACCOUNT)
    assert found.problems == []
    out = files.root / "csv-legacy"
    result = transform(found.snapshots, out, workers=1)
    assert result.failed == {} and result.rejected == 0
    return out


@pytest.fixture(scope="module")
def graph(neo4j_server: ManagedNeo4j, native_csv: Path) -> ManagedNeo4j:
    """The native snapshot bulk-imported into the session's server (module scope)."""
    settings = import_settings()
    # stopped: the import moves the new store in and checks it on this server, with no
    # staging server started beside it (the staged path is tests/test_load.py's)
    neo4j_server.stop()
    summary = bulk_import(native_csv, neo4j_server.home, settings=settings)
    assert summary.snapshots == [SNAPSHOT_ID]
    assert summary.report_lines == 0  # nothing skipped by the importer
    neo4j_server.start()  # no-op when the swap left it running
    return neo4j_server


ACCOUNT = "123456789012"


# --------------------------------------------------------------------------- raw JSON


class Raw:
    """The snapshot's API records, per operation, each with its region."""

    def __init__(self, snapshot_dir: Path) -> None:
        self.instances: list[tuple[str, dict[str, Any]]] = []
        self.groups: list[tuple[str, dict[str, Any]]] = []
        self.vpcs: list[tuple[str, dict[str, Any]]] = []
        self.subnets: list[tuple[str, dict[str, Any]]] = []
        self.peerings: list[tuple[str, dict[str, Any]]] = []
        self.dbs: list[tuple[str, dict[str, Any]]] = []
        self.lbs: list[tuple[str, dict[str, Any]]] = []
        self.tgs: list[tuple[str, dict[str, Any]]] = []
        self.health: list[tuple[str, str, dict[str, Any]]] = []  # region, tg arn, description
        self.enis: list[tuple[str, dict[str, Any]]] = []
        self.route_tables: list[tuple[str, dict[str, Any]]] = []
        self.igws: list[tuple[str, dict[str, Any]]] = []
        self.nats: list[tuple[str, dict[str, Any]]] = []
        self.acls: list[tuple[str, dict[str, Any]]] = []
        # snapshot format 1.1: region, the requested load balancer, listener
        self.listeners: list[tuple[str, str, dict[str, Any]]] = []
        self.elb_tags: list[dict[str, Any]] = []
        self.functions: list[dict[str, Any]] = []
        self.roles: list[dict[str, Any]] = []  # IAM: the account's, under `global`
        self.regions: set[str] = set()
        network = {
            "ec2:DescribeNetworkInterfaces": ("NetworkInterfaces", self.enis),
            "ec2:DescribeRouteTables": ("RouteTables", self.route_tables),
            "ec2:DescribeInternetGateways": ("InternetGateways", self.igws),
            "ec2:DescribeNatGateways": ("NatGateways", self.nats),
            "ec2:DescribeNetworkAcls": ("NetworkAcls", self.acls),
        }
        for op, region, request, page in native_pages(snapshot_dir):
            if region != "global":
                self.regions.add(region)
            if op == "ec2:DescribeInstances":
                self.instances += [
                    (region, i) for r in page["Reservations"] for i in r["Instances"]
                ]
            elif op == "ec2:DescribeSecurityGroups":
                self.groups += [(region, g) for g in page["SecurityGroups"]]
            elif op == "ec2:DescribeVpcs":
                self.vpcs += [(region, v) for v in page["Vpcs"]]
            elif op == "ec2:DescribeSubnets":
                self.subnets += [(region, s) for s in page["Subnets"]]
            elif op == "ec2:DescribeVpcPeeringConnections":
                self.peerings += [(region, p) for p in page["VpcPeeringConnections"]]
            elif op == "rds:DescribeDBInstances":
                self.dbs += [(region, d) for d in page["DBInstances"]]
            elif op == "elbv2:DescribeLoadBalancers":
                self.lbs += [(region, lb) for lb in page["LoadBalancers"]]
            elif op == "elbv2:DescribeTargetGroups":
                self.tgs += [(region, tg) for tg in page["TargetGroups"]]
            elif op in network:
                key, found = network[op]
                found += [(region, r) for r in page[key]]
            elif op == "elbv2:DescribeTargetHealth":
                self.health += [
                    (region, request["TargetGroupArn"], d) for d in page["TargetHealthDescriptions"]
                ]
            elif op == "elbv2:DescribeListeners":
                lb = request["LoadBalancerArn"]
                self.listeners += [(region, lb, x) for x in page["Listeners"]]
            elif op == "elbv2:DescribeTags":
                self.elb_tags += page["TagDescriptions"]
            elif op == "lambda:ListFunctions":
                self.functions += page["Functions"]
            elif op == "iam:GetAccountAuthorizationDetails":
                self.roles += page["RoleDetailList"]

    def instance(self, iid: str) -> dict[str, Any]:
        (found,) = [i for _, i in self.instances if i["InstanceId"] == iid]
        return found

    def group(self, gid: str) -> dict[str, Any]:
        (found,) = [g for _, g in self.groups if g["GroupId"] == gid]
        return found

    def rules(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(group id, direction, rule) of every rule."""
        for _, g in self.groups:
            for rule in g.get("IpPermissions", []):
                yield g["GroupId"], "ingress", rule
            for rule in g.get("IpPermissionsEgress", []):
                yield g["GroupId"], "egress", rule


def _target_label(target: str) -> str:
    if target.startswith("i-"):
        return "Instance"
    if ":lambda:" in target:
        return "LambdaFunction"
    if ":loadbalancer/" in target:
        return "LoadBalancer"
    return "IPAddress"


def expected_graph(raw: Raw) -> tuple[Counter[str], Counter[tuple[str, str, str]]]:
    """Per-label node counts and per-(type, start label, end label) relationship counts."""
    nodes: dict[str, set[Any]] = {}
    rels: dict[tuple[str, str, str], set[Any]] = {}

    def node(label: str, key: Any) -> None:
        nodes.setdefault(label, set()).add(key)

    def rel(type_: str, start: str, end: str, a: Any, b: Any, *props: Any) -> None:
        # an end the snapshot does not hold becomes a stub node of its label
        node(start, a)
        node(end, b)
        rels.setdefault((type_, start, end), set()).add((a, b, *props))

    def tags(label: str, owner: Any, tag_list: list[dict[str, str]] | None) -> None:
        for t in tag_list or []:
            tag = (t["Key"], t.get("Value", ""))
            rel("TAGGED", label, "Tag", owner, tag)

    node("Snapshot", SNAPSHOT_ID)
    node("Account", ACCOUNT)
    for region in raw.regions:
        rel("CONTAINS", "Account", "Region", ACCOUNT, (ACCOUNT, region))
    for _, v in raw.vpcs:
        node("VPC", v["VpcId"])
        tags("VPC", v["VpcId"], v.get("Tags"))
    for _, s in raw.subnets:
        node("Subnet", s["SubnetId"])
        rel("BELONGS_TO", "Subnet", "VPC", s["SubnetId"], s["VpcId"])
        tags("Subnet", s["SubnetId"], s.get("Tags"))
    for region, i in raw.instances:
        iid = i["InstanceId"]
        node("Instance", iid)
        rel("CONTAINS", "Region", "Instance", (ACCOUNT, region), iid)
        if i.get("VpcId"):
            rel("BELONGS_TO", "Instance", "VPC", iid, i["VpcId"])
        if i.get("SubnetId"):
            rel("BELONGS_TO", "Instance", "Subnet", iid, i["SubnetId"])
        for g in i.get("SecurityGroups") or []:
            rel("BELONGS_TO", "Instance", "SecurityGroup", iid, g["GroupId"])
        tags("Instance", iid, i.get("Tags"))
        profile = (i.get("IamInstanceProfile") or {}).get("Arn")
        if profile:
            rel("HAS_INSTANCE_PROFILE", "Instance", "InstanceProfile", iid, profile)
    for region, g in raw.groups:
        gid = g["GroupId"]
        node("SecurityGroup", gid)
        rel("HAS_SECURITYGROUP", "Region", "SecurityGroup", (ACCOUNT, region), gid)
        if g.get("VpcId"):
            rel("BELONGS_TO", "SecurityGroup", "VPC", gid, g["VpcId"])
        tags("SecurityGroup", gid, g.get("Tags"))
    for gid, direction, rule in raw.rules():
        ports = (rule["IpProtocol"], rule.get("FromPort"), rule.get("ToPort"), direction)
        peers = [
            *(("IPRange", r["CidrIp"]) for r in rule.get("IpRanges", [])),
            *(("IPRange", r["CidrIpv6"]) for r in rule.get("Ipv6Ranges", [])),
            *(("PrefixList", p["PrefixListId"]) for p in rule.get("PrefixListIds", [])),
            *(("SecurityGroup", p["GroupId"]) for p in rule.get("UserIdGroupPairs", [])),
        ]
        for label, peer in peers:
            if direction == "ingress":
                rel("ALLOWED", label, "SecurityGroup", peer, gid, *ports)
            else:
                rel("ALLOWED", "SecurityGroup", label, gid, peer, *ports)
    for region, d in raw.dbs:
        key = (ACCOUNT, region, d["DBInstanceIdentifier"])
        node("RDSInstance", key)
        rel("BELONGS_TO", "RDSInstance", "Region", key, (ACCOUNT, region))
        if (d.get("DBSubnetGroup") or {}).get("VpcId"):
            rel("BELONGS_TO", "RDSInstance", "VPC", key, d["DBSubnetGroup"]["VpcId"])
        for g in d.get("VpcSecurityGroups") or []:
            rel("BELONGS_TO", "RDSInstance", "SecurityGroup", key, g["VpcSecurityGroupId"])
        tags("RDSInstance", key, d.get("TagList"))
        for sub in (d.get("DBSubnetGroup") or {}).get("Subnets") or []:
            rel("BELONGS_TO", "RDSInstance", "Subnet", key, sub["SubnetIdentifier"])
    for region, lb in raw.lbs:
        arn = lb["LoadBalancerArn"]
        node("LoadBalancer", arn)
        rel("CONTAINS", "Region", "LoadBalancer", (ACCOUNT, region), arn)
        if lb.get("VpcId"):
            rel("BELONGS_TO", "LoadBalancer", "VPC", arn, lb["VpcId"])
        for gid in lb.get("SecurityGroups") or []:
            rel("BELONGS_TO", "LoadBalancer", "SecurityGroup", arn, gid)
        tags("LoadBalancer", arn, lb.get("Tags"))
        for zone in lb.get("AvailabilityZones") or []:
            if zone.get("SubnetId"):
                rel("BELONGS_TO", "LoadBalancer", "Subnet", arn, zone["SubnetId"])
    for _, tg in raw.tgs:
        node("TargetGroup", tg["TargetGroupArn"])
        for lb_arn in tg.get("LoadBalancerArns") or []:
            rel("CONTAINS", "LoadBalancer", "TargetGroup", lb_arn, tg["TargetGroupArn"])
    for _, tg_arn, d in raw.health:
        target = d["Target"]["Id"]
        rel(
            "CONTAINS",
            "TargetGroup",
            _target_label(target),
            tg_arn,
            target,
            d["Target"].get("Port"),
            d["TargetHealth"]["State"],
        )
    for _, p in raw.peerings:
        rel(
            "PEERED_TO",
            "VPC",
            "VPC",
            p["RequesterVpcInfo"]["VpcId"],
            p["AccepterVpcInfo"]["VpcId"],
            p["VpcPeeringConnectionId"],
            p["Status"]["Code"],
        )
    _expected_network(raw, node, rel, tags)
    # graph model 1.1: listeners, load balancer and target group tags, Lambda, IAM
    for _, requested, listener in raw.listeners:
        arn = listener["ListenerArn"]
        node("Listener", arn)
        rel(
            "HAS_LISTENER",
            "LoadBalancer",
            "Listener",
            listener.get("LoadBalancerArn", requested),
            arn,
        )
        for action in listener.get("DefaultActions") or []:
            weighted = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
            for tg_arn in [action.get("TargetGroupArn"), *(t["TargetGroupArn"] for t in weighted)]:
                if tg_arn:
                    rel("FORWARDS_TO", "Listener", "TargetGroup", arn, tg_arn)
    for d in raw.elb_tags:
        owner = "LoadBalancer" if ":loadbalancer/" in d["ResourceArn"] else "TargetGroup"
        tags(owner, d["ResourceArn"], d.get("Tags"))
    for f in raw.functions:
        arn = f["FunctionArn"]
        node("LambdaFunction", arn)
        if f.get("Role"):
            rel("HAS_ROLE", "LambdaFunction", "IAMRole", arn, f["Role"])
        vpc_config = f.get("VpcConfig") or {}
        for subnet in vpc_config.get("SubnetIds") or []:
            rel("BELONGS_TO", "LambdaFunction", "Subnet", arn, subnet)
        for gid in vpc_config.get("SecurityGroupIds") or []:
            rel("BELONGS_TO", "LambdaFunction", "SecurityGroup", arn, gid)
    for role in raw.roles:
        node("IAMRole", role["Arn"])
        for profile in role.get("InstanceProfileList") or []:
            rel("HAS_ROLE", "InstanceProfile", "IAMRole", profile["Arn"], role["Arn"])
    node_counts = Counter({label: len(keys) for label, keys in nodes.items()})
    rel_counts = Counter({k: len(v) for k, v in rels.items()})
    for label, n in node_counts.items():
        if label != "Snapshot":
            rel_counts[("CONTAINS", "Snapshot", label)] = n
    return node_counts, rel_counts


_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _eni_owner(region: str, e: dict[str, Any]) -> tuple[str, str] | None:
    """(label, key) of whose an interface is, from graph-model.md's rules, or None."""
    instance = (e.get("Attachment") or {}).get("InstanceId")
    if instance:
        return "Instance", instance
    desc = e.get("Description") or ""
    if m := re.fullmatch(r"ELB ((?:app|net|gwy)/[^/\s]+/[0-9a-f]+)", desc):
        return (
            "LoadBalancer",
            f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT}:loadbalancer/{m[1]}",
        )
    if m := re.fullmatch(rf"AWS Lambda VPC ENI-([A-Za-z0-9_-]+?)(?:-{_UUID})?", desc):
        return "LambdaFunction", f"arn:aws:lambda:{region}:{ACCOUNT}:function:{m[1]}"
    if m := re.fullmatch(r"Interface for NAT Gateway (nat-[0-9a-f]+)", desc):
        return "NatGateway", m[1]
    return None


def _expected_network(raw: Raw, node: Any, rel: Any, tags: Any) -> None:
    """The network part of graph model 1.1 (interfaces, route tables, gateways, ACLs)."""
    for region, e in raw.enis:
        eid = e["NetworkInterfaceId"]
        node("NetworkInterface", eid)
        rel("BELONGS_TO", "NetworkInterface", "Subnet", eid, e["SubnetId"])
        rel("BELONGS_TO", "NetworkInterface", "VPC", eid, e["VpcId"])
        owner = _eni_owner(region, e)
        for g in e.get("Groups") or []:
            rel("BELONGS_TO", "NetworkInterface", "SecurityGroup", eid, g["GroupId"])
            if owner is not None and owner[0] == "Instance":
                rel("BELONGS_TO", "Instance", "SecurityGroup", owner[1], g["GroupId"])
        if owner is not None and owner[0] == "Instance":
            index = e["Attachment"]["DeviceIndex"]
            rel("ATTACHED_TO", "NetworkInterface", "Instance", eid, owner[1], index)
        elif owner is not None:
            rel("ATTACHED_TO", "NetworkInterface", owner[0], eid, owner[1])
        addresses = {("private", e["PrivateIpAddress"], True)}
        if (e.get("Association") or {}).get("PublicIp"):
            addresses.add(("public", e["Association"]["PublicIp"], True))
        for a in e.get("PrivateIpAddresses") or []:
            addresses.add(("private", a["PrivateIpAddress"], a["Primary"]))
            if (a.get("Association") or {}).get("PublicIp"):
                addresses.add(("public", a["Association"]["PublicIp"], a["Primary"]))
        for a in e.get("Ipv6Addresses") or []:
            addresses.add(("ipv6", a["Ipv6Address"], bool(a.get("IsPrimaryIpv6"))))
        for kind, ip, primary in addresses:
            rel("HAS_IP", "NetworkInterface", "IPAddress", eid, ip, kind, primary)
        tags("NetworkInterface", eid, e.get("TagSet"))
    subnets_of: dict[str, set[str]] = {}
    for _, s in raw.subnets:
        subnets_of.setdefault(s["VpcId"], set()).add(s["SubnetId"])
    explicit = {
        a["SubnetId"] for _, t in raw.route_tables for a in t["Associations"] if a.get("SubnetId")
    }
    peerings = {p["VpcPeeringConnectionId"]: p for _, p in raw.peerings}
    for _, t in raw.route_tables:
        rtb, vpc = t["RouteTableId"], t["VpcId"]
        node("RouteTable", rtb)
        rel("BELONGS_TO", "RouteTable", "VPC", rtb, vpc)
        tags("RouteTable", rtb, t.get("Tags"))
        for a in t["Associations"]:
            if a.get("SubnetId"):
                rel("ROUTES_VIA", "Subnet", "RouteTable", a["SubnetId"], rtb, True)
            if a.get("Main"):
                for subnet in subnets_of.get(vpc, set()) - explicit:
                    rel("ROUTES_VIA", "Subnet", "RouteTable", subnet, rtb, False)
        for r in t["Routes"]:
            gateway = r.get("GatewayId")
            if gateway == "local":
                continue
            dest = r.get("DestinationCidrBlock") or r.get("DestinationIpv6CidrBlock")
            props = (dest or r.get("DestinationPrefixListId"), r["State"], r["Origin"])
            if r.get("NatGatewayId"):
                end = ("NatGateway", r["NatGatewayId"])
            elif gateway and gateway.startswith("igw-"):
                end = ("InternetGateway", gateway)
            elif r.get("VpcPeeringConnectionId"):
                p = peerings.get(r["VpcPeeringConnectionId"])
                sides = [p["RequesterVpcInfo"]["VpcId"], p["AccepterVpcInfo"]["VpcId"]] if p else []
                if vpc in sides:
                    end = ("VPC", sides[1 - sides.index(vpc)])
                else:
                    end = ("Gateway", r["VpcPeeringConnectionId"])
            elif r.get("InstanceId"):
                end = ("Instance", r["InstanceId"])
            elif r.get("NetworkInterfaceId"):
                end = ("NetworkInterface", r["NetworkInterfaceId"])
            else:
                end = (
                    "Gateway",
                    gateway or r.get("TransitGatewayId") or r.get("EgressOnlyInternetGatewayId"),
                )
            rel("ROUTE", "RouteTable", end[0], rtb, end[1], *props)
    for _, igw in raw.igws:
        node("InternetGateway", igw["InternetGatewayId"])
        for a in igw.get("Attachments") or []:
            rel(
                "ATTACHED_TO",
                "InternetGateway",
                "VPC",
                igw["InternetGatewayId"],
                a["VpcId"],
                a["State"],
            )
        tags("InternetGateway", igw["InternetGatewayId"], igw.get("Tags"))
    for _, nat in raw.nats:
        nid = nat["NatGatewayId"]
        node("NatGateway", nid)
        rel("BELONGS_TO", "NatGateway", "Subnet", nid, nat["SubnetId"])
        rel("BELONGS_TO", "NatGateway", "VPC", nid, nat["VpcId"])
        for n, a in enumerate(nat.get("NatGatewayAddresses") or []):
            primary = a.get("IsPrimary", n == 0)
            for kind, ip in (("private", a.get("PrivateIp")), ("public", a.get("PublicIp"))):
                if ip:
                    rel("HAS_IP", "NatGateway", "IPAddress", nid, ip, kind, primary)
        tags("NatGateway", nid, nat.get("Tags"))
    for _, acl in raw.acls:
        aid = acl["NetworkAclId"]
        node("NetworkAcl", aid)
        rel("BELONGS_TO", "NetworkAcl", "VPC", aid, acl["VpcId"])
        for a in acl.get("Associations") or []:
            rel("BELONGS_TO", "Subnet", "NetworkAcl", a["SubnetId"], aid)
        for e in acl.get("Entries") or []:
            cidr = e.get("CidrBlock") or e.get("Ipv6CidrBlock")
            ports = e.get("PortRange") or {}
            rule = (e["RuleNumber"], e["RuleAction"], e["Protocol"], ports.get("From"))
            if e["Egress"]:
                rel("NACL_RULE", "NetworkAcl", "IPRange", aid, cidr, *rule, "egress")
            else:
                rel("NACL_RULE", "IPRange", "NetworkAcl", cidr, aid, *rule, "ingress")
        tags("NetworkAcl", aid, acl.get("Tags"))


# --------------------------------------------------------------------------- 1. counts


def test_estate_graph_counts(graph: ManagedNeo4j, files: EstateFiles) -> None:
    raw = Raw(files.native)
    want_nodes, want_rels = expected_graph(raw)
    # the estate really has what the counts are about
    assert {"Snapshot", "VPC", "IPRange", "PrefixList", "LambdaFunction", "IPAddress"} <= set(
        want_nodes
    )
    assert want_nodes["Instance"] == len(files.estate.instance_ids) + 1  # + replica
    got_nodes = Counter(
        {
            r["label"]: r["n"]
            for r in graph.run("MATCH (n) UNWIND labels(n) AS label RETURN label, count(*) AS n")
        }
    )
    assert got_nodes == want_nodes
    got_rels = Counter(
        {
            (r["t"], r["a"], r["b"]): r["n"]
            for r in graph.run(
                "MATCH (a)-[r]->(b) RETURN type(r) AS t, labels(a)[0] AS a, labels(b)[0] AS b, "
                "count(*) AS n"
            )
        }
    )
    assert got_rels == want_rels
    per_type: Counter[str] = Counter()
    for (t, _, _), n in want_rels.items():
        per_type[t] += n
    got_types = {
        r["t"]: r["n"] for r in graph.run("MATCH ()-[r]->() RETURN type(r) AS t, count(*) AS n")
    }
    assert got_types == dict(per_type)
    # the one stub: the group the stale rule names
    stubs = graph.run(
        "MATCH (n {stub: true}) RETURN labels(n) AS labels, n.id AS id, keys(n) AS keys"
    )
    assert [(s["labels"], s["id"], sorted(s["keys"])) for s in stubs] == [
        (["SecurityGroup"], files.stale_sg, ["id", "snapshot_id", "stub", "uid"])
    ]
    assert graph.run(
        "MATCH (:SecurityGroup {id: $sg})-[a:ALLOWED]->(t:SecurityGroup) "
        "RETURN t.name AS name, a.fromPort AS p, a.direction AS d",
        sg=files.stale_sg,
    ) == [{"name": "web", "p": 8443, "d": "ingress"}]


def test_estate_graph_properties(graph: ManagedNeo4j, files: EstateFiles) -> None:
    raw = Raw(files.native)
    us = files.estate.regions["us-east-1"]
    web1 = us.instances["web-1-us-east-1"]
    row = graph.run(
        "MATCH (i:Instance {id: $id}) RETURN properties(i) AS p, "
        "valueType(i.launch_time) AS lt, i.launch_time AS launch",
        id=web1,
    )[0]
    api = raw.instance(web1)
    assert row["p"]["private_ip"] == api["PrivateIpAddress"] == us.private_ips[web1]
    assert row["p"]["aws_hostname"] == api["PrivateDnsName"]
    assert row["p"]["state"] == "running"
    assert row["p"]["instance_type"] == "t3.micro"
    assert row["p"]["region"] == "us-east-1" and row["p"]["account_id"] == ACCOUNT
    assert row["lt"] == "ZONED DATETIME NOT NULL"
    assert row["launch"].to_native() == datetime.fromisoformat(api["LaunchTime"])
    # no public IP or public DNS: absent properties, never a "None" text
    assert "public_ip" not in row["p"] and "public_dns" not in row["p"]

    rep = graph.run("MATCH (i:Instance {id: $id}) RETURN properties(i) AS p", id=files.replica)
    api = raw.instance(files.replica)
    assert api["PublicIpAddress"]
    assert rep[0]["p"]["public_ip"] == api["PublicIpAddress"]
    assert rep[0]["p"]["public_dns"] == api["PublicDnsName"]

    old = us.instances["old-us-east-1"]
    term = graph.run("MATCH (i:Instance {id: $id}) RETURN properties(i) AS p", id=old)[0]["p"]
    assert term["state"] == "terminated"
    for absent in ("private_ip", "aws_hostname", "public_dns", "vpc_id", "subnet_id"):
        assert absent not in term
    # no VPC or subnet; a security group only through an interface AWS (here moto, which
    # keeps a terminated instance's interface) still lists as attached to it
    attached = {
        ("SecurityGroup", g["GroupId"])
        for _, e in raw.enis
        if (e.get("Attachment") or {}).get("InstanceId") == old
        for g in e.get("Groups") or []
    }
    belongs = graph.run(
        "MATCH (:Instance {id: $id})-[:BELONGS_TO]->(n) RETURN labels(n)[0] AS l, n.id AS id",
        id=old,
    )
    assert {(r["l"], r["id"]) for r in belongs} == attached

    db = graph.run(
        "MATCH (d:RDSInstance {DBInstanceIdentifier: 'orders-db-us-east-1'}) "
        "RETURN d.Port AS port, valueType(d.Port) AS pt, d.StorageEncrypted AS enc, "
        "valueType(d.StorageEncrypted) AS et, valueType(d.BackupRetentionPeriod) AS bt"
    )
    assert db == [
        {
            "port": 5432,
            "pt": "INTEGER NOT NULL",
            "enc": False,
            "et": "BOOLEAN NOT NULL",
            "bt": "INTEGER NOT NULL",
        }
    ]
    lb = graph.run(
        "MATCH (lb:LoadBalancer {name: 'web-us-east-1'}) "
        "RETURN valueType(lb.created_time) AS t, lb.scheme AS scheme, lb.type AS type"
    )
    assert lb == [
        {"t": "ZONED DATETIME NOT NULL", "scheme": "internet-facing", "type": "application"}
    ]
    allowed = graph.run(
        "MATCH (sg:SecurityGroup {id: $sg})-[a:ALLOWED]->(ip:IPRange) "
        "RETURN ip.cidr AS cidr, properties(a) AS p ORDER BY cidr",
        sg=us.sg_db,
    )
    assert allowed == [
        {"cidr": "0.0.0.0/0", "p": {"protocol": "-1", "direction": "egress"}},
        {
            "cidr": "2001:db8::/32",
            "p": {"protocol": "tcp", "fromPort": 443, "toPort": 443, "direction": "egress"},
        },
    ]
    ranges = graph.run("MATCH (r:IPRange {cidr: '0.0.0.0/0'}) RETURN r.description AS d")
    assert ranges == [{"d": "https from anywhere"}]
    peer = graph.run(
        "MATCH (a:VPC)-[p:PEERED_TO]->(b:VPC) RETURN a.id AS a, b.id AS b, properties(p) AS p"
    )
    assert peer == [
        {
            "a": us.vpc,
            "b": files.estate.regions["eu-west-1"].vpc,
            "p": {"id": files.estate.peering, "status": "active", "tag_Name": "us-eu"},
        }
    ]
    # nothing anywhere holds a stand-in text for a missing value
    bogus = graph.run(
        "MATCH (n) UNWIND keys(n) AS k WITH n, k WHERE n[k] IN ['None', 'Null', 'null', "
        "'Not specified', ''] RETURN labels(n) AS l, k"
    )
    assert bogus == []
    strings = graph.run(
        "MATCH (n:Instance) UNWIND keys(n) AS k WITH n, k WHERE k IN ['launch_time'] "
        "AND valueType(n[k]) STARTS WITH 'STRING' RETURN n.id AS id"
    )
    assert strings == []


# --------------------------------------------------------------------------- 2. legacy queries


def legacy_queries() -> list[str]:
    text = (FIXTURES / "legacy-queries.cypher").read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
    return [q.strip() for q in body.split(";") if q.strip()]


def _tag_map(i: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in i.get("Tags") or []}


def _rows(graph: ManagedNeo4j, query: str, **params: Any) -> list[tuple[Any, ...]]:
    return sorted(
        (tuple(r.values()) for r in graph.run(query, **params)),
        key=lambda t: json.dumps(t, default=str),
    )


def test_legacy_queries_unchanged(graph: ManagedNeo4j, files: EstateFiles) -> None:
    raw = Raw(files.native)
    q_db, q_rds, q_egress, q_egress_sg, q_ingress, q_lb = legacy_queries()

    # 1. database servers with unrestricted egress, with the owner
    open_groups = {
        gid
        for gid, direction, rule in raw.rules()
        if direction == "egress" and any(r["CidrIp"] == "0.0.0.0/0" for r in rule["IpRanges"])
    }
    want: set[tuple[Any, ...]] = set()
    for _, i in raw.instances:
        tags = _tag_map(i)
        groups = {g["GroupId"] for g in i.get("SecurityGroups") or []}
        if "owner" not in tags or not groups & open_groups:
            continue
        for value in tags.values():
            low = value.lower()
            if ("db" in low or "database" in low) and "standby" not in low:
                want.add((tags["owner"], i.get("PrivateIpAddress"), value))
    replica_ip = raw.instance(files.replica)["PrivateIpAddress"]
    assert ("erin", replica_ip, "Analytics Database") in want  # kept
    assert ("erin", replica_ip, "db-standby") not in want  # "standby" dropped
    assert len(want) == 5  # db-1 in two regions x (Name, role) + the replica's service
    got = graph.run(q_db)
    assert len(got) == len(want)
    assert {tuple(r.values()) for r in got} == want
    assert list(got[0]) == ["(p.value)", "i.private_ip", "t.value"]

    # 2. RDS instances with encryption off
    got_rds = graph.run(q_rds)
    want_ids = sorted(d["DBInstanceIdentifier"] for _, d in raw.dbs if not d["StorageEncrypted"])
    assert want_ids == ["orders-db-eu-west-1", "orders-db-us-east-1"]
    assert sorted(r["n"]["DBInstanceIdentifier"] for r in got_rds) == want_ids
    node = next(r["n"] for r in got_rds if r["n"]["DBInstanceIdentifier"] == want_ids[1])
    api = next(d for _, d in raw.dbs if d["DBInstanceIdentifier"] == want_ids[1])
    assert node["Endpoint"] == api["Endpoint"]["Address"]
    assert node["Port"] == api["Endpoint"]["Port"]
    assert node["VPCId"] == api["DBSubnetGroup"]["VpcId"]
    assert node["MultiAZ"] is api["MultiAZ"] and node["DBName"] == api["DBName"]

    # 3-6. per instance, by private IP
    checked = 0
    for _, i in raw.instances:
        ip = i.get("PrivateIpAddress")
        if not ip:
            continue
        # graph model 1.1: the instance's own groups and those of every interface on it
        group_ids = [g["GroupId"] for g in i.get("SecurityGroups") or []]
        group_ids += [
            g["GroupId"]
            for _, eni in raw.enis
            if (eni.get("Attachment") or {}).get("InstanceId") == i["InstanceId"]
            for g in eni.get("Groups") or []
        ]
        sgs = [raw.group(gid) for gid in dict.fromkeys(group_ids)]
        egress: list[tuple[Any, ...]] = []
        egress_sg: list[tuple[Any, ...]] = []
        ingress: list[tuple[Any, ...]] = []
        for g in sgs:
            for direction, rules in (
                ("egress", g.get("IpPermissionsEgress", [])),
                ("ingress", g.get("IpPermissions", [])),
            ):
                for rule in rules:
                    cidrs = [r["CidrIp"] for r in rule.get("IpRanges", [])]
                    cidrs += [r["CidrIpv6"] for r in rule.get("Ipv6Ranges", [])]
                    for cidr in cidrs:
                        row = (cidr, rule.get("FromPort"), rule.get("ToPort"), rule["IpProtocol"])
                        if direction == "egress":
                            egress.append(row)
                            egress_sg.append((*row, g["GroupName"]))
                        else:
                            ingress.append(row)
        key = lambda t: json.dumps(t, default=str)  # noqa: E731
        assert _rows(graph, q_egress, ip=ip) == sorted(egress, key=key), ip
        assert _rows(graph, q_egress_sg, ip=ip) == sorted(egress_sg, key=key), ip
        assert _rows(graph, q_ingress, ip=ip) == sorted(ingress, key=key), ip
        lbs = {tg["TargetGroupArn"]: tg.get("LoadBalancerArns") or [] for _, tg in raw.tgs}
        want_lb = sorted(
            (i["InstanceId"], tg_arn, lb)
            for _, tg_arn, d in raw.health
            if d["Target"]["Id"] == i["InstanceId"]
            for lb in lbs[tg_arn]
        )
        got_lb = sorted(
            (r["n"]["id"], r["t"]["arn"], r["lb"]["arn"]) for r in graph.run(q_lb, ip=ip)
        )
        assert got_lb == want_lb, ip
        checked += 1
    assert checked == 9  # every instance but the two terminated ones
    web1 = files.estate.regions["us-east-1"].instances["web-1-us-east-1"]
    web1_ip = raw.instance(web1)["PrivateIpAddress"]
    assert len(graph.run(q_lb, ip=web1_ip)) == 1
    assert ("0.0.0.0/0", 443, 443, "tcp") in _rows(graph, q_ingress, ip=web1_ip)


# --------------------------------------------------------------------------- 3. legacy vs native


def read_csv_graph(
    csv_dir: Path,
) -> tuple[dict[str, tuple[str, dict[str, str]]], set[tuple[str, str, str, tuple[Any, ...]]]]:
    """Nodes {resource_key: (label, properties)} and relationships
    {(type, start key, end key, sorted properties)} of a transform's CSV folder, keyed by
    resource key (the snapshot id is cut off the uid). Empty cells are left out."""
    manifest = json.loads((csv_dir / "import-manifest.json").read_text(encoding="utf-8"))
    nodes: dict[str, tuple[str, dict[str, str]]] = {}
    rels: set[tuple[str, str, str, tuple[Any, ...]]] = set()

    def rk(uid: str) -> str:
        return uid.split("|", 1)[1]

    for group in manifest["groups"]:
        names = [f.split(":")[0] for f in group["header_fields"]]
        for part in group["parts"]:
            with (csv_dir / part).open(newline="", encoding="utf-8") as fh:
                for cells in csv.reader(fh):
                    assert len(cells) == len(names), (part, cells)
                    if group["kind"] == "nodes":
                        row = {n: v for n, v in zip(names, cells, strict=True) if v != ""}
                        key = rk(row.pop("uid"))
                        for system in ("snapshot_id", "fingerprint", "resource_key"):
                            row.pop(system, None)
                        nodes[key] = (group["label"], row)
                    else:  # :START_ID, :END_ID, then the properties
                        props = {n: v for n, v in zip(names[2:], cells[2:], strict=True) if v != ""}
                        rel = (group["type"], rk(cells[0]), rk(cells[1]))
                        rels.add((*rel, tuple(sorted(props.items()))))
    return nodes, rels


#: what the legacy format cannot carry, per label
NOT_IN_LEGACY = {
    "Instance": {
        "instance_type",
        "image_id",
        "launch_time",
        "key_name",
        "iam_instance_profile_arn",
        "imds_v1_allowed",
    },
    # lambda:ListFunctions: a legacy archive knows a function as a target only
    "LambdaFunction": {"name", "runtime", "role_arn", "vpc_id"},
    "SecurityGroup": {"vpc_id"},
    "RDSInstance": {"arn"},
    "TargetGroup": {"protocol", "port", "vpc_id"},
}
#: what the legacy reader derives rather than reads: moto names a network load balancer's
#: ARN `loadbalancer/app/...`, and the reader (rightly, for real AWS) takes the type from it
DERIVED_IN_LEGACY = {"LoadBalancer": {"type"}}
#: relationships from fields or operations (graph model 1.1) aws_neo4j_map never carried
NATIVE_ONLY_RELS = {
    ("BELONGS_TO", "LoadBalancer", "Subnet"),
    ("BELONGS_TO", "RDSInstance", "Subnet"),
    ("HAS_INSTANCE_PROFILE", "Instance", "InstanceProfile"),
    ("HAS_LISTENER", "LoadBalancer", "Listener"),
    ("FORWARDS_TO", "Listener", "TargetGroup"),
    ("HAS_ROLE", "LambdaFunction", "IAMRole"),
    ("HAS_ROLE", "InstanceProfile", "IAMRole"),
    ("BELONGS_TO", "LambdaFunction", "Subnet"),
    ("BELONGS_TO", "LambdaFunction", "SecurityGroup"),
}
COMPARED_LABELS = (
    "Account",
    "Region",
    "Instance",
    "SecurityGroup",
    "IPRange",
    "PrefixList",
    "RDSInstance",
    "LoadBalancer",
    "TargetGroup",
    "LambdaFunction",
    "IPAddress",
)


#: labels of graph model 1.1's network families: the legacy format carries none of them
NETWORK_LABELS = {
    "NetworkInterface",
    "RouteTable",
    "InternetGateway",
    "NatGateway",
    "NetworkAcl",
    "Gateway",
}


def test_legacy_archive_gives_the_same_graph(native_csv: Path, legacy_csv: Path) -> None:
    n_nodes, n_rels = read_csv_graph(native_csv)
    l_nodes, l_rels = read_csv_graph(legacy_csv)
    # addresses and ranges only the network families name (an interface's IP, an ACL's
    # CIDR) are not in the legacy graph: compare those its relationships reach
    network = {k for t, a, b, _ in n_rels if t in ("HAS_IP", "NACL_RULE") for k in (a, b)} - {
        b for t, a, b, _ in n_rels if t in ("CONTAINS", "ALLOWED") and not a.startswith("Snapshot|")
    }
    network -= {a for t, a, b, _ in n_rels if t == "ALLOWED"}
    n_nodes = {k: v for k, v in n_nodes.items() if k not in network}
    for label in COMPARED_LABELS:
        derived = DERIVED_IN_LEGACY.get(label, set())
        drop = NOT_IN_LEGACY.get(label, set()) | derived
        native = {
            k: {p: v for p, v in props.items() if p not in drop}
            for k, (lab, props) in n_nodes.items()
            if lab == label
        }
        legacy = {
            k: {p: v for p, v in props.items() if p not in derived}
            for k, (lab, props) in l_nodes.items()
            if lab == label
        }
        assert native, label
        diff = {
            k: (legacy.get(k), native.get(k))
            for k in legacy.keys() | native.keys()
            if legacy.get(k) != native.get(k)
        }
        assert diff == {}, label
    # tags: the legacy format carries the instances' tags only
    instance_tags = {b for t, a, b, _ in n_rels if t == "TAGGED" and a.startswith("Instance|")}
    assert {k for k, (lab, _) in l_nodes.items() if lab == "Tag"} == instance_tags

    def rel_set(rels: set[tuple[str, str, str, tuple[Any, ...]]], legacy: bool) -> set[Any]:
        out = set()
        for t, a, b, props in rels:
            start, end = a.split("|", 1)[0], b.split("|", 1)[0]
            if t == "CONTAINS" and start == "Snapshot":
                continue  # differs by the VPCs/subnets legacy does not hold
            if {start, end} & NETWORK_LABELS:
                continue  # graph model 1.1's network families: not in the legacy format
            if t == "TAGGED" and start != "Instance":
                continue
            if (t, start, end) in {("BELONGS_TO", "SecurityGroup", "VPC")}:
                continue  # legacy security group records have no VpcId
            if (t, start, end) in {("BELONGS_TO", "Subnet", "VPC")}:
                continue  # DescribeSubnets never collected by aws_neo4j_map
            if (t, start, end) in NATIVE_ONLY_RELS:
                continue
            if t == "CONTAINS" and start == "TargetGroup":
                props = tuple(p for p in props if p[0] != "port")  # no target port in legacy
            out.add((t, a, b, props))
        return out

    native_rels, legacy_rels = rel_set(n_rels, False), rel_set(l_rels, True)
    assert legacy_rels - native_rels == set()
    # an instance's groups through its interfaces (moto keeps a terminated instance's
    # interface attached): the legacy format has only the instance's own list
    on_eni = {(b, a) for t, a, b, _ in n_rels if t == "ATTACHED_TO" and b.startswith("Instance|")}
    eni_groups = {
        (a, b) for t, a, b, _ in n_rels if t == "BELONGS_TO" and a.startswith("NetworkInterface|")
    }
    via_eni = {(i, g) for i, e in on_eni for e2, g in eni_groups if e2 == e}
    assert {
        (t, a, b)
        for t, a, b, _ in native_rels - legacy_rels
        if not (t == "BELONGS_TO" and (a, b) in via_eni)
    } == set()
    kinds = {(t, a.split("|")[0], b.split("|")[0]) for t, a, b, _ in native_rels}
    for wanted in (
        ("ALLOWED", "IPRange", "SecurityGroup"),
        ("ALLOWED", "SecurityGroup", "PrefixList"),
        ("ALLOWED", "SecurityGroup", "SecurityGroup"),
        ("PEERED_TO", "VPC", "VPC"),
        ("CONTAINS", "TargetGroup", "LambdaFunction"),
        ("BELONGS_TO", "RDSInstance", "SecurityGroup"),
        ("BELONGS_TO", "Instance", "Subnet"),
        ("TAGGED", "Instance", "Tag"),
    ):
        assert wanted in kinds


# --------------------------------------------------------------------------- 4. CLI


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEO4J_")}
    env["BULKGRAPH_CACHE_DIR"] = str(cwd / "cache")
    return subprocess.run(
        [sys.executable, "-m", "bulkgraph", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


def _counts_reconcile(summary: dict[str, Any]) -> None:
    assert summary["families"]
    for op, c in summary["families"].items():
        assert c["read"] == c["written"] + c["rejected"], op


def test_cli_transform(files: EstateFiles, tmp_path: Path) -> None:
    raw = Raw(files.native)
    out = tmp_path / "csv"
    proc = _cli(
        "transform", str(files.native), str(files.legacy), "--out", str(out), "--json",
        "--account-id", ACCOUNT, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert sorted(summary["transformed"]) == sorted([SNAPSHOT_ID, LEGACY_NAME])
    assert summary["failed"] == {} and summary["rejected"] == 0
    _counts_reconcile(summary)
    fam = summary["families"]
    # native and legacy both hold every instance, security group and database
    assert fam["ec2:DescribeInstances"]["read"] == 2 * len(raw.instances)
    assert fam["ec2:DescribeSecurityGroups"]["written"] == 2 * len(raw.groups)
    assert fam["rds:DescribeDBInstances"]["written"] == 2 * len(raw.dbs)
    assert fam["ec2:DescribeVpcs"]["read"] == len(raw.vpcs)  # native only
    assert (out / "import-manifest.json").is_file()

    # one corrupt snapshot among good ones: exit 3, named on stderr, the good ones done
    bad = tmp_path / "snaps" / "corrupt-1"
    shutil.copytree(files.native, bad)
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["snapshot_id"] = "corrupt-1"
    (bad / "manifest.json").write_text(json.dumps(manifest))
    damaged = bad / manifest["files"][0]["path"]
    damaged.write_bytes(gzip.compress(b'{"operation": "tampered"}'))
    out2 = tmp_path / "csv2"
    proc = _cli(
        "transform", str(files.native), str(bad), str(files.legacy), "--out", str(out2),
        "--json", "--account-id", ACCOUNT, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    assert "corrupt-1" in proc.stderr
    assert re.search(r"sha256 mismatch", proc.stderr), proc.stderr
    summary = json.loads(proc.stdout)
    assert sorted(summary["transformed"]) == sorted([SNAPSHOT_ID, LEGACY_NAME])
    assert list(summary["failed"]) == ["corrupt-1"]
    _counts_reconcile(summary)
    assert summary["families"]["ec2:DescribeInstances"]["read"] == 2 * len(raw.instances)
    ids = [
        s["snapshot_id"]
        for s in json.loads((out2 / "import-manifest.json").read_text())["snapshots"]
    ]
    assert ids == [SNAPSHOT_ID, LEGACY_NAME] or ids == [LEGACY_NAME, SNAPSHOT_ID]
