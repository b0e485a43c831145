"""The versions pass goes on from its checkpoint (transform/versions_checkpoint.py): a nightly
run reads only the new snapshots' parts, and whatever happened before it (back-fill, a
damaged checkpoint, a run killed midway) its versions files are byte for byte those of a
full pass from an empty folder.

The history is conftest's `versions_history` (six snapshots with churn of every kind, a
1.0 archive first).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from versions_estate import ACCOUNT_ID, History

from bulkgraph.csvfolder import State, read_manifest
from bulkgraph.extract.model import Snapshot
from bulkgraph.extract.sources import discover
from bulkgraph.layout import Layout
from bulkgraph.transform import temporal, versions, versions_checkpoint, versions_input
from bulkgraph.transform.run import done_result, transform

pytestmark = pytest.mark.slow  # conftest's versions_history: a moto collection

CHECKPOINT = "versions-checkpoint/checkpoint.json"


@pytest.fixture(scope="module")
def snapshots(versions_history: History) -> list[Snapshot]:
    found = discover(versions_history.sources_text, account_id=ACCOUNT_ID)
    assert found.problems == []
    ordered = sorted(found.snapshots, key=lambda s: (s.info.taken_at, s.info.snapshot_id))
    assert len(ordered) == 6
    return ordered


def _transform(snaps: list[Snapshot], out: Path) -> None:
    result = transform(snaps, out, workers=1, layout=Layout.versions)
    assert result.failed == {} and result.layout is Layout.versions


@pytest.fixture(scope="module")
def reference(snapshots: list[Snapshot], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All six in one full pass from an empty folder."""
    out = tmp_path_factory.mktemp("full") / "csv"
    _transform(snapshots, out)
    return out


def _files(csv_dir: Path) -> dict[str, bytes]:
    """The versions files, the time links' parts of the manifest's snapshots, and the
    manifest, by path."""
    found = {
        p.relative_to(csv_dir).as_posix(): p.read_bytes()
        for p in (csv_dir / "versions").rglob("*")
        if p.is_file()
    }
    manifest = read_manifest(csv_dir)
    for group in manifest.groups:
        if group.type in ("NEXT", "NEXT_VERSION"):
            found.update({p: (csv_dir / p).read_bytes() for p in group.parts})
    found["import-manifest.json"] = (csv_dir / "import-manifest.json").read_bytes()
    return found


def _same_files(csv_dir: Path, reference: Path) -> None:
    got, want = _files(csv_dir), _files(reference)
    assert sorted(got) == sorted(want)
    assert [p for p in want if got[p] != want[p]] == []


@dataclass
class Reads:
    """The snapshots whose files the passes read, in order: the versions pass (the text its
    worker cut out, versions_input.py) and the time links (keys: never, in the versions
    layout, whose NEXT_VERSION the versions pass writes)."""

    versions: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)

    def clear(self) -> None:
        self.versions.clear()
        self.links.clear()

    def both(self) -> tuple[list[str], list[str]]:
        return self.versions, self.links


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Reads:
    seen = Reads()
    real = versions_input.read

    def counting(out_dir: Path, sid: str) -> dict[str, pl.DataFrame]:
        seen.versions.append(sid)
        return real(out_dir, sid)

    real_keys = temporal._in_time_order

    def keys(last: pl.DataFrame, out_dir: Path, chunk: list[str]) -> pl.DataFrame:
        seen.links.extend(chunk)
        return real_keys(last, out_dir, chunk)

    monkeypatch.setattr(versions_input, "read", counting)
    monkeypatch.setattr(temporal, "_in_time_order", keys)
    return seen


def _ids(snaps: list[Snapshot]) -> list[str]:
    return [s.info.snapshot_id for s in snaps]


def _parts_of(reference: Path, out: Path) -> Path:
    """A CSV folder holding the reference's per-snapshot parts (the transform reuses them)
    and no versions files or checkpoint."""
    shutil.copytree(reference, out, ignore=shutil.ignore_patterns("versions*"))
    return out


