"""The transform from raw API fixtures to CSVs: mapping, stubs, rejects, re-runs, time links."""

from __future__ import annotations

import csv
import gc
import io
import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from transform_fixtures import NATIVE, from_dict, load

import bulkgraph.transform.run as run_module
import bulkgraph.transform.snapshot as snapshot_module
import bulkgraph.transform.temporal as temporal_module
from bulkgraph.csvfolder import read_manifest
from bulkgraph.load.importer import import_command
from bulkgraph.transform import csvfmt
from bulkgraph.transform.run import transform
from bulkgraph.transform.schema import node_schema, rel_schema

SID = "20260101T000000Z"


def rows(out: Path, kind: str, group: str, sid: str = SID) -> list[dict[str, str]]:
    """A part file read back with its header (same dialect: \\ escapes, "" doubles)."""
    header = (out / kind / group / "header.csv").read_text().strip().split(",")
    names = [h.split(":")[0] or h for h in header]
    text = (out / kind / group / f"{sid}.csv").read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(text, newline=""), escapechar="\\", doublequote=True)
    return [dict(zip(names, r, strict=True)) for r in reader]


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("csv")
    result = transform([load("s1.json")], path, workers=1)
    assert result.transformed == [SID]
    return path


def by(rows_: list[dict[str, str]], key: str) -> dict[str, dict[str, str]]:
    return {r[key]: r for r in rows_}


def test_instances(out: Path) -> None:
    inst = by(rows(out, "nodes", "Instance"), "id")
    assert set(inst) == {"i-1", "i-2", "i-gone"}
    i1 = inst["i-1"]
    assert i1["uid"] == f"{SID}|Instance|i-1"
    assert i1["resource_key"] == "Instance|i-1"
    assert i1["aws_hostname"] == "ip-10-0-0-5.ec2.internal"
    assert i1["public_dns"] == "ec2-54-1-2-3.compute-1.amazonaws.com"
    assert i1["state"] == "running"
    assert i1["launch_time"] == "2025-12-01T10:00:00+00:00"
    assert i1["private_ip"] == "10.0.0.5" and i1["account_id"] == "111111111111"
    assert len(i1["fingerprint"]) == 16 and i1["stub"] == ""
    # terminated: no VPC, subnet, IP, DNS -> absent, and no relationship
    i2 = inst["i-2"]
    assert (i2["vpc_id"], i2["private_ip"], i2["public_dns"], i2["aws_hostname"]) == ("",) * 4
    vpc_rels = rows(out, "relationships", "BELONGS_TO__Instance__VPC")
    assert [(r[":START_ID"], r[":END_ID"]) for r in vpc_rels] == [
        (f"{SID}|Instance|i-1", f"{SID}|VPC|vpc-1")
    ]


def test_stubs(out: Path) -> None:
    inst = by(rows(out, "nodes", "Instance"), "id")
    gone = inst["i-gone"]
    assert gone["stub"] == "true"
    assert gone["resource_key"] == gone["fingerprint"] == gone["state"] == ""
    sgs = by(rows(out, "nodes", "SecurityGroup"), "id")
    assert sgs["sg-other"]["stub"] == "true" and sgs["sg-1"]["stub"] == ""
    vpcs = by(rows(out, "nodes", "VPC"), "id")
    assert vpcs["vpc-peer"]["stub"] == "true"
    assert vpcs["vpc-1"]["cidr"] == "10.0.0.0/16" and vpcs["vpc-1"]["is_default"] == "false"


