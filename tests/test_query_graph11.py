"""The graph model 1.1 queries, alerts and diff against a real Neo4j: tests/query_estate11.py
(one snapshot format 1.0 archive and two 1.1 ones, written as boto3 answers, transformed and
bulk-imported together by the product's own code). See its docstring for the estate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import neo4j
import pytest
import query_estate11 as estate
from graph_cache import BuiltGraphs
from query_estate import QueryGraphs

from bulkgraph.query import diff_snapshots, run_query, write_alerts

S0, S1, S2 = estate.S0, estate.S1, estate.S2
ACCT, REGION = estate.ACCOUNT, estate.REGION

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def drv(
    neo4j_server: Any, tmp_path_factory: pytest.TempPathFactory, built_graphs: BuiltGraphs
) -> Iterator[neo4j.Driver]:
    graphs = QueryGraphs(tmp_path_factory.mktemp("estate11"), built_graphs, estate.write_snapshot)
    graphs.load(neo4j_server, estate.SNAPSHOT_ORDER)
    yield neo4j_server.driver()


def rows(drv: neo4j.Driver, name: str, **kwargs: Any) -> list[dict[str, Any]]:
    params = kwargs.pop("params", {})
    return run_query(drv, name, params, database="neo4j", **kwargs).rows


def owners(found: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["owner_kind"], r["owner"], r["interface"], r["vpc"]) for r in found]


def test_ip_owner_follows_an_address_that_moves_between_instances(drv: neo4j.Driver) -> None:
    ip = {"ip": "10.20.1.50"}
    april = rows(drv, "ip-owner", params=ip, as_of="2026-04-15T08:00:00Z")
    assert april == [
        {
            "snapshot_id": S1,
            "taken_at": "2026-04-01T00:00:00.000000000+00:00",
            "ip": "10.20.1.50",
            "kind": "private",
            "primary": True,
            "owner_kind": "Instance",
            "owner": "i-move1",
            "owner_name": "move1",
            "state": "running",
            "interface": "eni-m1",
            "device_index": 0,
            "vpc": "vpc-n",
            "subnet": "subnet-priv",
            "account_id": ACCT,
            "region": REGION,
        }
    ]
    may = rows(drv, "ip-owner", params=ip, as_of="2026-05-15T08:00:00Z")
    assert owners(may) == [("Instance", "i-move2", "eni-m2", "vpc-n")]
    history = rows(drv, "ip-owner", params=ip, all_snapshots=True)
    # the 1.0 archive has no interfaces: the instance's own address answers there
    assert [(r["snapshot_id"], r["owner"], r["interface"]) for r in history] == [
        (S0, "i-move1", None),
        (S1, "i-move1", "eni-m1"),
        (S2, "i-move2", "eni-m2"),
    ]


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        # the NAT gateway's public address: through its interface, not twice
        ("3.3.3.3", [("NatGateway", "nat-1", "eni-natgw", "vpc-n")]),
        ("10.20.1.30", [("LoadBalancer", estate.ALB_ARN, "eni-alb", "vpc-n")]),
        ("10.20.2.40", [("LambdaFunction", estate.FN_ARN, "eni-fn", "vpc-n")]),
        # RDS: the database sharing a security group with the RDSNetworkInterface
        ("10.20.2.50", [("RDSInstance", "db-n", "eni-rds", "vpc-n")]),
        ("10.20.2.60", [("vpc_endpoint", "eni-vpce", "eni-vpce", "vpc-n")]),
        # a secondary interface's addresses, public and private
        ("54.1.1.5", [("Instance", "i-sec", "eni-sec1", "vpc-n")]),
        ("10.20.1.23", [("Instance", "i-sec", "eni-sec1", "vpc-n")]),
        ("2600:1f18::20", [("Instance", "i-v6", "eni-v6", "vpc-n")]),
        # one private address in two VPCs: both owners
        (
            "10.20.1.10",
            [
                ("Instance", "i-twin", "eni-twin", "vpc-m"),
                ("Instance", "i-pub", "eni-pub", "vpc-n"),
            ],
        ),
        ("10.99.0.1", []),
    ],
)
def test_ip_owner_finds_every_kind_of_owner(
    drv: neo4j.Driver, ip: str, expected: list[tuple[str, ...]]
) -> None:
    assert owners(rows(drv, "ip-owner", params={"ip": ip})) == expected


def test_ip_at_time_still_answers_and_sees_interface_addresses(drv: neo4j.Driver) -> None:
    secondary = rows(drv, "ip-at-time", params={"ip": "10.20.1.23"})
    assert [(r["instance"], r["groups"]) for r in secondary] == [
        ("i-sec", ["sg-open (open)", "sg-v6 (v6)"])
    ]
    history = rows(drv, "ip-at-time", params={"ip": "10.20.1.50"}, all_snapshots=True)
    assert [(r["snapshot_id"], r["instance"]) for r in history] == [
        (S0, "i-move1"),
        (S1, "i-move1"),
        (S2, "i-move2"),
    ]


def reachable(
    resource: str, addresses: list[str], ports: list[str], **extra: Any
) -> dict[str, Any]:
    return {
        "account_id": ACCT,
        "region": REGION,
        "resource": resource,
        "kind": "Instance",
        "name": resource.removeprefix("i-"),
        "addresses": addresses,
        "source_ranges": ["0.0.0.0/0"],
        "ports": ports,
        "groups": ["sg-open"],
        "interfaces": ["eni-" + resource.removeprefix("i-")],
        "route_tables": ["rtb-pub"],
        "internet_gateways": ["igw-1"],
        "acl_rules": ["acl-pub #100"],
    } | extra


REACHABLE = [
    # tcp/22 is denied by acl-strict's rule 90 before its allow 100: only 443 gets in
    # and of tcp/8000-8100, 8000-8049 are denied by rule 95: open "in part"
    reachable(
        "i-acl",
        ["54.1.1.4"],
        ["tcp/443", "tcp/8000-8100 (in part)"],
        groups=["sg-open", "sg-range"],
        acl_rules=["acl-strict #100"],
    ),
    # its only group is its interface's
    reachable("i-enisg", ["54.1.1.7"], ["tcp/22", "tcp/443"]),
    reachable(
        "i-pub",
        ["2600:1f18::10", "54.1.1.1"],
        ["tcp/22", "tcp/443"],
        source_ranges=["0.0.0.0/0", "::/0"],
        acl_rules=["acl-pub #100", "acl-pub #101"],
    ),
    # its public address is on its secondary interface only
    reachable("i-sec", ["54.1.1.5"], ["tcp/22", "tcp/443"], interfaces=["eni-sec1"]),
    # IPv6 only
    reachable(
        "i-v6",
        ["2600:1f18::20"],
        ["tcp/80"],
        source_ranges=["::/0"],
        groups=["sg-v6"],
        acl_rules=["acl-pub #101"],
    ),
]


def test_internet_reachable(drv: neo4j.Driver) -> None:
    assert rows(drv, "internet-reachable") == REACHABLE
    ssh = rows(drv, "internet-reachable", params={"port": 22, "protocol": "tcp"})
    assert [(r["resource"], r["ports"]) for r in ssh] == [
        ("i-enisg", ["tcp/22"]),
        ("i-pub", ["tcp/22"]),
        ("i-sec", ["tcp/22"]),
    ]
    http = rows(drv, "internet-reachable", params={"port": 80, "protocol": "6"})
    assert [(r["resource"], r["source_ranges"]) for r in http] == [("i-v6", ["::/0"])]
    assert rows(drv, "internet-reachable", params={"port": 443, "protocol": "udp"}) == []
    # each side of the ACL's boundary inside the group's range
    for port, found in ((8049, []), (8050, ["i-acl"]), (8100, ["i-acl"]), (8101, [])):
        at = rows(drv, "internet-reachable", params={"port": port})
        assert [r["resource"] for r in at] == found, port
    # a 1.0 snapshot knows no interfaces, routes or ACLs: nothing is found reachable there
    assert rows(drv, "internet-reachable", snapshot=S0) == []


def exposed(resource: str, reasons: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "account_id": ACCT,
        "region": REGION,
        "resource": resource,
        "kind": "Instance",
        "name": resource.removeprefix("i-"),
        "ports": ["tcp/22", "tcp/443"],
        "source_ranges": ["0.0.0.0/0", "::/0"],
        "groups": ["sg-open"],
        "reasons": reasons,
    } | extra


def test_exposed_not_reachable_says_why(drv: neo4j.Driver) -> None:
    assert rows(drv, "exposed-not-reachable") == [
        exposed(
            estate.ALB_ARN,
            ["eni-alb: no public IPv4 address"],
            kind="LoadBalancer",
            name="alb-n",
            ports=["tcp/443"],
            source_ranges=["0.0.0.0/0"],
            groups=["sg-alb"],
        ),
        exposed(
            "i-nat",
            [
                "eni-nat: 0.0.0.0/0 routes to a NAT gateway only (rtb-nat -> nat-1)",
                "eni-nat: no IPv6 address",
                "eni-nat: no public IPv4 address",
                "eni-nat: no route of ::/0 to an internet gateway (rtb-nat)",
            ],
        ),
        # an Elastic IP, but its subnet uses the main table, whose default route is a
        # transit gateway
        exposed(
            "i-priv",
            [
                "eni-priv: no IPv6 address",
                "eni-priv: no route of 0.0.0.0/0 to an internet gateway (rtb-main)",
                "eni-priv: no route of ::/0 to an internet gateway (rtb-main)",
            ],
        ),
    ]
    ssh = rows(drv, "exposed-not-reachable", params={"port": 22})
    assert [(r["resource"], r["reasons"]) for r in ssh] == [
        ("i-acl", ["eni-acl: network ACL acl-strict denies it from 0.0.0.0/0 (rule 90)"]),
        (
            "i-nat",
            [
                "eni-nat: 0.0.0.0/0 routes to a NAT gateway only (rtb-nat -> nat-1)",
                "eni-nat: no public IPv4 address",
            ],
        ),
        ("i-priv", ["eni-priv: no route of 0.0.0.0/0 to an internet gateway (rtb-main)"]),
    ]
    at_8010 = rows(drv, "exposed-not-reachable", params={"port": 8010})
    assert [(r["resource"], r["ports"], r["reasons"]) for r in at_8010] == [
        (
            "i-acl",
            ["tcp/8000-8100"],
            ["eni-acl: network ACL acl-strict denies it from 0.0.0.0/0 (rule 95)"],
        )
    ]
    # unknown is not a finding: the 1.0 snapshot does not know interfaces
    assert rows(drv, "exposed-not-reachable", snapshot=S0) == []


@pytest.mark.parametrize("snapshot", [S1, S2])
def test_reachable_and_exposed_split_the_old_internet_exposed_finding(
    drv: neo4j.Driver, snapshot: str
) -> None:
    """Where a snapshot knows interfaces, each instance internet-exposed-instances reports
    is in exactly one of internet-reachable and exposed-not-reachable."""

    def instances(name: str) -> set[str]:
        return {
            r["resource"]
            for r in rows(drv, name, snapshot=snapshot)
            if r["resource"].startswith("i-")
        }

    old = instances("internet-exposed-instances")
    now, config = instances("internet-reachable"), instances("exposed-not-reachable")
    assert old == now | config and not now & config
    assert config == {"i-nat", "i-priv"}


def test_an_instance_whose_only_group_is_on_its_interface(drv: neo4j.Driver) -> None:
    """i-enisg lists no group itself: 1.0 lost its interface's group, 1.1 keeps it."""
    assert rows(drv, "instance-ingress", params={"instance": "i-enisg"}, snapshot=S0) == []
    now = rows(drv, "instance-ingress", params={"instance": "i-enisg"})
    assert {(r["group_id"], r["source"], r["from_port"]) for r in now} == {
        ("sg-open", "0.0.0.0/0", 22),
        ("sg-open", "0.0.0.0/0", 443),
        ("sg-open", "::/0", 443),
    }