def test_nightly_reads_only_the_new_snapshots_and_writes_what_a_full_pass_writes(
    snapshots: list[Snapshot], reference: Path, tmp_path: Path, reads: Reads
) -> None:
    out = tmp_path / "csv"
    _transform(snapshots[:3], out)
    assert reads.both() == (_ids(snapshots[:3]), [])
    reads.clear()
    _transform(snapshots[:4], out)
    assert reads.both() == (_ids(snapshots[3:4]), [])
    reads.clear()
    _transform(snapshots, out)
    assert reads.both() == (_ids(snapshots[4:]), [])
    _same_files(out, reference)
    # nothing new: nothing read, nothing changed
    reads.clear()
    _transform(snapshots, out)
    assert reads.both() == ([], [])
    _same_files(out, reference)


def test_back_fill_is_a_full_pass(
    snapshots: list[Snapshot], reference: Path, tmp_path: Path, reads: Reads
) -> None:
    out = _parts_of(reference, tmp_path / "csv")
    _transform([s for i, s in enumerate(snapshots) if i != 2], out)
    reads.clear()
    _transform(snapshots, out)
    assert reads.both() == (_ids(snapshots), [])
    _same_files(out, reference)


@pytest.mark.parametrize(
    "damage",
    ["garbage", "other-taken-at", "frame-gone", "final-part-short"],
)
def test_a_checkpoint_that_cannot_be_trusted_means_a_full_pass(
    snapshots: list[Snapshot], reference: Path, tmp_path: Path, reads: Reads, damage: str
) -> None:
    out = _parts_of(reference, tmp_path / "csv")
    _transform(snapshots[:4], out)
    cp = out / CHECKPOINT
    if damage == "garbage":
        cp.write_text('{"format": "bulkgraph-versions-checkpoint/1", "snap')
    elif damage == "other-taken-at":
        sid, text = snapshots[1].info.snapshot_id, cp.read_text()
        changed = text.replace(f'"{sid}",\n   "20', f'"{sid}",\n   "19')
        assert changed != text
        cp.write_text(changed)
    elif damage == "frame-gone":
        next((out / "versions-checkpoint").glob("state-*.parquet")).unlink()
    else:
        part = out / "versions/nodes/Instance/final.csv"
        part.write_bytes(part.read_bytes()[:-10])
    reads.clear()
    _transform(snapshots, out)
    assert reads.versions == _ids(snapshots)
    # the versions layout's time links are NEXT alone: they read no keys
    assert reads.links == []
    _same_files(out, reference)


class Killed(Exception):
    pass


