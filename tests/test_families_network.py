"""The network families of graph model 1.1 (interfaces, route tables, internet and NAT
gateways, network ACLs) on tests/fixtures/native/net11.json: what is particular to each, the
transform's `after` step and stubs with properties, and the whole snapshot in real Neo4j."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import polars as pl
import pytest
from conftest import ManagedNeo4j, import_settings
from test_transform import by, rows
from transform_fixtures import NATIVE, from_dict, load

from bulkgraph.load.bulk import bulk_import
from bulkgraph.transform.declare import rel
from bulkgraph.transform.families.ec2_network_interfaces import _owners
from bulkgraph.transform.families.vpcs import VPC
from bulkgraph.transform.run import transform

SID = "20260102T000000Z"
A = "111111111111"
LB_ARN = f"arn:aws:elasticloadbalancing:us-east-1:{A}:loadbalancer"
NETWORK_LABELS = ("NetworkInterface", "RouteTable", "InternetGateway", "NatGateway", "NetworkAcl")


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("net11")
    result = transform([load("net11.json")], path, workers=1)
    assert result.transformed == [SID] and result.failed == {}
    assert result.rejected == 1  # the route that names no target (test_routes)
    return path


def ends(out: Path, group: str, *props: str) -> set[tuple[str, ...]]:
    """(start key, end key, props...) of a relationship group's rows."""
    return {
        (r[":START_ID"].split("|", 2)[2], r[":END_ID"].split("|", 2)[2], *(r[p] for p in props))
        for r in rows(out, "relationships", group, SID)
    }


def test_interface_owners(out: Path) -> None:
    enis = by(rows(out, "nodes", "NetworkInterface", SID), "id")
    owners = {i: (e["owner_kind"], e["owner_id"]) for i, e in enis.items()}
    assert owners == {
        # the attachment's instance
        "eni-web0": ("Instance", "i-web"),
        "eni-web1": ("Instance", "i-web"),
        "eni-router": ("Instance", "i-router"),
        # AWS's descriptions: the load balancer's ARN from the file's account and region
        "eni-alb": ("LoadBalancer", f"{LB_ARN}/app/web-alb/50dc6c495c0c9188"),
        "eni-nlb": ("LoadBalancer", f"{LB_ARN}/net/edge-nlb/0123456789abcdef"),
        # the function's name without the UUID AWS appends, and without one
        "eni-lambda": ("LambdaFunction", f"arn:aws:lambda:us-east-1:{A}:function:orders-api"),
        "eni-lambda2": ("LambdaFunction", f"arn:aws:lambda:us-east-1:{A}:function:billing_job"),
        "eni-nat": ("NatGateway", "nat-0a1b2c3d"),
        # nothing says whose: the interface type, no owner
        "eni-vpce": ("vpc_endpoint", ""),
        "eni-free": ("interface", ""),
    }
    assert ends(out, "ATTACHED_TO__NetworkInterface__Instance", "device_index") == {
        ("eni-web0", "i-web", "0"),
        ("eni-web1", "i-web", "1"),
        ("eni-router", "i-router", "0"),
    }
    for label in ("LoadBalancer", "LambdaFunction", "NatGateway"):
        got = {(s, e) for s, e in ends(out, f"ATTACHED_TO__NetworkInterface__{label}")}
        assert got == {(i, o[1]) for i, o in owners.items() if o[0] == label}, label
    # the owners the snapshot does not list are stubs
    lbs = by(rows(out, "nodes", "LoadBalancer", SID), "arn")
    assert lbs[f"{LB_ARN}/app/web-alb/50dc6c495c0c9188"]["stub"] == "true"
    assert by(rows(out, "nodes", "NatGateway", SID), "id")["nat-0a1b2c3d"]["stub"] == ""
    e = enis["eni-alb"]
    assert (e["requester_id"], e["requester_managed"], e["public_ip"]) == (
        "amazon-elb",
        "true",
        "54.0.0.30",
    )
    assert enis["eni-web0"]["description"] == ""  # AWS's "" is no description


def test_owner_arns_follow_the_partition() -> None:
    frame = pl.DataFrame(
        {
            "description": ["ELB app/a/1f", "AWS Lambda VPC ENI-fn"],
            "interface_type": ["interface", "lambda"],
            "attached_instance": [None, None],
            "account_id": ["1", "2"],
            "region": ["cn-north-1", "us-gov-west-1"],
        },
        schema_overrides={"attached_instance": pl.String},
    )
    assert _owners(frame)["owner_id"].to_list() == [
        "arn:aws-cn:elasticloadbalancing:cn-north-1:1:loadbalancer/app/a/1f",
        "arn:aws-us-gov:lambda:us-gov-west-1:2:function:fn",
    ]


