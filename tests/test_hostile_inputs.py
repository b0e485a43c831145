"""Snapshots crafted as an attacker would: each loads exactly or fails naming the file.

Bad ids, symlinks out of the folder, gzip bombs (the limit is set low here), deep nesting,
lone surrogates, records of the wrong shape, and values that look like CSV, spreadsheet
formulas or Cypher. Commands run as a user runs them (a subprocess): never a traceback, the
exit codes of the README (0 ok, 1 nothing usable, 3 done with something skipped or
rejected). A few values go through the real neo4j-admin importer and LOAD CSV and must
arrive unchanged.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_transform import rows

from bulkgraph.csvfolder import read_manifest
from bulkgraph.errors import ExitCode, InputError
from bulkgraph.extract import jsonread
from bulkgraph.extract.model import is_valid_snapshot_id
from bulkgraph.extract.native import NativeSnapshot
from bulkgraph.extract.sources import discover
from bulkgraph.extract.writer import SnapshotWriter
from bulkgraph.load.importer import import_command
from bulkgraph.settings import get_settings
from bulkgraph.transform.run import transform

ACCT = "111122223333"
REGION = "us-east-1"
TAKEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
INSTANCES = f"{ACCT}/{REGION}/ec2/DescribeInstances.json.gz"

#: values that mean something to a CSV reader, a spreadsheet, a shell or Cypher
HOSTILE = [
    "=cmd|' /C calc'!A0",
    "+SUM(1,2)",
    "-2+3",
    "@SUM(A1)",
    '"',
    '""quoted"" "',
    "a,b,c",
    "semi;colon;list",
    "line1\nline2\r\nline3",
    "back\\slash\\",
    '\\"',
    "tab\there",
    " padded ",
    "a`) DETACH DELETE n //",
    "'}) MATCH (n) DETACH DELETE n //",
    "$param {x}",
    "ümläut ✓ 日本",
    "",
]
CYPHER_KEY = "a`) DETACH DELETE n //"


def instance(iid: str, **extra: Any) -> dict[str, Any]:
    return {"InstanceId": iid, "State": {"Name": "running"}, **extra}


def write_snapshot(
    root: Path, sid: str, instances: list[Any], peerings: list[Any] | None = None
) -> Path:
    """A sound snapshot folder `root/sid` (ids are checked later, by the readers)."""
    w = SnapshotWriter(root, "placeholder-id", TAKEN)
    page = {"Reservations": [{"Instances": instances}]}
    w.write("ec2:DescribeInstances", ACCT, REGION, [{"request": {}, "pages": [page]}])
    if peerings is not None:
        pages = [{"VpcPeeringConnections": peerings}]
        w.write(
            "ec2:DescribeVpcPeeringConnections", ACCT, REGION, [{"request": {}, "pages": pages}]
        )
    w.finish({ACCT: [REGION]}, [], TAKEN)
    folder = root / sid
    (root / "placeholder-id").rename(folder)
    edit_manifest(folder, lambda m: m.__setitem__("snapshot_id", sid))
    return folder


def edit_manifest(folder: Path, change: Callable[[dict[str, Any]], object]) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def replace_file(folder: Path, rel: str, data: bytes) -> None:
    """Put `data` at `rel` with the manifest's checksum to match: only the content is bad."""
    path = folder / rel
    path.unlink(missing_ok=True)
    path.write_bytes(data)
    set_sha(folder, rel, hashlib.sha256(data).hexdigest())


def set_sha(folder: Path, rel: str, sha: str) -> None:
    def change(m: dict[str, Any]) -> None:
        for f in m["files"]:
            if f["path"] == rel:
                f["sha256"] = sha

    edit_manifest(folder, change)


def raw_file(calls_json: str) -> bytes:
    """A DescribeInstances data file whose `calls` is the JSON text given, gzipped."""
    head = f'{{"operation":"ec2:DescribeInstances","account_id":"{ACCT}","region":"{REGION}",'
    return gzip.compress(f'{head}"calls":{calls_json}}}'.encode(), mtime=0)


