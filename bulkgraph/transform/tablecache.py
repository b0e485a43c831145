"""The rows `records.table` gave a record the night before, taken again for the same record.

Picking the fields out of a night's records is the largest part of a transform worker's
night (docs/benchmarks.md, "Where a worker's night goes"), and ~98 % of a night's records
are those of the night before. extract/reuse.py gives a record whose text did not change
as the very object parsed the night before; here its rows are found by that object's
identity and copied with tonight's file and position, and only the other records go
through `records.built`. The table is the same, row for row and in the same order, as
`records.table` of all the records (tests/test_reuse.py): a cache, nothing more.

Kept per (operation, what is read), for the last night seen in this process only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from bulkgraph.extract import reuse
from bulkgraph.transform.records import Paths, Table, built, list_field, text_series

#: below this many records a night, copying rows costs more than building them
MIN_RECORDS = 200


@dataclass
class _Last:
    #: id of a record -> its row in `main`; only records whose rows can be copied whole
    rows: dict[int, int]
    #: the records themselves, so that no other object takes one of their ids
    records: list[Any]
    main: pl.DataFrame
    #: list field -> its elements, with `_row`: the row of `main` they belong to
    children: dict[str, pl.DataFrame]


_last: dict[tuple[Any, ...], _Last] = {}


def clear() -> None:
    _last.clear()


def _table(
    name: str,
    items: list[tuple[str, int, Any]],
    fields: Paths,
    lists: dict[str, Paths],
    keep: tuple[str, ...] = (),
) -> tuple[Table, list[int]]:
    """`table` without `given`, and the index in `items` of each row of its `main`."""
    shape = tuple((n, tuple(p.items())) for n, p in lists.items())
    key = (name, tuple(fields.items()), shape, keep)
    if not reuse.enabled() or len(items) < MIN_RECORDS:
        _last.pop(key, None)
        done = built(items, fields, lists, keep)
        return done.table, done.kept
    last = _last.get(key)
    recs = [rec for _, _, rec in items]
    was = list(map((last.rows if last is not None else {}).get, map(id, recs)))
    hit_at = [at for at, row in enumerate(was) if row is not None]
    miss_at = [at for at, row in enumerate(was) if row is None]
    new = built([items[at] for at in miss_at], fields, lists, keep, rows=True)
    new_at = [miss_at[k] for k in new.kept]
    # the copied rows, then the new ones, put back in the items' order
    every = [*hit_at, *new_at]
    order = sorted(range(len(every)), key=every.__getitem__)
    final = [0] * len(every)
    for row, k in enumerate(order):
        final[k] = row
    new_final = pl.Series(final[len(hit_at) :], dtype=pl.Int64)
    parts = [new.table.main.lazy()]
    moved = pl.DataFrame()
    if last is not None and hit_at:
        hit_rows = pl.Series([was[at] for at in hit_at], dtype=pl.Int64)
        moved = pl.DataFrame(
            {
                "file": pl.Series([items[at][0] for at in hit_at], dtype=pl.String),
                "pos": pl.Series([items[at][1] for at in hit_at], dtype=pl.Int64),
                "_was": hit_rows,
                "_row": pl.Series(final[: len(hit_at)], dtype=pl.Int64),
            }
        )
        copied = last.main[hit_rows].with_columns(moved["file"], moved["pos"])
        parts.insert(0, copied.lazy())
    main = pl.concat(parts).collect()[pl.Series(order, dtype=pl.Int64)]
    children: dict[str, pl.DataFrame] = {}
    for list_name, child in new.table.children.items():
        frames = [child.lazy().with_columns(pl.lit(new_final).gather(pl.col("_row")).alias("_row"))]
        if moved.height:
            assert last is not None
            old = last.children[list_name].lazy().drop("file", "pos")
            old = old.rename({"_row": "_was"}).join(moved.lazy(), on="_was")
            frames.append(old.select(child.columns))
        children[list_name] = pl.concat(frames).sort("_row", "idx").collect()
    recs = [recs[every[k]] for k in order]
    unclean = {final[len(hit_at) + r] for r in new.dropped_rows}
    rows = dict(zip(map(id, recs), range(len(recs)), strict=True))
    for row in unclean:
        rows.pop(id(recs[row]), None)
    _last[key] = _Last(rows, recs, main, children)
    files, poss = main["file"].to_list(), main["pos"].to_list()
    objects = {
        n: [
            (file, pos, idx, element)
            for file, pos, rec in zip(files, poss, recs, strict=True)
            for idx, element in enumerate(list_field(rec, n) or ())
        ]
        for n in dict.fromkeys([*lists, *keep])
        if n in keep
    }
    table = Table(
        main,
        {n: c.drop("_row") for n, c in children.items()},
        new.table.bad,
        objects,
        new.table.dropped,
    )
    return table, [every[k] for k in order]


def table(
    name: str,
    items: list[tuple[str, int, Any]],
    fields: Paths,
    lists: dict[str, Paths],
    keep: tuple[str, ...] = (),
    given: dict[str, list[Any]] | None = None,
) -> Table:
    """`records.table(items, fields, lists, keep)`, the rows of records seen the night
    before under `name` (an operation) copied instead of built.

    `given` (field -> one value per item): what a family knows of a record from elsewhere
    (a rule's security group, the target group a call asked for), read as if each record
    held it at `$.<field>`. The records stay the objects parsed, so that their rows can be
    taken again the next night."""
    if not given:
        return _table(name, items, fields, lists, keep)[0]
    own = {n: p for n, p in fields.items() if p.removeprefix("$.") not in given}
    tab, at = _table(name, items, own, lists, keep)
    try:
        extra = [
            text_series(n, [given[p.removeprefix("$.")][i] for i in at])
            for n, p in fields.items()
            if n not in own
        ]
    except UnicodeEncodeError:
        # a given value polars cannot hold (a lone surrogate, from a request parsed by
        # json.loads): each record with its values in it, for `built` to say which is bad
        with_given = [
            (file, pos, {**rec, **{k: v[i] for k, v in given.items()}})
            if isinstance(rec, dict)
            else (file, pos, rec)
            for i, (file, pos, rec) in enumerate(items)
        ]
        return built(with_given, fields, lists, keep).table
    main = tab.main.with_columns(extra).select("file", "pos", *fields, "_invalid")
    return replace(tab, main=main)
