"""Snapshot diffs against a real Neo4j holding the three-snapshot estate."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import neo4j
import pytest
import query_estate as estate
from query_estate import QueryGraphs

from bulkgraph.errors import BulkgraphError
from bulkgraph.query import diff_snapshots

S1, S2, S3 = estate.S1, estate.S2, estate.S3
RDS2_KEY = f"RDSInstance|{estate.ACCOUNT}|{estate.REGION}|rds-2"


@pytest.fixture(scope="module")
def drv(neo4j_server: Any, query_graphs: QueryGraphs) -> Iterator[neo4j.Driver]:
    query_graphs.load(neo4j_server)
    yield neo4j_server.driver()


def change(
    kind: str,
    label: str,
    resource: str,
    field: str | None = None,
    before: str | None = None,
    after: str | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    return {
        "change": kind,
        "label": label,
        "resource": resource,
        "resource_key": key or f"{label}|{resource}",
        "field": field,
        "before": before,
        "after": after,
    }


FIRST_MONTH = [
    change("added", "Instance", "i-new1"),
    change(
        "internet-ingress-opened",
        "SecurityGroup",
        "sg-admin",
        "ingress",
        None,
        "tcp/22 from 0.0.0.0/0",
    ),
    change("removed", "Instance", "i-old1"),
    change("state-changed", "Instance", "i-app1", "state", "running", "stopped"),
    change("tag-changed", "Instance", "i-web1", "owner", "alice", "dave"),
]
SECOND_MONTH = [
    change("added", "Instance", "i-reuse1"),
    change(
        "state-changed",
        "RDSInstance",
        "rds-2",
        "DBInstanceStatus",
        "available",
        "stopped",
        RDS2_KEY,
    ),
    change("tag-added", "Instance", "i-db1", "env", None, "prod"),
]


def test_diff_defaults_to_the_two_latest(drv: neo4j.Driver) -> None:
    result = diff_snapshots(drv, database="neo4j")
    assert (result.old.snapshot_id, result.new.snapshot_id) == (S2, S3)
    assert result.changes == SECOND_MONTH
    assert result.summary() == {"added": 1, "state-changed": 1, "tag-added": 1}


def test_diff_between_consecutive_snapshots(drv: neo4j.Driver) -> None:
    assert diff_snapshots(drv, S1, S2, database="neo4j").changes == FIRST_MONTH


def test_diff_across_a_skipped_snapshot_combines_both_months(drv: neo4j.Driver) -> None:
    changes = diff_snapshots(drv, S1, S3, database="neo4j").changes
    order = ["change", "label", "resource_key", "field", "after"]
    expected = sorted(FIRST_MONTH + SECOND_MONTH, key=lambda c: [str(c[k]) for k in order])
    assert changes == expected


def test_diff_with_only_new_compares_with_the_snapshot_before(drv: neo4j.Driver) -> None:
    result = diff_snapshots(drv, None, S2, database="neo4j")
    assert (result.old.snapshot_id, result.changes) == (S1, FIRST_MONTH)


def test_diff_refuses_reversed_order(drv: neo4j.Driver) -> None:
    with pytest.raises(BulkgraphError, match=f"{S3} .* is not older than {S1}"):
        diff_snapshots(drv, S3, S1, database="neo4j")