def test_instance_privileges(drv: neo4j.Driver) -> None:
    common = {"account_id": ACCT, "region": REGION, "state": "running", "imds_v1_allowed": True}
    assert rows(drv, "instance-privileges") == [
        common
        | {
            "instance": "i-acl",
            "name": "acl",
            "key_name": None,
            "instance_profile": None,
            "role": None,
            "role_name": None,
            "managed_policy_arns": [],
            "inline_policy_names": [],
        },
        common
        | {
            "instance": "i-pub",
            "name": "pub",
            "key_name": "ops-key",
            "instance_profile": estate.PROFILE_ARN,
            "role": estate.ROLE_ARN,
            "role_name": "web-role",
            "managed_policy_arns": ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"],
            "inline_policy_names": ["write-logs"],
        },
    ]
    assert [
        r["instance"] for r in rows(drv, "instance-privileges", params={"instance": "10.20.1.10"})
    ] == ["i-pub"]


def test_nacl_deny_shadowed(drv: neo4j.Driver) -> None:
    common = {"account_id": ACCT, "region": REGION, "vpc": "vpc-n", "direction": "ingress"}
    assert rows(drv, "nacl-deny-shadowed") == [
        # deny tcp/3389 from 10.0.0.0/8 at 120: rule 100 already let everything in
        common
        | {
            "acl": "acl-pub",
            "finding": "deny-shadowed",
            "rule_number": 120,
            "action": "deny",
            "cidr": "10.0.0.0/8",
            "ports": "6/3389",
            "shadowed_by": 100,
            "shadowed_by_action": "allow",
            "shadowed_by_cidr": "0.0.0.0/0",
            "shadowed_by_ports": "all",
        },
        # allow tcp/22 at 110 under the deny at 90; the deny at 90 itself is no finding
        common
        | {
            "acl": "acl-strict",
            "finding": "allow-shadowed",
            "rule_number": 110,
            "action": "allow",
            "cidr": "0.0.0.0/0",
            "ports": "6/22",
            "shadowed_by": 90,
            "shadowed_by_action": "deny",
            "shadowed_by_cidr": "0.0.0.0/0",
            "shadowed_by_ports": "6/22",
        },
    ]


