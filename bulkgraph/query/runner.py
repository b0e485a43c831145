"""Run a pack query against the chosen snapshot(s) and return JSON-able rows.

The database's layout (`bulkgraph.layout.recorded_layout`) is read once per command: on a
versions-layout database a query runs as its versions text (`asof.versions_text`) with the
chosen snapshot's `taken_at` as `$as_of` (`$old_as_of`, `$new_as_of` for a pair), and the
nodes it returns are shown as the snapshots layout shows them in that snapshot.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import neo4j
from neo4j import RoutingControl
from neo4j.exceptions import Neo4jError

from bulkgraph.db import QueryError, to_jsonable
from bulkgraph.errors import BulkgraphError, ExitCode
from bulkgraph.layout import Layout, recorded_layout
from bulkgraph.query.asof import AS_OF, NEW_AS_OF, OLD_AS_OF, as_in_snapshot, versions_text
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


def scope_params(query: Query, snapshots: list[SnapshotRef], layout: Layout) -> dict[str, Any]:
    """The parameters snapshot resolution fills: the snapshot id(s), and in the versions
    layout the time(s) to ask as of. `snapshots`: one, or (old, new) for a pair query."""
    if query.scope is Scope.snapshot:
        (snap,) = snapshots
        out: dict[str, Any] = {"snapshot_id": snap.snapshot_id}
        if layout is Layout.versions:
            out[AS_OF] = snap.taken_at
        return out
    if query.scope is Scope.pair:
        old, new = snapshots
        out = {"old_snapshot_id": old.snapshot_id, "new_snapshot_id": new.snapshot_id}
        if layout is Layout.versions:
            out |= {OLD_AS_OF: old.taken_at, NEW_AS_OF: new.taken_at}
        return out
    return {}


def execute(
    driver: neo4j.Driver,
    query: Query,
    params: dict[str, Any],
    database: str | None = None,
    layout: Layout = Layout.snapshots,
) -> tuple[list[str], list[dict[str, Any]]]:
    """One read-only run of a pack query with its parameters complete (`scope_params`
    included) on a database in `layout`."""
    text = query.text if layout is Layout.snapshots else versions_text(query)
    try:
        records, _, keys = driver.execute_query(
            text, params, database_=database, routing_=RoutingControl.READ
        )
    except Neo4jError as exc:
        raise QueryError(
            f"{query.source}: Neo4j: {exc.message or exc} ({exc.code})", exc.code, ExitCode.FAILED
        ) from exc
    columns = list(keys)
    snapshot_id = params.get("snapshot_id") if query.scope is Scope.snapshot else None
    if layout is Layout.versions and snapshot_id is not None:
        # a version as its copy in the snapshot asked about: same rows in both layouts
        return columns, [
            {k: to_jsonable(as_in_snapshot(rec[k], snapshot_id)) for k in columns}
            for rec in records
        ]
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
    layout: Layout | None = None,
) -> QueryResult:
    """Run a pack query by name.

    Snapshot-scoped queries run in the latest snapshot unless `snapshot` (an id), `as_of`
    (the latest snapshot taken at or before that time) or `all_snapshots` (each snapshot,
    oldest first, rows prefixed with a `snapshot_id` column) says otherwise. Pair queries
    compare `old` with `new` (default: the two latest). Snapshots are chosen the same way in
    both layouts (Snapshot nodes exist in both); `layout` is the database's, read when not
    given.
    """
    q = get_query(query) if isinstance(query, str) else query
    bound = q.bind(dict(params or {}))
    if q.scope is Scope.none and (snapshot or as_of or all_snapshots or old or new):
        raise BulkgraphError(f"query {q.name} sees the whole database: no snapshot choice")
    if layout is None:
        layout = recorded_layout(driver, database)
    if q.scope is Scope.none:
        columns, rows = execute(driver, q, bound, database, layout)
        return QueryResult(q, columns, rows, [])
    snapshots = list_snapshots(driver, database)
    if q.scope is Scope.pair:
        if as_of or all_snapshots:
            raise BulkgraphError(f"query {q.name} compares two snapshots: give OLD and NEW")
        old_ref, new_ref = pick_pair(snapshots, old, new or snapshot)
        bound |= scope_params(q, [old_ref, new_ref], layout)
        columns, rows = execute(driver, q, bound, database, layout)
        return QueryResult(q, columns, rows, [old_ref, new_ref])
    chosen = pick_snapshots(snapshots, snapshot=snapshot, as_of=as_of, all_snapshots=all_snapshots)
    if not all_snapshots:
        bound |= scope_params(q, chosen, layout)
        columns, rows = execute(driver, q, bound, database, layout)
        return QueryResult(q, columns, rows, chosen)
    all_rows: list[dict[str, Any]] = []
    columns = []
    for snap in chosen:
        at_snap = bound | scope_params(q, [snap], layout)
        columns, rows = execute(driver, q, at_snap, database, layout)
        all_rows.extend({"snapshot_id": snap.snapshot_id} | row for row in rows)
    if "snapshot_id" not in columns:
        columns = ["snapshot_id", *columns]
    return QueryResult(q, columns, all_rows, chosen)
