"""What the per-snapshot transform hands to the versions layout's pass (versions.py).

The pass compares each node's and relationship's properties as the text of its CSV line
(docs/versions-layout.md). It used to cut that text out of the part files, a regular
expression over every line of every part, ~60 MB a night on a 10k-instance estate, in the
one process that runs after all the others: about half of its time. The worker that writes
the lines has their cells at hand and is one of many, so it writes the cut text alongside
(`state/<snapshot_id>/compared-text.parquet`) and the pass reads that.

One row per node of a label the pass versions or shares (not Snapshot) and per relationship
of a group written per snapshot (not a Snapshot's CONTAINS), in part order when the parts
are written. When they are not, only the nodes of shared labels (Tag...) keep that order
(the pass writes them in the order first seen); versions and relationships come in no set
order, since the pass sorts every line of theirs it writes (sorting them was ~5 % of a
worker's CPU):

- `kind` ("n" or "r"), `group` (a node's label, a relationship's group),
- `start`: a node's uid, a relationship's start id, as their CSV cells (quoted),
- `end`: a relationship's end id as its cell (null for a node),
- `props`: a node's line after its fourth field's comma (`stub` on); a relationship's line
  after its end id (from the comma before its first property; "" with none).

A node's resource key is its uid without the snapshot id (uid = `<snapshot_id>|<key>`).
Relationships with properties named by the data (PEERED_TO) are written by the sequential
pass and read from their parts there (`versions._read_rels`).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from bulkgraph.csvfolder import State
from bulkgraph.errors import InputError
from bulkgraph.transform.keys import key_in_uid_cell

#: fields of a node line before its properties: uid, snapshot_id, resource_key, fingerprint
NODE_HEAD = 4

_SCHEMA = {
    "kind": pl.String,
    "group": pl.String,
    "start": pl.String,
    "end": pl.String,
    "props": pl.String,
}


def contains(group: str) -> bool:
    """A Snapshot's CONTAINS: none in the versions layout."""
    return group.startswith("CONTAINS__Snapshot__")


def node_rows(label: str, split: pl.DataFrame) -> pl.DataFrame:
    """The rows of a label's nodes from `csvfmt.split_lines(..., NODE_HEAD)` of its part."""
    return split.select(
        pl.lit("n").alias("kind"),
        pl.lit(label).alias("group"),
        pl.col("cell0").alias("start"),
        pl.lit(None, pl.String).alias("end"),
        pl.col("tail").alias("props"),
    )


def rel_rows(group: str, split: pl.DataFrame) -> pl.DataFrame:
    """The rows of a group's relationships from `csvfmt.split_lines(..., 2)` of its part."""
    return split.select(
        pl.lit("r").alias("kind"),
        pl.lit(group).alias("group"),
        pl.col("cell0").alias("start"),
        pl.col("cell1").alias("end"),
        (pl.lit(",") + pl.col("tail")).fill_null("").alias("props"),
    )


def write(state_dir: Path, frames: list[pl.DataFrame]) -> None:
    """`frames` (each of one group) one after the other: `read` cuts them out again."""
    path = state_dir / State.VERSIONS_INPUT
    rows = pl.concat(frames) if frames else pl.DataFrame(schema=_SCHEMA)
    rows.select(list(_SCHEMA)).write_parquet(path, compression="lz4", statistics=False)


def read(out_dir: Path, sid: str) -> dict[str, pl.DataFrame]:
    """The snapshot's rows by group, in the order the module doc gives."""
    path = State.dir(out_dir, sid) / State.VERSIONS_INPUT
    try:
        rows = pl.read_parquet(path)
    except (OSError, pl.exceptions.ComputeError) as exc:
        raise InputError(
            f"{path}: cannot read what the transform of snapshot {sid} wrote for the "
            f"versions layout ({exc}); transform it again with --force"
        ) from exc
    # node labels and relationship groups never share a name ("TYPE__Start__End"); `write`
    # puts each group's rows together, so they are cut out by its runs: partitioning
    # (hashing every row's group) was two thirds of reading a night
    runs = rows.select(pl.col("group").rle()).unnest("group")
    if runs["value"].is_duplicated().any():  # not written by `write`: taken as it comes
        return {str(g): f for (g,), f in rows.partition_by("group", as_dict=True).items()}
    out: dict[str, pl.DataFrame] = {}
    at = 0
    for length, group in runs.iter_rows():
        out[str(group)] = rows.slice(at, length)
        at += length
    return out


NODES_SCHEMA = {"rk": pl.String, "label": pl.String, "suid": pl.String, "props": pl.String}


def nodes(given: dict[str, pl.DataFrame], sid: str, labels: list[str]) -> pl.DataFrame:
    """rk, label, suid, props of the nodes of `labels` in `given` (from `read`), label by
    label in that order."""
    frames = [
        given[label].select(
            (pl.lit('"') + pl.col("start").str.slice(key_in_uid_cell(sid))).alias("rk"),
            pl.col("group").alias("label"),
            pl.col("start").alias("suid"),
            "props",
        )
        for label in labels
        if label in given
    ]
    return pl.concat(frames) if frames else pl.DataFrame(schema=NODES_SCHEMA)


def rels(given: dict[str, pl.DataFrame], group: str) -> pl.DataFrame | None:
    """group, s_start, s_end, props of the group's relationships in `given` (from `read`);
    None when the worker wrote none."""
    if group not in given:
        return None
    return given[group].select(
        "group", pl.col("start").alias("s_start"), pl.col("end").alias("s_end"), "props"
    )