def test_a_run_killed_before_its_checkpoint_is_undone_by_the_next(
    snapshots: list[Snapshot],
    reference: Path,
    tmp_path: Path,
    reads: Reads,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = _parts_of(reference, tmp_path / "csv")
    _transform(snapshots[:3], out)
    before = (out / CHECKPOINT).read_bytes()
    finals = sorted((out / "versions").glob("*/*/final.csv"))
    sizes = [p.stat().st_size for p in finals]

    def killed(*_: object) -> None:
        raise Killed

    with monkeypatch.context() as m:
        m.setattr(versions_checkpoint, "save", killed)
        with pytest.raises(Killed):
            _transform(snapshots, out)
    # the killed run appended (the next must not append the same lines twice) and left
    # the checkpoint as it was
    assert sizes < [p.stat().st_size for p in finals]
    assert len((out / "versions/nodes/Snapshot/final.csv").read_text().splitlines()) == 6
    assert (out / CHECKPOINT).read_bytes() == before
    reads.clear()
    _transform(snapshots, out)
    assert reads.both() == (_ids(snapshots[3:]), [])
    _same_files(out, reference)


def test_the_snapshots_layout_removes_the_checkpoint(
    snapshots: list[Snapshot], reference: Path, tmp_path: Path
) -> None:
    out = _parts_of(reference, tmp_path / "csv")
    _transform(snapshots[:2], out)
    assert (out / CHECKPOINT).exists()
    transform(snapshots[:2], out, workers=1, layout=Layout.snapshots)
    assert not (out / "versions-checkpoint").exists() and not (out / "versions").exists()


def test_a_snapshot_transformed_again_is_a_full_pass(
    snapshots: list[Snapshot], reference: Path, tmp_path: Path, reads: Reads
) -> None:
    out = _parts_of(reference, tmp_path / "csv")
    _transform(snapshots[:4], out)
    shutil.rmtree(out / "state" / snapshots[1].info.snapshot_id)
    reads.clear()
    _transform(snapshots, out)
    assert reads.both() == (_ids(snapshots), [])
    _same_files(out, reference)


def _tree(csv_dir: Path, under: str) -> list[str]:
    """The part files under `under` (not the headers: an earlier run's may stay)."""
    return sorted(
        p.relative_to(csv_dir).as_posix()
        for p in (csv_dir / under).rglob("*.csv")
        if p.name != "header.csv"
    )


def test_a_folder_for_import_only_writes_the_same_versions_files_and_no_parts(
    snapshots: list[Snapshot], reference: Path, tmp_path: Path, reads: Reads
) -> None:
    """`snapshot_parts=False` (rebuild's): the versions files, the counts and the import
    arguments of a full folder, nightly too; of each snapshot's own files only its Snapshot
    node's (and the sequential pass's NEXT and PEERED_TO); and a later transform that wants
    the parts (for `load`) writes them."""
    out = tmp_path / "csv"
    transform(snapshots[:4], out, workers=1, layout=Layout.versions, snapshot_parts=False)
    reads.clear()
    lean = transform(snapshots, out, workers=1, layout=Layout.versions, snapshot_parts=False)
    assert lean.reused == _ids(snapshots[:4]) and reads.versions == _ids(snapshots[4:])
    got, want = _files(out), _files(reference)
    versions_files = [p for p in want if p.startswith("versions/")]
    assert versions_files and [p for p in versions_files if got.get(p) != want[p]] == []
    manifest, full = read_manifest(out), read_manifest(reference)
    for name in ("versions_groups", "import_args", "nodes_per_label", "relationships_per_type"):
        assert getattr(manifest, name) == getattr(full, name), name
    assert [s.parts for s in manifest.snapshots] == [False] * len(snapshots)
    assert {p.split("/")[1] for p in _tree(out, "nodes")} == {"Snapshot"}
    assert {p.split("/")[1] for p in _tree(out, "relationships")} == {
        "NEXT__Snapshot__Snapshot",
        "PEERED_TO__VPC__VPC",
    }
    assert {g.group for g in manifest.groups} == {
        "Snapshot",
        "NEXT__Snapshot__Snapshot",
        "PEERED_TO__VPC__VPC",
    }
    assert not list((out / "state").glob("*/keys.parquet"))
    # each snapshot's counts are those of its full transform, the Snapshot's CONTAINS too
    # (counted, not written)
    for snap in snapshots:
        sid = snap.info.snapshot_id
        lean_result = done_result(State.dir(out, sid) / State.RESULT, snap.info, parts=False)
        full_result = done_result(State.dir(reference, sid) / State.RESULT, snap.info)
        assert lean_result is not None and full_result is not None
        assert any(versions_input.contains(g) for g in lean_result.rel_rows)
        assert (lean_result.node_rows, lean_result.rel_rows) == (
            full_result.node_rows,
            full_result.rel_rows,
        )
    # the snapshots layout's fingerprints are left out, not the Snapshot node's
    for sid in _ids(snapshots):
        name = f"nodes/Snapshot/{sid}.csv"
        assert (out / name).read_bytes() == (reference / name).read_bytes()

    with_parts = transform(snapshots, out, workers=1, layout=Layout.versions)
    assert with_parts.transformed == _ids(snapshots)
    _same_files(out, reference)
    assert _tree(out, "nodes") == _tree(reference, "nodes")
    assert [s.parts for s in read_manifest(out).snapshots] == [True] * len(snapshots)


def test_a_folder_with_parts_gives_them_up_when_transformed_for_import_only(
    snapshots: list[Snapshot], reference: Path, tmp_path: Path
) -> None:
    """A work folder from before (every part written) transformed for the import only:
    nothing transformed again, its parts, fingerprints' keys and NEXT_VERSION parts go, the
    versions files are those of a full pass."""
    out = _parts_of(reference, tmp_path / "csv")
    assert {p.split("/")[1] for p in _tree(out, "nodes")} != {"Snapshot"}
    lean = transform(snapshots, out, workers=1, layout=Layout.versions, snapshot_parts=False)
    assert lean.transformed == [] and lean.reused == _ids(snapshots)
    assert {p.split("/")[1] for p in _tree(out, "nodes")} == {"Snapshot"}
    assert {p.split("/")[1] for p in _tree(out, "relationships")} == {
        "NEXT__Snapshot__Snapshot",
        "PEERED_TO__VPC__VPC",
    }
    assert not list((out / "state").glob("*/keys.parquet"))
    assert [s.parts for s in read_manifest(out).snapshots] == [False] * len(snapshots)
    got, want = _files(out), _files(reference)
    assert [p for p in want if p.startswith("versions/") and got.get(p) != want[p]] == []
    # and back: wanted again, they are written again
    again = transform(snapshots, out, workers=1, layout=Layout.versions)
    assert again.transformed == _ids(snapshots)
    _same_files(out, reference)


def test_the_pass_is_given_each_node_and_relationship_of_a_snapshot_once(
    snapshots: list[Snapshot], reference: Path
) -> None:
    """The versions pass does not de-duplicate what it reads (that was a fifth of its time):
    a snapshot's nodes and relationships, as the pass compares them, come once each, its
    relationships unique in their ends and properties (`snapshot._resolved_rels`)."""
    for sid in _ids(snapshots):
        rows = pl.read_parquet(State.dir(reference, sid) / State.VERSIONS_INPUT)
        assert set(rows["kind"]) == {"n", "r"}
        twice = rows.filter(pl.struct("kind", "group", "start", "end", "props").is_duplicated())
        assert twice.height == 0, twice.head(3)


def _checkpoint_frames(csv_dir: Path) -> dict[str, pl.DataFrame]:
    """The frames the checkpoint carries, each in one order (theirs is not fixed)."""
    return {
        p.name: (f := pl.read_parquet(p)).sort(f.columns, nulls_last=True)
        for p in sorted((csv_dir / "versions-checkpoint").glob("*.parquet"))
    }


def test_a_pass_shared_between_processes_writes_what_one_process_writes(
    snapshots: list[Snapshot], reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over many snapshots the pass runs in one process per worker, each following the
    runs of its share of the relationship groups (versions._plan): the same files, byte for
    byte, and a checkpoint that holds the same, whatever the number of shares."""
    plans: list[list[versions._Share]] = []
    real = versions._walk_all

    def recorded(*args: Any) -> Any:
        plans.append(args[-1])
        return real(*args)

    monkeypatch.setattr(versions, "_walk_all", recorded)
    monkeypatch.setattr(versions, "SHARED_FROM", len(snapshots))  # the six are many here
    out = tmp_path / "csv"
    _parts_of(reference, out)
    result = transform(snapshots, out, workers=3, layout=Layout.versions)
    assert result.failed == {}
    [plan] = plans
    assert len(plan) == 3 and all(share.groups for share in plan)
    assert [share.nodes for share in plan] == [True, False, False]
    _same_files(out, reference)
    got, want = _checkpoint_frames(out), _checkpoint_frames(reference)
    assert sorted(got) == sorted(want)
    assert [name for name in want if not got[name].equals(want[name])] == []


def test_the_groups_are_dealt_by_rows_each_to_one_share() -> None:
    """The most rows first, each to the share with the fewest so far; a share's groups in
    the order given; never more shares than groups."""
    groups = ["a", "b", "c", "d", "e"]
    weights = {"a": 10, "b": 50, "c": 30, "d": 25, "e": 1}
    plan = versions._plan(groups, weights, 2)
    # b -> 1st (50), c -> 2nd (30), d -> 2nd (55), a -> 1st (60), e -> 2nd (56)
    assert [share.groups for share in plan] == [("a", "b"), ("c", "d", "e")]
    assert [share.nodes for share in plan] == [True, False]
    assert versions._plan(groups, weights, 1) == [versions._Share(tuple(groups), nodes=True)]
    assert [s.groups for s in versions._plan(["a", "b"], weights, 8)] == [("b",), ("a",)]
    assert versions._plan([], weights, 4) == [versions._Share((), nodes=True)]
