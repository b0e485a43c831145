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


def list_field(rec: dict[str, Any], name: str) -> Any:
    """The value of list field `name` of a record: a top-level field, or a dotted path of
    objects to one (`DBSubnetGroup.Subnets`); None where the path meets no object."""
    if "." not in name:
        return rec.get(name)
    value: Any = rec
    for step in name.split("."):
        value = value.get(step) if isinstance(value, dict) else None
    return value


def text_series(name: str, values: list[Any], invalid: dict[int, str] | None = None) -> pl.Series:
    """`values` as a String column of their `as_text`.

    A value that is not valid Unicode text (a lone surrogate such as `\\ud800`, which JSON
    escapes can spell) cannot be stored: it becomes null, and its index goes into `invalid`
    with the reason (without `invalid`, the UnicodeEncodeError is raised).
    """
    try:
        # the usual case, every value a string or absent: no Python work per value
        return pl.Series(name, values, dtype=pl.String, strict=True)
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
        texts = [as_text(v) for v in values]
    try:
        return pl.Series(name, texts, dtype=pl.String)
    except UnicodeEncodeError:
        if invalid is None:
            raise
    for i, text in enumerate(texts):
        if text is not None and not _encodable(text):
            texts[i] = None
            invalid.setdefault(i, "not valid Unicode text (a lone surrogate)")
    return pl.Series(name, texts, dtype=pl.String)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def texts_at(
    path: str, items: list[Any], name: str, invalid: dict[int, str] | None = None
) -> pl.Series:
    """The text at `path` of each item, as `str.json_path_match` would give it."""
    found: dict[int, str] = {}
    series = text_series(name, values_at(path, items), found if invalid is not None else None)
    if invalid is not None:
        for i, reason in found.items():
            invalid.setdefault(i, f"{path}: {reason}")
    return series


@dataclass
class Table:
    """Records of one kind: `main` one row per record, `children` one frame per list field.

    `main` holds `file`, `pos`, one text column per requested field and `_invalid` (why the
    record cannot be used, or null: `typed` rejects it); a child frame holds `file`, `pos`
    (its parent's), `idx` (its place in the list) and one text column per requested path.
    `objects` keeps the parsed elements of the lists asked to be kept.
    """

    main: pl.DataFrame
    children: dict[str, pl.DataFrame]
    #: records whose list fields had the wrong shape: (file, pos, reason)
    bad: list[tuple[str, int, str]] = field(default_factory=list)
    #: list field -> [(file, parent pos, idx, element)]
    objects: dict[str, list[tuple[str, int, int, Any]]] = field(default_factory=dict)
    #: list elements left out of `children` (the record itself is kept): (file, pos, reason)
    dropped: list[tuple[str, int, str]] = field(default_factory=list)

    def child(self, name: str) -> pl.DataFrame:
        return self.children[name]


def _frame(
    keys: dict[str, tuple[pl.DataType, list[Any]]],
    items: list[Any],
    paths: Paths,
    invalid: dict[int, str],
) -> pl.DataFrame:
    data = [pl.Series(n, v, dtype=t) for n, (t, v) in keys.items()]
    data += [texts_at(path, items, n, invalid) for n, path in paths.items()]
    return pl.DataFrame(data)


def _shape_error(rec: dict[str, Any], steps: list[str]) -> str | None:
    """Why the object path `steps` cannot be followed in `rec` (a string where an object
    should be, as a State given as "running" instead of {"Name": "running"}), or None."""
    value: Any = rec
    for n, step in enumerate(steps[:-1]):
        value = value.get(step)
        if value is None:
            return None
        if not isinstance(value, dict):
            where = "$." + ".".join(steps[: n + 1])
            return f"{where}: expected an object, got {type(value).__name__}"
    return None


def _element_error(key_path: str, value: Any, element: Any) -> str | None:
    """Why a list element has no usable key (the value at its list's first path)."""
    if value is None:
        if key_path != "$" and not isinstance(element, dict):
            return f"expected an object, got {type(element).__name__}"
        return f"missing {key_path}"
    if isinstance(value, dict | list):
        return f"{key_path}: expected a scalar, got {type(value).__name__}"
    return None


def _may_lack_key(texts: pl.Series) -> bool:
    """Whether some element's key is absent or not a scalar (then each is looked at)."""
    return bool(texts.null_count()) or bool(
        (texts.str.starts_with("{") | texts.str.starts_with("[")).any()
    )


def table(
    items: Iterable[tuple[str, int, Any]],
    fields: Paths,
    lists: dict[str, Paths] | None = None,
    keep: tuple[str, ...] = (),
) -> Table:
    """`items` are (file, position, parsed record); pick `fields` and the `lists` elements.

    A record that is not an object, or whose list field is not a list, is bad: it is left
    out and reported. A record where a field's path meets a non-object, or with a value that
    is not valid text, is kept with its reason in `_invalid`, for `typed` to reject. The
    first path of each list's paths is its elements' key (a tag's Key, a group's GroupId):
    an element without one, or with invalid text, is dropped and reported in `dropped`.
    Nothing is left out without a reason.
    """
    return built(list(items), fields, lists, keep).table


