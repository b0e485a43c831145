"""Native snapshot folders: manifest validation and per-file checks when read."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bulkgraph.errors import BulkgraphError, InputError
from bulkgraph.extract.native import NativeSnapshot
from bulkgraph.extract.sources import discover
from bulkgraph.extract.verify import verify
from bulkgraph.extract.writer import SnapshotWriter, dumps

ACCT = "111122223333"
TAKEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
VPC_PAGE = {"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16", "IsDefault": False}]}


def make_snapshot(out: Path, snapshot_id: str = "snap-1") -> Path:
    w = SnapshotWriter(out, snapshot_id, TAKEN)
    w.write("ec2:DescribeVpcs", ACCT, "us-east-1", [{"request": {}, "pages": [VPC_PAGE]}])
    w.write("ec2:DescribeSubnets", ACCT, "us-east-1", [{"request": {}, "pages": [{"Subnets": []}]}])
    w.finish({ACCT: ["us-east-1"]}, [], TAKEN)
    return out / snapshot_id


def edit_manifest(folder: Path, change: object) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)  # type: ignore[operator]
    path.write_text(json.dumps(manifest))


def test_round_trip(tmp_path: Path) -> None:
    snap = NativeSnapshot(make_snapshot(tmp_path))
    info = snap.info
    assert info.snapshot_id == "snap-1"
    assert info.taken_at == TAKEN
    assert info.source == "bulkgraph-snapshot/1"
    assert info.accounts[0].account_id == ACCT
    assert info.accounts[0].regions == ("us-east-1",)
    raw = (tmp_path / "snap-1" / "manifest.json").read_bytes()
    assert info.checksum == hashlib.sha256(raw).hexdigest()
    responses = {r.operation: r for r in snap.responses()}
    assert set(responses) == {"ec2:DescribeVpcs", "ec2:DescribeSubnets"}
    assert list(responses["ec2:DescribeVpcs"].pages()) == [VPC_PAGE]
    assert verify(snap) == []
    assert info.warnings == ()


def test_checksum_mismatch_names_the_file(tmp_path: Path) -> None:
    folder = make_snapshot(tmp_path)
    data_file = folder / ACCT / "us-east-1" / "ec2" / "DescribeVpcs.json.gz"
    doc = json.loads(gzip.decompress(data_file.read_bytes()))
    doc["calls"][0]["pages"][0]["Vpcs"][0]["CidrBlock"] = "10.9.0.0/16"
    data_file.write_bytes(gzip.compress(json.dumps(doc).encode()))
    snap = NativeSnapshot(folder)
    with pytest.raises(InputError, match=r"DescribeVpcs\.json\.gz: sha256 mismatch"):
        list(snap.responses())
    problems = verify(snap)
    assert len(problems) == 1
    assert problems[0].location.endswith("ec2/DescribeVpcs.json.gz")
    assert "sha256 mismatch" in problems[0].message


def test_missing_listed_file(tmp_path: Path) -> None:
    folder = make_snapshot(tmp_path)
    (folder / ACCT / "us-east-1" / "ec2" / "DescribeSubnets.json.gz").unlink()
    problems = verify(NativeSnapshot(folder))
    assert [p.message for p in problems] == ["listed in the manifest but missing"]


def test_bad_gzip_with_matching_checksum(tmp_path: Path) -> None:
    folder = make_snapshot(tmp_path)
    bad = b"not gzip at all"
    rel = f"{ACCT}/us-east-1/ec2/DescribeVpcs.json.gz"
    (folder / rel).write_bytes(bad)

    def fix(m: dict[str, Any]) -> None:
        for f in m["files"]:
            if f["path"] == rel:
                f["sha256"] = hashlib.sha256(bad).hexdigest()

    edit_manifest(folder, fix)
    problems = verify(NativeSnapshot(folder))
    assert len(problems) == 1 and "not a valid gzip file" in problems[0].message


def test_plain_json_data_file_accepted(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    (folder / ACCT / "eu-west-1" / "ec2").mkdir(parents=True)
    doc = {
        "operation": "ec2:DescribeVpcs",
        "account_id": ACCT,
        "region": "eu-west-1",
        "calls": [{"request": {}, "pages": [VPC_PAGE]}],
    }
    data = json.dumps(doc).encode()
    (folder / ACCT / "eu-west-1" / "ec2" / "DescribeVpcs.json").write_bytes(data)
    manifest = {
        "format": "bulkgraph-snapshot/1",
        "snapshot_id": "plain",
        "taken_at": "2026-01-02T03:04:05Z",
        "files": [
            {
                "path": f"{ACCT}/eu-west-1/ec2/DescribeVpcs.json",
                "operation": "ec2:DescribeVpcs",
                "account_id": ACCT,
                "region": "eu-west-1",
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
            }
        ],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    snap = NativeSnapshot(folder)
    assert [r.region for r in snap.responses()] == ["eu-west-1"]
    assert snap.info.accounts[0].regions == ("eu-west-1",)


def test_data_file_disagreeing_with_its_path(tmp_path: Path) -> None:
    folder = make_snapshot(tmp_path)
    rel = f"{ACCT}/us-east-1/ec2/DescribeVpcs.json.gz"
    doc = {"operation": "ec2:DescribeVpcs", "account_id": ACCT, "region": "eu-west-1", "calls": []}
    data = gzip.compress(json.dumps(doc).encode())
    (folder / rel).write_bytes(data)

    def fix(m: dict[str, Any]) -> None:
        for f in m["files"]:
            if f["path"] == rel:
                f["sha256"] = hashlib.sha256(data).hexdigest()

    edit_manifest(folder, fix)
    with pytest.raises(InputError, match="disagree with its path"):
        list(NativeSnapshot(folder).responses())


def test_unknown_operation_and_unlisted_file_warn(tmp_path: Path) -> None:
    folder = make_snapshot(tmp_path)
    future = folder / ACCT / "us-east-1" / "sqs" / "ListQueues.json.gz"
    future.parent.mkdir()
    future.write_bytes(gzip.compress(b"{}"))
    (folder / "notes.txt").write_text("hello")

    def add(m: dict[str, Any]) -> None:
        m["files"].append(
            {
                "path": f"{ACCT}/us-east-1/sqs/ListQueues.json.gz",
                "operation": "sqs:ListQueues",
                "account_id": ACCT,
                "region": "us-east-1",
                "sha256": hashlib.sha256(future.read_bytes()).hexdigest(),
            }
        )

    edit_manifest(folder, add)
    snap = NativeSnapshot(folder)
    assert {r.operation for r in snap.responses()} == {"ec2:DescribeVpcs", "ec2:DescribeSubnets"}
    warnings = "\n".join(snap.info.warnings)
    assert "unknown operation 'sqs:ListQueues', skipped" in warnings
    assert "notes.txt: present but not listed in the manifest, ignored" in warnings
    assert "ListQueues.json.gz: present but not listed" not in warnings


@pytest.mark.parametrize("bad_id", ["", "has space", "slash/id", "x" * 129, "ü"])
def test_invalid_snapshot_id_rejected(tmp_path: Path, bad_id: str) -> None:
    folder = make_snapshot(tmp_path)
    edit_manifest(folder, lambda m: m.__setitem__("snapshot_id", bad_id))
    with pytest.raises(InputError, match="invalid snapshot_id"):
        NativeSnapshot(folder)
    result = discover([str(folder)], cache_dir=tmp_path / "cache")
    assert result.snapshots == []
    assert "invalid snapshot_id" in result.problems[0].message


def test_writer_rejects_invalid_snapshot_id(tmp_path: Path) -> None:
    with pytest.raises(BulkgraphError, match="invalid snapshot id"):
        SnapshotWriter(tmp_path, "../escape", TAKEN)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("taken_at", None, "taken_at is missing"),
        ("taken_at", "2026-01-02T03:04:05", "has no timezone offset"),
        ("taken_at", "yesterday", "not an ISO 8601 timestamp"),
        ("format", "bulkgraph-snapshot/9", "unsupported format"),
    ],
)
def test_manifest_validation(tmp_path: Path, key: str, value: object, message: str) -> None:
    folder = make_snapshot(tmp_path)
    edit_manifest(folder, lambda m: m.__setitem__(key, value))
    with pytest.raises(InputError, match=message):
        NativeSnapshot(folder)


def test_discover_orders_by_time_and_reports_problems(tmp_path: Path) -> None:
    late = make_snapshot(tmp_path / "a", "b-late")
    early = make_snapshot(tmp_path / "a", "a-early")
    edit_manifest(late, lambda m: m.__setitem__("taken_at", "2027-01-01T00:00:00+00:00"))
    edit_manifest(early, lambda m: m.__setitem__("taken_at", "2025-01-01T00:00:00+00:00"))
    (tmp_path / "a" / "junk").mkdir()
    broken = tmp_path / "a" / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{not json")
    result = discover([str(tmp_path / "a"), str(tmp_path / "missing")], cache_dir=tmp_path / "c")
    assert [s.info.snapshot_id for s in result.snapshots] == ["a-early", "b-late"]
    assert sorted((Path(p.location).name, p.message[:14]) for p in result.problems) == [
        ("broken", "manifest.json:"),
        ("missing", "does not exist"),
    ]


def test_writer_takes_calls_already_rendered(tmp_path: Path) -> None:
    """A generator may hand over the calls' JSON text (the bench estate reuses the text of
    unchanged items): the data file is byte for byte the one the parsed calls give."""
    calls: list[dict[str, Any]] = [{"request": {}, "pages": [VPC_PAGE, {"Vpcs": []}]}]
    written = {}
    given: dict[str, list[dict[str, Any]] | bytes] = {"parsed": calls, "rendered": dumps(calls)}
    for name in given:
        w = SnapshotWriter(tmp_path / name, "snap-1", TAKEN)
        written[name] = w.write("ec2:DescribeVpcs", ACCT, "us-east-1", given[name])
        w.finish({ACCT: ["us-east-1"]}, [], TAKEN)
    assert written["parsed"] == written["rendered"]
    data = tmp_path / "rendered" / "snap-1" / written["rendered"]["path"]
    doc = json.loads(gzip.decompress(data.read_bytes()))
    assert doc == {
        "operation": "ec2:DescribeVpcs",
        "account_id": ACCT,
        "region": "us-east-1",
        "calls": calls,
    }
    snap = NativeSnapshot(tmp_path / "rendered" / "snap-1")
    assert verify(snap) == []


def test_writer_records_the_collector_and_compression_it_is_given(tmp_path: Path) -> None:
    collector = {"name": "bulkgraph-gen-estate", "version": "0", "seed": 7}
    sizes = {}
    for level in (1, 9):
        w = SnapshotWriter(
            tmp_path / str(level), "snap-1", TAKEN, collector=collector, compresslevel=level
        )
        pages = [{"Vpcs": [{"VpcId": f"vpc-{i}", "CidrBlock": "10.0.0.0/16"} for i in range(500)]}]
        sizes[level] = w.write(
            "ec2:DescribeVpcs", ACCT, "us-east-1", [{"request": {}, "pages": pages}]
        )["bytes"]
        w.finish({ACCT: ["us-east-1"]}, [], TAKEN)
        assert NativeSnapshot(tmp_path / str(level) / "snap-1").info.collector == collector
    assert sizes[9] < sizes[1]
    # without one, the writer names itself
    make_snapshot(tmp_path / "default")
    manifest = json.loads((tmp_path / "default" / "snap-1" / "manifest.json").read_text())
    assert manifest["collector"]["name"] == "bulkgraph"