def test_every_address_with_its_kind(out: Path) -> None:
    has_ip = ends(out, "HAS_IP__NetworkInterface__IPAddress", "kind", "primary")
    assert {r[1:] for r in has_ip if r[0] == "eni-web1"} == {
        ("10.1.0.11", "private", "true"),
        ("10.1.0.12", "private", "false"),
        ("10.1.0.13", "private", "false"),
        # the public address of a secondary private one: not primary
        ("54.0.0.12", "public", "false"),
        ("2600:1f18:1:100::11", "ipv6", "true"),
        ("2600:1f18:1:100::12", "ipv6", "false"),
    }
    assert {r[1:] for r in has_ip if r[0] == "eni-web0"} == {
        ("10.1.0.10", "private", "true"),
        ("54.0.0.10", "public", "true"),
    }
    # an IPv6 address AWS does not call primary (no IsPrimaryIpv6) is not
    assert {r[1:] for r in has_ip if r[0] == "eni-router"} == {
        ("10.1.1.20", "private", "true"),
        ("2600:1f18:1:101::20", "ipv6", "false"),
    }
    ips = by(rows(out, "nodes", "IPAddress", SID), "ip")
    assert ips["54.0.0.12"]["stub"] == "" and ips["2600:1f18:1:100::11"]["stub"] == ""
    assert ends(out, "HAS_IP__NatGateway__IPAddress", "kind", "primary") == {
        ("nat-0a1b2c3d", "10.1.0.50", "private", "true"),
        ("nat-0a1b2c3d", "54.0.0.50", "public", "true"),
        ("nat-0a1b2c3d", "10.1.0.51", "private", "false"),
        # no IsPrimary (before secondary addresses): the first address is the primary
        ("nat-old", "10.1.1.90", "private", "true"),
    }


def test_an_instance_is_in_the_groups_of_its_interfaces(out: Path) -> None:
    assert ends(out, "BELONGS_TO__Instance__SecurityGroup") == {
        ("i-web", "sg-web"),  # its own list, and its primary interface's
        ("i-web", "sg-admin"),  # only on its second interface
        ("i-router", "sg-admin"),  # it lists none itself
    }
    assert ("eni-web1", "sg-admin") in ends(out, "BELONGS_TO__NetworkInterface__SecurityGroup")


def test_subnets_route_via_their_own_table_else_the_main_one(out: Path) -> None:
    assert ends(out, "ROUTES_VIA__Subnet__RouteTable", "explicit") == {
        ("subnet-pub", "rtb-public", "true"),
        ("subnet-data", "rtb-data", "true"),
        ("subnet-priv", "rtb-main", "false"),  # no association of its own
        # subnet-b: its VPC's tables are not in the snapshot, so no main table either
    }
    tables = by(rows(out, "nodes", "RouteTable", SID), "id")
    assert {t: r["main"] for t, r in tables.items()} == {
        "rtb-main": "true",
        "rtb-public": "false",
        "rtb-data": "false",
    }


def test_subnets_without_route_tables_in_the_snapshot_route_nowhere(tmp_path: Path) -> None:
    """The `after` step reads what the families put: without DescribeSubnets, no subnet
    gets the main table (only the explicit associations are known)."""
    raw = json.loads((NATIVE / "net11.json").read_text(encoding="utf-8"))
    raw["responses"] = [r for r in raw["responses"] if r["operation"] != "ec2:DescribeSubnets"]
    transform([from_dict(raw)], tmp_path, workers=1)
    assert {r[2] for r in ends(tmp_path, "ROUTES_VIA__Subnet__RouteTable", "explicit")} == {"true"}


