"""Alerts as JSON lines for a SIEM reader: shape, stable ids, no duplicates on re-runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import neo4j
import pytest
import query_estate as estate
from query_estate import QueryGraphs

from bulkgraph.query import write_alerts
from bulkgraph.query.alerts import finding_id

S1, S3 = estate.S1, estate.S3


@pytest.fixture(scope="module")
def drv(neo4j_server: Any, query_graphs: QueryGraphs) -> Iterator[neo4j.Driver]:
    query_graphs.load(neo4j_server)
    yield neo4j_server.driver()


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


LATEST = [
    ("BG-DB-001", "i-db1"),
    ("BG-DB-001", "i-db2"),
    ("BG-DB-001", "rds-1"),
    ("BG-EC2-001", "i-admin1"),
    ("BG-EC2-001", "i-reuse1"),
    ("BG-EC2-001", "i-web1"),
    ("BG-RDS-001", "rds-1"),
    ("BG-RDS-002", "rds-1"),
    ("BG-RDS-003", "rds-1"),
]


def test_alerts_append_once_per_snapshot(drv: neo4j.Driver, tmp_path: Path) -> None:
    out = tmp_path / "siem" / "bulkgraph-alerts.jsonl"
    first = write_alerts(drv, out, database="neo4j")
    assert (first.snapshots, first.findings, first.written, first.already_present) == (
        [S3],
        9,
        9,
        0,
    )
    assert first.by_rule == {
        "BG-DB-001": 3,
        "BG-EC2-001": 3,
        "BG-RDS-001": 1,
        "BG-RDS-002": 1,
        "BG-RDS-003": 1,
    }
    lines = read(out)
    assert [(f["rule_id"], f["resource"]) for f in lines] == LATEST

    again = write_alerts(drv, out, snapshot=S3, database="neo4j")
    assert (again.findings, again.written, again.already_present) == (9, 0, 9)
    assert read(out) == lines

    older = write_alerts(drv, out, snapshot=S1, database="neo4j")
    assert (older.written, older.already_present) == (7, 0)
    everything = read(out)
    assert len(everything) == 16
    assert len({f["finding_id"] for f in everything}) == 16
    assert [(f["snapshot_id"], f["rule_id"], f["resource"]) for f in everything[9:]] == [
        (S1, "BG-DB-001", "i-db1"),
        (S1, "BG-DB-001", "i-db2"),
        (S1, "BG-DB-001", "rds-1"),
        (S1, "BG-EC2-001", "i-web1"),
        (S1, "BG-RDS-001", "rds-1"),
        (S1, "BG-RDS-002", "rds-1"),
        (S1, "BG-RDS-003", "rds-1"),
    ]
    # --all: every snapshot; S2's findings are the only new ones
    rest = write_alerts(drv, out, all_snapshots=True, database="neo4j")
    assert (rest.findings, rest.written) == (9 + 8 + 7, 8)


def test_finding_shape(drv: neo4j.Driver, tmp_path: Path) -> None:
    out = tmp_path / "alerts.jsonl"
    out.write_text('{"finding_id": "from-another-tool"}\nnot json\n', encoding="utf-8")
    write_alerts(drv, out, snapshot=S1, database="neo4j")
    web = next(f for f in read_tail(out) if f["rule_id"] == "BG-EC2-001")
    assert web == {
        "timestamp": "2026-01-01T00:00:00Z",
        "source": "bulkgraph",
        "finding_id": finding_id("BG-EC2-001", S1, estate.ACCOUNT, estate.REGION, "i-web1"),
        "rule_id": "BG-EC2-001",
        "rule_name": "internet-exposed-instances",
        "kind": "internet_exposed",
        "severity": "high",
        "level": 11,
        "title": web["title"],
        "snapshot_id": S1,
        "account": estate.ACCOUNT,
        "region": estate.REGION,
        "resource": "i-web1",
        "evidence": {
            "private_ip": "10.0.1.10",
            "public_ip": "54.0.0.10",
            "state": "running",
            "ports": ["tcp/443", "tcp/80"],
            "groups": ["sg-web"],
            "behind_load_balancer": True,
            "load_balancers": ["alb-1"],
        },
    }
    assert web["title"].startswith("Instances that a security group opens to the whole internet")
    assert len(web["finding_id"]) == 32
    # lines that were already there are kept as they were
    assert out.read_text(encoding="utf-8").startswith(
        '{"finding_id": "from-another-tool"}\nnot json\n'
    )


def read_tail(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[2:]]
