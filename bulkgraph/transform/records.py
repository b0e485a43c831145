"""Raw API pages to polars frames, and typed field extraction with rejects.

Every record becomes one row holding its JSON text (`raw`) and its position in its file;
the lists the mapping needs (tags, rules, group ids...) become child frames pointing at
their parent row. That is the only Python loop over records: everything after it (field
extraction, type checks, joins, explodes) is polars.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

RAW_SCHEMA = {"file": pl.String, "pos": pl.Int64, "raw": pl.String}
CHILD_SCHEMA = {
    "file": pl.String,
    "pos": pl.Int64,
    "field": pl.String,
    "idx": pl.Int64,
    "raw": pl.String,
}


@dataclass
class Table:
    """Records of one kind: `main` one row per record, `children` one row per list element."""

    main: pl.DataFrame
    children: pl.DataFrame
    #: records whose list fields had the wrong shape: (file, pos, reason)
    bad: list[tuple[str, int, str]] = field(default_factory=list)

    def child(self, name: str) -> pl.DataFrame:
        """The elements of list field `name`, joined to their parent's `file`/`pos`."""
        return self.children.filter(pl.col("field") == name).drop("field")


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def table(
    items: Iterable[tuple[str, int, Any]],
    list_fields: tuple[str, ...] = (),
    extra: dict[str, Any] | None = None,
) -> Table:
    """`items` are (file, position, record); `extra` values are merged into every record."""
    main: list[tuple[str, int, str]] = []
    children: list[tuple[str, int, str, int, str]] = []
    bad: list[tuple[str, int, str]] = []
    for file, pos, rec in items:
        if not isinstance(rec, dict):
            bad.append((file, pos, f"expected an object, got {type(rec).__name__}"))
            continue
        if extra:
            rec = {**rec, **extra}
        wrong = [n for n in list_fields if rec.get(n) is not None and not isinstance(rec[n], list)]
        if wrong:
            got = type(rec[wrong[0]]).__name__
            bad.append((file, pos, f"{wrong[0]}: expected a list, got {got}"))
            continue
        main.append((file, pos, _dumps(rec)))
        for name in list_fields:
            children.extend(
                (file, pos, name, i, _dumps(v)) for i, v in enumerate(rec.get(name) or [])
            )
    return Table(
        pl.DataFrame(main, schema=RAW_SCHEMA, orient="row"),
        pl.DataFrame(children, schema=CHILD_SCHEMA, orient="row"),
        bad,
    )


def text(path: str) -> pl.Expr:
    """A JSON path of `raw` as text (numbers and booleans as their JSON text)."""
    return pl.col("raw").str.json_path_match(path)


def nonempty(expr: pl.Expr) -> pl.Expr:
    """AWS sends "" for some absent values (a DNS name of a stopped instance): absent."""
    return pl.when(expr == "").then(None).otherwise(expr).name.keep()


@dataclass
class Rejects:
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add_frame(self, snapshot_id: str, df: pl.DataFrame) -> None:
        for file, pos, reason in zip(df["file"], df["pos"], df["reason"], strict=True):
            self.rows.append(
                {"snapshot": snapshot_id, "file": file, "record": pos, "reason": reason}
            )

    def add(self, snapshot_id: str, bad: list[tuple[str, int, str]]) -> None:
        for file, pos, reason in bad:
            self.rows.append(
                {"snapshot": snapshot_id, "file": file, "record": pos, "reason": reason}
            )


def _is_scalar_text(expr: pl.Expr) -> pl.Expr:
    return ~(expr.str.starts_with("{") | expr.str.starts_with("["))


def typed(
    df: pl.DataFrame,
    fields: dict[str, tuple[str, str]],
    required: tuple[str, ...],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Extract `fields` {column: (json path, type)} from `raw`; split off bad records.

    A record is bad when a required field is missing or not a scalar, or when a present value
    does not convert to its type. Returns (good rows with typed columns, rejects with reason).
    """
    df = df.with_columns(text(path).alias(name) for name, (path, _) in fields.items())
    reasons: list[pl.Expr] = []
    conv: list[pl.Expr] = []
    for name, (path, kind) in fields.items():
        col = pl.col(name)
        if path in required:
            reasons.append(pl.when(col.is_null()).then(pl.lit(f"missing {path}")))
            reasons.append(
                pl.when(~_is_scalar_text(col)).then(pl.lit(f"{path}: expected a scalar"))
            )
        if kind == "int":
            value = col.cast(pl.Int64, strict=False)
        elif kind == "boolean":
            value = col.replace_strict({"true": True, "false": False}, default=None)
        elif kind == "datetime":
            parsed = col.str.to_datetime(time_zone="UTC", strict=False)
            value = pl.when(parsed.is_null()).then(None).otherwise(col)
        else:
            value = pl.when(_is_scalar_text(col)).then(col)
        reasons.append(
            pl.when(col.is_not_null() & value.is_null()).then(
                pl.concat_str([pl.lit(f"{path}: expected {kind}, got "), col.str.slice(0, 60)])
            )
        )
        conv.append(value.alias(name))
    df = df.with_columns(pl.coalesce(reasons).alias("reason") if reasons else pl.lit(None))
    bad = df.filter(pl.col("reason").is_not_null()).select("file", "pos", "reason")
    good = df.filter(pl.col("reason").is_null()).with_columns(conv).drop("reason")
    return good, bad
