"""The property types of the graph, and everything each one means, in one table.

A type is named in the declarations (`Prop.type`); this module says how a value of it is
read from the text of an API field, held in polars, written to a CSV cell, declared in a
neo4j-admin header, and converted back by LOAD CSV. Nothing else interprets type names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import polars as pl

PropType = Literal["string", "int", "long", "float", "boolean", "datetime", "string[]"]


def is_scalar_text(expr: pl.Expr) -> pl.Expr:
    """The text of a JSON scalar (records.py gives objects and arrays as their JSON text)."""
    return ~(expr.str.starts_with("{") | expr.str.starts_with("["))


#: the characters a string cell escapes (by doubling them): a column without any of them
#: is written by `quoted` alone, the same text for less work
ESCAPED = r'["\\]'


def quoted(expr: pl.Expr) -> pl.Expr:
    """The string cell of text holding no character of `ESCAPED`: only quoted."""
    return pl.concat_str([pl.lit('"'), expr, pl.lit('"')])


def _string_cell(expr: pl.Expr) -> pl.Expr:
    """Quoted, `"` doubled and `\\` doubled (csvfmt.py says why)."""
    body = expr.str.replace_all("\\", "\\\\", literal=True).str.replace_all('"', '""', literal=True)
    return quoted(body)


def _boolean_cell(expr: pl.Expr) -> pl.Expr:
    cell = pl.when(expr).then(pl.lit("true")).otherwise(pl.lit("false"))
    return pl.when(expr.is_null()).then(None).otherwise(cell)


def _plain_cell(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.String)


def _integer(text: pl.Expr) -> pl.Expr:
    return text.cast(pl.Int64, strict=False)


def _datetime_value(text: pl.Expr) -> pl.Expr:
    # kept as the text AWS sent, once it is known to parse: neo4j reads ISO 8601
    parsed = text.str.to_datetime(time_zone="UTC", strict=False)
    return pl.when(parsed.is_null()).then(None).otherwise(text)


@dataclass(frozen=True)
class Kind:
    name: str
    #: the polars type of the column between extraction and the CSV
    dtype: Callable[[], pl.DataType]
    #: LOAD CSV: the Cypher turning a cell (always a string) into a value; `{}` is the cell
    cypher: str
    #: the CSV cell of a value; null gives null (the caller writes the empty, absent cell)
    cell: Callable[[pl.Expr], pl.Expr]
    #: the value of an API field's text (records.py); null where it does not convert
    parse: Callable[[pl.Expr], pl.Expr] | None

    @property
    def header_suffix(self) -> str:
        """neo4j-admin header: `name` for strings, `name:type` otherwise."""
        return "" if self.name == "string" else f":{self.name}"


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "string",
            pl.String,
            "{}",
            _string_cell,
            lambda t: pl.when(is_scalar_text(t)).then(t),
        ),
        Kind(
            "int", pl.Int64, "toInteger({})", _plain_cell, lambda t: t.cast(pl.Int64, strict=False)
        ),
        Kind(
            "long", pl.Int64, "toInteger({})", _plain_cell, lambda t: t.cast(pl.Int64, strict=False)
        ),
        Kind(
            "float",
            pl.Float64,
            "toFloat({})",
            _plain_cell,
            lambda t: t.cast(pl.Float64, strict=False),
        ),
        Kind(
            "boolean",
            pl.Boolean,
            "toBoolean({})",
            _boolean_cell,
            lambda t: t.replace_strict({"true": True, "false": False}, default=None),
        ),
        Kind("datetime", pl.String, "datetime({})", _plain_cell, _datetime_value),
        Kind(
            "string[]",
            lambda: pl.List(pl.String()),
            "split({}, ';')",
            lambda e: _string_cell(e.list.join(";")),
            None,
        ),
    )
}


def kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown property type {name!r} (known: {', '.join(KINDS)})") from None