def test_routes(out: Path) -> None:
    props = ("destination", "state", "origin")
    assert ends(out, "ROUTE__RouteTable__InternetGateway", *props) == {
        ("rtb-public", "igw-a", "0.0.0.0/0", "active", "CreateRoute"),
        ("rtb-public", "igw-a", "::/0", "active", "CreateRoute"),
    }
    assert ends(out, "ROUTE__RouteTable__NatGateway", "destination") == {
        ("rtb-main", "nat-0a1b2c3d", "0.0.0.0/0")
    }
    # an instance route names the instance and its interface: one route, to the instance
    assert ends(out, "ROUTE__RouteTable__Instance", "destination") == {
        ("rtb-data", "i-router", "0.0.0.0/0")
    }
    assert ends(out, "ROUTE__RouteTable__NetworkInterface", "destination", "state") == {
        ("rtb-data", "eni-free", "10.200.0.0/16", "blackhole")
    }
    # a peering route: to the VPC at the other end of the peering
    assert ends(out, "ROUTE__RouteTable__VPC", "destination") == {
        ("rtb-main", "vpc-partner", "172.20.0.0/16")
    }
    gateways = ends(out, "ROUTE__RouteTable__Gateway", "destination", "origin")
    assert {(g, d) for _, g, d, _ in gateways} == {
        ("eigw-1", "::/0"),
        ("tgw-1", "10.50.0.0/16"),
        ("vgw-1", "10.60.0.0/16"),
        ("lgw-1", "10.70.0.0/16"),
        ("cagw-1", "10.80.0.0/16"),
        (f"arn:aws:networkmanager::{A}:core-network/core-network-1", "10.90.0.0/16"),
        ("vpce-s3", "pl-s3"),  # a prefix list destination
        ("pcx-gone", "192.168.0.0/16"),  # a peering the snapshot does not hold
    }
    assert ("rtb-main", "vgw-1", "10.60.0.0/16", "EnableVgwRoutePropagation") in gateways
    stubs = rows(out, "nodes", "Gateway", SID)
    assert len(stubs) == 8 and {g["stub"] for g in stubs} == {"true"}
    # the local route is the VPC's own: not written; a route naming no target: rejected
    all_routes = [r for g in ("InternetGateway", "NatGateway", "Instance", "NetworkInterface",
                              "VPC", "Gateway")
                  for r in ends(out, f"ROUTE__RouteTable__{g}", "destination")]  # fmt: skip
    assert not [r for r in all_routes if r[2] in ("10.1.0.0/16", "10.99.0.0/16")]
    [reject] = [
        json.loads(line)
        for line in (out / "state" / SID / "rejects.jsonl").read_text().splitlines()
    ]
    assert reject["reason"] == "Routes[10]: names no target"
    assert reject["file"].endswith("ec2/DescribeRouteTables.json.gz")


def test_internet_gateways(out: Path) -> None:
    assert ends(out, "ATTACHED_TO__InternetGateway__VPC", "state") == {
        ("igw-a", "vpc-a", "available")
    }
    assert set(by(rows(out, "nodes", "InternetGateway", SID), "id")) == {"igw-a", "igw-spare"}


def test_network_acl_rules_in_order_with_denies(out: Path) -> None:
    cols = ("rule_number", "action", "protocol", "fromPort", "toPort", "direction")
    ingress = ends(out, "NACL_RULE__IPRange__NetworkAcl", *cols)
    web = sorted((int(r[2]), *r[3:], r[0]) for r in ingress if r[1] == "acl-web")
    assert web == [
        (90, "deny", "6", "22", "22", "ingress", "0.0.0.0/0"),  # ssh denied before...
        (100, "allow", "6", "0", "65535", "ingress", "0.0.0.0/0"),  # ...all tcp allowed
        (110, "allow", "1", "", "", "ingress", "10.0.0.0/8"),
        (32767, "deny", "-1", "", "", "ingress", "0.0.0.0/0"),  # the default rule is kept
    ]
    icmp = [
        r
        for r in rows(out, "relationships", "NACL_RULE__IPRange__NetworkAcl", SID)
        if r["rule_number"] == "110"
    ]
    assert (icmp[0]["icmp_type"], icmp[0]["icmp_code"]) == ("-1", "-1")
    default = sorted((int(r[2]), r[3], r[0]) for r in ingress if r[1] == "acl-default")
    assert default == [
        (100, "allow", "0.0.0.0/0"),
        (101, "allow", "::/0"),  # IPv6 entries too
        (32767, "deny", "0.0.0.0/0"),
        (32768, "deny", "::/0"),
    ]
    egress = ends(out, "NACL_RULE__NetworkAcl__IPRange", *cols)
    assert ("acl-web", "0.0.0.0/0", "100", "allow", "6", "1024", "65535", "egress") in egress
    assert {r[-1] for r in egress} == {"egress"} and len(egress) == 4
    assert ends(out, "BELONGS_TO__Subnet__NetworkAcl") == {
        ("subnet-pub", "acl-web"),
        ("subnet-priv", "acl-default"),
        ("subnet-data", "acl-default"),
    }
    acls = by(rows(out, "nodes", "NetworkAcl", SID), "id")
    assert (acls["acl-default"]["is_default"], acls["acl-web"]["is_default"]) == ("true", "false")
    # an IPRange both a security group rule and an ACL name keeps the rule's description
    ranges = by(rows(out, "nodes", "IPRange", SID), "cidr")
    assert ranges["0.0.0.0/0"]["description"] == "https from anywhere"
    assert ranges["::/0"]["stub"] == ""


