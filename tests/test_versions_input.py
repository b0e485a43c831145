"""What a worker hands the versions pass (transform/versions_input.py), read back by group."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from bulkgraph.transform import versions, versions_input


def _rows(kind: str, group: str, starts: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "kind": [kind] * len(starts),
            "group": [group] * len(starts),
            "start": starts,
            "end": [None if kind == "n" else "e"] * len(starts),
            "props": [f",{s}" for s in starts],
        },
        schema={
            "kind": pl.String,
            "group": pl.String,
            "start": pl.String,
            "end": pl.String,
            "props": pl.String,
        },
    )


def _read(tmp_path: Path, frames: list[pl.DataFrame]) -> dict[str, list[str]]:
    sdir = tmp_path / "state" / "s1"
    sdir.mkdir(parents=True)
    versions_input.write(sdir, frames)
    got = versions_input.read(tmp_path, "s1")
    return {group: frame["start"].to_list() for group, frame in got.items()}


def test_each_group_is_read_back_whole_and_in_order(tmp_path: Path) -> None:
    frames = [
        _rows("n", "Instance", ["i1", "i2"]),
        _rows("n", "Tag", ["t1"]),
        _rows("r", "TAGGED__Instance__Tag", ["i2", "i1", "i3"]),
    ]
    assert _read(tmp_path, frames) == {
        "Instance": ["i1", "i2"],
        "Tag": ["t1"],
        "TAGGED__Instance__Tag": ["i2", "i1", "i3"],
    }


def test_a_group_written_in_two_places_is_read_back_whole(tmp_path: Path) -> None:
    """`read` cuts out each group's run of rows; a file whose group comes twice (not as
    `write` puts them) is still read whole, in file order."""
    frames = [
        _rows("n", "Instance", ["i1"]),
        _rows("n", "Tag", ["t1"]),
        _rows("n", "Instance", ["i2"]),
    ]
    assert _read(tmp_path, frames) == {"Instance": ["i1", "i2"], "Tag": ["t1"]}


def test_no_rows_is_no_group(tmp_path: Path) -> None:
    assert _read(tmp_path, []) == {}


def test_the_pass_reads_a_line_s_cells_as_they_were_written() -> None:
    """`versions._cells`: quotes and their escapes, commas and line breaks inside quotes,
    the empty cell null, a quoted empty string empty, a cell the line does not have null."""
    line = '"a,b","say ""hi""",,"","back\\\\slash","two\nlines",plain'
    assert versions._cells(line, 9) == [
        "a,b",
        'say "hi"',
        None,
        "",
        "back\\slash",
        "two\nlines",
        "plain",
        None,
        None,
    ]
    assert versions._cells("", 2) == [None, None]


def _props(label: str, **given: str) -> str:
    """A node's properties' text with `given` quoted in their fields, every other empty."""
    at = versions._PLACERS[label].at
    cells = ["" for _ in range(max(at.values()) + 1)]
    for name, value in given.items():
        cells[at[name]] = f'"{value}"'
    return ",".join(cells)


def test_a_node_is_placed_by_its_own_account_and_region_else_its_arn() -> None:
    place = {label: versions._PLACERS[label].place for label in ("Instance", "IAMRole", "Region")}
    assert place["Instance"](_props("Instance", account_id="111", region="eu-west-1")) == (
        "111",
        "eu-west-1",
    )
    assert place["Instance"](_props("Instance")) == (None, None)
    # a global resource: the account of its ARN, the ARN's empty region
    assert place["IAMRole"](_props("IAMRole", arn="arn:aws:iam::222:role/r")) == ("222", "")
    assert place["IAMRole"](_props("IAMRole", arn="not-an-arn")) == (None, None)
    assert place["Region"](_props("Region", account_id="111", name="eu-west-1")) == (
        "111",
        "eu-west-1",
    )
    assert versions._PLACERS["Account"].place(_props("Account", account_id="111")) == ("111", "*")


def _as_pairs(found: pl.DataFrame, left: list[str], right: list[str]) -> set[tuple[Any, Any]]:
    """`versions._pairs`'s rows as (text on the left or None, text on the right or None)."""
    return {
        (None if lpos is None else left[lpos], None if rpos is None else right[rpos])
        for lpos, rpos in found.select("l", "r").iter_rows()
    }


LEFT = ["a|x", "b|y", "c|z"]
RIGHT = ["d|w", "b|y", "a|x"]
WANT = {("a|x", "a|x"), ("b|y", "b|y"), ("c|z", None), (None, "d|w")}


def test_runs_are_matched_by_their_text() -> None:
    found = versions._pairs(pl.Series(LEFT), pl.Series(RIGHT))
    assert found.height == 4 and _as_pairs(found, LEFT, RIGHT) == WANT


def test_a_hash_collision_is_never_a_match(monkeypatch: pytest.MonkeyPatch) -> None:
    """The texts are joined on 64-bit hashes; two texts with one hash (made so here: every
    text hashes to its place) must not be taken for the same relationship."""

    def by_place(self: pl.Series, *args: Any, **kwargs: Any) -> pl.Series:
        return pl.Series(range(len(self)), dtype=pl.UInt64)

    monkeypatch.setattr(pl.Series, "hash", by_place)
    found = versions._pairs(pl.Series(LEFT), pl.Series(RIGHT))
    assert _as_pairs(found, LEFT, RIGHT) == WANT


def test_texts_with_one_hash_on_one_side_are_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    def one(self: pl.Series, *args: Any, **kwargs: Any) -> pl.Series:
        return pl.Series([7] * len(self), dtype=pl.UInt64)

    monkeypatch.setattr(pl.Series, "hash", one)
    found = versions._pairs(pl.Series(LEFT), pl.Series(RIGHT))
    assert _as_pairs(found, LEFT, RIGHT) == WANT
