"""What a worker hands the versions pass (transform/versions_input.py), read back by group."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from bulkgraph.transform import versions_input


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
