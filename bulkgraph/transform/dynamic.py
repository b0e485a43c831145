"""Relationship properties named by the data (`RelSchema.dynamic`: PEERED_TO's `tag_<key>`).

A part file's columns are fixed by its header, but which keys exist is known only once every
snapshot is transformed. So each snapshot's transform keeps such a relationship's rows and its
(key, value) pairs in its state folder (`state/<snapshot_id>/<group>.rows.parquet` and
`.pairs.parquet`) instead of writing its part, and the final pass (`write_parts`) writes every
snapshot's part with one column per key of all snapshots. The pairs count for the
fingerprints of both ends like any other property of the relationship.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from bulkgraph import csvfolder
from bulkgraph.csvfolder import RELATIONSHIPS, State
from bulkgraph.transform import csvfmt
from bulkgraph.transform.declare import DynamicProps, RelSchema
from bulkgraph.transform.keys import uid
from bulkgraph.transform.types import kind


def _dynamic(schema: RelSchema) -> DynamicProps:
    if schema.dynamic is None:
        raise ValueError(f"{schema.group} declares no dynamic properties")
    return schema.dynamic


def pairs(schema: RelSchema, frames: list[pl.DataFrame]) -> pl.DataFrame:
    """The (by, key, value) pairs of one snapshot; the first value of a key wins."""
    by = _dynamic(schema).by
    if not frames:
        return pl.DataFrame(schema={by: pl.String, "key": pl.String, "value": pl.String})
    return pl.concat(frames).unique([by, "key"], keep="first", maintain_order=True)


def fingerprint_text(schema: RelSchema, found: pl.DataFrame) -> pl.DataFrame | None:
    """by -> `key=value` lines in key order (column `_dynamic`), or None without pairs."""
    if found.height == 0:
        return None
    by = _dynamic(schema).by
    return (
        found.sort("key")
        .group_by(by)
        .agg(pl.concat_str(["key", "value"], separator="=").str.join("\n").alias("_dynamic"))
    )


def _paths(sdir: Path, schema: RelSchema) -> tuple[Path, Path]:
    return sdir / State.dynamic_rows(schema.group), sdir / State.dynamic_pairs(schema.group)


def keep(
    sdir: Path, snapshot_id: str, schema: RelSchema, rows: pl.DataFrame | None, found: pl.DataFrame
) -> None:
    """Keep one snapshot's rows (`start_rk`, `end_rk`, properties) and pairs for the end."""
    rows_path, pairs_path = _paths(sdir, schema)
    props = [p.name for p in schema.props]
    if rows is None:
        rows = pl.DataFrame(
            schema={
                "start": pl.String,
                "end": pl.String,
                **{p.name: kind(p.type).dtype() for p in schema.props},
            }
        )
    else:
        rows = rows.select(
            uid(snapshot_id, pl.col("start_rk")).alias("start"),
            uid(snapshot_id, pl.col("end_rk")).alias("end"),
            *props,
        )
    rows.write_parquet(rows_path)
    found.write_parquet(pairs_path)


def write_parts(
    out_dir: Path, sdirs: dict[str, Path], schema: RelSchema
) -> tuple[RelSchema, dict[str, int], bool]:
    """Every snapshot's part of `schema` with a column per key of all snapshots (`sdirs`:
    snapshot id -> its state folder, in time order). Returns the schema as written (its
    header), rows per snapshot, and whether a field holds a line break."""
    dynamic = _dynamic(schema)
    found = {sid: pl.read_parquet(_paths(sdir, schema)[1]) for sid, sdir in sdirs.items()}
    columns = dynamic.columns({k for df in found.values() for k in df["key"].to_list()})
    written = schema.widened(columns.values())
    rows: dict[str, int] = {}
    multiline = False
    for sid, sdir in sdirs.items():
        path = out_dir / csvfolder.part_path(RELATIONSHIPS, schema.group, sid)
        df = pl.read_parquet(_paths(sdir, schema)[0])
        if df.height == 0:
            path.unlink(missing_ok=True)
            continue
        for key, col in columns.items():
            values = found[sid].filter(pl.col("key") == key)
            df = df.join(
                values.select(dynamic.by, pl.col("value").alias(col)), on=dynamic.by, how="left"
            )
        df = df.sort(["start", "end", dynamic.by])
        cols = [("start", "string"), ("end", "string"), *csvfmt.prop_cols(written.props)]
        multiline |= csvfmt.write_lines(path, csvfmt.lines(df, cols))
        rows[sid] = df.height
    return written, rows, multiline
