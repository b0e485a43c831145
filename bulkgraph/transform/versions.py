"""The versions layout's files (docs/versions-layout.md): runs of sameness across snapshots.

A sequential pass over the per-snapshot part files in time order, a chunk of snapshots at a
time, carrying one frame of versions (the last one of every resource, open or closed) and
one of open relationship runs: memory grows with distinct resources and relationships, not
with snapshots, and the per-snapshot transform stays as it is. Over many snapshots it runs
in one process per core, each following every node's versions and the runs of its share of
the relationship groups (`_plan`): the relationships are most of the pass.

The pass never decodes a value: a node's properties are compared and written back as the
text of its CSV line from `stub` on (everything but `uid`, `snapshot_id`, `resource_key`,
`fingerprint`), a relationship's as the text after its two ids. The worker that wrote each
snapshot's lines cut that text out of them for this pass (versions_input.py); only the
fields that place a node in an account and region (for what a snapshot does not know) are
taken out of the text here.

- A version opens when a snapshot sees a resource with properties that differ from its
  current version's, or sees it with no current version; it closes (`valid_to`) at the
  first snapshot that sees it differently, or does not see it where it knows its label.
- A relationship run is keyed by (group, start version, end version, properties): it goes
  on while snapshots hold it; one that does not hold it ends it, unless it does not know
  the label of either end there and both end versions are still current. (Night to night
  it is found by its ends' resource keys, which say the same while neither end's version
  changes: `_step_rels`.)
- Tag nodes (labels neither versioned nor Snapshot) are values: one node per resource key
  for all time, `uid` = the resource key.
- Snapshot nodes are written as they are, plus `layout`; NEXT between them is the
  per-snapshot parts of the snapshots layout, reused as they are.

What a run writes is final (closed versions and runs, NEXT_VERSION, Snapshot and Tag nodes:
appended to `final.csv`) or still open (rewritten as `open.csv`), and the carried frames go
to a checkpoint (versions_checkpoint.py), so the next run reads only the snapshots after it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from collections.abc import Collection
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from bulkgraph import csvfolder
from bulkgraph.csvfolder import NODES as NODE_FILES
from bulkgraph.csvfolder import RELATIONSHIPS
from bulkgraph.errors import BulkgraphError, InputError
from bulkgraph.layout import LAYOUT_PROPERTY, Layout
from bulkgraph.transform import versions_checkpoint as checkpoints
from bulkgraph.transform import versions_input
from bulkgraph.transform.declare import NodeSchema
from bulkgraph.transform.keys import key_in_uid_cell
from bulkgraph.transform.schema import NODE_BY_LABEL, NODES, REL_BY_GROUP, TEMPORAL_RELS
from bulkgraph.transform.temporal import LAST_SCHEMA, Links
from bulkgraph.transform.workers import context

log = logging.getLogger(__name__)

#: snapshots read per step: their part files are in memory together
CHUNK = 16

#: the columns a version has after its properties
INTERVAL_FIELDS = (
    "valid_from:datetime",
    "valid_to:datetime",
    "first_snapshot_id",
    "last_snapshot_id",
)
#: node columns a version drops (uid and resource_key are written anew)
_DROPPED = ("uid", "snapshot_id", "resource_key", "fingerprint")
_NEXT = csvfolder.rel_group("NEXT", "Snapshot", "Snapshot")
_TEMPORAL_GROUPS = {r.group for r in TEMPORAL_RELS}

# one CSV field as the transform writes it: quoted (`"` doubled) or plain (no `,` or `"`)
_F = r'(?:"(?:[^"]|"")*"|[^,"]*)'
#: the two ids of a relationship: one regex find (captures over the whole line cost five
#: times as much)
_REL_HEAD = rf"^{_F},{_F}"
_QUOTED = r'^"(?:[^"]|"")*"'


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '""') + '"'


@dataclass(frozen=True)
class SnapshotTime:
    snapshot_id: str
    taken_at: str  # as the Snapshot node's CSV cell
    #: what its part files were written from (input checksum, transform output layout): a
    #: checkpoint is continued only over the same; "" (unknown) never matches
    parts: str = ""


@dataclass
class VersionsResult:
    #: (kind, group) -> part path (relative to the CSV folder) -> rows, of every group
    #: with rows; the header line of each is written too
    parts: dict[tuple[csvfolder.Kind, str], dict[str, int]] = field(default_factory=dict)
    headers: dict[tuple[str, str], str] = field(default_factory=dict)
    multiline: bool = False
    #: whether a final part holds a line break in a field (the checkpoint keeps it)
    final_multiline: bool = False
    #: snapshots taken from the checkpoint (0: a full pass)
    resumed: int = 0
    #: why the pass started from nothing ("" when it went on from the checkpoint)
    full_reason: str = ""


def node_header(schema: NodeSchema) -> str:
    """A label's versions header: uid, resource_key, the properties from `stub` on, then the
    interval (docs/versions-layout.md)."""
    fields = schema.header.split(",")
    rest = fields[len(_DROPPED) :]
    if not schema.versioned:  # Tag: a value for all time
        return ",".join(["uid:ID", "resource_key", *rest])
    return ",".join(["uid:ID", "resource_key", *rest, *INTERVAL_FIELDS])


def rel_header(snapshot_header: str) -> str:
    return ",".join([snapshot_header, *INTERVAL_FIELDS])


def snapshot_header() -> str:
    return NODE_BY_LABEL["Snapshot"].header + f",{LAYOUT_PROPERTY}"


# -- reading the per-snapshot parts -------------------------------------------------------------


def _records(path: Path) -> pl.Series:
    """The part file's records (lines, unless a quoted field holds a line break)."""
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    series = pl.Series("line", lines, dtype=pl.String)
    if not (series.str.count_matches('"', literal=True) % 2 == 1).any():
        return series
    # a record whose quotes do not pair up goes on on the next line
    out: list[str] = []
    pending: list[str] = []
    quotes = 0
    for line in lines:
        pending.append(line)
        quotes += line.count('"')
        if quotes % 2 == 0:
            out.append("\n".join(pending))
            pending, quotes = [], 0
    if pending:
        raise InputError(f"{path}: a quoted field is not closed at the end of the file")
    return pl.Series("line", out, dtype=pl.String)