def test_security_group_rules(out: Path) -> None:
    ingress = rows(out, "relationships", "ALLOWED__IPRange__SecurityGroup")
    got = {
        (r[":START_ID"].split("|")[-1], r["protocol"], r["fromPort"], r["toPort"]) for r in ingress
    }
    assert got == {
        ("0.0.0.0/0", "tcp", "443", "443"),
        ("10.0.0.0/8", "tcp", "443", "443"),
        ("::/0", "tcp", "443", "443"),
    }
    assert {r["direction"] for r in ingress} == {"ingress"}
    # the rule entry's description is on the relationship; absent when AWS gives none
    described = {r[":START_ID"].split("|")[-1]: r["description"] for r in ingress}
    assert described["0.0.0.0/0"] == "https" and described["10.0.0.0/8"] == ""
    egress = rows(out, "relationships", "ALLOWED__SecurityGroup__IPRange")
    assert len(egress) == 1 and egress[0]["protocol"] == "-1"
    assert egress[0]["fromPort"] == "" and egress[0]["direction"] == "egress"
    sg_sg = {
        r[":START_ID"].split("|")[-1]
        for r in rows(out, "relationships", "ALLOWED__SecurityGroup__SecurityGroup")
    }
    assert sg_sg == {"sg-other", "sg-2"}
    pl_ = rows(out, "relationships", "ALLOWED__PrefixList__SecurityGroup")
    assert pl_[0][":START_ID"] == f"{SID}|PrefixList|pl-1"
    ranges = by(rows(out, "nodes", "IPRange"), "cidr")
    assert ranges["0.0.0.0/0"]["description"] == "https"
    assert ranges["10.0.0.0/8"]["description"] == ""


def test_rds_lb_targets_peering(out: Path) -> None:
    db = rows(out, "nodes", "RDSInstance")[0]
    assert db["DBInstanceIdentifier"] == "db1" and db["Endpoint"] == "db1.xyz.rds.amazonaws.com"
    assert (db["Port"], db["VPCId"], db["MultiAZ"], db["StorageEncrypted"]) == (
        "5432",
        "vpc-1",
        "false",
        "true",
    )
    assert db["arn"] == "arn:aws:rds:us-east-1:111111111111:db:db1"
    assert db["resource_key"] == "RDSInstance|111111111111|us-east-1|db1"
    lb = rows(out, "nodes", "LoadBalancer")[0]
    assert (lb["name"], lb["state"], lb["scheme"], lb["type"]) == (
        "web",
        "active",
        "internet-facing",
        "application",
    )
    targets = rows(out, "relationships", "CONTAINS__TargetGroup__Instance")
    assert {(r[":END_ID"].split("|")[-1], r["port"], r["health"]) for r in targets} == {
        ("i-1", "80", "healthy"),
        ("i-gone", "80", "unused"),
    }
    ips = rows(out, "relationships", "CONTAINS__TargetGroup__IPAddress")
    assert ips[0][":END_ID"] == f"{SID}|IPAddress|10.0.0.9" and ips[0]["port"] == "8080"
    assert len(rows(out, "relationships", "CONTAINS__LoadBalancer__TargetGroup")) == 1
    peer = rows(out, "relationships", "PEERED_TO__VPC__VPC")
    assert peer == [
        {
            ":START_ID": f"{SID}|VPC|vpc-1",
            ":END_ID": f"{SID}|VPC|vpc-peer",
            "id": "pcx-1",
            "status": "active",
            "tag_aws_owner": "ops",
        }
    ]


def test_tags_and_quoting(out: Path) -> None:
    tags = {(r["name"], r["value"]) for r in rows(out, "nodes", "Tag")}
    nasty = 'web, "one"\\ ümläut\nline2;x|y'
    assert ("Name", nasty) in tags and ("Env", "") in tags and ("Team", "a") in tags
    raw = (out / "nodes" / "Tag" / f"{SID}.csv").read_text(encoding="utf-8")
    # quotes doubled, backslash doubled; empty string quoted; absent stub column unquoted
    assert '"web, ""one""\\\\ ümläut\nline2;x|y"' in raw
    assert ',"Env",""\n' in raw
    tagged = rows(out, "relationships", "TAGGED__SecurityGroup__Tag")
    assert tagged[0][":END_ID"] == f"{SID}|Tag|Team|a"


