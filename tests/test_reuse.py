"""The record caches (extract/reuse.py, transform/tablecache.py) change nothing.

A transform worker keeps the records it parsed the night before and the rows it picked out
of them, and takes them again for tonight's records of the same text. This holds the
output to be byte for byte what transforming each night alone gives: every file of every
night of histories with churn of every kind (the versions layout's test history, the bench's
generated estate, the unknown-families estate) and one of records the transform must
reject or trim (a record that is not an object, a list that is not a list, a tag without
its Key, the same record twice), unchanged from night to night so that they meet the
caches.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import msgspec
import pytest
import versions_history
from unknown_estate import _EMPTY, US, write_snapshot, write_snapshots

from bench.genestate import EstateSpec, generate
from bulkgraph.extract import reuse
from bulkgraph.extract.sources import Candidate, open_candidate
from bulkgraph.transform import run, tablecache
from bulkgraph.transform.records import table


def _instance(iid: str, **extra: Any) -> dict[str, Any]:
    return {
        "InstanceId": iid,
        "State": {"Name": "running"},
        "PrivateIpAddress": "10.0.0.9",
        "SecurityGroups": [{"GroupId": "sg-a"}],
        "Tags": [{"Key": "Name", "Value": iid}],
        **extra,
    }


def _hostile_pages(night: int, region: str) -> dict[str, dict[str, Any]]:
    pages = {
        **_EMPTY,
        "ec2:DescribeInstances": {"Reservations": []},
        "ec2:DescribeSecurityGroups": {"SecurityGroups": []},
        "rds:DescribeDBInstances": {"DBInstances": []},
    }
    if region != US:
        return pages
    same = {"Instances": [_instance("i-same")]}
    reservations: list[Any] = [
        same,
        dict(same),  # the same record twice
        "not a record",
        {"Instances": "not a list"},
        {"Instances": [_instance("i-keyless", Tags=[{"Value": "no key"}, {"Key": "k"}])]},
        {"Instances": [_instance("i-night", Tags=[{"Key": "night", "Value": str(night)}])]},
    ]
    if night == 2:
        reservations.append({"Instances": [_instance("i-once")]})
    return {**pages, "ec2:DescribeInstances": {"Reservations": reservations}}


def _hostile(root: Path) -> list[Path]:
    nights = ("20260101T000000Z", "20260102T000000Z", "20260103T000000Z")
    return [
        write_snapshot(
            root,
            sid,
            dt.datetime.strptime(sid, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC),
            partial(_hostile_pages, n),
        )
        for n, sid in enumerate(nights, 1)
    ]


def _generated(root: Path) -> list[Path]:
    generate(root, EstateSpec(instances=300, snapshots=4, seed=5))
    return sorted(p for p in root.iterdir() if p.is_dir())


HISTORIES: dict[str, Callable[[Path], list[Path]]] = {
    "versions_history": versions_history.write_history,
    "unknown_estate": write_snapshots,
    "hostile": _hostile,
    "generated": _generated,
}


def _transform(folders: list[Path], out: Path, *, alone: bool) -> dict[str, bytes]:
    for folder in folders:
        if alone:
            reuse.clear()
            tablecache.clear()
        run.transform_one(open_candidate(Candidate(str(folder), str(folder))), out)
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("history", sorted(HISTORIES))
def test_reused_records_give_the_same_files_as_each_night_alone(
    history: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tablecache, "MIN_RECORDS", 0)  # the small histories meet it too
    folders = HISTORIES[history](tmp_path / "in")
    reuse.clear()
    tablecache.clear()
    before = reuse.stats.records, reuse.stats.parsed
    kept = _transform(folders, tmp_path / "kept", alone=False)
    records, parsed = reuse.stats.records - before[0], reuse.stats.parsed - before[1]
    assert parsed < records, "records the night before had should be reused"
    with reuse.disabled():
        alone = _transform(folders, tmp_path / "alone", alone=True)
    assert kept.keys() == alone.keys()
    differ = [name for name in kept if kept[name] != alone[name]]
    assert not differ, f"files that differ with the caches: {differ[:5]}"
    assert len(kept) > len(folders)


def test_a_file_msgspec_refuses_is_parsed_whole_and_not_kept(tmp_path: Path) -> None:
    reuse.clear()
    text = b'{"calls": [{"pages": [{"Items": [{"a": NaN}]}]}]}'
    with pytest.raises(msgspec.DecodeError):
        reuse.parse_data_file(text, "f")
    assert "f" not in reuse._last
    good = b'{"calls": [{"request": {}, "pages": [{"Items": [{"a": 1}, {"a": 1}], "N": "x"}]}]}'
    first = reuse.parse_data_file(good, "f")
    second = reuse.parse_data_file(good, "f")
    assert (
        first
        == second
        == {"calls": [{"request": {}, "pages": [{"Items": [{"a": 1}, {"a": 1}], "N": "x"}]}]}
    )
    items = second["calls"][0]["pages"][0]["Items"]
    assert items[0] is first["calls"][0]["pages"][0]["Items"][0] is items[1]


@pytest.mark.parametrize("min_records", [0, 10_000])
def test_values_given_to_records_read_as_if_each_record_held_them(
    min_records: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`tablecache.table` with `given` (a rule's group, a call's target group) is
    `records.table` of each record with the given values in it, a lone surrogate among them
    included; twice, so that the second night copies rows."""
    monkeypatch.setattr(tablecache, "MIN_RECORDS", min_records)
    tablecache.clear()
    fields = {"id": "$.Id", "tg": "$._tg", "n": "$._n"}
    records = [{"Id": "a"}, "not a record", {"Id": "b", "_tg": "theirs"}, {"Id": {"x": 1}}]
    for tgs in (["tg-1", "tg-2", "tg-3", "tg-4"], ["tg-1", "tg-2", "\ud800", "tg-4"]):
        given: dict[str, list[Any]] = {"_tg": tgs, "_n": [1, 2, 3, 4]}
        items = [("f", pos, rec) for pos, rec in enumerate(records)]
        for _ in range(2):
            got = tablecache.table("op", items, fields, {}, given=given)
            with_given = [
                (f, p, {**r, "_tg": tgs[p], "_n": p + 1} if isinstance(r, dict) else r)
                for f, p, r in items
            ]
            want = table(with_given, fields)
            assert got.main.equals(want.main) and got.bad == want.bad
    assert "lone surrogate" in str(want.main["_invalid"].to_list())
