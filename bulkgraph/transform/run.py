"""The transform: snapshots in, neo4j-admin import CSVs plus a manifest out.

Snapshots are transformed in parallel worker processes (each a pure function of one
snapshot); a snapshot whose outputs exist for the same input checksum is not redone. Then a
cheap sequential pass links snapshots in time (NEXT, NEXT_VERSION), writes the relationships
whose properties are named by the data (dynamic.py: PEERED_TO's tags), the header files,
for a graph in the versions layout the versions files (versions.py), `rejects.jsonl` and
`import-manifest.json` (the folder's layout: `bulkgraph/csvfolder.py`).
On a Dask cluster (`cluster.py`) the snapshots are transformed by its workers instead, and
the same sequential end (`finish`) runs here.
"""

from __future__ import annotations

import ctypes
import gc
import json
import logging
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from bulkgraph import csvfolder
from bulkgraph.csvfolder import (
    MANIFEST_NAME,
    REJECTS_NAME,
    RELATIONSHIPS,
    FileGroup,
    Kind,
    Manifest,
    ManifestSnapshot,
    State,
    write_manifest,
)
from bulkgraph.csvfolder import (
    NODES as NODE_FILES,
)
from bulkgraph.errors import InputError
from bulkgraph.extract.model import Snapshot, SnapshotInfo
from bulkgraph.layout import DEFAULT_LAYOUT, Layout, parse_layout
from bulkgraph.load.importer import manifest_import_args
from bulkgraph.transform import csvfmt, dynamic, versions
from bulkgraph.transform.schema import NODE_BY_LABEL, NODES, REL_BY_GROUP, RELS, RelSchema
from bulkgraph.transform.snapshot import (
    SnapshotResult,
    output_layout,
    transform_snapshot,
)
from bulkgraph.transform.temporal import Links, link
from bulkgraph.transform.versions import SnapshotTime
from bulkgraph.transform.versions_checkpoint import Checkpoint
from bulkgraph.transform.versions_checkpoint import discard as discard_checkpoint
from bulkgraph.transform.workers import context as workers_context
from bulkgraph.transform.workers import processes

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (message, done, total)


@dataclass
class TransformResult:
    out_dir: Path
    manifest_path: Path
    transformed: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # snapshot id -> error
    rejected: int = 0
    families: dict[str, dict[str, int]] = field(default_factory=dict)
    nodes_per_label: dict[str, int] = field(default_factory=dict)
    relationships_per_type: dict[str, int] = field(default_factory=dict)
    skipped_operations: dict[str, list[str]] = field(default_factory=dict)
    #: snapshot id -> what its reader warned about: files present but not listed, operations
    #: it does not read, legacy files missing (input ignored or incomplete: exit 3)
    warnings: dict[str, list[str]] = field(default_factory=dict)
    #: snapshot id -> `account/region/operation` it does not know (recorded in the graph)
    unknown: dict[str, list[str]] = field(default_factory=dict)
    #: the layout of the graph the folder imports into (`nodes_per_label` and
    #: `relationships_per_type` count that graph)
    layout: Layout = DEFAULT_LAYOUT

    def to_json(self) -> dict[str, object]:
        return {
            "out_dir": str(self.out_dir),
            "layout": self.layout.value,
            "manifest": str(self.manifest_path),
            "transformed": self.transformed,
            "reused": self.reused,
            "failed": self.failed,
            "rejected": self.rejected,
            "families": self.families,
            "nodes_per_label": self.nodes_per_label,
            "relationships_per_type": self.relationships_per_type,
            "skipped_operations": self.skipped_operations,
            "warnings": self.warnings,
            "unknown": self.unknown,
        }


def _done(out_dir: Path, snapshot: Snapshot, parts: bool) -> SnapshotResult | None:
    path = State.dir(out_dir, snapshot.info.snapshot_id) / State.RESULT
    return done_result(path, snapshot.info, parts=parts)


def done_result(path: Path, info: SnapshotInfo, *, parts: bool = True) -> SnapshotResult | None:
    """The result recorded at `path` (a `State.RESULT`), if its files can be reused for the
    snapshot `info`: same input checksum, same output layout, its parts written if `parts`."""
    try:
        result = SnapshotResult.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return result if reusable(result, info, parts=parts) else None