def test_snapshot_account_region(out: Path) -> None:
    snap = rows(out, "nodes", "Snapshot")[0]
    assert snap["taken_at"] == "2026-01-01T00:00:00+00:00"
    assert snap["source"] == "bulkgraph-snapshot/1"
    contains = rows(out, "relationships", "CONTAINS__Snapshot__Instance")
    assert len(contains) == 3  # stubs belong to the snapshot too
    region = rows(out, "nodes", "Region")[0]
    assert (region["account_id"], region["name"]) == ("111111111111", "us-east-1")
    assert len(rows(out, "relationships", "HAS_SECURITYGROUP__Region__SecurityGroup")) == 2


def test_rejects_and_summary(out: Path) -> None:
    rejects = [json.loads(x) for x in (out / "rejects.jsonl").read_text().splitlines()]
    assert [(r["record"], r["reason"]) for r in rejects] == [
        (2, "missing $.InstanceId"),
        (3, "$.LaunchTime: expected datetime, got yesterday"),
    ]
    assert rejects[0]["file"].endswith("ec2/DescribeInstances.json.gz")
    assert rejects[0]["snapshot"] == SID


def test_manifest(out: Path) -> None:
    m = read_manifest(out)
    assert [s.snapshot_id for s in m.snapshots] == [SID]
    assert m.nodes_per_label["Instance"] == 3
    groups = {g.group: g for g in m.groups}
    inst = groups["Instance"]
    assert inst.header == "nodes/Instance/header.csv"
    assert inst.parts == [f"nodes/Instance/{SID}.csv"] and inst.total_rows == 3
    assert (
        f"--nodes=Instance=nodes/Instance/header\\.csv,nodes/Instance/{SID}\\.csv" in m.import_args
    )
    assert "--legacy-style-quoting=true" in m.import_args
    assert "--multiline-fields=true" in m.import_args  # a tag value of s1 spans two lines
    cmd = import_command(m, out)
    assert cmd[:4] == ["database", "import", "full", "neo4j"]
    assert any(a.startswith(f"--nodes=Instance={out.resolve()}/nodes/Instance/") for a in cmd)


@pytest.mark.slow  # transforms the estate three times
def test_determinism_and_reuse(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    transform([load("s1.json")], a, workers=1)
    transform([load("s1.json")], b, workers=1)
    files_a = sorted(p.relative_to(a) for p in a.rglob("*.csv"))
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*.csv"))
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    part = a / "nodes" / "Instance" / f"{SID}.csv"
    before = part.stat().st_mtime_ns
    again = transform([load("s1.json")], a, workers=1)
    assert again.reused == [SID] and again.transformed == []
    assert part.stat().st_mtime_ns == before
    forced = transform([load("s1.json")], a, workers=1, force=True)
    assert forced.transformed == [SID]
    changed = transform([load("s1.json", checksum="other")], a, workers=1)
    assert changed.transformed == [SID]


def test_parts_of_another_transform_version_are_redone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    transform([load("s1.json")], tmp_path, workers=1)
    assert transform([load("s1.json")], tmp_path, workers=1).reused == [SID]
    # a new revision (or any change of a group's columns) changes the layout: not reused
    monkeypatch.setattr(
        snapshot_module, "TRANSFORM_REVISION", snapshot_module.TRANSFORM_REVISION + 1
    )
    assert transform([load("s1.json")], tmp_path, workers=1).transformed == [SID]
    assert transform([load("s1.json")], tmp_path, workers=1).reused == [SID]
    # a result written before the layout was recorded is not trusted either
    result = tmp_path / "state" / SID / "result.json"
    data = json.loads(result.read_text())
    assert data["layout"] == snapshot_module.output_layout()
    del data["layout"]
    result.write_text(json.dumps(data))
    assert transform([load("s1.json")], tmp_path, workers=1).transformed == [SID]


@pytest.mark.parametrize("enabled_before", [True, False])
def test_cyclic_gc_is_paused_for_each_snapshot_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, enabled_before: bool
) -> None:
    # the transform's CPU lever (run.cyclic_gc_paused): off while a snapshot is transformed,
    # as it was before once it is done, also when the snapshot fails
    seen: list[bool] = []
    real = run_module.transform_snapshot

    def spy(snapshot: Any, out_dir: Path, **options: Any) -> Any:
        seen.append(gc.isenabled())
        if snapshot.info.snapshot_id != SID:
            raise RuntimeError("spoilt")
        return real(snapshot, out_dir, **options)

    monkeypatch.setattr(run_module, "transform_snapshot", spy)
    was = gc.isenabled()
    try:
        gc.enable() if enabled_before else gc.disable()
        result = transform(
            [load("s1.json"), _variant("20260102T000000Z", "2026-01-02T00:00:00+00:00")],
            tmp_path,
            workers=1,
        )
        assert gc.isenabled() is enabled_before
    finally:
        gc.enable() if was else gc.disable()
    assert seen == [False, False]
    assert result.transformed == [SID]
    assert "spoilt" in result.failed["20260102T000000Z"]


