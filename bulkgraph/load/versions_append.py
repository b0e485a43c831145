"""`bulkgraph load` into a database in the versions layout: one snapshot closes and opens
intervals (docs/versions-layout.md, "Appending"; the statements: versions_cypher.py).

Only snapshots newer than every snapshot held can be appended: a version's interval ends at
the first later snapshot that saw it differently, so a snapshot slipped in between would
split intervals already closed. An older one is refused (`check_order`) and the way to put it
in is a rebuild.

A snapshot is marked `loading: true` from its first write to its last, as in the snapshots
layout: every step is safe to run again over its own partial work, so the next load finishes
a killed one (and one it holds whole is skipped).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import neo4j

from bulkgraph.csvfolder import NODES as NODE_FILES
from bulkgraph.csvfolder import RELATIONSHIPS, FileGroup, Manifest, ManifestSnapshot
from bulkgraph.db import run_autocommit, run_query
from bulkgraph.errors import BulkgraphError
from bulkgraph.layout import LAYOUT_PROPERTY, Layout
from bulkgraph.load.versions_cypher import (
    NEXT_STATEMENT,
    SNAPSHOT,
    VERSION_RELS,
    close_nodes_statement,
    close_rels_statement,
    is_value_label,
    is_version_label,
    value_nodes_statement,
    version_nodes_statement,
    version_rels_statement,
)
from bulkgraph.pausepoint import pause_point
from bulkgraph.transform.keys import snapshot_uid
from bulkgraph.transform.schema import (
    NODE_BY_LABEL,
    NODES,
    REL_BY_GROUP,
    RelSchema,
    load_csv_statement,
)

#: run `statement` over one part file of the snapshot; returns the rows it holds
LoadPart = Callable[[str, FileGroup, str, dict[str, Any]], int]


def _when(taken_at: Any) -> dt.datetime:
    if isinstance(taken_at, str):
        return dt.datetime.fromisoformat(taken_at)
    native: dt.datetime = taken_at.to_native()
    return native


def check_order(
    driver: neo4j.Driver, database: str, wanted: list[ManifestSnapshot], ids: list[str]
) -> None:
    """Refuse snapshots older than the newest one held, and appending after a snapshot whose
    load was killed when this folder does not hold it (it must be finished first)."""
    rows = run_query(
        "MATCH (s:Snapshot) RETURN s.snapshot_id AS id, s.taken_at AS taken_at, "
        "s.loading IS NOT NULL AS loading",
        driver=driver,
        database=database,
    )
    held = {str(r["id"]): r for r in rows}
    unfinished = sorted(i for i, r in held.items() if r["loading"] and i not in ids)
    if unfinished:
        raise BulkgraphError(
            f"the load of snapshot(s) {', '.join(unfinished)} was stopped half-way: load the "
            "CSV folder that holds them first (a versions-layout database takes snapshots "
            "in time order only), or rebuild"
        )
    complete = [
        (_when(r["taken_at"]), i)
        for i, r in held.items()
        if not r["loading"] and r["taken_at"] is not None
    ]
    if not complete:
        return
    newest = max(complete)
    older = [
        s.snapshot_id
        for s in wanted
        if (_when(s.taken_at), s.snapshot_id) < newest and s.snapshot_id not in held
    ]
    if older:
        raise BulkgraphError(
            f"snapshot(s) {', '.join(sorted(older))} are older than {newest[1]}, the newest "
            "snapshot the database holds: a versions-layout database only appends newer "
            "snapshots. Rebuild it with every snapshot (`bulkgraph rebuild --layout "
            "versions ...`)"
        )


def _previous(driver: neo4j.Driver, database: str, sid: str) -> str | None:
    rows = run_query(
        "MATCH (s:Snapshot) WHERE s.snapshot_id <> $sid AND s.loading IS NULL "
        "RETURN s.snapshot_id AS id ORDER BY s.taken_at DESC, s.snapshot_id DESC LIMIT 1",
        {"sid": sid},
        driver=driver,
        database=database,
    )
    return str(rows[0]["id"]) if rows else None


def unknown_param(unknown_labels: list[str] | None) -> dict[str, list[dict[str, str]]]:
    """`$unknown` of versions_cypher.py: every label -> where S does not know it."""
    out: dict[str, list[dict[str, str]]] = {label: [] for label in NODE_BY_LABEL}
    for entry in unknown_labels or []:
        label, account, region = (unquote(x) for x in entry.split("/", 2))
        if label in out:
            out[label].append({"account": account, "region": region})
    return out


def load_snapshot_versions(
    driver: neo4j.Driver,
    database: str,
    manifest: Manifest,
    snap: ManifestSnapshot,
    batch: int,
    load_part: LoadPart,
) -> int:
    """Append snapshot `snap` to a versions-layout database; the rows read."""
    sid = snap.snapshot_id

    def run(statement: str, params: dict[str, Any] | None = None) -> None:
        run_autocommit(statement, params, driver=driver, database=database)

    previous = _previous(driver, database, sid)
    # Mark first (and say the layout, so that a database whose first load dies is known)
    run(
        f"MERGE (s:Snapshot {{uid: $uid}}) SET s.snapshot_id = $sid, s.loading = true, "
        f"s.`{LAYOUT_PROPERTY}` = $layout",
        {"uid": snapshot_uid(sid), "sid": sid, "layout": Layout.versions.value},
    )
    groups = {(g.kind, g.group): g for g in manifest.groups}
    rows = 0
    snapshot_group = groups.get((NODE_FILES, NODE_BY_LABEL[SNAPSHOT].group))
    if snapshot_group is None:
        raise BulkgraphError(f"snapshot {sid}: the CSV folder has no Snapshot node files")
    rows += load_part(
        load_csv_statement(NODE_BY_LABEL[SNAPSHOT]), snapshot_group, sid, {"batch": batch}
    )
    found = run_query(
        "MATCH (s:Snapshot {snapshot_id: $sid}) RETURN s.taken_at AS t, s.unknown_labels AS u",
        {"sid": sid},
        driver=driver,
        database=database,
    )
    if not found or found[0]["t"] is None:
        raise BulkgraphError(f"snapshot {sid}: its Snapshot node file gives no taken_at")
    params: dict[str, Any] = {
        "sid": sid,
        "cut": len(sid) + 1,
        "taken_at": found[0]["t"],
        "unknown": unknown_param(found[0]["u"]),
        "batch": batch,
    }
    for schema in NODES:
        group = groups.get((NODE_FILES, schema.group))
        if group is None:
            continue
        if is_version_label(schema):
            rows += load_part(version_nodes_statement(schema), group, sid, params)
        elif is_value_label(schema):
            rows += load_part(value_nodes_statement(schema), group, sid, params)
    # every label and type of the schema, not only those the folder has files of: a label
    # no snapshot of this folder holds may still have current versions to close
    for schema in NODES:
        if is_version_label(schema):
            run(close_nodes_statement(schema), params)
    pause_point("load_versions")  # a test kills a load here: versions in, relationships not
    for group in manifest.groups:
        if group.kind != RELATIONSHIPS or group.type is None:
            continue
        rel = _written(group)
        if rel is None:
            continue
        rows += load_part(version_rels_statement(rel), group, sid, params)
    for rel in VERSION_RELS:
        run(close_rels_statement(rel), params)
    if previous is not None:
        run(NEXT_STATEMENT, {"sid": sid, "prev": previous})
    run("MATCH (s:Snapshot {snapshot_id: $sid}) REMOVE s.loading", {"sid": sid})
    return rows


def _written(group: FileGroup) -> RelSchema | None:
    """The relationship a group's files hold, as written (dynamic columns), if kept."""
    if group.group not in _KEPT_GROUPS:
        return None
    return REL_BY_GROUP[group.group].as_written(group.header_fields)


_KEPT_GROUPS = frozenset(r.group for r in VERSION_RELS)