def reusable(result: SnapshotResult, info: SnapshotInfo, *, parts: bool = True) -> bool:
    """Whether the files `result` describes hold what transforming `info` would write
    (with its node and relationship parts if `parts`)."""
    if not result.checksum or result.checksum != info.checksum:
        return False
    if parts and not result.parts:
        log.info("%s: written without its parts, redone with them", info.snapshot_id)
        return False
    if result.layout != output_layout():
        log.info("%s: written by another transform version, redone", info.snapshot_id)
        return False
    return True


def transform_one(snapshot: Snapshot, out_dir: Path, parts: bool = True) -> SnapshotResult:
    """`transform_snapshot`, with the memory care of a process that transforms many."""
    try:
        with cyclic_gc_paused():
            return transform_snapshot(snapshot, out_dir, parts=parts)
    finally:
        _release_memory()


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the duration (and back on after, if it was).

    A snapshot is parsed into about a million small dicts and lists. Each allocation counts
    towards the collector's thresholds, so it runs over and over while they are alive, and
    its full passes walk every one of them: a fifth of the transform's CPU (docs/benchmarks.md,
    "Measurements behind the design"). There is no garbage for it to find: parsed JSON and
    data frames hold no
    reference cycles, and reference counting frees them as each family is done.
    `_release_memory` collects once after each snapshot.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _release_memory() -> None:
    """Give the memory freed by the last snapshot back to the system.

    A worker process transforms snapshot after snapshot; without this its resident memory
    creeps up with each one (glibc keeps freed blocks in its heaps), and the transform's peak
    would grow with the number of snapshots (docs/benchmarks.md, "Measurements behind the
    design"). Not glibc: nothing to do.
    """
    gc.collect()
    # what survives (mostly the records kept for the next snapshot, extract/reuse.py) is
    # not walked again by the next collect: each would otherwise walk every kept record
    gc.freeze()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 (present in glibc only)
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _load_libc()


def transform(
    snapshots: list[Snapshot],
    out_dir: Path,
    *,
    force: bool = False,
    workers: int | None = None,
    progress: Progress | None = None,
    layout: Layout | None = None,
    snapshot_parts: bool = True,
) -> TransformResult:
    """Transform `snapshots` into `out_dir` (see the module doc) for a graph in `layout`
    (default: the setting `BULKGRAPH_LAYOUT`). Raises InputError when two snapshots share
    an id; a snapshot that fails is reported in `failed`, not raised.

    `snapshot_parts=False`, in the versions layout, leaves out each snapshot's node and
    relationship parts, which its import does not read and `load` appends from: a folder
    for `import` only (`rebuild`). The snapshots layout imports them: always written."""
    _check_unique_ids(snapshots)
    ordered = sorted(snapshots, key=lambda s: (s.info.taken_at, s.info.snapshot_id))
    out_dir.mkdir(parents=True, exist_ok=True)
    result = TransformResult(out_dir, out_dir / MANIFEST_NAME, layout=chosen_layout(layout))
    parts = snapshot_parts or result.layout is not Layout.versions
    results = _transform_each(ordered, out_dir, result, force, workers, progress, parts)
    if progress:
        progress("linking snapshots", len(ordered), len(ordered))
    finish([s.info for s in ordered], results, result, workers=workers)
    return result


