"""`bulkgraph load`: append a transform's snapshots to a live graph with LOAD CSV.

Idempotent: the schema (uniqueness constraints on uid) is applied first; a snapshot already
in the database is skipped; rows are MERGEd on uid. A snapshot being loaded is marked
`loading: true` on its Snapshot node until its last step (the temporal links) is done, so a
load killed half-way is finished, not skipped, by the next run.

In a database in the versions layout (docs/versions-layout.md) a snapshot closes and opens
intervals instead (versions_append.py), and only snapshots newer than every one held are
taken. The layout is the database's; into an empty database, the one asked for.

Files are read by the server from its import directory: for the managed server they are
copied there; for a remote server `import_dir` names a folder the server sees as its import
directory (e.g. a shared mount). Nothing from a snapshot is pasted into Cypher: values are
read from the files by the server or passed as parameters.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import neo4j

from bulkgraph.csvfolder import (
    NODES,
    RELATIONSHIPS,
    FileGroup,
    Manifest,
    ManifestSnapshot,
    read_manifest,
)
from bulkgraph.db import Connection, open_driver, resolve_connection, run_autocommit, run_query
from bulkgraph.errors import BulkgraphError, ExitCode
from bulkgraph.layout import Layout, parse_layout, recorded_layout
from bulkgraph.load.postload import apply_post_load
from bulkgraph.load.settle import settle
from bulkgraph.load.temporal_cypher import link_snapshot
from bulkgraph.load.versions_append import check_order, load_snapshot_versions
from bulkgraph.pausepoint import pause_point
from bulkgraph.settings import Settings, get_settings
from bulkgraph.transform.keys import snapshot_uid
from bulkgraph.transform.schema import (
    NODE_BY_LABEL,
    REL_BY_GROUP,
    NodeSchema,
    RelSchema,
    load_csv_statement,
)

log = logging.getLogger(__name__)

#: Relationship types the transform computes within its own folder; here they are
#: computed against the whole database instead (temporal_cypher.py).
_TEMPORAL_TYPES = frozenset({"NEXT", "NEXT_VERSION"})
_SUBDIR = "bulkgraph"


@dataclass
class AppendSummary:
    loaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already in the database
    rows: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # per snapshot
    layout: str = Layout.snapshots.value

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def append(
    csv_dir: Path,
    *,
    connection: Connection | None = None,
    import_dir: Path | None = None,
    batch: int | None = None,
    on_snapshot: Callable[[str, str], None] | None = None,
    settings: Settings | None = None,
    layout: Layout | None = None,
) -> AppendSummary:
    """Load the snapshots of `csv_dir` that the database does not hold yet.

    `layout`: that of a new graph (default: the setting `BULKGRAPH_LAYOUT`); into a database
    that holds snapshots, the database's own, and another one asked for is an error.
    """
    settings = settings or get_settings()
    batch = batch or settings.bulkgraph_load_batch
    csv_dir = Path(csv_dir).resolve()
    manifest = read_manifest(csv_dir)
    conn = connection or resolve_connection(settings)
    target_dir = _import_dir(conn, import_dir)
    if conn.home is not None:
        settle(conn.home)  # a killed rebuild's leftovers first (it logs what it did)
    summary = AppendSummary()
    ids = [s.snapshot_id for s in manifest.snapshots]
    with open_driver(conn) as driver:
        chosen = _layout(driver, conn.database, layout, settings)
        summary.layout = chosen.value
        if chosen is Layout.versions:
            check_order(driver, conn.database, manifest.snapshots, ids)
        apply_post_load(driver, conn.database)
        done = _complete_snapshots(driver, conn.database, ids)
        _check_parts(csv_dir, manifest, done)
        for snap in sorted(manifest.snapshots, key=lambda s: (s.taken_at, s.snapshot_id)):
            if snap.snapshot_id in done:
                summary.skipped.append(snap.snapshot_id)
                if on_snapshot:
                    on_snapshot(snap.snapshot_id, "skipped: already loaded")
                continue
            t0 = time.monotonic()
            summary.rows += _load_snapshot(
                driver, conn.database, manifest, csv_dir, snap, target_dir, batch, chosen
            )
            summary.seconds[snap.snapshot_id] = time.monotonic() - t0
            summary.loaded.append(snap.snapshot_id)
            if on_snapshot:
                on_snapshot(snap.snapshot_id, "loaded")
    return summary


def _check_parts(csv_dir: Path, manifest: Manifest, done: set[str]) -> None:
    """Every snapshot to load has its part files: one transformed for a versions import
    only (`rebuild`) has not, and appending it would read a night that saw nothing."""
    missing = [
        s.snapshot_id for s in manifest.snapshots if not s.parts and s.snapshot_id not in done
    ]
    if missing:
        raise BulkgraphError(
            f"{csv_dir}: snapshot(s) {', '.join(missing[:5])}"
            f"{' and more' if len(missing) > 5 else ''} were transformed without their node "
            "and relationship files (a versions-layout folder for `import`, as `rebuild` "
            "writes); nothing was loaded. Transform them again for `load`: "
            f"bulkgraph transform <snapshots> --out {csv_dir}"
        )


def _layout(
    driver: neo4j.Driver, database: str, asked: Layout | None, settings: Settings
) -> Layout:
    """The layout to load in: the database's when it holds snapshots, else the one asked
    for, else the setting's."""
    held = run_query(
        "MATCH (s:Snapshot) RETURN count(s) > 0 AS any", driver=driver, database=database
    )
    if not held[0]["any"]:
        return asked or parse_layout(settings.bulkgraph_layout)
    recorded = recorded_layout(driver, database)
    if asked is not None and asked is not recorded:
        raise BulkgraphError(
            f"the database holds a graph in the {recorded.value} layout; `load` appends in the "
            f"layout the database has, not {asked.value}. To change the layout, rebuild it "
            f"from every snapshot (`bulkgraph rebuild --layout {asked.value} ...`)",
            ExitCode.USAGE,
        )
    return recorded


