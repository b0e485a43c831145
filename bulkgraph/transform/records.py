"""Raw API pages to polars frames, and typed field extraction with rejects.

Records are parsed once, by the archive reader. One Python pass over them picks out the
fields the mapping needs (by JSON path) and the elements of the lists it needs (tags, rules,
group ids...), as text: a string as itself, a number or boolean as its JSON text, an object
or array as its JSON text, absent or null as null (the contract of polars'
`str.json_path_match`, which the first version ran on every record re-serialised to JSON:
half the transform's time). Everything after that pass (type checks, joins, explodes) is
polars.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import methodcaller
from typing import Any, cast

import polars as pl

from bulkgraph.transform.types import is_scalar_text, kind

#: column -> JSON path: "$.State.Name", or "$" for a list element itself
Paths = dict[str, str]
#: column -> (JSON path, type), the fields `typed` checks and converts
TypedFields = dict[str, tuple[str, str]]


def paths_of(fields: TypedFields) -> Paths:
    """The JSON path of each of `fields`: what `table` reads for `typed` to check."""
    return {name: path for name, (path, _) in fields.items()}


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def as_text(value: Any) -> str | None:
    """A JSON value as `str.json_path_match` gives it."""
    kind = type(value)
    if kind is str or value is None:
        return cast(str | None, value)
    if kind is int:
        return str(value)  # what json.dumps gives, without its machinery
    if kind is bool:
        return "true" if value else "false"
    return _dumps(value)


def values_at(path: str, items: list[Any]) -> list[Any]:
    """The parsed value at `path` of each item (None where an item has none)."""
    if path == "$":
        return items
    if not path.startswith("$."):
        raise ValueError(f"unsupported JSON path {path!r}")
    steps = path[2:].split(".")
    if len(steps) == 1:
        name = steps[0]
        try:
            # parsed JSON: only objects have .get; map + methodcaller loop in C
            return list(map(methodcaller("get", name), items))
        except AttributeError:  # an element that is not an object
            return [v.get(name) if isinstance(v, dict) else None for v in items]
    out: list[Any] = []
    for value in items:
        for step in steps:
            value = value.get(step) if isinstance(value, dict) else None
        out.append(value)
    return out


def text_series(name: str, values: list[Any]) -> pl.Series:
    """`values` as a String column of their `as_text`."""
    try:
        # the usual case, every value a string or absent: no Python work per value
        return pl.Series(name, values, dtype=pl.String, strict=True)
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
        return pl.Series(name, [as_text(v) for v in values], dtype=pl.String)


def texts_at(path: str, items: list[Any], name: str) -> pl.Series:
    """The text at `path` of each item, as `str.json_path_match` would give it."""
    return text_series(name, values_at(path, items))


@dataclass
class Table:
    """Records of one kind: `main` one row per record, `children` one frame per list field.

    `main` holds `file`, `pos` and one text column per requested field; a child frame holds
    `file`, `pos` (its parent's), `idx` (its place in the list) and one text column per
    requested path. `objects` keeps the parsed elements of the lists asked to be kept.
    """

    main: pl.DataFrame
    children: dict[str, pl.DataFrame]
    #: records whose list fields had the wrong shape: (file, pos, reason)
    bad: list[tuple[str, int, str]] = field(default_factory=list)
    #: list field -> [(file, parent pos, idx, element)]
    objects: dict[str, list[tuple[str, int, int, Any]]] = field(default_factory=dict)

    def child(self, name: str) -> pl.DataFrame:
        return self.children[name]


def _frame(
    keys: dict[str, tuple[pl.DataType, list[Any]]], items: list[Any], paths: Paths
) -> pl.DataFrame:
    data = [pl.Series(n, v, dtype=t) for n, (t, v) in keys.items()]
    data += [texts_at(path, items, n) for n, path in paths.items()]
    return pl.DataFrame(data)


def table(
    items: Iterable[tuple[str, int, Any]],
    fields: Paths,
    lists: dict[str, Paths] | None = None,
    keep: tuple[str, ...] = (),
) -> Table:
    """`items` are (file, position, parsed record); pick `fields` and the `lists` elements.

    A record that is not an object, or whose list field is not a list, is bad: it is left
    out and reported.
    """
    lists = lists or {}
    names = tuple(dict.fromkeys([*lists, *keep]))
    files: list[str] = []
    poss: list[int] = []
    recs: list[dict[str, Any]] = []
    bad: list[tuple[str, int, str]] = []
    for file, pos, rec in items:
        if not isinstance(rec, dict):
            bad.append((file, pos, f"expected an object, got {type(rec).__name__}"))
            continue
        wrong = [n for n in names if rec.get(n) is not None and not isinstance(rec[n], list)]
        if wrong:
            got = type(rec[wrong[0]]).__name__
            bad.append((file, pos, f"{wrong[0]}: expected a list, got {got}"))
            continue
        files.append(file)
        poss.append(pos)
        recs.append(rec)
    string, int64 = pl.String(), pl.Int64()
    # column at a time: a comprehension per field, or none at all (see text_series)
    main = _frame({"file": (string, files), "pos": (int64, poss)}, recs, fields)
    children: dict[str, pl.DataFrame] = {}
    objects: dict[str, list[tuple[str, int, int, Any]]] = {}
    for name in names:
        c_file: list[str] = []
        c_pos: list[int] = []
        c_idx: list[int] = []
        elements: list[Any] = []
        for file, pos, rec in zip(files, poss, recs, strict=True):
            found = rec.get(name)
            if found:
                n = len(found)
                c_file += [file] * n
                c_pos += [pos] * n
                c_idx += range(n)
                elements += found
        if name in lists:
            keys: dict[str, tuple[pl.DataType, list[Any]]] = {
                "file": (string, c_file),
                "pos": (int64, c_pos),
                "idx": (int64, c_idx),
            }
            children[name] = _frame(keys, elements, lists[name])
        if name in keep:
            objects[name] = list(zip(c_file, c_pos, c_idx, elements, strict=True))
    return Table(main, children, bad, objects)


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


def typed(
    df: pl.DataFrame,
    fields: TypedFields,
    required: tuple[str, ...],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Type the text columns `fields` {column: (json path, type)} of `df`; split off bad rows.

    A record is bad when a required field is missing or not a scalar, or when a present value
    does not convert to its type. Returns (good rows with typed columns, rejects with reason).
    """
    reasons: list[pl.Expr] = []
    conv: list[pl.Expr] = []
    for name, (path, type_name) in fields.items():
        col = pl.col(name)
        if path in required:
            reasons.append(pl.when(col.is_null()).then(pl.lit(f"missing {path}")))
            reasons.append(pl.when(~is_scalar_text(col)).then(pl.lit(f"{path}: expected a scalar")))
        parse = kind(type_name).parse
        if parse is None:
            raise ValueError(f"{path}: a {type_name} cannot be read from one field")
        value = parse(col)
        reasons.append(
            pl.when(col.is_not_null() & value.is_null()).then(
                pl.concat_str([pl.lit(f"{path}: expected {type_name}, got "), col.str.slice(0, 60)])
            )
        )
        conv.append(value.alias(name))
    df = df.with_columns(pl.coalesce(reasons).alias("reason") if reasons else pl.lit(None))
    bad = df.filter(pl.col("reason").is_not_null()).select("file", "pos", "reason")
    good = df.filter(pl.col("reason").is_null()).with_columns(conv).drop("reason")
    return good, bad