def bulkgraph(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`bulkgraph ARGS` as a user runs it; never a traceback, whatever the input."""
    proc = subprocess.run(
        [sys.executable, "-m", "bulkgraph", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    return proc


def rejects(out: Path) -> list[dict[str, Any]]:
    text = (out / "rejects.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


# --- 3: snapshot ids --------------------------------------------------------------------


@pytest.mark.parametrize("bad_id", [".", "..", "good\n", "x\n"])
def test_path_like_snapshot_ids_are_invalid(tmp_path: Path, bad_id: str) -> None:
    assert not is_valid_snapshot_id(bad_id)
    folder = write_snapshot(tmp_path / "src", "s", [instance("i-1")])
    edit_manifest(folder, lambda m: m.__setitem__("snapshot_id", bad_id))
    with pytest.raises(InputError, match=r"s/manifest.json: invalid snapshot_id"):
        NativeSnapshot(folder)


def test_a_dot_dot_snapshot_writes_nothing_outside_its_folder(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_snapshot(src, "good", [instance("i-1")])
    dots = write_snapshot(src, "dots", [instance("i-2")])
    edit_manifest(dots, lambda m: m.__setitem__("snapshot_id", ".."))
    out = tmp_path / "csv"
    proc = bulkgraph("transform", str(src), "--out", str(out), "--json", cwd=tmp_path)
    assert proc.returncode == ExitCode.PARTIAL, proc.stderr
    assert f"{dots}: manifest.json: invalid snapshot_id '..'" in proc.stderr
    assert json.loads(proc.stdout)["transformed"] == ["good"]
    # the state of a `..` snapshot would have landed in the CSV root
    assert sorted(p.name for p in out.iterdir()) == [
        "import-manifest.json",
        "nodes",
        "rejects.jsonl",
        "relationships",
        "state",
    ]
    assert sorted(p.name for p in (out / "state").iterdir()) == ["good"]


def test_an_import_manifest_with_a_dot_dot_id_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "csv"
    found = discover([str(write_snapshot(tmp_path / "src", "s1", [instance("i-1")]))])
    transform(found.snapshots, out, workers=1)
    path = out / "import-manifest.json"
    manifest = json.loads(path.read_text())
    manifest["snapshots"][0]["snapshot_id"] = ".."
    path.write_text(json.dumps(manifest))
    with pytest.raises(InputError, match=r"invalid snapshot id '\.\.'"):
        read_manifest(out)
    manifest["snapshots"][0]["snapshot_id"] = "s1"
    manifest["groups"][0]["parts"] = ["../../etc/passwd"]
    path.write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="not a path inside the CSV folder"):
        read_manifest(out)


@pytest.mark.parametrize("account", ["\ud800", "..", ".", "acct\n"])
def test_data_paths_are_plain_names(tmp_path: Path, account: str) -> None:
    folder = write_snapshot(tmp_path / "src", "s1", [instance("i-1")])

    def change(m: dict[str, Any]) -> None:
        entry = m["files"][0]
        entry["path"] = entry["path"].replace(ACCT, account)
        entry["account_id"] = account

    edit_manifest(folder, change)
    with pytest.raises(InputError, match=r"manifest.json: files\[0\]"):
        NativeSnapshot(folder)


# --- 5: one unreadable snapshot among good ones --------------------------------------------


def test_a_deeply_nested_manifest_skips_that_snapshot_only(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_snapshot(src, "good", [instance("i-1")])
    bad = write_snapshot(src, "deep", [instance("i-2")])
    (bad / "manifest.json").write_text("[" * 200_000 + "]" * 200_000)
    out = tmp_path / "csv"
    says = f"{bad}: manifest.json: JSON nested deeper than 100 levels"
    proc = bulkgraph("transform", str(src), "--out", str(out), cwd=tmp_path)
    assert proc.returncode == ExitCode.PARTIAL, proc.stderr
    assert says in proc.stderr.replace("\n", "")
    assert [s.snapshot_id for s in read_manifest(out).snapshots] == ["good"]
    for command in ("list", "verify"):
        proc = bulkgraph("snapshots", command, str(src), cwd=tmp_path)
        assert proc.returncode == ExitCode.PARTIAL, (command, proc.stderr)
        assert "deep" in proc.stdout + proc.stderr


def test_an_unforeseen_error_is_a_problem_of_that_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    write_snapshot(src, "good", [instance("i-1")])
    write_snapshot(src, "odd", [instance("i-2")])
    real = NativeSnapshot.__init__

    def init(self: NativeSnapshot, root: Path, location: str | None = None) -> None:
        if root.name == "odd":
            raise RecursionError("maximum recursion depth exceeded")
        real(self, root, location)

    monkeypatch.setattr(NativeSnapshot, "__init__", init)
    found = discover([str(src)], cache_dir=tmp_path / "cache")
    assert [s.info.snapshot_id for s in found.snapshots] == ["good"]
    assert [(Path(p.location).name, p.message) for p in found.problems] == [
        ("odd", "cannot be read (RecursionError: maximum recursion depth exceeded)")
    ]


# --- 6: bounds on decompression and nesting -------------------------------------------------


def test_a_gzip_bomb_is_refused_naming_the_file(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_snapshot(src, "good", [instance("i-1")])
    bomb = write_snapshot(src, "bomb", [instance("i-2")])
    padding = json.dumps([{"request": {}, "pages": [{"Reservations": []}], "pad": "x" * 5_000_000}])
    replace_file(bomb, INSTANCES, raw_file(padding))
    assert (bomb / INSTANCES).stat().st_size < 20_000
    out = tmp_path / "csv"
    limit = {"BULKGRAPH_MAX_FILE_BYTES": "1000000"}
    proc = bulkgraph("transform", str(src), "--out", str(out), cwd=tmp_path, env=limit)
    assert proc.returncode == ExitCode.PARTIAL, proc.stderr
    message = " ".join(proc.stderr.split())
    assert f"{bomb}/{INSTANCES}: expands to more than 1000000 bytes" in message
    assert "BULKGRAPH_MAX_FILE_BYTES" in message
    assert [s.snapshot_id for s in read_manifest(out).snapshots] == ["good"]
    # under the default limit the same file is read
    proc = bulkgraph("transform", str(bomb), "--out", str(tmp_path / "csv2"), cwd=tmp_path)
    assert proc.returncode == ExitCode.OK, proc.stderr


def test_size_limits_of_plain_files_and_tar_members(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2000)
    with pytest.raises(InputError, match=r"big.json: file of more than 1000 bytes"):
        jsonread.read_bytes(big, str(big), limit=1000)
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"fifo.json: not a regular file; refused"):
        jsonread.read_bytes(fifo, str(fifo))
    with pytest.raises(InputError, match=r": not a regular file; refused"):
        jsonread.read_bytes(tmp_path, str(tmp_path))
    with pytest.raises(InputError, match="expands to more than 1000 bytes"):
        jsonread.gunzip(gzip.compress(b" " * 2000), "x.json.gz", limit=1000)
    assert jsonread.gunzip(gzip.compress(b"[]" * 500), "x.json.gz", limit=1000) == b"[]" * 500

    from bulkgraph.extract import archive

    folder = write_snapshot(tmp_path / "src", "t1", [instance("i-1")])
    (folder / "notes.txt").write_bytes(b"x" * 50_000)  # small once the tar is gzipped
    tar = archive.pack(folder, tmp_path / "t1.tar.gz")
    assert tar.stat().st_size < 4000
    monkeypatch.setenv("BULKGRAPH_MAX_FILE_BYTES", "4000")
    get_settings.cache_clear()
    found = discover([str(tar)], cache_dir=tmp_path / "cache")
    assert found.snapshots == []
    assert "more than 4000 (BULKGRAPH_MAX_FILE_BYTES)" in found.problems[0].message


def test_nesting_depth_is_measured_before_parsing() -> None:
    def nested(depth: int) -> bytes:
        return b'{"a":' * (depth - 1) + b'["x", "]]\\"[\\\\"]' + b"}" * (depth - 1)

    assert jsonread.loads(nested(100), "f") is not None
    with pytest.raises(InputError, match="f: JSON nested deeper than 100 levels"):
        jsonread.loads(nested(101), "f")
    # brackets inside strings, escaped quotes and backslashes do not count
    assert jsonread.loads(b'["[[[[\\"[[", "\\\\", [[]]]', "f", max_depth=3) is not None
    with pytest.raises(InputError, match="nested deeper than 2"):
        jsonread.loads(b'["[[[[\\"[[", "\\\\", [[]]]', "f", max_depth=2)
    # a long run of openers is refused without parsing (or recursing)
    with pytest.raises(InputError, match="nested deeper"):
        jsonread.loads(b"[" * 1_000_000 + b"]" * 1_000_000, "f")


#: texts where a fast JSON parser and Python's differ: out-of-range numbers, NaN, lone
#: surrogates (escaped and as bytes), a BOM, integers past 64 bits, duplicate keys
_PARSER_EDGES = [
    b'{"a": 123456789012345678901234567890, "b": -9223372036854775809}',
    b'{"a": NaN, "b": Infinity, "c": -Infinity}',
    b'{"a": 1e400, "b": 1e-400, "c": -0.0, "d": 0.1e1, "e": 1E+2}',
    b'{"a": "\\ud800"}',
    b'{"a": "\xed\xa0\x80"}',
    b'\xef\xbb\xbf{"a": 1}',
    b'{"a": 1, "a": 2}',
    b'{"a": "\\u0000\\ud83d\\ude00\x7f"}',
    b'{"a": "x\ny"}',
    b'{"a": "\xc0\xaf"}',
    b'{"a": 01}',
    b"[1,]",
    b"",
    '{"a": "\u00e9"}'.encode("utf-16"),
]


@pytest.mark.parametrize("text", _PARSER_EDGES)
def test_what_is_read_and_refused_is_what_json_loads_reads_and_refuses(text: bytes) -> None:
    try:
        expected: Any = json.loads(text)
    except ValueError:
        with pytest.raises(InputError, match="f: not valid"):
            jsonread.loads(text, "f")
        return
    got = jsonread.loads(text, "f")
    # repr: NaN is not equal to itself, and -0.0 == 0.0 would hide a lost sign
    assert repr(got) == repr(expected)
    assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]


# --- 9: errors name the file and the record --------------------------------------------------


def test_loads_records_cuts_only_the_deep_records() -> None:
    deep = "[" * 150 + "]" * 150
    text = (
        '{"calls": [{"request": {}, "pages": [{"L": [{"s": "]]}\\"[["}, DEEP, 7]}, '
        '{"L": [DEEP]}]}]}'
    ).replace("DEEP", deep)
    doc, cuts = jsonread.loads_records(text.encode(), "f")
    assert doc["calls"][0]["pages"] == [{"L": [{"s": ']]}"[['}, 7]}, {"L": []}]
    assert [c.locator for c in cuts] == ["calls[0].pages[0].L[1]", "calls[0].pages[1].L[0]"]
    # a duplicate key that hides the list the scan saw: the file is refused, not misread
    hidden = '{"calls": [{"pages": [{"L": [DEEP], "L": [1]}]}]}'.replace("DEEP", deep)
    with pytest.raises(InputError, match="f: JSON nested deeper than 100 levels; refused"):
        jsonread.loads_records(hidden.encode(), "f")


def test_a_record_nested_too_deep_is_rejected_not_its_snapshot(tmp_path: Path) -> None:
    src = tmp_path / "src"
    folder = write_snapshot(src, "s1", [])
    deep = "[" * 5000 + "]" * 5000
    good = json.dumps({"Instances": [instance("i-1")]})
    later = json.dumps({"Instances": [instance("i-3")]})
    calls = (
        f'[{{"request": {{}}, "pages": [{{"Reservations": [{good}, {deep}, {later}]}}, '
        f'{{"Reservations": [{{"Instances": [{deep}]}}, {good.replace("i-1", "i-4")}]}}]}}]'
    )
    replace_file(folder, INSTANCES, raw_file(calls))
    out = tmp_path / "csv"
    proc = bulkgraph("transform", str(src), "--out", str(out), cwd=tmp_path)
    assert proc.returncode == ExitCode.PARTIAL, proc.stderr
    assert "RecursionError" not in proc.stderr
    # the snapshot is kept with its readable records; each deep one is a reject naming it
    assert [s.snapshot_id for s in read_manifest(out).snapshots] == ["s1"]
    assert sorted(r["id"] for r in rows(out, "nodes", "Instance", "s1")) == ["i-1", "i-3", "i-4"]
    got = [(r["file"], r["record"], r["reason"]) for r in rejects(out)]
    where = f"{folder}/{INSTANCES}"
    reason = "nested deeper than 100 levels; record left out"
    assert got == [
        (where, 0, f"calls[0].pages[1].Reservations[0]: {reason}"),
        (where, 1, f"calls[0].pages[0].Reservations[1]: {reason}"),
    ]


def test_deep_nesting_outside_the_records_refuses_the_file_and_names_it(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_snapshot(src, "good", [instance("i-1")])
    deep = write_snapshot(src, "deep", [instance("i-2")])
    calls = '[{"request": ' + "[" * 5000 + "]" * 5000 + ', "pages": []}]'
    replace_file(deep, INSTANCES, raw_file(calls))
    out = tmp_path / "csv"
    proc = bulkgraph("transform", str(src), "--out", str(out), cwd=tmp_path)
    assert proc.returncode == ExitCode.PARTIAL, proc.stderr
    message = " ".join(proc.stderr.split())
    assert f"{deep}/{INSTANCES}: JSON nested deeper than 100 levels" in message
    assert "RecursionError" not in message
    assert [s.snapshot_id for s in read_manifest(out).snapshots] == ["good"]


def test_a_lone_surrogate_rejects_its_record_not_the_snapshot(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_snapshot(
        src,
        "s1",
        [
            instance("i-1", Tags=[{"Key": "Name", "Value": "bad \ud800 value"}]),
            instance("i-\udfff"),
            instance("i-3", Tags=[{"Key": "ok", "Value": "fine"}]),
        ],
    )
    out = tmp_path / "csv"
    proc = bulkgraph("transform", str(src), "--out", str(out), "--json", cwd=tmp_path)
    assert proc.returncode == ExitCode.PARTIAL, proc.stderr
    assert json.loads(proc.stdout)["transformed"] == ["s1"]
    got = [(r["file"], r["record"], r["reason"]) for r in rejects(out)]
    file = f"{src}/s1/{INSTANCES}"
    assert got == [
        (file, 0, "Tags[0]: $.Value: not valid Unicode text (a lone surrogate)"),
        (file, 1, "$.InstanceId: not valid Unicode text (a lone surrogate)"),
    ]
    instances = (out / "nodes" / "Instance" / "s1.csv").read_text(encoding="utf-8")
    assert '"i-1"' in instances and '"i-3"' in instances  # the instance stays, its tag goes
    assert '"fine"' in (out / "nodes" / "Tag" / "s1.csv").read_text(encoding="utf-8")


# --- 10: symlinks ----------------------------------------------------------------------------


def test_a_data_file_linking_out_of_the_snapshot_is_refused_unread(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:TOP-SECRET-CONTENT\n")
    src = tmp_path / "src"
    write_snapshot(src, "good", [instance("i-1")])
    linked = write_snapshot(src, "linked", [instance("i-2")])
    (linked / INSTANCES).unlink()
    (linked / INSTANCES).symlink_to(secret)
    # the attacker knows the file: its checksum matches, so only the link stops it
    set_sha(linked, INSTANCES, hashlib.sha256(secret.read_bytes()).hexdigest())
    out = tmp_path / "csv"
    outputs = []
    for args in (
        ("transform", str(src), "--out", str(out)),
        ("snapshots", "verify", str(src)),
        ("snapshots", "list", str(src), "--json"),
    ):
        proc = bulkgraph(*args, cwd=tmp_path)
        assert proc.returncode == ExitCode.PARTIAL, (args, proc.stderr)
        outputs.append(" ".join((proc.stdout + proc.stderr).split()))
    for text in outputs:
        assert "a symbolic link leading out of the snapshot folder; refused" in text
        assert "TOP-SECRET" not in text and "b'ro'" not in text and "root:x" not in text
    assert [s.snapshot_id for s in read_manifest(out).snapshots] == ["good"]


def test_links_inside_the_snapshot_are_followed_and_a_linked_manifest_is_not(
    tmp_path: Path,
) -> None:
    folder = write_snapshot(tmp_path / "src", "s1", [instance("i-1")])
    moved = folder / f"{ACCT}" / "stored.json.gz"
    (folder / INSTANCES).rename(moved)
    (folder / INSTANCES).symlink_to(moved)
    assert [r.operation for r in NativeSnapshot(folder).responses()] == ["ec2:DescribeInstances"]
    other = write_snapshot(tmp_path / "elsewhere", "s2", [instance("i-2")])
    (folder / "manifest.json").unlink()
    (folder / "manifest.json").symlink_to(other / "manifest.json")
    with pytest.raises(InputError, match=r"manifest\.json: a symbolic link leading out"):
        NativeSnapshot(folder)


# --- 11: nothing dropped without a reject; rejects make the exit 3 -----------------------------


def test_records_of_the_wrong_shape_are_rejected_with_a_reason(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_snapshot(
        src,
        "s1",
        [
            instance("i-1", Tags=[{"Key": None, "Value": "v"}, {"Value": "w"}, {"Key": "k"}]),
            {"InstanceId": "i-2", "State": "running"},
            instance("i-3", SecurityGroups=[{"GroupName": "no id"}, {"GroupId": "sg-1"}]),
            instance("i-4", Tags=[{"Key": {"nested": 1}, "Value": "x"}, "Name"]),
        ],
        peerings=[
            {
                "VpcPeeringConnectionId": "pcx-1",
                "RequesterVpcInfo": {"VpcId": "vpc-1"},
                "AccepterVpcInfo": {"VpcId": "vpc-2"},
                "Tags": [{"Value": "keyless"}],
            }
        ],
    )
    out = tmp_path / "csv"
    proc = bulkgraph("transform", str(src), "--out", str(out), cwd=tmp_path)
    assert proc.returncode == ExitCode.PARTIAL, proc.stderr
    assert "rejects.jsonl" in proc.stderr
    got = sorted((Path(r["file"]).name, r["record"], r["reason"]) for r in rejects(out))
    inst, pcx = "DescribeInstances.json.gz", "DescribeVpcPeeringConnections.json.gz"
    assert got == [
        (inst, 0, "Tags[0]: missing $.Key"),
        (inst, 0, "Tags[1]: missing $.Key"),
        (inst, 1, "$.State: expected an object, got str"),
        (inst, 2, "SecurityGroups[0]: missing $.GroupId"),
        (inst, 3, "Tags[0]: $.Key: expected a scalar, got dict"),
        (inst, 3, "Tags[1]: expected an object, got str"),
        (pcx, 0, "Tags[0]: missing $.Key"),
    ]
    assert all(r["snapshot"] == "s1" for r in rejects(out))
    instances = (out / "nodes" / "Instance" / "s1.csv").read_text()
    assert '"i-1"' in instances and '"i-2"' not in instances


def test_a_rebuild_with_rejected_records_exits_3(tmp_path: Path) -> None:
    from bulkgraph.pipeline.rebuild import RebuildSummary, _first_rejects

    assert RebuildSummary().exit_code == ExitCode.OK
    assert RebuildSummary(rejects=1).exit_code == ExitCode.PARTIAL
    path = tmp_path / "rejects.jsonl"
    path.write_text("".join(json.dumps({"record": n}) + "\n" for n in range(5)))
    assert _first_rejects(path, 2) == [{"record": 0}, {"record": 1}]


def test_no_rejects_exit_0(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_snapshot(src, "s1", [instance("i-1", Tags=[{"Key": "Name", "Value": "web"}])])
    proc = bulkgraph("transform", str(src), "--out", str(tmp_path / "csv"), cwd=tmp_path)
    assert proc.returncode == ExitCode.OK, proc.stderr
    assert rejects(tmp_path / "csv") == []


# --- values that look like something else arrive unchanged -------------------------------------


def hostile_snapshot(root: Path, sid: str = "inj") -> Path:
    tags = [{"Key": f"k{n}:{v}", "Value": v} for n, v in enumerate(HOSTILE)]
    tags.append({"Key": CYPHER_KEY, "Value": '=HYPERLINK("http://x")'})
    return write_snapshot(
        root,
        sid,
        [instance("i-1", Tags=tags, PrivateDnsName="=cmd|' /C calc'!A0")],
        peerings=[
            {
                "VpcPeeringConnectionId": "pcx-1",
                "RequesterVpcInfo": {"VpcId": "vpc-1"},
                "AccepterVpcInfo": {"VpcId": "vpc-2"},
                "Tags": [{"Key": CYPHER_KEY, "Value": 'a;b\n"c"'}],
            }
        ],
    )


def expected_tags() -> set[tuple[str, str]]:
    tags = {(f"k{n}:{v}", v) for n, v in enumerate(HOSTILE)}
    return tags | {(CYPHER_KEY, '=HYPERLINK("http://x")')}


def test_injection_characters_survive_the_transform(tmp_path: Path) -> None:
    import polars as pl

    found = discover([str(hostile_snapshot(tmp_path / "src"))], cache_dir=tmp_path / "cache")
    out = tmp_path / "csv"
    result = transform(found.snapshots, out, workers=1)
    assert result.transformed == ["inj"] and result.rejected == 0
    # read back the way neo4j-admin does with these options: quoted, "" and \\ doubled
    header = (out / "nodes" / "Tag" / "header.csv").read_text().strip().split(",")
    df = pl.read_csv(
        out / "nodes" / "Tag" / "inj.csv",
        has_header=False,
        new_columns=header,
        infer_schema=False,
        quote_char='"',
    )
    names = next(c for c in header if c.startswith("name"))
    values = next(c for c in header if c.startswith("value"))
    got = {
        (k.replace("\\\\", "\\"), v.replace("\\\\", "\\") if v is not None else "")
        for k, v in zip(df[names], df[values], strict=True)
    }
    assert got == expected_tags()


@pytest.mark.slow
def test_injection_characters_arrive_unchanged_in_neo4j(empty_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from bulkgraph.load.append import append

    found = discover([str(hostile_snapshot(tmp_path / "src"))], cache_dir=tmp_path / "cache")
    out = tmp_path / "csv"
    transform(found.snapshots, out, workers=1)
    manifest = read_manifest(out)

    def graph() -> tuple[set[tuple[str, str]], list[dict[str, Any]], list[dict[str, Any]]]:
        tags = {
            (r["k"], r["v"]) for r in empty_db.run("MATCH (t:Tag) RETURN t.name AS k, t.value AS v")
        }
        inst = empty_db.run("MATCH (i:Instance {id: 'i-1'}) RETURN i.aws_hostname AS h")
        peer = empty_db.run("MATCH ()-[p:PEERED_TO]->() RETURN properties(p) AS p")
        return tags, inst, peer

    with empty_db.stopped():
        empty_db.admin(
            *import_command(manifest, out),
            "--overwrite-destination",
            "--max-off-heap-memory=256m",
            "--threads=1",
        )
    imported = graph()
    assert imported[0] == expected_tags()
    assert imported[1] == [{"h": "=cmd|' /C calc'!A0"}]
    peer_props = imported[2][0]["p"]
    assert [v for k, v in peer_props.items() if k.startswith("tag_a")] == ['a;b\n"c"']
    assert empty_db.run("MATCH (n) RETURN count(n) AS n")[0]["n"] > 0  # nothing deleted

    # the same through LOAD CSV (bulkgraph load), into an emptied database
    empty_db.clear()
    user_file = empty_db.home.import_dir / "mine.txt"
    user_file.parent.mkdir(parents=True, exist_ok=True)
    user_file.write_text("the user's own file")
    append(out)
    assert graph() == imported
    assert user_file.read_text() == "the user's own file"
    user_file.unlink()  # the session's server is shared with later tests


@pytest.mark.slow
def test_load_removes_only_the_files_it_copied(empty_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from bulkgraph.load.append import append

    found = discover(
        [str(write_snapshot(tmp_path / "src", "s1", [instance("i-1")]))],
        cache_dir=tmp_path / "cache",
    )
    out = tmp_path / "csv"
    transform(found.snapshots, out, workers=1)
    import_dir = empty_db.home.import_dir
    mine = [import_dir / "mine.csv", import_dir / "bulkgraph" / "s1" / "mine.txt"]
    for path in mine:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("keep me")
    before = {p for p in import_dir.rglob("*") if p.is_file()}
    summary = append(out)
    assert summary.loaded == ["s1"]
    assert {p for p in import_dir.rglob("*") if p.is_file()} == before
    assert all(p.read_text() == "keep me" for p in mine)
    # a folder `..` in the manifest would have been the import folder itself: refused first
    path = out / "import-manifest.json"
    manifest = json.loads(path.read_text())
    manifest["snapshots"][0]["snapshot_id"] = ".."
    path.write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="invalid snapshot id"):
        append(out)
    assert all(p.read_text() == "keep me" for p in mine)
    for p in mine:  # the session's server is shared: later tests expect its import folder empty
        p.unlink()
    (import_dir / "bulkgraph" / "s1").rmdir()