def test_vpc_cidrs_subnet_public_ip_and_the_peer_stub(out: Path) -> None:
    vpcs = by(rows(out, "nodes", "VPC", SID), "id")
    # every associated CIDR, IPv4 then IPv6; a disassociated one is not
    assert vpcs["vpc-a"]["cidrs"] == "10.1.0.0/16;10.2.0.0/16;2600:1f18:1:100::/56"
    peer = vpcs["vpc-partner"]
    assert (peer["stub"], peer["cidr"], peer["account_id"], peer["region"]) == (
        "true",
        "172.20.0.0/16",
        "222222222222",
        "eu-west-1",
    )
    assert peer["resource_key"] == peer["fingerprint"] == peer["is_default"] == ""
    subnets = by(rows(out, "nodes", "Subnet", SID), "id")
    assert subnets["subnet-pub"]["map_public_ip_on_launch"] == "true"
    assert subnets["subnet-priv"]["map_public_ip_on_launch"] == "false"


def test_a_stub_keeps_the_first_value_given_for_each_property(tmp_path: Path) -> None:
    """A peer VPC also named, without properties, by a relationship handled before PEERED_TO
    (ATTACHED_TO sorts first) keeps what the peering says."""
    raw = json.loads((NATIVE / "net11.json").read_text(encoding="utf-8"))
    raw = copy.deepcopy(raw)
    for resp in raw["responses"]:
        if resp["operation"] == "ec2:DescribeInternetGateways":
            gateways = resp["calls"][0]["pages"][0]["InternetGateways"]
            gateways[1]["Attachments"] = [{"State": "available", "VpcId": "vpc-partner"}]
    transform([from_dict(raw)], tmp_path, workers=1)
    assert ("igw-spare", "vpc-partner") in ends(tmp_path, "ATTACHED_TO__InternetGateway__VPC")
    peer = by(rows(tmp_path, "nodes", "VPC", SID), "id")["vpc-partner"]
    assert (peer["stub"], peer["cidr"], peer["account_id"]) == ("true", "172.20.0.0/16", "2" * 12)


def test_a_snapshot_before_1_1_does_not_know_the_network_labels(out: Path, tmp_path: Path) -> None:
    s1 = "20260101T000000Z"
    transform([load("s1.json")], tmp_path, workers=1)
    [snapshot] = rows(tmp_path, "nodes", "Snapshot", s1)
    unknown = set(snapshot["unknown_labels"].split(";"))
    for label in (*NETWORK_LABELS, "Gateway"):
        assert f"{label}/{A}/us-east-1" in unknown, label
        assert not (tmp_path / "nodes" / label / f"{s1}.csv").exists(), label
    assert f"{A}/us-east-1/ec2:DescribeNetworkInterfaces" in snapshot["unknown"].split(";")
    # and nothing of 1.0 is unknown there
    assert f"Instance/{A}/us-east-1" not in unknown
    # a 1.1 snapshot knows them (it lacks RDS and the load balancers: those it does not)
    [known] = rows(out, "nodes", "Snapshot", SID)
    lacks = {entry.split("/")[0] for entry in known["unknown_labels"].split(";")}
    assert "RDSInstance" in lacks and not lacks & {*NETWORK_LABELS, "Gateway"}


