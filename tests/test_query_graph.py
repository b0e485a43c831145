"""Every query of the pack against a real Neo4j holding three snapshots: exact rows.

The graph is tests/query_estate.py, built by the transform and the bulk import (see its
docstring for what changes when).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import neo4j
import pytest
import query_estate as estate
from query_estate import QueryGraphs

from bulkgraph.errors import BulkgraphError
from bulkgraph.query import list_snapshots, run_query

S1, S2, S3 = estate.S1, estate.S2, estate.S3
ACCT, REGION = estate.ACCOUNT, estate.REGION


@pytest.fixture(scope="module")
def drv(neo4j_server: Any, query_graphs: QueryGraphs) -> Iterator[neo4j.Driver]:
    query_graphs.load(neo4j_server)
    yield neo4j_server.driver()


def rows(drv: neo4j.Driver, name: str, **kwargs: Any) -> list[dict[str, Any]]:
    params = kwargs.pop("params", {})
    return run_query(drv, name, params, database="neo4j", **kwargs).rows


def test_snapshots_are_listed_in_time_order(drv: neo4j.Driver) -> None:
    assert [s.snapshot_id for s in list_snapshots(drv, "neo4j")] == [S1, S2, S3]


def exposed(resource: str, ip: str, ports: list[str], group: str, **extra: Any) -> dict[str, Any]:
    return {
        "account_id": ACCT,
        "region": REGION,
        "resource": resource,
        "private_ip": ip,
        "public_ip": None,
        "state": "running",
        "ports": ports,
        "groups": [group],
        "behind_load_balancer": False,
        "load_balancers": [],
    } | extra


WEB1 = exposed(
    "i-web1",
    "10.0.1.10",
    ["tcp/443", "tcp/80"],
    "sg-web",
    public_ip="54.0.0.10",
    behind_load_balancer=True,
    load_balancers=["alb-1"],
)
ADMIN1 = exposed("i-admin1", "10.0.1.40", ["tcp/22"], "sg-admin")
REUSE1 = exposed("i-reuse1", "10.0.1.60", ["tcp/443", "tcp/80"], "sg-web")


def test_internet_exposed_instances_latest_by_id_and_as_of(drv: neo4j.Driver) -> None:
    assert rows(drv, "internet-exposed-instances") == [ADMIN1, REUSE1, WEB1]
    assert rows(drv, "internet-exposed-instances", snapshot=S1) == [WEB1]
    assert rows(drv, "internet-exposed-instances", as_of="2026-02-10") == [ADMIN1, WEB1]


def test_all_snapshots_prefixes_the_snapshot(drv: neo4j.Driver) -> None:
    result = run_query(drv, "internet-exposed-instances", all_snapshots=True, database="neo4j")
    assert result.columns[0] == "snapshot_id"
    assert [(r["snapshot_id"], r["resource"]) for r in result.rows] == [
        (S1, "i-web1"),
        (S2, "i-admin1"),
        (S2, "i-web1"),
        (S3, "i-admin1"),
        (S3, "i-reuse1"),
        (S3, "i-web1"),
    ]


def test_db_unrestricted_egress(drv: neo4j.Driver) -> None:
    base = {"account_id": ACCT, "region": REGION, "groups": ["sg-db"]}
    egress = {"egress": ["all to 0.0.0.0/0"]}
    assert rows(drv, "db-unrestricted-egress") == [
        base
        | egress
        | {
            "kind": "Instance",
            "resource": "i-db1",
            "address": "10.0.1.30",
            "owner": "carol",
            "db_tags": ["Name=db1", "role=database"],
        },
        # the legacy rule: the Name tag "db2" matches although its role is db-standby
        base
        | egress
        | {
            "kind": "Instance",
            "resource": "i-db2",
            "address": "10.0.1.31",
            "owner": "carol",
            "db_tags": ["Name=db2"],
        },
        base
        | egress
        | {
            "kind": "RDSInstance",
            "resource": "rds-1",
            "address": "rds-1.abc.us-east-1.rds.amazonaws.com",
            "owner": "erin",
            "db_tags": [],
        },
    ]
    # i-db1's tags change in S3 (env=prod), the finding stays
    assert [r["resource"] for r in rows(drv, "db-unrestricted-egress", snapshot=S1)] == [
        "i-db1",
        "i-db2",
        "rds-1",
    ]


RDS1 = {
    "account_id": ACCT,
    "region": REGION,
    "resource": "rds-1",
    "arn": f"arn:aws:rds:{REGION}:{ACCT}:db:rds-1",
    "engine": "postgres",
    "engine_version": "16.1",
    "status": "available",
    "endpoint": "rds-1.abc.us-east-1.rds.amazonaws.com",
    "port": 5432,
    "storage_encrypted": False,
    "publicly_accessible": True,
    "iam_auth": False,
    "internet_ingress": False,
}


@pytest.mark.parametrize(
    "name", ["rds-unencrypted", "rds-publicly-accessible", "rds-without-iam-auth"]
)
def test_rds_posture_queries(drv: neo4j.Driver, name: str) -> None:
    # rds-2 is encrypted, private and uses IAM auth: never reported
    assert rows(drv, name) == [RDS1]


def ingress_row(
    group: str, name: str, kind: str, source: str, port: int, desc: str | None = None
) -> dict[str, Any]:
    return {
        "instance": "i-admin1",
        "group_id": group,
        "group_name": name,
        "source_type": kind,
        "source": source,
        "protocol": "tcp",
        "from_port": port,
        "to_port": port,
        "description": desc,
    }


@pytest.mark.parametrize(
    "instance", ["10.0.1.40", "i-admin1", "ip-10-0-1-40.ec2.internal", "ip-10-0-1-40"]
)
def test_instance_ingress_by_ip_id_or_hostname(drv: neo4j.Driver, instance: str) -> None:
    assert rows(drv, "instance-ingress", params={"instance": instance}) == [
        ingress_row("sg-admin", "admin", "cidr", "0.0.0.0/0", 22),
        ingress_row("sg-app", "app", "cidr", "10.0.0.0/8", 22, "office vpn"),
        ingress_row("sg-app", "app", "security-group", "sg-web", 8080),
    ]
    before = rows(drv, "instance-ingress", params={"instance": instance}, snapshot=S1)
    assert before[0] == ingress_row("sg-admin", "admin", "cidr", "10.0.0.0/8", 22, "office vpn")


def test_instance_ingress_unknown_instance_is_empty(drv: neo4j.Driver) -> None:
    assert rows(drv, "instance-ingress", params={"instance": "10.9.9.9"}) == []


def test_instance_egress(drv: neo4j.Driver) -> None:
    common = {"instance": "i-db1", "group_id": "sg-db", "group_name": "db", "description": None}
    assert rows(drv, "instance-egress", params={"instance": "10.0.1.30"}) == [
        common
        | {
            "destination_type": "cidr",
            "destination": "0.0.0.0/0",
            "protocol": "-1",
            "from_port": None,
            "to_port": None,
        },
        common
        | {
            "destination_type": "prefix-list",
            "destination": "pl-123",
            "protocol": "tcp",
            "from_port": 443,
            "to_port": 443,
        },
    ]


def test_instance_load_balancers_direct_and_chained(drv: neo4j.Driver) -> None:
    common: dict[str, Any] = {"instance": "i-web1", "scheme": "internet-facing"}
    common |= {"target_group": "tg-web"}
    common |= {"port": 80, "health": "healthy"}
    assert rows(drv, "instance-load-balancers", params={"instance": "i-web1"}) == [
        common
        | {
            "load_balancer": "alb-1",
            "arn": estate.ALB_ARN,
            "type": "application",
            "dns_name": "alb-1.example.com",
            "via": [],
        },
        common
        | {
            "load_balancer": "nlb-1",
            "arn": estate.NLB_ARN,
            "type": "network",
            "dns_name": "nlb-1.example.com",
            "via": ["alb-1"],
        },
    ]
    assert rows(drv, "instance-load-balancers", params={"instance": "i-db1"}) == []


def test_instance_peered_vpcs_active_only_both_sides(drv: neo4j.Driver) -> None:
    assert rows(drv, "instance-peered-vpcs", params={"instance": "10.0.1.20"}) == [
        {
            "instance": "i-app1",
            "vpc": "vpc-a",
            "peer_vpc": "vpc-b",
            "peer_cidr": "10.1.0.0/16",
            "peer_account_id": ACCT,
            "peer_region": REGION,
            "peering_id": "pcx-1",
            "role": "requester",
        },
        # a stub: the peer VPC of another account keeps what the peering says of it
        # (graph model 1.1), here its owner and region but no CIDR
        {
            "instance": "i-app1",
            "vpc": "vpc-a",
            "peer_vpc": "vpc-x",
            "peer_cidr": None,
            "peer_account_id": "222222222222",
            "peer_region": "us-east-1",
            "peering_id": "pcx-2",
            "role": "accepter",
        },
    ]


def test_group_reachability_is_transitive(drv: neo4j.Driver) -> None:
    assert rows(drv, "group-reachability", params={"group": "sg-web"}) == [
        {
            "from_group": "sg-web",
            "to_group": "sg-app",
            "to_group_name": "app",
            "hops": 1,
            "path": ["sg-web", "sg-app"],
            "last_hop_ports": ["tcp/8080"],
        },
        {
            "from_group": "sg-web",
            "to_group": "sg-db",
            "to_group_name": "db",
            "hops": 2,
            "path": ["sg-web", "sg-app", "sg-db"],
            "last_hop_ports": ["tcp/5432"],
        },
    ]
    by_name = rows(drv, "group-reachability", params={"group": "app"})
    assert [(r["to_group"], r["hops"]) for r in by_name] == [("sg-db", 1)]
    assert rows(drv, "group-reachability", params={"group": "sg-db"}) == []


def test_ip_at_time_follows_the_address_across_snapshots(drv: neo4j.Driver) -> None:
    in_january = rows(drv, "ip-at-time", params={"ip": "10.0.1.60"}, as_of="2026-01-15T12:00:00Z")
    assert in_january == [
        {
            "snapshot_id": S1,
            "taken_at": "2026-01-01T00:00:00.000000000+00:00",
            "instance": "i-old1",
            "hostname": "ip-10-0-1-60.ec2.internal",
            "state": "running",
            "private_ip": "10.0.1.60",
            "public_ip": None,
            "account_id": ACCT,
            "region": REGION,
            "groups": ["sg-app (app)"],
            "tags": ["Name=old1"],
        }
    ]
    assert rows(drv, "ip-at-time", params={"ip": "10.0.1.60"}, as_of="2026-02-15") == []
    history = rows(drv, "ip-at-time", params={"ip": "10.0.1.60"}, all_snapshots=True)
    assert [(r["snapshot_id"], r["instance"], r["groups"]) for r in history] == [
        (S1, "i-old1", ["sg-app (app)"]),
        (S3, "i-reuse1", ["sg-web (web)"]),
    ]
    public = rows(drv, "ip-at-time", params={"ip": "54.0.0.10"}, snapshot=S1)
    assert [(r["instance"], r["tags"]) for r in public] == [
        ("i-web1", ["Name=web1", "owner=alice", "role=frontend"])
    ]


def test_missing_parameter_is_a_clear_error(drv: neo4j.Driver) -> None:
    with pytest.raises(
        BulkgraphError, match=r"query ip-at-time: missing parameter\(s\): --param ip="
    ):
        run_query(drv, "ip-at-time", {}, database="neo4j")


def test_unknown_snapshot_is_a_clear_error(drv: neo4j.Driver) -> None:
    with pytest.raises(BulkgraphError, match="no snapshot 'nope' in the database"):
        run_query(drv, "internet-exposed-instances", snapshot="nope", database="neo4j")
