"""The CSV dialect that neo4j-admin import and LOAD CSV both read identically.

Verified on Neo4j 5.26: LOAD CSV reads backslash escapes inside quotes (`\\"` and `\\\\`)
while the importer by default does not, so the importer is run with
`--legacy-style-quoting=true` and every present string is written quoted, with `"` doubled
and `\\` doubled. Then both read the same text for commas, quotes, newlines (importer:
`--multiline-fields=true`, passed only when a field holds one: see `import_options`),
backslashes anywhere, unicode and leading/trailing spaces. An
unquoted empty field is an absent property, a quoted `""` is the empty string, in both.
Numbers, booleans and datetimes are written unquoted: they never hold special characters.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from bulkgraph.transform.declare import Prop
from bulkgraph.transform.types import ESCAPED, kind, quoted

#: Options the importer needs to read these files the way LOAD CSV does.
IMPORT_CSV_OPTIONS: tuple[str, ...] = (
    "--delimiter=,",
    "--array-delimiter=;",
    '--quote="',
    "--legacy-style-quoting=true",
    "--id-type=string",
)
#: Needed only when a field holds a line break, and costly: the importer then cannot cut its
#: input at any newline (docs/benchmarks.md, "Measurements behind the design"). AWS names,
#: tags and descriptions cannot hold line breaks, so the transform records whether any
#: written field does.
MULTILINE_OPTION = "--multiline-fields=true"


def import_options(multiline: bool) -> list[str]:
    """The CSV options of the importer for files with (or without) line breaks in fields."""
    return [*IMPORT_CSV_OPTIONS, *([MULTILINE_OPTION] if multiline else [])]


def encode(expr: pl.Expr, prop_type: str) -> pl.Expr:
    """One CSV cell (types.py gives each type's); null gives the empty (absent) cell."""
    return kind(prop_type).cell(expr).fill_null("")


def line_expr(cells: list[tuple[pl.Expr, str]]) -> pl.Expr:
    """The CSV line (column "line") of the cells (expression, type), in that order."""
    return pl.concat_str([encode(e, t) for e, t in cells], separator=",").alias("line")


def cells(df: pl.DataFrame, cols: list[tuple[str, str]]) -> list[pl.Expr]:
    """The CSV cells (`encode`) of `cols` (name, type) of `df`.

    A string column with nothing to escape (ids, keys and most names) is only quoted: the
    same cells, without two passes that copy every string (about 40 % of `lines`' CPU on a
    10k-instance snapshot)."""
    strings = list(
        dict.fromkeys(name for name, t in cols if t == "string" and df.schema[name] == pl.String)
    )
    # every column's check in one pass (a polars call per column cost more than the check)
    found = df.select(pl.col(n).str.contains(ESCAPED).any() for n in strings) if strings else None
    plain = {n for n in strings if found is None or not found[n].item()}
    return [
        quoted(pl.col(name)).fill_null("") if name in plain else encode(pl.col(name), t)
        for name, t in cols
    ]


def lines(df: pl.DataFrame, cols: list[tuple[str, str]]) -> pl.Series:
    """Each row of `df` as one CSV line over `cols` (name, type)."""
    return df.select(pl.concat_str(cells(df, cols), separator=",").alias("line")).to_series()


def split_lines(
    df: pl.DataFrame, cols: list[tuple[str, str]], head: int, *, line: bool = True
) -> pl.DataFrame:
    """Each row of `df` as its CSV line over `cols` (`line`: what `lines` gives; left out
    when not `line`), with the cells of its first `head` columns (`cell0`, `cell1`, ...) and
    the text after the comma that ends them (`tail`; null when `cols` has no more than
    `head` columns)."""
    found = cells(df, cols)
    heads, rest = found[:head], found[head:]
    names = [f"cell{i}" for i in range(len(heads))]
    tail = pl.concat_str(rest, separator=",") if rest else pl.lit(None, pl.String)
    out = df.select(*(e.alias(n) for e, n in zip(heads, names, strict=True)), tail.alias("tail"))
    if not line:
        return out
    line_of = [*names, *(["tail"] if rest else [])]
    return out.with_columns(pl.concat_str(line_of, separator=",").alias("line"))


#: Below this many lines a part is written from Python: polars' CSV writer has a fixed cost
#: per call that outweighs its speed on small parts, and the linking pass writes many small
#: parts (docs/benchmarks.md, "Measurements behind the design").
_SMALL_PART = 5000


def write_lines(path: Path, rows: pl.Series) -> bool:
    """Write `rows` (from `lines`) to `path`; True when a field holds a line break."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if len(rows) < _SMALL_PART:
        text = "\n".join(rows.to_list())
        # a break inside a field shows as more breaks than between the lines
        multiline = "\r" in text or text.count("\n") != max(len(rows) - 1, 0)
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            fh.write(text + "\n" if len(rows) else "")
    else:
        multiline = bool(rows.str.contains(r"[\r\n]").any())
        # finished CSV lines, written as they are, one per line, by polars (no Python
        # string per line)
        rows.to_frame("line").write_csv(tmp, include_header=False, quote_style="never")
    tmp.replace(path)
    return multiline


def prop_cols(props: tuple[Prop, ...]) -> list[tuple[str, str]]:
    return [(p.name, p.type) for p in props]