def test_lambda_in_vpc(drv: neo4j.Driver) -> None:
    # fn-out has no VPC configuration
    assert rows(drv, "lambda-in-vpc") == [
        {
            "account_id": ACCT,
            "region": REGION,
            "function": estate.FN_ARN,
            "name": "fn1",
            "runtime": "python3.12",
            "vpc": "vpc-n",
            "subnets": ["subnet-priv"],
            "groups": ["sg-db"],
            "interfaces": ["eni-fn"],
            "addresses": ["10.20.2.40"],
            "role": estate.FN_ROLE_ARN,
        }
    ]


def test_diff_of_a_1_0_and_a_1_1_snapshot_reports_no_new_family_as_added(
    drv: neo4j.Driver,
) -> None:
    first = diff_snapshots(drv, S0, S1, database="neo4j")
    assert first.changes == []
    assert f"{ACCT}/{REGION}/ec2:DescribeNetworkInterfaces" in first.unknown[S0]
    assert S1 not in first.unknown
    second = diff_snapshots(drv, S1, S2, database="neo4j")
    assert [(c["change"], c["label"], c["resource"]) for c in second.changes] == [
        ("added", "Instance", "i-move2"),
        ("added", "NetworkInterface", "eni-m2"),
        ("removed", "Instance", "i-move1"),
        ("removed", "NetworkInterface", "eni-m1"),
    ]