def _variant(sid: str, taken_at: str, edit: Any = None) -> Any:
    raw = json.loads((NATIVE / "s1.json").read_text(encoding="utf-8"))
    raw["info"].update(snapshot_id=sid, taken_at=taken_at, checksum=sid)
    if edit:
        edit(raw["responses"])
    return from_dict(raw)


def test_temporal_links_over_three_snapshots(tmp_path: Path) -> None:
    def drop_i2(responses: list[dict[str, Any]]) -> None:
        page = responses[0]["calls"][0]["pages"][0]
        page["Reservations"][0]["Instances"] = [
            i for i in page["Reservations"][0]["Instances"] if i.get("InstanceId") != "i-2"
        ]

    def change_i1(responses: list[dict[str, Any]]) -> None:
        responses[0]["calls"][0]["pages"][0]["Reservations"][0]["Instances"][0]["State"] = {
            "Name": "stopped"
        }

    snaps = [
        _variant("s3", "2026-01-03T00:00:00+00:00", change_i1),
        _variant("s1", "2026-01-01T00:00:00+00:00"),
        _variant("s2", "2026-01-02T00:00:00+00:00", drop_i2),  # i-2 missing: a gap
    ]
    result = transform(snaps, tmp_path, workers=2)
    assert sorted(result.transformed) == ["s1", "s2", "s3"]
    nxt = [rows(tmp_path, "relationships", "NEXT__Snapshot__Snapshot", s) for s in ("s2", "s3")]
    assert [(r[0][":START_ID"], r[0][":END_ID"]) for r in nxt] == [
        ("s1|Snapshot|s1", "s2|Snapshot|s2"),
        ("s2|Snapshot|s2", "s3|Snapshot|s3"),
    ]
    v2 = by(rows(tmp_path, "relationships", "NEXT_VERSION__Instance__Instance", "s2"), ":END_ID")
    v3 = by(rows(tmp_path, "relationships", "NEXT_VERSION__Instance__Instance", "s3"), ":END_ID")
    assert set(v2) == {"s2|Instance|i-1"}  # stubs (i-gone) are not versioned
    assert v2["s2|Instance|i-1"]["changed"] == "false"
    assert v3["s3|Instance|i-1"]["changed"] == "true"
    assert v3["s3|Instance|i-2"][":START_ID"] == "s1|Instance|i-2"  # across the gap
    assert v3["s3|Instance|i-2"]["changed"] == "false"
    m = read_manifest(tmp_path)
    assert m.relationships_per_type["NEXT"] == 2
    assert m.relationships_per_type["NEXT_VERSION"] > 0
    assert not any(g.group.startswith("NEXT_VERSION__Tag") for g in m.groups)