def finish(
    ordered: list[SnapshotInfo],
    results: dict[str, SnapshotResult],
    result: TransformResult,
    *,
    workers: int | None = None,
) -> None:
    """The sequential end of a transform, once every snapshot's own files are in
    `result.out_dir` (`results`: those that were, by id; `ordered`: every snapshot in time
    order): the links across snapshots, the header files, the versions files when
    `result.layout` is `versions` (their pass in up to `workers` processes, default: one
    per core), `rejects.jsonl`, the summary in `result`, and the manifest."""
    out_dir = result.out_dir
    good = [s for s in ordered if s.snapshot_id in results]
    ids = [s.snapshot_id for s in good]
    times = [
        SnapshotTime(s.snapshot_id, s.taken_at.isoformat(), _parts_origin(results[s.snapshot_id]))
        for s in good
    ]
    versions_groups: list[FileGroup] = []
    if result.layout is Layout.versions:
        # the versions layout's checkpoint: its time links go on from it too; NEXT only
        # (its NEXT_VERSION are the versions pass's, not each snapshot's)
        start = versions.begin(out_dir, times, result.transformed)
        links = link(out_dir, ids, versions.start_links(start), next_version=False)
        groups, headers, multiline = _write_groups(out_dir, ids, results, links.written)
        versions_groups, broken = _write_versions(
            out_dir, times, groups, headers, start, links, _pass_weights(good, results), workers
        )
        multiline |= broken
    else:
        discard_checkpoint(out_dir)
        shutil.rmtree(out_dir / csvfolder.VERSIONS_DIR, ignore_errors=True)
        groups, _, multiline = _write_groups(out_dir, ids, results, link(out_dir, ids).written)
    imported = versions_groups if result.layout is Layout.versions else groups
    # rejects of all snapshots, in time order
    with (out_dir / REJECTS_NAME).open("w", encoding="utf-8") as fh:
        for sid in ids:
            fh.write((State.dir(out_dir, sid) / State.REJECTS).read_text(encoding="utf-8"))
    _summarise(result, good, results, imported)
    manifest = Manifest(
        layout=result.layout,
        snapshots=[
            ManifestSnapshot(
                snapshot_id=s.snapshot_id,
                taken_at=s.taken_at.isoformat(),
                source=s.source,
                checksum=s.checksum,
                location=s.location,
                parts=results[s.snapshot_id].parts,
            )
            for s in good
        ],
        groups=groups,
        versions_groups=versions_groups,
        nodes_per_label=result.nodes_per_label,
        relationships_per_type=dict(sorted(result.relationships_per_type.items())),
        import_args=manifest_import_args(imported, csvfmt.import_options(multiline)),
    )
    write_manifest(out_dir, manifest)


def _write_versions(
    out_dir: Path,
    times: list[SnapshotTime],
    groups: list[FileGroup],
    rel_headers: dict[str, str],
    start: Checkpoint | str,
    links: Links,
    weights: dict[str, int],
    workers: int | None,
) -> tuple[list[FileGroup], bool]:
    """The versions layout's files (transform/versions.py) and their groups, in the order of
    the per-snapshot groups; NEXT is the per-snapshot parts as they are. `rel_headers`:
    the header of every relationship group with rows, its parts written or not."""
    written = versions.write_versions(
        out_dir,
        times,
        rel_headers,
        start=start,
        links=links,
        shares=processes(workers),
        weights=weights,
    )
    out: list[FileGroup] = []
    next_group = csvfolder.rel_group("NEXT", "Snapshot", "Snapshot")
    for kind, group in [(NODE_FILES, n.group) for n in NODES] + [
        (RELATIONSHIPS, r.group) for r in RELS
    ]:
        if kind == RELATIONSHIPS and group == next_group:
            out.extend(g for g in groups if g.kind == RELATIONSHIPS and g.group == group)
            continue
        if (kind, group) not in written.parts:
            continue
        header = written.headers[(kind, group)]
        # the final part first, then the open one (either may be missing)
        rows = dict(sorted(written.parts[(kind, group)].items()))
        rel = REL_BY_GROUP.get(group) if kind == RELATIONSHIPS else None
        out.append(
            FileGroup(
                kind=kind,
                group=group,
                label=group if kind == NODE_FILES else None,
                type=rel.type if rel else None,
                start=rel.start if rel else None,
                end=rel.end if rel else None,
                header=csvfolder.versions_header_path(kind, group),
                header_fields=header.split(","),
                parts=list(rows),
                rows=rows,
            )
        )
    return out, written.multiline


def _pass_weights(good: list[SnapshotInfo], results: dict[str, SnapshotResult]) -> dict[str, int]:
    """What the versions pass has to follow, to share it out: the rows of each relationship
    group in the latest snapshot."""
    return dict(results[good[-1].snapshot_id].rel_rows) if good else {}


