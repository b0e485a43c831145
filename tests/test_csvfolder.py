"""The CSV folder contract (bulkgraph/csvfolder.py) and the importer's command line
(load/importer.py): the transform writes what the contract says, load reads it back."""

from __future__ import annotations

from pathlib import Path

import pytest
from transform_fixtures import load

from bulkgraph import csvfolder
from bulkgraph.csvfolder import NODES, RELATIONSHIPS, FileGroup, State, read_manifest
from bulkgraph.load.append import group_schema
from bulkgraph.load.bulk import merged_input
from bulkgraph.load.importer import csv_options, import_command, regex_escape
from bulkgraph.transform import csvfmt
from bulkgraph.transform.keys import snapshot_uid
from bulkgraph.transform.run import transform
from bulkgraph.transform.schema import REL_BY_GROUP, load_csv_statement

SID = "20260101T000000Z"
LATER = "20260102T000000Z"
PEERED = csvfolder.rel_group("PEERED_TO", "VPC", "VPC")


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("csv")
    transform(
        [load("s1.json"), load("s1.json", snapshot_id=LATER, taken_at="2026-01-02T00:00:00+00:00")],
        folder,
        workers=1,
    )
    return folder


def test_the_transform_writes_the_contract_s_paths(out: Path) -> None:
    m = read_manifest(out)
    assert (out / csvfolder.MANIFEST_NAME).is_file() and (out / csvfolder.REJECTS_NAME).is_file()
    for g in m.groups:
        kind = NODES if g.kind == NODES else RELATIONSHIPS
        assert g.header == csvfolder.header_path(kind, g.group)
        assert (out / g.header).is_file()
        assert set(g.parts) <= {csvfolder.part_path(kind, g.group, s) for s in (SID, LATER)}
        assert all(csvfolder.part_snapshot(p) in (SID, LATER) for p in g.parts)
    for sid in (SID, LATER):
        dynamic = (State.dynamic_rows(PEERED), State.dynamic_pairs(PEERED))
        for name in (State.KEYS, *dynamic, State.REJECTS, State.RESULT):
            assert (State.dir(out, sid) / name).is_file()
    (nxt,) = [g for g in m.groups if g.group == csvfolder.rel_group("NEXT", "Snapshot", "Snapshot")]
    (part,) = nxt.parts
    line = (out / part).read_text().strip()
    assert line == f'"{snapshot_uid(SID)}","{snapshot_uid(LATER)}"'
    assert snapshot_uid(SID) == f"{SID}|Snapshot|{SID}"


def _absolute_as_before(import_args: list[str], csv_dir: Path) -> list[str]:
    """What `Manifest.absolute_args` made of the manifest's `import_args` before the command
    line moved to load/importer.py: the reference the new builder must equal."""
    base = csv_dir.resolve()
    args = []
    for arg in import_args:
        opt, sep, value = arg.partition("=")
        if sep and opt in ("--nodes", "--relationships"):
            name, _, files = value.partition("=")
            args.append(f"{opt}={name}=" + ",".join(f"{base}/{f}" for f in files.split(",")))
        else:
            args.append(arg)
    return args


def test_import_command_over_the_parts_is_what_the_manifest_recorded(out: Path) -> None:
    m = read_manifest(out)
    cmd = import_command(m, out, "graph")
    assert cmd[:4] == ["database", "import", "full", "graph"]
    assert cmd[4:] == _absolute_as_before(m.import_args, out)
    assert csv_options(m) == csvfmt.import_options(multiline=True)  # s1 has a two-line tag


def test_import_command_over_merged_files(out: Path, tmp_path: Path) -> None:
    m = read_manifest(out)
    into = tmp_path / "import-input"
    merged = merged_input(m, out, into)
    cmd = import_command(m, out, "neo4j", merged=merged, options=["--verbose"])
    groups = [
        f"--nodes={g.label}={into}/{g.kind}/{g.group}/data\\.csv"
        if g.kind == NODES
        else f"--relationships={g.type}={into}/{g.kind}/{g.group}/data\\.csv"
        for g in m.groups
    ]
    assert cmd == ["database", "import", "full", "neo4j", *groups, *csv_options(m), "--verbose"]
    for g in m.groups:  # header first, then every part
        text = merged[(g.kind, g.group)].read_text()
        assert text == "".join((out / f).read_text() for f in (g.header, *g.parts))
    with pytest.raises(Exception, match="path with ','"):
        import_command(m, tmp_path / "a,b")


def test_regex_escape() -> None:
    assert regex_escape("2026-01-01T00.csv") == "2026\\-01\\-01T00\\.csv"


def test_group_schema_read_from_the_header_is_the_declared_one(out: Path) -> None:
    m = read_manifest(out)
    rels = [g for g in m.groups if g.kind == RELATIONSHIPS]
    assert rels
    for g in rels:
        if g.group == PEERED:
            continue
        declared = REL_BY_GROUP[g.group]
        assert load_csv_statement(group_schema(g)) == load_csv_statement(declared), g.group
    (peered,) = [g for g in rels if g.group == PEERED]
    names = [p.name for p in group_schema(peered).props]
    assert names[:2] == ["id", "status"] and any(n.startswith("tag_") for n in names)


def test_parts_of_a_snapshot_are_exactly_its_own() -> None:
    """A snapshot id may hold dots: `a`'s parts are not `a.b`'s."""
    group = FileGroup(
        kind=NODES,
        group="VPC",
        label="VPC",
        header="nodes/VPC/header.csv",
        header_fields=["uid:ID"],
        parts=["nodes/VPC/a.csv", "nodes/VPC/a.b.csv"],
        rows={},
    )
    assert group.parts_of("a") == ["nodes/VPC/a.csv"]
    assert group.parts_of("a.b") == ["nodes/VPC/a.b.csv"]