@pytest.mark.parametrize("chunk", [3, temporal_module.CHUNK])
def test_version_links_match_a_last_seen_walk_across_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """`link` on hand-made key files of 20 snapshots: resources that stay, change, vanish for
    a while (also across a chunk boundary) and come back, against a plain dict walk."""
    monkeypatch.setattr(temporal_module, "CHUNK", chunk)
    ids = [f"2026{m:02d}01T000000Z" for m in range(1, 13)] + [
        f"202701{d:02d}T000000Z" for d in range(1, 9)
    ]

    def present(i: int, res: int) -> bool:
        return {0: True, 1: i < 2 or i > 17, 2: i % 4 != 1, 3: 4 <= i <= 6}.get(res % 4, True)

    expected: dict[str, set[tuple[str, str, str]]] = {}
    last: dict[tuple[str, str], tuple[str, str]] = {}
    for i, sid in enumerate(ids):
        rows = []
        for label in ("Instance", "SecurityGroup", "Tag"):
            for res in range(8):
                if not present(i, res):
                    continue
                key = f"{label}|r{res}"
                uid = f"{sid}|{key}"
                fingerprint = f"f{res}-{i // (res + 1)}"  # changes every res+1 snapshots
                rows.append((label, key, uid, fingerprint))
                if label != "Tag" and (label, key) in last:
                    before_uid, before_fp = last[(label, key)]
                    changed = "true" if before_fp != fingerprint else "false"
                    expected.setdefault(f"{label}/{sid}", set()).add((before_uid, uid, changed))
                last[(label, key)] = (uid, fingerprint)
        state = tmp_path / "state" / sid
        state.mkdir(parents=True)
        pl.DataFrame(rows, schema=list(temporal_module._KEYS), orient="row").write_parquet(
            state / "keys.parquet"
        )
    # a part left by an earlier run where this run has no links: removed
    stale = tmp_path / "relationships" / "NEXT_VERSION__Instance__Instance" / f"{ids[0]}.csv"
    stale.parent.mkdir(parents=True)
    stale.write_text("old\n")

    written = temporal_module.link(tmp_path, ids).written

    found: dict[str, set[tuple[str, str, str]]] = {}
    for label in ("Instance", "SecurityGroup"):
        group = f"NEXT_VERSION__{label}__{label}"
        for path in sorted((tmp_path / "relationships" / group).glob("*.csv")):
            lines = list(csv.reader(path.open(encoding="utf-8")))
            assert [ln[0] for ln in lines] == sorted(ln[0] for ln in lines)  # by start
            found[f"{label}/{path.stem}"] = {(a, b, c) for a, b, c in lines}
            assert written[group][path.stem] == len(lines)
    assert found == expected
    assert not stale.exists()
    assert not (tmp_path / "relationships" / "NEXT_VERSION__Tag__Tag").exists()
    # the gap of r1 spans chunks; its return links to its version before the gap
    assert (f"{ids[1]}|Instance|r1", f"{ids[18]}|Instance|r1", "true") in found[
        f"Instance/{ids[18]}"
    ]

    # a run that goes on from where one over the first 7 stopped (not a chunk boundary)
    # writes the same parts and counts the same rows
    rels = tmp_path / "relationships"
    parts = {p: p.read_bytes() for p in rels.rglob("*.csv")}
    shutil.rmtree(rels)
    first = temporal_module.link(tmp_path, ids[:7])
    again = temporal_module.link(tmp_path, ids, first)
    assert again.written == written
    assert {p: p.read_bytes() for p in rels.rglob("*.csv")} == parts


