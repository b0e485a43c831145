"""Run a pack query against the chosen snapshot(s) and return JSON-able rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import neo4j
from neo4j import RoutingControl
from neo4j.exceptions import Neo4jError

from bulkgraph.db import QueryError, to_jsonable
from bulkgraph.errors import BulkgraphError, ExitCode
from bulkgraph.query.pack import Query, Scope, get_query
from bulkgraph.query.snapshots import SnapshotRef, list_snapshots, pick_pair, pick_snapshots


@dataclass
class QueryResult:
    query: Query
    columns: list[str]
    rows: list[dict[str, Any]]
    #: the snapshots it ran in (for a pair query: old, new)
    snapshots: list[SnapshotRef] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query.name,
            "snapshots": [s.to_json() for s in self.snapshots],
            "columns": self.columns,
            "rows": self.rows,
        }


def execute(
    driver: neo4j.Driver, query: Query, params: dict[str, Any], database: str | None = None
) -> tuple[list[str], list[dict[str, Any]]]:
    """One read-only run of a pack query with its parameters complete."""
    try:
        records, _, keys = driver.execute_query(
            query.text, params, database_=database, routing_=RoutingControl.READ
        )
    except Neo4jError as exc:
        raise QueryError(
            f"{query.source}: Neo4j: {exc.message or exc} ({exc.code})", exc.code, ExitCode.FAILED
        ) from exc
    columns = list(keys)
    return columns, [{k: to_jsonable(rec[k]) for k in columns} for rec in records]


def run_query(
    driver: neo4j.Driver,
    query: str | Query,
    params: dict[str, Any] | None = None,
    *,
    snapshot: str | None = None,
    as_of: str | dt.datetime | None = None,
    all_snapshots: bool = False,
    old: str | None = None,
    new: str | None = None,
    database: str | None = None,
) -> QueryResult:
    """Run a pack query by name.

    Snapshot-scoped queries run in the latest snapshot unless `snapshot` (an id), `as_of`
    (the latest snapshot taken at or before that time) or `all_snapshots` (each snapshot,
    oldest first, rows prefixed with a `snapshot_id` column) says otherwise. Pair queries
    compare `old` with `new` (default: the two latest).
    """
    q = get_query(query) if isinstance(query, str) else query
    bound = q.bind(dict(params or {}))
    if q.scope is Scope.none:
        if snapshot or as_of or all_snapshots or old or new:
            raise BulkgraphError(f"query {q.name} sees the whole database: no snapshot choice")
        columns, rows = execute(driver, q, bound, database)
        return QueryResult(q, columns, rows, [])
    snapshots = list_snapshots(driver, database)
    if q.scope is Scope.pair:
        if as_of or all_snapshots:
            raise BulkgraphError(f"query {q.name} compares two snapshots: give OLD and NEW")
        old_ref, new_ref = pick_pair(snapshots, old, new or snapshot)
        bound |= {"old_snapshot_id": old_ref.snapshot_id, "new_snapshot_id": new_ref.snapshot_id}
        columns, rows = execute(driver, q, bound, database)
        return QueryResult(q, columns, rows, [old_ref, new_ref])
    chosen = pick_snapshots(snapshots, snapshot=snapshot, as_of=as_of, all_snapshots=all_snapshots)
    if not all_snapshots:
        columns, rows = execute(driver, q, bound | {"snapshot_id": chosen[0].snapshot_id}, database)
        return QueryResult(q, columns, rows, chosen)
    all_rows: list[dict[str, Any]] = []
    columns = []
    for snap in chosen:
        columns, rows = execute(driver, q, bound | {"snapshot_id": snap.snapshot_id}, database)
        all_rows.extend({"snapshot_id": snap.snapshot_id} | row for row in rows)
    if "snapshot_id" not in columns:
        columns = ["snapshot_id", *columns]
    return QueryResult(q, columns, all_rows, chosen)
