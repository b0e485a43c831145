"""The one output path of every command: results on stdout as JSON, JSON lines, a table or CSV.

Every value first becomes JSON-ready (`bulkgraph.jsonable.to_jsonable`): a datetime is its
ISO 8601 text, a Neo4j temporal value its `iso_format()`, a node its properties. JSON and JSON
lines carry that value; a table or CSV cell shows `cell_text` of it, so the same value reads
the same in every format and every command.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from bulkgraph.jsonable import to_jsonable

Row = Mapping[str, Any]


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


FORMAT_HELP = "table, json, jsonl or csv; default: a table on a terminal, JSON when piped."


def resolve_format(fmt: OutputFormat | None) -> OutputFormat:
    """The format asked for, else a table for a person at a terminal and JSON for a pipe."""
    if fmt is not None:
        return fmt
    return OutputFormat.table if sys.stdout.isatty() else OutputFormat.json


def cell_text(value: Any) -> str:
    """A value as the text of one table or CSV cell.

    Null is empty; booleans `true`/`false`; text as it is; numbers and temporal values as
    in JSON; lists and maps as compact JSON (lossless, and what a spreadsheet or `jq` reads).
    """
    value = to_jsonable(value)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def json_text(value: Any) -> str:
    """A whole document as indented JSON (ASCII-escaped: any locale, any consumer)."""
    return json.dumps(to_jsonable(value), indent=2) + "\n"


def jsonl_text(rows: Iterable[Any]) -> str:
    """One compact JSON document per line."""
    return "".join(json.dumps(to_jsonable(row)) + "\n" for row in rows)


def csv_text(columns: Sequence[str], rows: Iterable[Row]) -> str:
    """A header line and one line per row, cells as `cell_text`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell_text(row.get(c)) for c in columns])
    return buffer.getvalue()


def columns_of(rows: Iterable[Row]) -> list[str]:
    """Every key of the rows, in the order first seen (for rows without a declared header)."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return list(columns)


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def print_json(value: Any) -> None:
    """A machine-readable document on stdout: plain JSON, no colours, no wrapping."""
    _write(json_text(value))


def print_table(columns: Sequence[str], rows: Iterable[Row], title: str = "") -> None:
    """Rows as a table on stdout, cells as `cell_text`; values are never read as markup."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from bulkgraph.console import out

    table = Table(title=title or None, highlight=False)
    for column in columns:
        table.add_column(Text(column), overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell_text(row.get(c))) for c in columns))
    console = out
    if not console.is_terminal:
        # redirected: no terminal width to fit, so columns keep their natural width
        console = Console(file=sys.stdout, width=100_000, color_system=None)
    console.print(table)


def emit(
    fmt: OutputFormat | None,
    rows: Sequence[Row],
    columns: Sequence[str] | None = None,
    *,
    doc: Any = None,
    title: str = "",
) -> None:
    """Rows in the format asked for (see `resolve_format`).

    `columns` default to the rows' keys; `doc` is the JSON document when it is more than the
    rows (e.g. with the snapshots a query ran in).
    """
    fmt = resolve_format(fmt)
    cols = list(columns) if columns is not None else columns_of(rows)
    if fmt is OutputFormat.json:
        print_json(rows if doc is None else doc)
    elif fmt is OutputFormat.jsonl:
        _write(jsonl_text(rows))
    elif fmt is OutputFormat.csv:
        _write(csv_text(cols, rows))
    elif not cols:
        from bulkgraph.console import err

        err.print("(no rows)")
    else:
        print_table(cols, rows, title=title)