def test_next_version_links_the_1_0_archive_to_the_1_1_ones(drv: neo4j.Driver) -> None:
    records, _, _ = drv.execute_query(
        "MATCH p = (a:Instance {id: 'i-pub'})-[:NEXT_VERSION*]->(b:Instance {id: 'i-pub'}) "
        "RETURN a.snapshot_id AS a, b.snapshot_id AS b, length(p) AS hops ORDER BY a, b",
        database_="neo4j",
    )
    assert [(r["a"], r["b"], r["hops"]) for r in records] == [(S0, S1, 1), (S0, S2, 2), (S1, S2, 1)]


def test_alerts_report_reachable_and_exposed_in_config_as_distinct_kinds(
    drv: neo4j.Driver, tmp_path: Path
) -> None:
    out = tmp_path / "alerts.jsonl"
    summary = write_alerts(drv, out, all_snapshots=True, database="neo4j")
    findings = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    by_kind: dict[tuple[str, str], list[str]] = {}
    for f in findings:
        if f["kind"] in ("internet_reachable", "exposed_in_config", "internet_exposed"):
            by_kind.setdefault((f["snapshot_id"], f["kind"]), []).append(f["resource"])
    reachable = ["i-acl", "i-enisg", "i-pub", "i-sec", "i-v6"]
    assert by_kind == {
        # the 1.0 archive: security groups alone, as before (i-enisg's group is unknown)
        (S0, "internet_exposed"): ["i-acl", "i-nat", "i-priv", "i-pub", "i-sec", "i-v6"],
        **{
            (s, "internet_exposed"): [
                "i-acl",
                "i-enisg",
                "i-nat",
                "i-priv",
                "i-pub",
                "i-sec",
                "i-v6",
            ]
            for s in (S1, S2)
        },
        **{(s, "internet_reachable"): reachable for s in (S1, S2)},
        **{(s, "exposed_in_config"): [estate.ALB_ARN, "i-nat", "i-priv"] for s in (S1, S2)},
    }
    rule = {f["kind"]: (f["rule_id"], f["severity"]) for f in findings}
    assert rule["internet_reachable"] == ("BG-EC2-002", "high")
    assert rule["exposed_in_config"] == ("BG-EC2-003", "medium")
    assert list(summary.unknown) == [S0]
    pub = next(
        f for f in findings if f["kind"] == "internet_reachable" and f["resource"] == "i-pub"
    )
    assert pub["evidence"]["ports"] == ["tcp/22", "tcp/443"]