@dataclass
class Built:
    """A `table` and where its rows came from: what transform/tablecache.py needs to reuse them.

    Its children carry `_row`, the row of `table.main` each element belongs to."""

    table: Table
    #: index in the items of each row of `main`
    kept: list[int]
    #: rows some of whose list elements were dropped
    dropped_rows: set[int]


def built(
    items: list[tuple[str, int, Any]],
    fields: Paths,
    lists: dict[str, Paths] | None = None,
    keep: tuple[str, ...] = (),
    *,
    rows: bool = False,
) -> Built:
    """`table` of `items`; with `rows`, each child frame has `_row` (see `Built`)."""
    lists = lists or {}
    names = tuple(dict.fromkeys([*lists, *keep]))
    nested = [p[2:].split(".") for p in fields.values() if p.startswith("$.") and "." in p[2:]]
    files: list[str] = []
    poss: list[int] = []
    recs: list[dict[str, Any]] = []
    invalid: dict[int, str] = {}
    bad: list[tuple[str, int, str]] = []
    kept: list[int] = []
    for at, (file, pos, rec) in enumerate(items):
        if not isinstance(rec, dict):
            bad.append((file, pos, f"expected an object, got {type(rec).__name__}"))
            continue
        wrong = [
            (n, v)
            for n in names
            if (v := list_field(rec, n)) is not None and not isinstance(v, list)
        ]
        if wrong:
            got = type(wrong[0][1]).__name__
            bad.append((file, pos, f"{wrong[0][0]}: expected a list, got {got}"))
            continue
        for steps in nested:
            reason = _shape_error(rec, steps)
            if reason is not None:
                invalid[len(recs)] = reason
                break
        files.append(file)
        poss.append(pos)
        recs.append(rec)
        kept.append(at)
    string, int64 = pl.String(), pl.Int64()
    # column at a time: a comprehension per field, or none at all (see text_series)
    main = _frame({"file": (string, files), "pos": (int64, poss)}, recs, fields, invalid)
    main = main.with_columns(
        pl.Series("_invalid", [invalid.get(i) for i in range(len(recs))], dtype=pl.String)
        if invalid
        else pl.lit(None, pl.String).alias("_invalid")
    )
    children: dict[str, pl.DataFrame] = {}
    objects: dict[str, list[tuple[str, int, int, Any]]] = {}
    dropped: list[tuple[str, int, str]] = []
    dropped_rows: set[int] = set()
    for name in names:
        c_file: list[str] = []
        c_pos: list[int] = []
        c_idx: list[int] = []
        c_row: list[int] = []
        elements: list[Any] = []
        for row, (file, pos, rec) in enumerate(zip(files, poss, recs, strict=True)):
            found = list_field(rec, name)
            if found:
                n = len(found)
                c_file += [file] * n
                c_pos += [pos] * n
                c_idx += range(n)
                if rows:
                    c_row += [row] * n
                elements += found
        if name in lists:
            keys: dict[str, tuple[pl.DataType, list[Any]]] = {
                "file": (string, c_file),
                "pos": (int64, c_pos),
                "idx": (int64, c_idx),
            }
            if rows:
                keys["_row"] = (int64, c_row)
            paths = lists[name]
            wrong_elements: dict[int, str] = {}
            child = _frame(keys, elements, paths, wrong_elements)
            key_name, key_path = next(iter(paths.items()), (None, None))
            if key_name is not None and key_path is not None and _may_lack_key(child[key_name]):
                values = values_at(key_path, elements)
                for i, (value, element) in enumerate(zip(values, elements, strict=True)):
                    reason = _element_error(key_path, value, element)
                    if reason is not None:
                        wrong_elements.setdefault(i, reason)
            if wrong_elements:
                for i, reason in sorted(wrong_elements.items()):
                    dropped.append((c_file[i], c_pos[i], f"{name}[{c_idx[i]}]: {reason}"))
                    if rows:
                        dropped_rows.add(c_row[i])
                keep_rows = pl.Series([i not in wrong_elements for i in range(len(elements))])
                child = child.filter(keep_rows)
            children[name] = child
        if name in keep:
            objects[name] = list(zip(c_file, c_pos, c_idx, elements, strict=True))
    return Built(Table(main, children, bad, objects, dropped), kept, dropped_rows)


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
    # a record `table` found unusable: its reason first
    reasons: list[pl.Expr] = [pl.col("_invalid")] if "_invalid" in df.columns else []
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
    return good.drop("_invalid", strict=False), bad