#: one field of a line, as `_F` matches it (`_cells`)
_FIELD = re.compile(_F, re.S)


def _cells(line: str, count: int) -> list[str | None]:
    """The values of the first `count` fields of a line, without quotes and escapes: null for
    an empty cell or one the line does not have. In Python: a polars regex per field (a
    counted repetition, which the regex engine unrolls) took ~0.5 ms to compile each time,
    ~14 ms a night of a 10k-instance estate for the few hundred nodes that change."""
    out: list[str | None] = []
    at = 0
    for _ in range(count):
        found = _FIELD.match(line, at) if at <= len(line) else None
        raw = found.group() if found else ""  # the pattern matches "" at worst
        at += len(raw) + 1
        if raw == "":
            out.append(None)
            continue
        inner = raw[1:-1] if raw.startswith('"') else raw
        out.append(inner.replace('""', '"').replace("\\\\", "\\"))
    return out


@dataclass(frozen=True)
class _Placer:
    """Where a node of one label is, from its properties' text (from `stub` on), as the
    pack's snapshot-diff query places it: its own `account_id`/`region`, else its ARN's; a
    Region's name; every region of an Account."""

    label: str
    at: dict[str, int]  # property -> its field in the text

    @classmethod
    def of(cls, schema: NodeSchema) -> _Placer:
        names = [p.name for p in schema.columns][len(_DROPPED) :]
        wanted = ("arn", "account_id", "region", "name")
        return cls(schema.label, {n: names.index(n) for n in wanted if n in names})

    def place(self, props: str) -> tuple[str | None, str | None]:
        cells = _cells(props, max(self.at.values(), default=-1) + 1)

        def prop(name: str) -> str | None:
            return cells[self.at[name]] if name in self.at else None

        arn = prop("arn")
        parts = arn.split(":") if arn is not None else []
        account = prop("account_id")
        if account is None and len(parts) > 4:
            account = parts[4]
        if self.label == "Region":
            return account, prop("name")
        if self.label == "Account":
            return account, "*"
        region = prop("region")
        if region is None and len(parts) > 3:
            region = parts[3]
        return account, region


_PLACERS = {n.label: _Placer.of(n) for n in NODES}