def _import_dir(conn: Connection, import_dir: Path | None) -> Path:
    if import_dir is not None:
        return Path(import_dir)
    if conn.home is not None:
        return conn.home.import_dir
    raise BulkgraphError(
        f"{conn.uri} is not the managed server: give --import-dir, a folder that server reads "
        "as its import directory (server.directories.import), so LOAD CSV can see the files"
    )


def _complete_snapshots(driver: neo4j.Driver, database: str, ids: list[str]) -> set[str]:
    rows = run_query(
        "MATCH (s:Snapshot) WHERE s.snapshot_id IN $ids AND s.loading IS NULL "
        "RETURN s.snapshot_id AS id",
        {"ids": ids},
        driver=driver,
        database=database,
    )
    return {str(r["id"]) for r in rows}


def group_schema(group: FileGroup) -> NodeSchema | RelSchema:
    """The schema a file group was written with. Dynamic properties (PEERED_TO's tags) have
    a column per key found in the data, so those are read from the group's header."""
    if group.kind == NODES:
        return NODE_BY_LABEL[group.group]
    return REL_BY_GROUP[group.group].as_written(group.header_fields)


class _Copies:
    """Files copied into the server's import folder, and the folders made for them: what
    `remove()` deletes afterwards, and nothing else. The import folder is the server's and
    may hold the user's own files; a crafted manifest must not turn cleaning up into
    emptying it. `own`, the folder of one snapshot's copies, is ours whole: its folders are
    removed when empty also when a load that was killed made them."""

    def __init__(self, own: Path | None = None) -> None:
        self.files: list[Path] = []
        self.dirs: list[Path] = []
        self.own = own

    def _ours(self, d: Path) -> bool:
        return not d.exists() or (self.own is not None and d.is_relative_to(self.own))

    def copy(self, source: Path, target: Path) -> Path:
        missing = [d for d in (target.parent, *target.parent.parents) if self._ours(d)]
        target.parent.mkdir(parents=True, exist_ok=True)
        self.dirs.extend(reversed(missing))  # parents first: removed in reverse
        # an existing file here is a copy left by a load that was killed: ours to replace
        shutil.copyfile(source, target)
        self.files.append(target)
        return target

    def remove(self) -> None:
        for f in self.files:
            f.unlink(missing_ok=True)
        for d in reversed(self.dirs):
            with contextlib.suppress(OSError):  # only if empty: what else is there stays
                d.rmdir()


def _load_snapshot(
    driver: neo4j.Driver,
    database: str,
    manifest: Manifest,
    csv_dir: Path,
    snap: ManifestSnapshot,
    import_root: Path,
    batch: int,
    layout: Layout = Layout.snapshots,
) -> int:
    sid = snap.snapshot_id
    if layout is Layout.versions:
        staging = import_root / _SUBDIR / sid
        copied = _Copies(staging)

        def load_part(statement: str, group: FileGroup, sid: str, params: dict[str, Any]) -> int:
            rows = 0
            for part in group.parts_of(sid):
                # `part` is a checked path inside the CSV folder (read_manifest)
                target = copied.copy(csv_dir / part, staging / part)
                url = "file:///" + target.relative_to(import_root).as_posix()
                run_autocommit(statement, {**params, "url": url}, driver=driver, database=database)
                rows += group.rows.get(part, 0)
            return rows

        try:
            return load_snapshot_versions(driver, database, manifest, snap, batch, load_part)
        finally:
            copied.remove()
    # Mark first: if this run dies, the next one sees an incomplete snapshot and redoes it.
    run_autocommit(
        "MERGE (s:Snapshot {uid: $uid}) SET s.snapshot_id = $sid, s.loading = true",
        {"uid": snapshot_uid(sid), "sid": sid},
        driver=driver,
        database=database,
    )
    staging = import_root / _SUBDIR / sid
    copied = _Copies(staging)
    rows = 0
    try:
        nodes = [g for g in manifest.groups if g.kind == NODES]
        rels = [
            g for g in manifest.groups if g.kind == RELATIONSHIPS and g.type not in _TEMPORAL_TYPES
        ]
        for group in [*nodes, *rels]:
            statement = load_csv_statement(group_schema(group))
            for part in group.parts_of(sid):
                # `part` is a checked path inside the CSV folder (read_manifest)
                target = copied.copy(csv_dir / part, staging / part)
                url = "file:///" + target.relative_to(import_root).as_posix()
                run_autocommit(
                    statement,
                    {"url": url, "batch": batch},
                    driver=driver,
                    database=database,
                )
                rows += group.rows.get(part, 0)
        pause_point("load_snapshot")  # a test kills a load here: rows in, links not
        link_snapshot(driver, database, sid, batch)
        run_autocommit(
            "MATCH (s:Snapshot {snapshot_id: $sid}) REMOVE s.loading",
            {"sid": sid},
            driver=driver,
            database=database,
        )
    finally:
        copied.remove()
    return rows