def _parts_origin(result: SnapshotResult) -> str:
    """What a snapshot's part files were written from: its input checksum and the
    transform's output layout ("" when either is unknown)."""
    if not result.checksum or not result.layout:
        return ""
    return f"{result.checksum}/{result.layout}"


def chosen_layout(layout: Layout | None) -> Layout:
    """`layout`, or the setting `BULKGRAPH_LAYOUT` when None."""
    if layout is not None:
        return layout
    from bulkgraph.settings import get_settings

    return parse_layout(get_settings().bulkgraph_layout)


def _check_unique_ids(snapshots: list[Snapshot]) -> None:
    seen: dict[str, str] = {}
    for s in snapshots:
        sid = s.info.snapshot_id
        if sid in seen:
            raise InputError(
                f"snapshot id {sid!r} appears twice: {seen[sid]} and {s.info.location}"
            )
        seen[sid] = s.info.location


def _transform_each(
    ordered: list[Snapshot],
    out_dir: Path,
    result: TransformResult,
    force: bool,
    workers: int | None,
    progress: Progress | None,
    parts: bool,
) -> dict[str, SnapshotResult]:
    """Every snapshot's own files (with its parts if `parts`), reused where already written
    for the same input, in worker processes; records what was reused, transformed and
    failed in `result`."""
    results: dict[str, SnapshotResult] = {}
    todo: list[Snapshot] = []
    for s in ordered:
        done = None if force else _done(out_dir, s, parts)
        if done is not None:
            if not parts and done.parts:
                done = drop_parts(out_dir, done)
            results[s.info.snapshot_id] = done
            result.reused.append(s.info.snapshot_id)
        else:
            todo.append(s)
    total = len(ordered)
    count = len(results)
    if progress:
        progress("transforming", count, total)
    n = processes(workers)
    if n <= 1 or len(todo) <= 1:
        for s in todo:
            try:
                results[s.info.snapshot_id] = transform_one(s, out_dir, parts)
                result.transformed.append(s.info.snapshot_id)
            except Exception as exc:  # one bad snapshot must not stop the others
                result.failed[s.info.snapshot_id] = f"{type(exc).__name__}: {exc}"
            count += 1
            if progress:
                progress("transforming", count, total)
        return results
    size = min(n, len(todo))
    with ProcessPoolExecutor(max_workers=size, mp_context=workers_context(size)) as pool:
        futures: dict[str, Future[SnapshotResult]] = {
            s.info.snapshot_id: pool.submit(transform_one, s, out_dir, parts) for s in todo
        }
        for sid, fut in futures.items():
            try:
                results[sid] = fut.result()
                result.transformed.append(sid)
            except Exception as exc:
                result.failed[sid] = f"{type(exc).__name__}: {exc}"
            count += 1
            if progress:
                progress("transforming", count, total)
    return results


def drop_parts(out_dir: Path, result: SnapshotResult) -> SnapshotResult:
    """`result`'s snapshot without its node and relationship parts and keys, as a transform
    without parts would have left it: a folder written before `rebuild --layout versions`
    kept only what its import reads gets its disk back (~50 MB a night of a 10k estate)
    without transforming anything again. result.json says so first: a run killed midway
    leaves files no one reads, never a result that names parts it has lost."""
    sid = result.snapshot_id
    lean = replace(result, parts=False)
    sdir = State.dir(out_dir, sid)
    lean.write(sdir)
    for label in result.node_rows:
        if label != "Snapshot":
            (out_dir / csvfolder.part_path(NODE_FILES, NODE_BY_LABEL[label].group, sid)).unlink(
                missing_ok=True
            )
    # the workers' groups (never the dynamic ones: the final pass writes those), and the
    # time links' NEXT_VERSION (not the versions layout's)
    groups = [*result.rel_rows, *(r.group for r in RELS if r.type == "NEXT_VERSION")]
    for group in groups:
        (out_dir / csvfolder.part_path(RELATIONSHIPS, group, sid)).unlink(missing_ok=True)
    (sdir / State.KEYS).unlink(missing_ok=True)
    return lean


