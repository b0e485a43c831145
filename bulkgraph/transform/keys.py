"""Resource keys and uids as polars expressions.

`resource_key` = `<Label>|<k1>[|<k2>..]` with `\\` and `|` escaped inside each key part, so
that two different key tuples never give the same text; `uid` = `<snapshot_id>|<resource_key>`
(snapshot ids cannot hold `|`, so the uid is injective too).
"""

from __future__ import annotations

import polars as pl


def escape(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace_all("\\", "\\\\", literal=True).str.replace_all(
        "|", "\\|", literal=True
    )


def escape_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|")


def resource_key(label: str, keys: list[pl.Expr]) -> pl.Expr:
    return pl.concat_str([pl.lit(label), *(escape(k) for k in keys)], separator="|")


def resource_key_text(label: str, keys: list[str]) -> str:
    return "|".join([label, *(escape_text(k) for k in keys)])


def uid(snapshot_id: str, rk: pl.Expr) -> pl.Expr:
    return pl.concat_str([pl.lit(snapshot_id + "|"), rk])


def uid_text(snapshot_id: str, rk: str) -> str:
    return f"{snapshot_id}|{rk}"


def key_in_uid_cell(snapshot_id: str) -> int:
    """Where the resource key starts in the CSV cell of a uid of the snapshot: after the
    cell's opening quote and `<snapshot_id>|` (the rest is the key, its quotes doubled, and
    the closing quote)."""
    return len(snapshot_id) + 2


def snapshot_uid(snapshot_id: str) -> str:
    """The uid of a snapshot's Snapshot node."""
    return uid_text(snapshot_id, resource_key_text("Snapshot", [snapshot_id]))
