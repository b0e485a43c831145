"""Round trip through the real neo4j-admin importer and LOAD CSV: same values both ways."""

from __future__ import annotations

import shutil
from pathlib import Path

from transform_fixtures import load

from bulkgraph.csvfolder import read_manifest
from bulkgraph.load.importer import import_command
from bulkgraph.transform.run import transform
from bulkgraph.transform.schema import index_statements, load_csv_statement, node_schema, rel_schema

NASTY = 'web, "one"\\ ümläut\nline2;x|y'
SID = "20260101T000000Z"


def test_bulk_import_round_trip(empty_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "csv"
    transform([load("s1.json")], out, workers=1)
    manifest = read_manifest(out)
    with empty_db.stopped():
        empty_db.admin(
            *import_command(manifest, out),
            "--overwrite-destination",
            "--max-off-heap-memory=256m",
            "--threads=1",
        )
    counts = {
        r["label"]: r["n"]
        for r in empty_db.run("MATCH (n) RETURN labels(n)[0] AS label, count(*) AS n")
    }
    assert counts == manifest.nodes_per_label
    rels = {
        r["t"]: r["n"] for r in empty_db.run("MATCH ()-[r]->() RETURN type(r) AS t, count(*) AS n")
    }
    assert rels == manifest.relationships_per_type
    tags = empty_db.run("MATCH (t:Tag {name: 'Name'}) RETURN t.value AS v ORDER BY v")
    assert [t["v"] for t in tags] == ["main", NASTY]
    empty_tag = empty_db.run("MATCH (t:Tag {name: 'Env'}) RETURN t.value AS v")
    assert empty_tag == [{"v": ""}]
    i = empty_db.run(
        "MATCH (i:Instance {id: 'i-1'}) RETURN i.launch_time AS t, i.stub AS stub, "
        "valueType(i.launch_time) AS vt"
    )[0]
    assert i["vt"].startswith("ZONED DATETIME") and i["stub"] is None
    gone = empty_db.run("MATCH (i:Instance {id: 'i-gone'}) RETURN properties(i) AS p")[0]["p"]
    assert gone == {
        "id": "i-gone",
        "uid": f"{SID}|Instance|i-gone",
        "snapshot_id": SID,
        "stub": True,
    }
    ports = empty_db.run(
        "MATCH (:IPRange)-[r:ALLOWED]->(:SecurityGroup {id: 'sg-1'}) "
        "RETURN DISTINCT r.fromPort AS p, valueType(r.fromPort) AS t"
    )
    assert ports == [{"p": 443, "t": "INTEGER NOT NULL"}]


def test_load_csv_reads_the_same(empty_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "csv"
    transform([load("s1.json")], out, workers=1)
    for stmt in index_statements():
        empty_db.run_autocommit(stmt)
    import_dir = Path(empty_db.home.import_dir)
    import_dir.mkdir(parents=True, exist_ok=True)
    for group, schema in (
        ("nodes/Tag", node_schema("Tag")),
        ("nodes/IPRange", node_schema("IPRange")),
        ("nodes/SecurityGroup", node_schema("SecurityGroup")),
        (
            "relationships/ALLOWED__IPRange__SecurityGroup",
            rel_schema("ALLOWED", "IPRange", "SecurityGroup"),
        ),
    ):
        name = group.replace("/", "_") + ".csv"
        shutil.copy(out / group / f"{SID}.csv", import_dir / name)
        for _ in range(2):  # idempotent: a second run adds nothing
            empty_db.run_autocommit(load_csv_statement(schema), url=f"file:///{name}", batch=100)
    tags = empty_db.run("MATCH (t:Tag {name: 'Name'}) RETURN t.value AS v ORDER BY v")
    assert [t["v"] for t in tags] == ["main", NASTY]
    assert empty_db.run("MATCH (t:Tag {name: 'Env'}) RETURN t.value AS v") == [{"v": ""}]
    allowed = empty_db.run(
        "MATCH (:IPRange)-[r:ALLOWED]->(:SecurityGroup) RETURN count(r) AS n, "
        "collect(DISTINCT r.fromPort) AS p"
    )
    assert allowed == [{"n": 3, "p": [443]}]