def _write_groups(
    out_dir: Path,
    ids: list[str],
    results: dict[str, SnapshotResult],
    temporal: dict[str, dict[str, int]],
) -> tuple[list[FileGroup], dict[str, str], bool]:
    """The relationships with dynamic properties, then every group's header file: the
    manifest's groups (the parts on disk: a snapshot transformed without its parts has
    only its Snapshot node's), the header of every relationship group with rows, and
    whether a field holds a line break. `temporal`: the rows of the time links' parts
    (`temporal.link`), written already."""
    # NEXT / NEXT_VERSION hold only ids already written in the node files
    sdirs = {sid: State.dir(out_dir, sid) for sid in ids}
    multiline = any(results[sid].multiline for sid in ids)
    widened: dict[str, tuple[RelSchema, dict[str, int]]] = {}
    for rel in RELS:
        if rel.dynamic is not None:
            written, rows, broken = dynamic.write_parts(out_dir, sdirs, rel)
            widened[rel.group] = (written, rows)
            multiline |= broken

    groups: list[FileGroup] = []
    headers: dict[str, str] = {}
    for node in NODES:
        rows = {
            csvfolder.part_path(NODE_FILES, node.group, sid): results[sid].node_rows[node.label]
            for sid in ids
            if results[sid].node_rows.get(node.label)
            and (results[sid].parts or node.label == "Snapshot")
        }
        if rows:
            groups.append(
                _group(out_dir, NODE_FILES, node.group, node.header, rows, label=node.label)
            )
    for rel in RELS:
        if rel.group in widened:
            per_sid, header = widened[rel.group][1], widened[rel.group][0].header
        elif rel.group in temporal:
            per_sid, header = temporal[rel.group], rel.header
        else:
            per_sid = {
                s: results[s].rel_rows[rel.group] for s in ids if results[s].rel_rows.get(rel.group)
            }
            header = rel.header
        if per_sid:
            headers[rel.group] = header
        if rel.group not in widened and rel.group not in temporal:  # the workers' parts
            per_sid = {s: n for s, n in per_sid.items() if results[s].parts}
        rows = {csvfolder.part_path(RELATIONSHIPS, rel.group, sid): n for sid, n in per_sid.items()}
        if rows:
            groups.append(
                _group(
                    out_dir,
                    RELATIONSHIPS,
                    rel.group,
                    header,
                    rows,
                    type_=rel.type,
                    start=rel.start,
                    end=rel.end,
                )
            )
    return groups, headers, multiline


def _summarise(
    result: TransformResult,
    good: list[SnapshotInfo],
    results: dict[str, SnapshotResult],
    groups: list[FileGroup],
) -> None:
    """Per-snapshot notes, family counts and per-label totals into `result`."""
    for s in good:
        sid = s.snapshot_id
        r = results[sid]
        # from the reader, not from result.json: a file added to a snapshot folder later
        # does not change its checksum, yet must be reported on every run
        skipped = sorted({*s.skipped_operations, *r.skipped_operations})
        if skipped:
            result.skipped_operations[sid] = skipped
        if s.warnings:
            result.warnings[sid] = list(s.warnings)
        if r.unknown:
            result.unknown[sid] = r.unknown
        result.rejected += r.rejected
        for op, c in r.families.items():
            acc = result.families.setdefault(op, {"read": 0, "written": 0, "rejected": 0})
            for k, v in c.items():
                acc[k] += v
    for g in groups:
        if g.kind == NODE_FILES:
            result.nodes_per_label[g.group] = g.total_rows
        else:
            assert g.type is not None
            result.relationships_per_type[g.type] = (
                result.relationships_per_type.get(g.type, 0) + g.total_rows
            )


def _group(
    out_dir: Path,
    kind: Kind,
    group: str,
    header: str,
    rows: dict[str, int],
    *,
    label: str | None = None,
    type_: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> FileGroup:
    header_path = csvfolder.header_path(kind, group)
    path = out_dir / header_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "\n", encoding="utf-8")
    return FileGroup(
        kind=kind,
        group=group,
        label=label,
        type=type_,
        start=start,
        end=end,
        header=header_path,
        header_fields=header.split(","),
        parts=sorted(rows),
        rows=dict(sorted(rows.items())),
    )