@pytest.mark.parametrize("small_part", [0, 10_000])  # every part by polars / from Python
def test_part_files_are_the_same_bytes_whichever_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_part: int
) -> None:
    monkeypatch.setattr(csvfmt, "_SMALL_PART", small_part)
    plain = pl.DataFrame({"a": ["x", 'q"uote', "back\\slash", None, ""], "n": [1, 2, 3, 4, None]})
    cols = [("a", "string"), ("n", "long")]
    assert not csvfmt.write_lines(tmp_path / "plain.csv", csvfmt.lines(plain, cols))
    assert (tmp_path / "plain.csv").read_bytes() == (
        b'"x",1\n"q""uote",2\n"back\\\\slash",3\n,4\n"",\n'
    )
    for text in ("two\nlines", "carriage\rreturn"):
        broken = pl.DataFrame({"a": ["x", text], "n": [1, 2]})
        assert csvfmt.write_lines(tmp_path / "broken.csv", csvfmt.lines(broken, cols))
    empty = plain.clear()
    assert not csvfmt.write_lines(tmp_path / "empty.csv", csvfmt.lines(empty, cols))
    assert (tmp_path / "empty.csv").read_bytes() == b""


def _rejects(out: Path, file_part: str) -> list[tuple[int, str]]:
    """(record, reason) of the rejects of the files whose path holds `file_part`."""
    rejects = [json.loads(x) for x in (out / "rejects.jsonl").read_text().splitlines()]
    return [(r["record"], r["reason"]) for r in rejects if file_part in r["file"]]


def test_malformed_rules_are_rejected_against_their_group(tmp_path: Path) -> None:
    def spoil_rules(responses: list[dict[str, Any]]) -> None:
        sgs = responses[1]["calls"][0]["pages"][0]["SecurityGroups"]
        sgs[1]["IpPermissions"] = [
            7,  # not an object
            {"IpProtocol": "tcp", "FromPort": "eighty", "ToPort": 80, "IpRanges": []},
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": {"CidrIp": "x"}},
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "IpRanges": [{"CidrIp": "10.9.0.0/16", "Description": 5}],
            },
        ]

    result = transform([_variant(SID, "2026-01-01T00:00:00+00:00", spoil_rules)], tmp_path)
    assert result.transformed == [SID]
    assert sorted(_rejects(tmp_path, "SecurityGroups")) == [
        (1, "$.FromPort: expected int, got eighty"),
        (1, "IpPermissions[0]: expected an object, got int"),
        (1, "IpPermissions[2]: IpRanges: expected a list, got dict"),
    ]
    # the good rule of the same group is kept; a number where text belongs reads as its text
    ingress = rows(tmp_path, "relationships", "ALLOWED__IPRange__SecurityGroup")
    kept = [r for r in ingress if r[":START_ID"].endswith("10.9.0.0/16")]
    assert [(r[":END_ID"], r["fromPort"], r["description"]) for r in kept] == [
        (f"{SID}|SecurityGroup|sg-2", "5432", "5")
    ]


def test_bad_target_health_records_are_rejected_and_counted(tmp_path: Path) -> None:
    def spoil_targets(responses: list[dict[str, Any]]) -> None:
        call = responses[8]["calls"][0]
        call["pages"][0]["TargetHealthDescriptions"] += [
            {"Target": {"Port": 80}, "TargetHealth": {"State": "healthy"}},  # no target id
            "not an object",
            {"Target": {"Id": "i-1", "Port": "eighty"}},
        ]
        # a second call without the request's target group: every record of it is bad
        pages = [{"TargetHealthDescriptions": [{"Target": {"Id": "i-1", "Port": 80}}]}]
        responses[8]["calls"].append({"request": {}, "pages": pages})

    result = transform([_variant(SID, "2026-01-01T00:00:00+00:00", spoil_targets)], tmp_path)
    assert result.transformed == [SID]
    assert sorted(_rejects(tmp_path, "TargetHealth")) == [
        (3, "missing $.Target.Id"),
        (4, "expected an object, got str"),
        (5, "$.Target.Port: expected int, got eighty"),
        (6, "missing $._tg"),
    ]
    count = result.families["elbv2:DescribeTargetHealth"]
    assert (count["read"], count["rejected"], count["written"]) == (7, 4, 3)
    # the three good targets are still behind their target group
    members = rows(tmp_path, "relationships", "CONTAINS__TargetGroup__Instance")
    assert [r[":END_ID"] for r in members] == [f"{SID}|Instance|i-1", f"{SID}|Instance|i-gone"]


