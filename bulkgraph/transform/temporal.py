"""Links across snapshots: NEXT between consecutive snapshots, NEXT_VERSION between versions.

A sequential pass over the small per-snapshot key files in time order, keeping one "last
seen" frame (label, resource_key, uid, fingerprint): memory grows with distinct resources,
not with snapshots, and each snapshot's transform stays independent of the others.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import polars as pl

from bulkgraph.transform import csvfmt
from bulkgraph.transform.schema import NODES
from bulkgraph.transform.snapshot import PART_SUFFIX, state_dir

_KEYS = {"label": pl.String, "resource_key": pl.String, "uid": pl.String, "fingerprint": pl.String}


def link(out_dir: Path, ordered_ids: list[str]) -> dict[str, dict[str, int]]:
    """Write NEXT and NEXT_VERSION parts (named after the later snapshot); group -> part rows."""
    written: dict[str, dict[str, int]] = {}

    def put(group: str, sid: str, df: pl.DataFrame, cols: list[tuple[str, str]]) -> None:
        path = out_dir / "relationships" / group / f"{sid}{PART_SUFFIX}"
        if df.height == 0:
            path.unlink(missing_ok=True)
            return
        csvfmt.write_lines(path, csvfmt.lines(df.sort("start"), cols))
        written.setdefault(group, {})[sid] = df.height

    for prev, nxt in itertools.pairwise(ordered_ids):
        link_df = pl.DataFrame(
            {"start": [f"{prev}|Snapshot|{prev}"], "end": [f"{nxt}|Snapshot|{nxt}"]}
        )
        put("NEXT__Snapshot__Snapshot", nxt, link_df, [("start", "string"), ("end", "string")])

    last = pl.DataFrame(schema=_KEYS)
    versioned = [n.label for n in NODES if n.versioned]
    for sid in ordered_ids:
        cur = pl.read_parquet(state_dir(out_dir, sid) / "keys.parquet")
        pairs = last.join(cur, on=["label", "resource_key"], suffix="_cur").select(
            "label",
            pl.col("uid").alias("start"),
            pl.col("uid_cur").alias("end"),
            (pl.col("fingerprint") != pl.col("fingerprint_cur")).alias("changed"),
        )
        for label in versioned:
            put(
                f"NEXT_VERSION__{label}__{label}",
                sid,
                pairs.filter(pl.col("label") == label),
                [("start", "string"), ("end", "string"), ("changed", "boolean")],
            )
        last = pl.concat(
            [last.join(cur, on=["label", "resource_key"], how="anti"), cur.select(_KEYS.keys())]
        )
    return written