def _with_area(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` (label, props) with the account and region of each node (null for a row with
    no label: no version yet, placed nowhere)."""
    places = [
        _PLACERS[label].place(props) if label is not None else (None, None)
        for label, props in zip(frame["label"].to_list(), frame["props"].to_list(), strict=True)
    ]
    return frame.with_columns(
        pl.Series("account", [a for a, _ in places], dtype=pl.String),
        pl.Series("region", [r for _, r in places], dtype=pl.String),
    )


def _read_rels(
    out_dir: Path, sid: str, groups: list[str], given: dict[str, pl.DataFrame]
) -> pl.DataFrame:
    """group, s_start, s_end, props of the snapshot's relationships of `groups`, in that
    order: from what its worker wrote (`given`, versions_input.py), or, for a group whose
    parts the sequential pass wrote (properties named by the data), from its part."""
    frames = []
    for group in groups:
        written = versions_input.rels(given, group)
        if written is not None:
            frames.append(written)
        elif REL_BY_GROUP[group].dynamic is not None:
            frames.append(_read_part_rels(out_dir, sid, group))
    if not frames:
        return pl.DataFrame(schema=_REL_SEEN_SCHEMA)
    return pl.concat(frames)


def _read_part_rels(out_dir: Path, sid: str, group: str) -> pl.DataFrame:
    path = out_dir / csvfolder.part_path(RELATIONSHIPS, group, sid)
    if not path.exists():
        return pl.DataFrame(schema=_REL_SEEN_SCHEMA)
    head = pl.col("line").str.extract(_REL_HEAD, 0)
    start = pl.col("head").str.extract(_QUOTED, 0)
    frame = (
        _records(path)
        .to_frame()
        .select(head.alias("head"), "line")
        .select(
            pl.lit(group).alias("group"),
            start.alias("s_start"),
            pl.col("head").str.slice(start.str.len_chars() + 1).alias("s_end"),
            pl.col("line").str.slice(pl.col("head").str.len_chars()).alias("props"),
        )
    )
    if frame["s_start"].null_count():
        raise InputError(f"{path}: a line is not a relationship line")
    return frame


_REL_SEEN_SCHEMA = {
    "group": pl.String,
    "s_start": pl.String,
    "s_end": pl.String,
    "props": pl.String,
}


def _unknown_labels(out_dir: Path, sid: str) -> list[str]:
    """The snapshot's `unknown_labels`, as its Snapshot node holds them."""
    schema = NODE_BY_LABEL["Snapshot"]
    path = out_dir / csvfolder.part_path(NODE_FILES, schema.group, sid)
    index = [p.name for p in schema.columns].index("unknown_labels")
    lines = _records(path)
    value = _cells(lines[0], index + 1)[index] if len(lines) else None
    return [] if not value else value.split(";")


def unknown_expr(unknown: list[str], label: str, account: str, region: str) -> pl.Expr:
    """Whether the snapshot with these `unknown_labels` does not know the node of columns
    (label, account, region): the rule of report/coverage.py `covers`. A node placed in no
    account (an address, a CIDR, a stub that holds only its key) comes from calls of several
    accounts: unknown where any entry names its label."""
    entries = set(unknown)
    named = sorted({u.split("/", 1)[0] for u in entries})
    lb, acct, reg = pl.col(label), pl.col(account).fill_null("?"), pl.col(region).fill_null("?")
    wanted = [
        lb + "/*/*",
        lb + "/" + acct + "/*",
        lb + "/*/" + reg,
        lb + "/" + acct + "/" + reg,
    ]
    found = pl.any_horizontal([w.is_in(sorted(entries)) for w in wanted])
    return found | (pl.col(account).is_null() & lb.is_in(named))


# -- the pass ---------------------------------------------------------------------------------


_STATE_SCHEMA = {
    "rk": pl.String,
    "label": pl.String,
    "vuid": pl.String,
    "props": pl.String,
    "account": pl.String,
    "region": pl.String,
    "first": pl.String,
    "last": pl.String,
    "open": pl.Boolean,
}
_RUN_SCHEMA = {
    # what a run is matched on: `_run_key`
    "key": pl.String,
    "group": pl.String,
    "props": pl.String,
    # the ends' versions
    "start": pl.String,
    "end": pl.String,
    "first": pl.String,
    "last": pl.String,
}


class _Writer:
    """Appends to the final parts, writes the open parts; counts rows per part."""

    def __init__(self, out_dir: Path, result: VersionsResult) -> None:
        self.out_dir = out_dir
        self.result = result

    def header(self, kind: csvfolder.Kind, group: str, header: str) -> None:
        path = self.out_dir / csvfolder.versions_header_path(kind, group)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + "\n", encoding="utf-8")
        self.result.headers[(kind, group)] = header

    def lines(
        self,
        kind: csvfolder.Kind,
        group: str,
        lines: pl.Series,
        part: csvfolder.VersionsPart = csvfolder.VERSIONS_FINAL,
    ) -> None:
        """Append `lines` to the group's final part, or write them as its open part (once
        per run)."""
        if len(lines) == 0:
            return
        rel = csvfolder.versions_part_path(kind, group, part)
        path = self.out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "\n".join(lines.to_list()) + "\n"
        broken = text.count("\n") != len(lines) or "\r" in text
        self.result.multiline |= broken
        if part == csvfolder.VERSIONS_FINAL:
            self.result.final_multiline |= broken
        with path.open(
            "a" if part == csvfolder.VERSIONS_FINAL else "w", encoding="utf-8", newline=""
        ) as fh:
            fh.write(text)
        parts = self.result.parts.setdefault((kind, group), {})
        parts[rel] = parts.get(rel, 0) + len(lines)


#: what the pass writes, in a form the checkpoint compares: bump when its output changes
PASS_REVISION = 2  # 2: runs matched on one key of their ends' resource keys (`_run_key`)


def _digest(rel_headers: dict[str, str], rel_groups: list[str]) -> str:
    """Every header the pass's input and output have, and its revision: a checkpoint
    written under other ones is not continued."""
    text = json.dumps(
        {
            "revision": PASS_REVISION,
            "nodes": {n.group: n.header for n in NODES},
            "relationships": {g: rel_headers[g] for g in rel_groups},
            "temporal": {r.group: r.header for r in TEMPORAL_RELS},
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_TAG_SCHEMA = {"rk": pl.String}
_FRAME_SCHEMAS = {
    "state": pl.Schema(_STATE_SCHEMA),
    "runs": pl.Schema(_RUN_SCHEMA),
    "tags": pl.Schema(_TAG_SCHEMA),
    "links": LAST_SCHEMA,
}


def begin(
    out_dir: Path, ordered: list[SnapshotTime], redone: Collection[str]
) -> checkpoints.Checkpoint | str:
    """The checkpoint the versions layout's passes (the time links, then `write_versions`)
    go on from, or why there is none; then it is removed before anything is written, so
    that a run killed midway cannot leave one that no longer describes the files."""
    covered = [checkpoints.Covered(s.snapshot_id, s.taken_at, s.parts) for s in ordered]
    cp = checkpoints.read(out_dir, covered, _FRAME_SCHEMAS, redone)
    if isinstance(cp, str):
        checkpoints.discard(out_dir)
    return cp


def start_links(cp: checkpoints.Checkpoint | str) -> Links | None:
    """Where the time links go on from (None: from the first snapshot)."""
    if isinstance(cp, str):
        return None
    return Links(len(cp.snapshots), cp.frames["links"], cp.link_rows)


def write_versions(
    out_dir: Path,
    ordered: list[SnapshotTime],
    rel_headers: dict[str, str],
    *,
    start: checkpoints.Checkpoint | str,
    links: Links,
    shares: int = 1,
    weights: dict[str, int] | None = None,
) -> VersionsResult:
    """Write `versions/` under `out_dir` from the per-snapshot parts of `ordered` (time
    order); `rel_headers`: group -> the header its per-snapshot parts were written with;
    `start`: what `begin` gave; `links`: the time links' pass over all of `ordered`, kept in
    the new checkpoint.

    Goes on from the checkpoint (versions_checkpoint.py) when there is one and the versions
    files are as it says, reading only the parts of the snapshots after it; otherwise a full
    pass from nothing. Either way the files are the same, byte for byte: every final part
    holds its lines in the order of the snapshot that made them final, then sorted (Tag
    nodes: in the order first seen), every open part its lines sorted.

    `shares`: processes the pass may use over `SHARED_FROM` snapshots or more, each
    following the runs of some of the relationship groups (`_plan`; `weights`: each group's
    rows in a snapshot, to balance them); the files are the same whatever the number."""
    rel_groups = [
        g for g in rel_headers if g not in _TEMPORAL_GROUPS and not versions_input.contains(g)
    ]
    covered = [checkpoints.Covered(s.snapshot_id, s.taken_at, s.parts) for s in ordered]
    digest = _digest(rel_headers, rel_groups)
    result = VersionsResult()
    cp = start if isinstance(start, str) else checkpoints.resume(out_dir, start, digest)
    if isinstance(cp, str):
        log.info("versions pass from nothing: %s", cp)
        result.full_reason = cp
        checkpoints.discard(out_dir)
        shutil.rmtree(out_dir / csvfolder.VERSIONS_DIR, ignore_errors=True)
        cp = checkpoints.Checkpoint(
            snapshots=[],
            digest=digest,
            frames={name: pl.DataFrame(schema=schema) for name, schema in _FRAME_SCHEMAS.items()},
        )
    else:
        log.info("versions pass goes on after %d snapshots", len(cp.snapshots))
        for (kind, group), rows in _final_rows(cp).items():
            result.parts[(kind, group)] = rows
        result.multiline = result.final_multiline = cp.multiline
        for stale in (out_dir / csvfolder.VERSIONS_DIR).glob(f"*/*/{csvfolder.VERSIONS_OPEN}"):
            stale.unlink()
    result.resumed = len(cp.snapshots)
    todo = ordered[len(cp.snapshots) :]
    plan = _plan(rel_groups, weights or {}, shares if len(todo) >= SHARED_FROM else 1)
    walked = _walk_all(out_dir, ordered, todo, cp.frames, plan)
    for w in walked:
        _merge(result, w.result)
    state, tags = walked[0].state, walked[0].tags
    runs = pl.concat([w.runs for w in walked])
    out = _Writer(out_dir, result)
    _write_headers(out, rel_headers, rel_groups)
    final: dict[str, checkpoints.FinalPart] = {}
    for (kind, group), parts in result.parts.items():
        rel = csvfolder.versions_part_path(kind, group, csvfolder.VERSIONS_FINAL)
        if rel in parts:
            size = (out_dir / rel).stat().st_size
            final[rel] = checkpoints.FinalPart(kind, group, size, parts[rel])
    checkpoints.save(
        out_dir,
        checkpoints.Checkpoint(
            snapshots=covered,
            digest=digest,
            final=final,
            multiline=result.final_multiline,
            generation=cp.generation + 1,
            frames={"state": state, "runs": runs, "tags": tags, "links": links.last},
            link_rows=links.written,
        ),
    )
    return result


# -- the walk through the snapshots, in shares ------------------------------------------------

#: snapshots to go through before the pass is worth more than one process: starting one
#: costs ~1 s, and each follows every node; on 2 cores 20 nights of a 10k-instance estate
#: took as long either way, 60 about a sixth less in shares (docs/benchmarks.md)
SHARED_FROM = 32


@dataclass(frozen=True)
class _Share:
    """One process's part of the pass: each follows the versions of every node (its
    relationships' ends), and the runs of its own `groups`; `nodes`: this one writes what
    the nodes make (versions, Snapshot and Tag nodes, NEXT_VERSION)."""

    groups: tuple[str, ...]
    nodes: bool


@dataclass
class _Walked:
    """What a share wrote (its parts' rows) and carries on to the checkpoint."""

    result: VersionsResult
    state: pl.DataFrame
    runs: pl.DataFrame
    tags: pl.DataFrame


def _plan(groups: list[str], weights: dict[str, int], shares: int) -> list[_Share]:
    """`groups` dealt into at most `shares` shares of about the same rows (`weights`), the
    most rows first, each to the share with the fewest so far. Following the nodes costs
    every share the same, and writing what they make little: the first share writes it."""
    count = max(1, min(shares, len(groups)))
    load = [0] * count
    dealt: list[set[str]] = [set() for _ in range(count)]
    for group in sorted(groups, key=lambda g: (-weights.get(g, 0), g)):
        i = min(range(count), key=lambda k: (load[k], k))
        dealt[i].add(group)
        load[i] += weights.get(group, 0)
    # in the order of `groups`: a share reads and steps its groups as one pass would
    return [_Share(tuple(g for g in groups if g in dealt[i]), nodes=i == 0) for i in range(count)]


def _walk_all(
    out_dir: Path,
    ordered: list[SnapshotTime],
    todo: list[SnapshotTime],
    frames: dict[str, pl.DataFrame],
    plan: list[_Share],
) -> list[_Walked]:
    """Each share's walk through `todo`, the first share's first; in processes of their
    own when there are several (each a core: workers.context)."""
    if len(plan) == 1:
        return [_walk(out_dir, ordered, todo, frames, plan[0])]
    with ProcessPoolExecutor(max_workers=len(plan), mp_context=context(len(plan))) as pool:
        futures = [pool.submit(_walk, out_dir, ordered, todo, frames, s) for s in plan]
        try:
            return [f.result() for f in futures]
        except BrokenProcessPool:
            raise BulkgraphError(
                f"the versions pass over {out_dir}: one of its {len(plan)} processes ended "
                "without a word (killed, or out of memory?); run the same command again (with "
                "--workers 1 the pass runs in one process)"
            ) from None


def _merge(into: VersionsResult, share: VersionsResult) -> None:
    """A share's rows written (to parts of its own) and line breaks, added to `into`."""
    for key, parts in share.parts.items():
        mine = into.parts.setdefault(key, {})
        for rel, rows in parts.items():
            mine[rel] = mine.get(rel, 0) + rows
    into.multiline |= share.multiline
    into.final_multiline |= share.final_multiline


def _walk(
    out_dir: Path,
    ordered: list[SnapshotTime],
    todo: list[SnapshotTime],
    frames: dict[str, pl.DataFrame],
    share: _Share,
) -> _Walked:
    """One share's walk through `todo` (the snapshots after the checkpoint's `frames`),
    CHUNK snapshots at a time: the final lines of its parts appended, its open parts
    written at the end."""
    versioned = [n.label for n in NODES if n.versioned]
    values = [n.label for n in NODES if not n.versioned and n.label != "Snapshot"]
    groups = list(share.groups)
    result = VersionsResult()
    out = _Writer(out_dir, result)
    times = _Times(ordered)
    state, tags = frames["state"], frames["tags"]
    runs = frames["runs"].filter(pl.col("group").is_in(groups))
    for first in range(0, len(todo), CHUNK):
        closed: list[pl.DataFrame] = []
        ended: list[pl.DataFrame] = []
        next_versions: list[pl.DataFrame] = []
        new_tags: list[pl.DataFrame] = []
        for snap in todo[first : first + CHUNK]:
            sid = snap.snapshot_id
            unknown = _unknown_labels(out_dir, sid)
            given = versions_input.read(out_dir, sid)
            seen = versions_input.nodes(given, sid, versioned)
            shared = versions_input.nodes(given, sid, values)
            state, mapping, gone, nv, changed = _step_nodes(state, seen, sid, unknown)
            if share.nodes:
                _write_snapshot(out, out_dir, sid)
                first_seen = (
                    shared.select("rk", "label", "props")
                    .unique("rk", keep="first", maintain_order=True)
                    .join(tags, on="rk", how="anti", maintain_order="left")
                )
                tags = pl.concat([tags, first_seen.select("rk")])
                new_tags.append(first_seen)
                closed.append(gone)
                next_versions.append(nv.with_columns(pl.lit(times.order[sid]).alias("order")))
            mapping = pl.concat([mapping, shared.select("suid", pl.col("rk").alias("vuid"))])
            seen_rels = _read_rels(out_dir, sid, groups, given)
            runs, over = _step_rels(runs, seen_rels, mapping, changed, sid, unknown, state)
            ended.append(over)
        if share.nodes:
            _put_versions(out, pl.concat(closed), times)
            _put_links(out, pl.concat(next_versions))
            _put_tags(out, pl.concat(new_tags))
        _put_runs(out, pl.concat(ended), times)
    if share.nodes:
        opened = state.filter("open").with_columns(pl.lit(None, pl.String).alias("to"))
        _put_versions(out, opened, times, csvfolder.VERSIONS_OPEN)
    _put_runs(
        out, runs.with_columns(pl.lit(None, pl.String).alias("to")), times, csvfolder.VERSIONS_OPEN
    )
    return _Walked(result, state, runs, tags)


def _final_rows(cp: checkpoints.Checkpoint) -> dict[tuple[csvfolder.Kind, str], dict[str, int]]:
    out: dict[tuple[csvfolder.Kind, str], dict[str, int]] = {}
    for rel, part in cp.final.items():
        kind = csvfolder.NODES if part.kind == csvfolder.NODES else csvfolder.RELATIONSHIPS
        out[(kind, part.group)] = {rel: part.rows}
    return out


class _Times:
    """Each snapshot's `taken_at` and place in time order."""

    def __init__(self, ordered: list[SnapshotTime]) -> None:
        self.taken = {s.snapshot_id: s.taken_at for s in ordered}
        self.order = {s.snapshot_id: i for i, s in enumerate(ordered)}


def _write_snapshot(out: _Writer, out_dir: Path, sid: str) -> None:
    group = NODE_BY_LABEL["Snapshot"].group
    path = out_dir / csvfolder.part_path(NODE_FILES, group, sid)
    lines = _records(path) + f',"{Layout.versions.value}"'
    out.lines(NODE_FILES, group, lines)


def _write_headers(out: _Writer, rel_headers: dict[str, str], rel_groups: list[str]) -> None:
    """The header of every group written (and of none that was not)."""
    for schema in NODES:
        if (NODE_FILES, schema.group) not in out.result.parts:
            continue
        header = snapshot_header() if schema.label == "Snapshot" else node_header(schema)
        out.header(NODE_FILES, schema.group, header)
    for group in rel_groups:
        if (RELATIONSHIPS, group) in out.result.parts:
            out.header(RELATIONSHIPS, group, rel_header(rel_headers[group]))
    for rel in TEMPORAL_RELS:
        if rel.type == "NEXT_VERSION" and (RELATIONSHIPS, rel.group) in out.result.parts:
            out.header(RELATIONSHIPS, rel.group, rel.header)


def _step_nodes(
    state: pl.DataFrame, seen: pl.DataFrame, sid: str, unknown: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.Series]:
    """One snapshot on the versions: (new state, suid -> version of what it saw, versions it
    closed with `to` = its id, NEXT_VERSION lines (group, line) it opened, the resource keys
    whose version it opened or closed, as `_step_rels` matches them).

    Where the snapshot does not know a resource's label in the area of its current version,
    what it says of the resource (nothing, or a stub made for a relationship) neither ends
    nor starts a version: the current one goes on, its `last` moved only when seen the same.
    """
    s = seen.rename({c: f"s_{c}" for c in seen.columns if c != "rk"})
    j = state.join(s, on="rk", how="full", coalesce=True)
    saw = pl.col("s_suid").is_not_null()
    current = pl.col("vuid").is_not_null() & pl.col("open")
    same = current & saw & (pl.col("props") == pl.col("s_props"))
    blind = unknown_expr(unknown, "label", "account", "region") if unknown else pl.lit(False)
    j = j.with_columns(
        same.fill_null(False).alias("_same"),
        (current & blind).fill_null(False).alias("_blind"),
        (current & ~saw & ~blind).fill_null(False).alias("_lost"),
    )
    kept = pl.col("_same") | pl.col("_blind")
    opened = saw & ~kept
    closing = (current & opened).fill_null(False) | pl.col("_lost")
    gone = j.filter(closing).select(*_STATE_SCHEMA, pl.lit(sid).alias("to"))
    nv = j.filter(opened & pl.col("vuid").is_not_null()).select(
        (pl.lit("NEXT_VERSION__") + pl.col("s_label") + "__" + pl.col("s_label")).alias("group"),
        pl.concat_str(
            [
                pl.col("vuid"),
                pl.col("s_suid"),
                pl.when(pl.col("props") == pl.col("s_props"))
                .then(pl.lit("false"))
                .otherwise(pl.lit("true")),
            ],
            separator=",",
        ).alias("line"),
    )

    def mine(name: str) -> pl.Expr:
        return pl.when(opened).then(f"s_{name}").otherwise(name).alias(name)

    new_state = j.select(
        "rk",
        mine("label"),
        pl.when(opened).then("s_suid").otherwise("vuid").alias("vuid"),
        mine("props"),
        pl.when(opened).then(pl.lit(sid)).otherwise("first").alias("first"),
        pl.when(opened | pl.col("_same")).then(pl.lit(sid)).otherwise("last").alias("last"),
        (opened | (pl.col("open") & ~pl.col("_lost"))).fill_null(False).alias("open"),
        "account",
        "region",
        saw.alias("_saw"),
        opened.fill_null(False).alias("_opened"),
        pl.col("s_suid").alias("suid"),
    )
    mapping = new_state.filter("_saw").select("suid", "vuid")
    changed = j.filter(opened.fill_null(False) | closing)["rk"].str.slice(1)
    # where a version is: worked out once, when it opens
    new_state = pl.concat(
        [
            new_state.filter(~pl.col("_opened")),
            _with_area(new_state.filter("_opened").drop("account", "region")).select(
                new_state.columns
            ),
        ]
    )
    return new_state.select(list(_STATE_SCHEMA)), mapping, gone, nv, changed


def _run_key() -> pl.Expr:
    """What a run of the snapshot's relationships (group, start_rk, end_rk, props: the
    ends' uids after `"<sid>|`) is matched on: group, `|`, both ends' resource keys as those
    tails (each up to its closing quote: one quote alone, since a quote in a cell is
    doubled), props. One text column: the join on it took about half the time of one on
    four columns."""
    return pl.concat_str(
        [pl.col("group"), pl.lit("|"), pl.col("start_rk"), pl.col("end_rk"), pl.col("props")]
    )


def _pairs(left: pl.Series, right: pl.Series) -> pl.DataFrame:
    """Which text of `left` is which of `right` (each side's texts unique): one row per text
    of either side, `l` and `r` its places in them (null on the side that lacks it).

    Joined on 64-bit hashes of the texts, then each match compared as text, so that a
    collision (or a text twice on one side) is never taken for a match: then the texts are
    joined themselves. polars joins these ~100-byte texts about six times as slowly as their
    hashes (docs/benchmarks.md)."""
    places = {
        side: pl.int_range(0, len(texts), dtype=pl.UInt32, eager=True).alias(side)
        for side, texts in (("l", left), ("r", right))
    }
    lh = pl.DataFrame([left.hash().alias("h"), places["l"]])
    rh = pl.DataFrame([right.hash().alias("h"), places["r"]])
    if lh["h"].n_unique() == lh.height and rh["h"].n_unique() == rh.height:
        found = lh.join(rh, on="h", how="full", coalesce=True).drop("h")
        both = found.drop_nulls()
        if (left.gather(both["l"]) == right.gather(both["r"])).all():
            return found
    lt = pl.DataFrame([left.alias("t"), places["l"]])
    rt = pl.DataFrame([right.alias("t"), places["r"]])
    return lt.join(rt, on="t", how="full", coalesce=True).drop("t")


def _step_rels(
    runs: pl.DataFrame,
    seen: pl.DataFrame,
    mapping: pl.DataFrame,
    changed: pl.Series,
    sid: str,
    unknown: list[str],
    state: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One snapshot on the relationship runs: (runs open after it, runs it ended with `to`);
    `state`: the versions after the snapshot; `changed`: the resource keys whose version it
    opened or closed (as the tails of uids).

    A run is one relationship between two versions. It is matched on its ends' resource
    keys, not their versions (`_run_key`): while neither end's version changes, the two say
    the same, and only the relationships that start a run (new, or an end that changed) are
    mapped to their ends' versions, a few hundred a night instead of every one twice."""
    cut = key_in_uid_cell(sid)
    seen = seen.with_columns(
        pl.col("s_start").str.slice(cut).alias("start_rk"),
        pl.col("s_end").str.slice(cut).alias("end_rk"),
    )
    moved = pl.col("start_rk").is_in(changed.implode()) | pl.col("end_rk").is_in(changed.implode())
    # not de-duplicated again (a fifth of the pass's time): a snapshot's relationships are
    # unique in its input (`snapshot._resolved_rels`; tests/test_versions_nightly.py checks
    # it), and the resource keys are their uids without the snapshot
    seen = seen.select(
        _run_key().alias("key"), "group", "props", "s_start", "s_end", moved.alias("_moved")
    )
    pairs = _pairs(runs["key"], seen["key"])
    # each run once, in the runs' order: whether the snapshot holds it, between which ends
    of_runs = pairs.filter(pl.col("l").is_not_null()).sort("l")["r"]
    runs = runs.with_columns(
        of_runs.is_not_null().alias("_saw"),
        seen["_moved"].gather(of_runs).fill_null(False).alias("_moved"),
    )
    # a run ends where the snapshot does not hold it (unless it does not know it), or holds
    # it between other versions (the old run ends, a new one starts)
    missed = ~pl.col("_saw")
    if unknown:
        runs = _rel_areas(runs, state)
        missed = missed & ~_rel_unknown(unknown)
    runs = runs.with_columns((missed | (pl.col("_saw") & pl.col("_moved"))).alias("_over"))
    over = runs.filter("_over").select(*_RUN_SCHEMA, pl.lit(sid).alias("to"))
    kept = runs.filter(~pl.col("_over")).select(
        *(c for c in _RUN_SCHEMA if c != "last"),
        pl.when("_saw").then(pl.lit(sid)).otherwise("last").alias("last"),
    )
    had = pairs.filter(pl.col("r").is_not_null()).sort("r")["l"].is_not_null()
    starting = seen.filter(~had | pl.col("_moved"))
    started = starting.join(
        mapping.rename({"suid": "s_start", "vuid": "start"}), on="s_start"
    ).join(mapping.rename({"suid": "s_end", "vuid": "end"}), on="s_end")
    if started.height != starting.height:
        lost = starting.join(started, on="key", how="anti")
        first = lost.row(0, named=True)
        raise InputError(
            f"snapshot {sid}: {first['group']} from {first['s_start']} to {first['s_end']} "
            "names a node its node files do not hold"
        )
    started = started.select(
        *(c for c in _RUN_SCHEMA if c not in ("first", "last")),
        pl.lit(sid).alias("first"),
        pl.lit(sid).alias("last"),
    )
    return pl.concat([kept, started]), over


def _rel_areas(runs: pl.DataFrame, state: pl.DataFrame) -> pl.DataFrame:
    """`runs` with the labels of their ends (from the group), the account and region of
    each end's version, and whether both end versions are current (`_current`). An end
    that is a value (a Tag) is current and placed nowhere."""
    ends = runs.select(pl.col("group").str.split("__").alias("_g")).to_series()
    areas = state.filter("open").select("vuid", "account", "region", pl.lit(True).alias("current"))
    values = {n.label for n in NODES if not n.versioned and n.label != "Snapshot"}
    out = runs.with_columns(ends.list.get(1).alias("s_label"), ends.list.get(2).alias("e_label"))
    for side, col in (("s", "start"), ("e", "end")):
        out = out.join(
            areas.rename(
                {
                    "vuid": col,
                    "account": f"{side}_account",
                    "region": f"{side}_region",
                    "current": f"{side}_current",
                }
            ),
            on=col,
            how="left",
        ).with_columns(
            (
                pl.col(f"{side}_current").fill_null(False) | pl.col(f"{side}_label").is_in(values)
            ).alias(f"{side}_current")
        )
    return out


def _rel_unknown(unknown: list[str]) -> pl.Expr:
    """Whether the snapshot does not know a relationship (start: s_*, end: e_* columns):
    it does not know the label of an end placed in an account; an end placed in none (a
    Tag, a CIDR, an address, a stub) counts only when neither end is placed (the tags of
    a known instance are known, whatever other calls failed)."""
    s_unknown = unknown_expr(unknown, "s_label", "s_account", "s_region")
    e_unknown = unknown_expr(unknown, "e_label", "e_account", "e_region")
    s_placed, e_placed = pl.col("s_account").is_not_null(), pl.col("e_account").is_not_null()
    unknown_here = (
        (s_placed & s_unknown)
        | (e_placed & e_unknown)
        | (~s_placed & ~e_placed & (s_unknown | e_unknown))
    )
    # a run goes on only while both end versions do
    return unknown_here & pl.col("s_current") & pl.col("e_current")


def _interval(times: _Times, frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` (first, last, to: snapshot ids) with valid_from, valid_to and `order`: the
    place in time of the snapshot that closed it (null while open)."""
    return frame.with_columns(
        pl.col("first").replace_strict(times.taken, return_dtype=pl.String).alias("valid_from"),
        pl.col("to")
        .replace_strict(times.taken, default=None, return_dtype=pl.String)
        .alias("valid_to"),
        pl.col("to")
        .replace_strict(times.order, default=None, return_dtype=pl.Int64)
        .alias("order"),
    )


def _interval_cells() -> list[pl.Expr]:
    return [
        pl.col("valid_from"),
        pl.col("valid_to").fill_null(""),
        pl.lit('"') + pl.col("first") + '"',
        pl.lit('"') + pl.col("last") + '"',
    ]


def _put_sorted(
    out: _Writer,
    kind: csvfolder.Kind,
    lines: pl.DataFrame,
    part: csvfolder.VersionsPart = csvfolder.VERSIONS_FINAL,
) -> None:
    """`lines` (group, order, line) into their groups' parts: in the order of the snapshot
    that made them final, then sorted, so that chunks and checkpoints change nothing."""
    if lines.height == 0:
        return
    for (group,), g in sorted(lines.partition_by("group", as_dict=True).items()):
        out.lines(kind, str(group), g.sort("order", "line")["line"], part)


def _put_versions(
    out: _Writer,
    frame: pl.DataFrame,
    times: _Times,
    part: csvfolder.VersionsPart = csvfolder.VERSIONS_FINAL,
) -> None:
    if frame.height == 0:
        return
    lines = _interval(times, frame).select(
        pl.col("label").alias("group"),
        "order",
        pl.concat_str(
            [pl.col("vuid"), pl.col("rk"), pl.col("props"), *_interval_cells()], separator=","
        ).alias("line"),
    )
    _put_sorted(out, NODE_FILES, lines, part)


def _put_runs(
    out: _Writer,
    frame: pl.DataFrame,
    times: _Times,
    part: csvfolder.VersionsPart = csvfolder.VERSIONS_FINAL,
) -> None:
    if frame.height == 0:
        return
    lines = _interval(times, frame).select(
        "group",
        "order",
        pl.concat_str(
            [pl.col("start") + "," + pl.col("end") + pl.col("props"), *_interval_cells()],
            separator=",",
        ).alias("line"),
    )
    _put_sorted(out, RELATIONSHIPS, lines, part)


def _put_links(out: _Writer, frame: pl.DataFrame) -> None:
    _put_sorted(out, RELATIONSHIPS, frame)


def _put_tags(out: _Writer, frame: pl.DataFrame) -> None:
    """Tag nodes first seen in a chunk, in the order seen (`uid` = `resource_key`)."""
    line = pl.concat_str(["rk", "rk", "props"], separator=",").alias("line")
    for (label,), part in sorted(frame.partition_by("label", as_dict=True).items()):
        out.lines(NODE_FILES, csvfolder.node_group(str(label)), part.select(line)["line"])


__all__ = [
    "CHUNK",
    "SnapshotTime",
    "VersionsResult",
    "begin",
    "node_header",
    "start_links",
    "write_versions",
]
