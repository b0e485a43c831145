"""The pack on a graph built by the real pipeline: the bundled samples/ (three native
snapshots and one legacy aws_neo4j_map archive) -> transform -> neo4j-admin bulk import.

Expected rows are those of the committed samples; regenerating samples/ means updating them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import neo4j
import pytest

from bulkgraph.pipeline.rebuild import rebuild
from bulkgraph.query import diff_snapshots, run_query, write_alerts
from bulkgraph.settings import Settings

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
ACCT = "123456789012"
LEGACY, D25, D26, D27 = (
    "archive_20261124_020000",
    "20261125T020000Z",
    "20261126T020000Z",
    "20261127T020000Z",
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def drv(neo4j_server: Any) -> Iterator[neo4j.Driver]:
    settings = Settings(_env_file=None).model_copy(  # type: ignore[call-arg]
        update={
            "bulkgraph_heap": "512m",
            "bulkgraph_pagecache": "256m",
            "bulkgraph_import_memory": "512m",
            "neo4j_uri": None,
            "neo4j_home": None,
        }
    )
    sources = [str(p) for p in sorted(SAMPLES.glob("*.tar.gz"))]
    sources.append(str(SAMPLES / LEGACY))
    neo4j_server.close_driver()
    summary = rebuild(sources, home=neo4j_server.home, workers=1, settings=settings)
    assert summary.snapshots == [LEGACY, D25, D26, D27]
    neo4j_server.start()
    yield neo4j_server.driver()


def rows(drv: neo4j.Driver, name: str, **kwargs: Any) -> list[dict[str, Any]]:
    params = kwargs.pop("params", {})
    return run_query(drv, name, params, database="neo4j", **kwargs).rows


def exposed(
    region: str, iid: str, ip: str, state: str, port: str, sg: str, lb: str | None
) -> dict[str, Any]:
    return {
        "account_id": ACCT,
        "region": region,
        "resource": iid,
        "private_ip": ip,
        "public_ip": None,
        "state": state,
        "ports": [port],
        "groups": [sg],
        "behind_load_balancer": lb is not None,
        "load_balancers": [lb] if lb else [],
    }


def test_internet_exposed_instances(drv: neo4j.Driver) -> None:
    eu, us = "sg-ddec01db31d0a5443", "sg-68c5029c3e1f25619"
    assert rows(drv, "internet-exposed-instances") == [
        exposed(
            "eu-west-1",
            "i-2d557fe02b9e4298a",
            "10.11.0.4",
            "running",
            "tcp/443",
            eu,
            "web-eu-west-1",
        ),
        exposed(
            "eu-west-1",
            "i-61711c5fbcd5d5ec3",
            "10.11.1.4",
            "running",
            "tcp/443",
            eu,
            "web-eu-west-1",
        ),
        exposed("eu-west-1", "i-bc2f0a4f7bf80d00f", "10.11.0.6", "stopped", "tcp/443", eu, None),
        exposed(
            "us-east-1",
            "i-b158a7153ac8f0362",
            "10.10.1.5",
            "running",
            "tcp/3306",
            "sg-79effd99f72018257",
            None,
        ),
        exposed("us-east-1", "i-eb74ea1790f211418", "10.10.0.7", "running", "tcp/443", us, None),
        exposed(
            "us-east-1",
            "i-ee2d773de68d63cb8",
            "10.10.0.4",
            "running",
            "tcp/443",
            us,
            "web-us-east-1",
        ),
        exposed("us-east-1", "i-fdec799daebbe9c1c", "10.10.0.6", "stopped", "tcp/443", us, None),
    ]


def test_rds_and_database_queries(drv: neo4j.Driver) -> None:
    assert [r["resource"] for r in rows(drv, "rds-unencrypted")] == [
        "orders-db-eu-west-1",
        "orders-db-us-east-1",
    ]
    assert [r["resource"] for r in rows(drv, "rds-publicly-accessible")] == [
        "reports-db-eu-west-1",
        "reports-db-us-east-1",
    ]
    db = rows(drv, "db-unrestricted-egress")
    assert [(r["kind"], r["resource"], r["owner"]) for r in db] == [
        ("Instance", "i-a601b9d4fa3d8445d", "bob"),
        ("RDSInstance", "orders-db-eu-west-1", None),
        ("RDSInstance", "reports-db-eu-west-1", None),
        ("Instance", "i-b158a7153ac8f0362", "bob"),
        ("RDSInstance", "orders-db-us-east-1", None),
        ("RDSInstance", "reports-db-us-east-1", None),
    ]


def test_one_instance(drv: neo4j.Driver) -> None:
    ingress = rows(drv, "instance-ingress", params={"instance": "10.10.0.4"})
    assert [(r["group_name"], r["source_type"], r["source"], r["from_port"]) for r in ingress] == [
        ("web", "cidr", "0.0.0.0/0", 443),
        ("web", "cidr", "::/0", 443),
        ("web", "prefix-list", "pl-21ebf14b33eb1fdf3", 22),
    ]
    lbs = rows(drv, "instance-load-balancers", params={"instance": "i-ee2d773de68d63cb8"})
    assert [(r["load_balancer"], r["scheme"], r["via"]) for r in lbs] == [
        ("web-us-east-1", "internet-facing", [])
    ]
    peers = rows(drv, "instance-peered-vpcs", params={"instance": "ip-10-10-0-4"})
    assert [(r["peer_vpc"], r["peer_cidr"], r["peer_region"], r["role"]) for r in peers] == [
        ("vpc-0ac9757c6a5d2e4ee", "10.11.0.0/16", "eu-west-1", "requester")
    ]
    reach = rows(drv, "group-reachability", params={"group": "sg-68c5029c3e1f25619"})
    assert [(r["to_group_name"], r["hops"], r["last_hop_ports"]) for r in reach] == [
        ("db", 1, ["tcp/5432"])
    ]


def test_time_travel_and_diff(drv: neo4j.Driver) -> None:
    history = rows(drv, "ip-at-time", params={"ip": "10.10.0.4"}, all_snapshots=True)
    assert [(r["snapshot_id"], r["instance"], r["account_id"]) for r in history] == [
        (LEGACY, "i-ee2d773de68d63cb8", "unknown"),
        (D25, "i-ee2d773de68d63cb8", ACCT),
        (D26, "i-ee2d773de68d63cb8", ACCT),
        (D27, "i-ee2d773de68d63cb8", ACCT),
    ]
    result = diff_snapshots(drv, database="neo4j")
    assert (result.old.snapshot_id, result.new.snapshot_id) == (D26, D27)
    assert result.changes == [
        {
            "change": "state-changed",
            "label": "Instance",
            "resource": "i-40c379d5a4d868545",
            "resource_key": "Instance|i-40c379d5a4d868545",
            "field": "state",
            "before": "running",
            "after": "terminated",
        },
        {
            "change": "tag-changed",
            "label": "Instance",
            "resource": "i-ee2d773de68d63cb8",
            "resource_key": "Instance|i-ee2d773de68d63cb8",
            "field": "owner",
            "before": "alice",
            "after": "dave",
        },
    ]


def test_alerts(drv: neo4j.Driver, tmp_path: Path) -> None:
    summary = write_alerts(drv, tmp_path / "a.jsonl", database="neo4j")
    assert summary.by_rule == {
        "BG-DB-001": 6,
        "BG-EC2-001": 7,
        "BG-RDS-001": 2,
        "BG-RDS-002": 2,
        "BG-RDS-003": 4,
    }