@pytest.mark.slow
def test_the_network_graph_imports_into_neo4j(
    neo4j_server: ManagedNeo4j, out: Path, tmp_path: Path
) -> None:
    neo4j_server.stop()  # the import moves the new store in, no staging server beside it
    summary = bulk_import(out, neo4j_server.home, settings=import_settings())
    assert summary.snapshots == [SID] and summary.report_lines == 0
    neo4j_server.start()  # no-op when the swap left it running
    run = neo4j_server.run
    [groups] = run(
        "MATCH (:Instance {id: 'i-web'})-[:BELONGS_TO]->(g:SecurityGroup) "
        "RETURN collect(g.id) AS ids"
    )
    assert sorted(groups["ids"]) == ["sg-admin", "sg-web"]
    addresses = run(
        "MATCH (:NetworkInterface {id: 'eni-web1'})-[r:HAS_IP]->(ip:IPAddress) "
        "WHERE r.primary RETURN ip.ip AS ip, r.kind AS kind ORDER BY ip"
    )
    assert addresses == [
        {"ip": "10.1.0.11", "kind": "private"},
        {"ip": "2600:1f18:1:100::11", "kind": "ipv6"},
    ]
    [owner] = run(
        "MATCH (:IPAddress {ip: '54.0.0.50'})<-[:HAS_IP]-(:NetworkInterface)"
        "-[:ATTACHED_TO]->(n:NatGateway) RETURN n.id AS id, n.connectivity_type AS t"
    )
    assert owner == {"id": "nat-0a1b2c3d", "t": "public"}
    [route] = run(
        "MATCH (:Subnet {id: 'subnet-priv'})-[v:ROUTES_VIA]->(t:RouteTable)"
        "-[r:ROUTE {destination: '0.0.0.0/0'}]->(n:NatGateway) "
        "RETURN v.explicit AS explicit, t.main AS main, n.id AS nat"
    )
    assert route == {"explicit": False, "main": True, "nat": "nat-0a1b2c3d"}
    rules = run(
        "MATCH (:Subnet {id: 'subnet-pub'})-[:BELONGS_TO]->(a:NetworkAcl)"
        "<-[r:NACL_RULE]-(:IPRange {cidr: '0.0.0.0/0'}) "
        "RETURN r.rule_number AS n, r.action AS action, r.toPort AS to ORDER BY n"
    )
    assert rules == [
        {"n": 90, "action": "deny", "to": 22},
        {"n": 100, "action": "allow", "to": 65535},
        {"n": 32767, "action": "deny", "to": None},
    ]
    [vpc] = run("MATCH (v:VPC {id: 'vpc-a'}) RETURN v.cidrs AS cidrs")
    assert vpc["cidrs"] == ["10.1.0.0/16", "10.2.0.0/16", "2600:1f18:1:100::/56"]
    [peer] = run(
        "MATCH (:VPC {id: 'vpc-a'})-[:PEERED_TO]->(p:VPC) "
        "RETURN p.stub AS stub, p.cidr AS cidr, p.account_id AS account"
    )
    assert peer == {"stub": True, "cidr": "172.20.0.0/16", "account": "222222222222"}
    [gateways] = run("MATCH (g:Gateway {stub: true}) RETURN count(g) AS n")
    assert gateways["n"] == 8


def test_an_acl_entry_of_the_wrong_type_is_rejected_against_its_acl(tmp_path: Path) -> None:
    raw = json.loads((NATIVE / "net11.json").read_text(encoding="utf-8"))
    for resp in raw["responses"]:
        if resp["operation"] == "ec2:DescribeNetworkAcls":
            entries = resp["calls"][0]["pages"][0]["NetworkAcls"][1]["Entries"]
            entries[0]["RuleNumber"] = "ninety"
    result = transform([from_dict(raw)], tmp_path, workers=1)
    assert result.rejected == 2  # and the route of test_routes
    reasons = [
        json.loads(line)
        for line in (tmp_path / "state" / SID / "rejects.jsonl").read_text().splitlines()
    ]
    acl = [r for r in reasons if r["file"].endswith("DescribeNetworkAcls.json.gz")]
    assert [(r["record"], r["reason"]) for r in acl] == [
        (1, "Entries: $.RuleNumber: expected int, got ninety")
    ]
    numbers = {r[2] for r in ends(tmp_path, "NACL_RULE__IPRange__NetworkAcl", "rule_number")}
    assert "90" not in numbers and {"100", "110", "32767"} <= numbers


def test_a_stub_property_must_be_declared_by_the_end_label() -> None:
    with pytest.raises(ValueError, match=r"VPC declares no property colour"):
        rel("PEERS", VPC, VPC, end_stub={"colour": "c"})
    with pytest.raises(ValueError, match=r"VPC declares no property id"):  # a key: always kept
        rel("PEERS", VPC, VPC, start_stub={"id": "c"})
    declared = rel("PEERS", VPC, VPC, end_stub={"region": "r", "cidr": "c"})
    # in the order the label declares them, each with its column in the relationship's frame
    assert declared.end_stub == (("cidr", "c"), ("region", "r"))
    assert declared.stub_columns("end") == (("cidr", "end.cidr"), ("region", "end.region"))