def test_field_text_matches_polars_json_path_match() -> None:
    """The transform reads fields in Python with the contract of `str.json_path_match`."""
    import polars as pl

    from bulkgraph.transform.records import table

    values: list[Any] = [
        "a", "", "ünï \\ \"q\"", 0, -7, 2**53, 1.5, 1e-7, True, False, None,
        {"b": 1}, [1, "x"], [], {},
    ]  # fmt: skip
    docs = [{"v": v, "w": {"x": v}} for v in values] + [{}, {"w": 3}, {"w": None}]
    texts = pl.Series([json.dumps(d) for d in docs])
    # all strings (the fast path), and mixed (the per-value path)
    for subset in (docs[:3], docs):
        got = table((("f", i, d) for i, d in enumerate(subset)), {"v": "$.v", "x": "$.w.x"}).main
        for path, column in (("$.v", "v"), ("$.w.x", "x")):
            expected = texts[: len(subset)].str.json_path_match(path).to_list()
            rows = zip(subset, expected, got[column].to_list(), strict=True)
            for doc, want, have in rows:
                if want is not None and want.startswith(("{", "[")):
                    # objects and arrays: same JSON value (polars prints them compactly)
                    assert have is not None and json.loads(have) == json.loads(want), doc
                elif isinstance(doc.get("v"), float):
                    # a float's digits may be spelled differently (1e-07 / 1e-7): same number
                    assert have is not None and want is not None and float(have) == float(want)
                else:
                    assert have == want, (path, doc)
    # list elements, themselves ("$") or a field of each; a non-object element has no field
    # (the first path is the elements' key: one that is not a scalar is dropped, with why)
    tab = table([("f", 0, {"L": ["sg-1", 5, {"k": "v"}]})], {}, {"L": {"self": "$", "k": "$.k"}})
    assert tab.child("L")["self"].to_list() == ["sg-1", "5"]
    assert tab.child("L")["k"].to_list() == [None, None]
    assert tab.child("L")["idx"].to_list() == [0, 1]
    assert tab.dropped == [("f", 0, "L[2]: $: expected a scalar, got dict")]
    tab = table([("f", 0, {"L": [{"k": "v"}]})], {}, {"L": {"k": "$.k", "self": "$"}})
    assert tab.child("L")["self"].to_list() == ['{"k": "v"}']


def test_multiline_option_only_when_a_field_spans_lines(tmp_path: Path) -> None:
    def one_line_tags(responses: list[dict[str, Any]]) -> None:
        instances = responses[0]["calls"][0]["pages"][0]["Reservations"][0]["Instances"]
        for inst in instances:
            for tag in inst.get("Tags") or []:
                tag["Value"] = str(tag.get("Value", "")).replace("\n", " ")

    flat = _variant("s1", "2026-01-01T00:00:00+00:00", one_line_tags)
    transform([flat], tmp_path, workers=1)
    assert "--multiline-fields=true" not in read_manifest(tmp_path).import_args
    # a line break in one snapshot of many turns it on for the whole import
    transform([flat, _variant("s2", "2026-01-02T00:00:00+00:00")], tmp_path, workers=1)
    assert "--multiline-fields=true" in read_manifest(tmp_path).import_args
    # a snapshot transformed by a version that did not record it counts as multiline
    result = tmp_path / "state" / "s1" / "result.json"
    data = json.loads(result.read_text())
    del data["multiline"]
    result.write_text(json.dumps(data))
    again = transform([flat], tmp_path, workers=1)
    assert again.reused == ["s1"]
    assert "--multiline-fields=true" in read_manifest(tmp_path).import_args


def test_rel_schema_lookup() -> None:
    assert rel_schema("PEERED_TO", "VPC", "VPC").props[0].name == "id"
    assert node_schema("Tag").versioned is False
