"""Links across snapshots: NEXT between consecutive snapshots, NEXT_VERSION between versions.

A sequential pass over the small per-snapshot key files in time order, keeping one "last
seen" frame (label, resource_key, uid, fingerprint): memory grows with distinct resources,
not with snapshots, and each snapshot's transform stays independent of the others. The pass
takes the snapshots a chunk at a time: the carried frame and the chunk's keys sorted by
resource and time, so that each row's predecessor in its resource is its previous version.
A part depends only on the snapshots up to its own, so a run can go on from where an earlier
one stopped (`Links`) and write the new snapshots' parts only.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from bulkgraph import csvfolder
from bulkgraph.csvfolder import RELATIONSHIPS, State
from bulkgraph.transform import csvfmt
from bulkgraph.transform.keys import snapshot_uid
from bulkgraph.transform.schema import NODES

_KEYS = {"label": pl.String, "resource_key": pl.String, "uid": pl.String, "fingerprint": pl.String}
#: snapshots linked per step: one sort over a chunk instead of a join per snapshot, while
#: memory stays bounded by the distinct resources plus one chunk's keys
CHUNK = 16
#: the carried frame: the keys and the place in the chunk (-1: carried over)
LAST_SCHEMA = pl.Schema({**_KEYS, "order": pl.Int32})


@dataclass
class Links:
    """The pass up to a point: it covered the first `done` of the ordered ids, `last` is
    then the last seen row of every resource, and `written` the rows of every part it wrote
    (group -> snapshot id -> rows). A later run given the same first ids goes on from it
    (the versions layout keeps it in its checkpoint: transform/versions_checkpoint.py)."""

    done: int = 0
    last: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=LAST_SCHEMA))
    written: dict[str, dict[str, int]] = field(default_factory=dict)


def link(
    out_dir: Path,
    ordered_ids: list[str],
    start: Links | None = None,
    *,
    next_version: bool = True,
) -> Links:
    """Write NEXT and (if `next_version`) NEXT_VERSION parts (named after the later
    snapshot) of the snapshots after `start` (all without it; `start`'s parts must be on
    disk as it wrote them). Without NEXT_VERSION the keys files are not read (a snapshot
    transformed without its parts has none)."""
    begin = start.done if start else 0
    written = {g: dict(rows) for g, rows in start.written.items()} if start else {}
    next_group = csvfolder.rel_group("NEXT", "Snapshot", "Snapshot")
    if not next_version:
        written = {g: rows for g, rows in written.items() if g == next_group}

    def put_lines(group: str, sid: str, part: pl.DataFrame | None) -> None:
        """Write the part's lines, or remove the part file of an earlier run if none."""
        path = out_dir / csvfolder.part_path(RELATIONSHIPS, group, sid)
        if part is None or part.height == 0:
            path.unlink(missing_ok=True)
            return
        csvfmt.write_lines(path, part.get_column("line"))
        written.setdefault(group, {})[sid] = part.height

    for prev, nxt in itertools.pairwise(ordered_ids[max(begin - 1, 0) :]):
        link_df = pl.DataFrame({"start": [snapshot_uid(prev)], "end": [snapshot_uid(nxt)]})
        put_lines(
            next_group,
            nxt,
            csvfmt.lines(link_df, [("start", "string"), ("end", "string")]).to_frame(),
        )
    if not next_version:
        return Links(len(ordered_ids), pl.DataFrame(schema=LAST_SCHEMA), written)

    versioned = [n.label for n in NODES if n.versioned]
    # last seen version of every resource so far; "order" -1 marks it as carried over
    last = start.last if start else pl.DataFrame(schema=LAST_SCHEMA)
    for first in range(begin, len(ordered_ids), CHUNK):
        chunk = ordered_ids[first : first + CHUNK]
        ordered = _in_time_order(last, out_dir, chunk)
        parts = _version_lines(ordered, versioned).partition_by(
            "order", "label", as_dict=True, include_key=False
        )
        for order, sid in enumerate(chunk):
            for label in versioned:
                put_lines(
                    csvfolder.rel_group("NEXT_VERSION", label, label),
                    sid,
                    parts.get((order, label)),
                )
        last = ordered.unique(["label", "resource_key"], keep="last", maintain_order=True)
        last = last.with_columns(pl.lit(-1, pl.Int32).alias("order"))
    return Links(len(ordered_ids), last, written)


def _in_time_order(last: pl.DataFrame, out_dir: Path, chunk: list[str]) -> pl.DataFrame:
    """The carried last-seen rows and the chunk's keys, sorted by resource, then time."""
    scans = [
        pl.scan_parquet(State.dir(out_dir, sid) / State.KEYS).with_columns(
            pl.lit(order, pl.Int32).alias("order")
        )
        for order, sid in enumerate(chunk)
    ]
    return pl.concat([last.lazy(), *scans]).sort("label", "resource_key", "order").collect()


def _version_lines(ordered: pl.DataFrame, versioned: list[str]) -> pl.DataFrame:
    """NEXT_VERSION lines: each row after another of the same resource links from it."""
    same = (pl.col("label") == pl.col("label").shift(1)) & (
        pl.col("resource_key") == pl.col("resource_key").shift(1)
    )
    return (
        ordered.lazy()
        .with_columns(
            pl.when(same).then(pl.col("uid").shift(1)).alias("start"),
            pl.when(same).then(pl.col("fingerprint").shift(1)).alias("fingerprint_before"),
        )
        .filter(pl.col("start").is_not_null() & pl.col("label").is_in(versioned))
        .select(
            "order",
            "label",
            "start",
            csvfmt.line_expr(
                [
                    (pl.col("start"), "string"),
                    (pl.col("uid"), "string"),
                    (pl.col("fingerprint_before") != pl.col("fingerprint"), "boolean"),
                ]
            ),
        )
        .sort("order", "label", "start")
        .collect()
    )
