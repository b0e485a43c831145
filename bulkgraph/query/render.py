"""Rows to a table, JSON, JSON lines or CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table


def cell_text(value: Any) -> str:
    """A cell for humans and CSV: lists joined with `; `, maps as JSON, nothing for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "; ".join(cell_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def to_csv(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell_text(row.get(c)) for c in columns])
    return buffer.getvalue()


def to_jsonl(rows: Sequence[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, default=str) + "\n" for row in rows)


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, default=str) + "\n"


def print_table(
    console: Console, columns: Sequence[str], rows: Sequence[dict[str, Any]], title: str = ""
) -> None:
    table = Table(title=title or None, show_lines=False, highlight=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(cell_text(row.get(c)) for c in columns))
    if not console.is_terminal:
        # redirected: no terminal width to fit, so columns keep their natural width
        console = Console(file=console.file, width=100_000, color_system=None)
    console.print(table)
