"""Loading into the real Neo4j: atomic bulk rebuilds and LOAD CSV appends.

Data: the bundled sample snapshots (`samples/`, made with moto by scripts/make-samples).
"""

from __future__ import annotations

import csv
import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ManagedNeo4j, with_a_dangling_relationship

from bulkgraph.csvfolder import read_manifest
from bulkgraph.errors import BulkgraphError
from bulkgraph.extract.sources import discover
from bulkgraph.load.append import append
from bulkgraph.load.bulk import bulk_import
from bulkgraph.load.staging import discard_staging, prepare_staging, staging_home
from bulkgraph.load.swap import JOURNAL, PREVIOUS_DIR, recover
from bulkgraph.query.snapshots import list_snapshots
from bulkgraph.server import Neo4jHome, server_pid
from bulkgraph.transform.run import transform

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
NATIVE = sorted(SAMPLES.glob("*.tar.gz"))
S1, S2, S3 = (p.name.removesuffix(".tar.gz") for p in NATIVE)


def _transform(paths: list[Path], out: Path) -> Path:
    found = discover([str(p) for p in paths], cache_dir=out.parent / "cache")
    assert not found.problems
    result = transform(found.snapshots, out, workers=1)
    assert not result.failed
    return out


@pytest.fixture(scope="module")
def all_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _transform(NATIVE, tmp_path_factory.mktemp("all") / "csv")


def _counts(db: ManagedNeo4j) -> tuple[dict[str, int], dict[str, int]]:
    labels = {
        r["label"]: r["n"]
        for r in db.run(
            "MATCH (n) UNWIND labels(n) AS label RETURN label, count(*) AS n ORDER BY label"
        )
    }
    types = {
        r["type"]: r["n"]
        for r in db.run("MATCH ()-[r]->() RETURN type(r) AS type, count(*) AS n ORDER BY type")
    }
    return labels, types


def _snapshot_chain(db: ManagedNeo4j) -> list[list[str]]:
    return [
        [r["a"], r["b"]]
        for r in db.run(
            "MATCH (a:Snapshot)-[:NEXT]->(b:Snapshot) RETURN a.snapshot_id AS a, "
            "b.snapshot_id AS b ORDER BY a"
        )
    ]


def _version_chains(db: ManagedNeo4j, label: str) -> dict[str, list[str]]:
    """resource_key -> the snapshot ids of its versions along NEXT_VERSION, for full chains."""
    rows = db.run(
        f"MATCH p = (a:`{label}`)-[:NEXT_VERSION*0..]->(b:`{label}`) "
        "WHERE a.stub IS NULL AND NOT ()-[:NEXT_VERSION]->(a) AND NOT (b)-[:NEXT_VERSION]->() "
        "RETURN a.resource_key AS key, [n IN nodes(p) | n.snapshot_id] AS sids"
    )
    return {r["key"]: r["sids"] for r in rows}


def _expected_chains(csv_dir: Path, label: str) -> dict[str, list[str]]:
    """The same, computed from the node files: the snapshots holding each resource, in order."""
    manifest = read_manifest(csv_dir)
    order = [s.snapshot_id for s in sorted(manifest.snapshots, key=lambda s: s.taken_at)]
    group = next(g for g in manifest.groups if g.kind == "nodes" and g.group == label)
    header = [h.split(":")[0] for h in group.header_fields]
    key_col, stub_col = header.index("resource_key"), header.index("stub")
    held: dict[str, list[str]] = {}
    for part in group.parts:
        sid = Path(part).name.removesuffix(".csv")
        with (csv_dir / part).open(newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh, escapechar="\\"):
                if row[stub_col] != "true":
                    held.setdefault(row[key_col], []).append(sid)
    return {k: sorted(v, key=order.index) for k, v in held.items()}


def _next_versions(csv_dir: Path) -> set[tuple[str, str, bool]]:
    manifest = read_manifest(csv_dir)
    out: set[tuple[str, str, bool]] = set()
    for group in manifest.groups:
        if group.type == "NEXT_VERSION":
            for part in group.parts:
                with (csv_dir / part).open(newline="", encoding="utf-8") as fh:
                    out.update((a, b, c == "true") for a, b, c in csv.reader(fh, escapechar="\\"))
    return out


def _with_one_instance_too_many(csv_dir: Path, into: Path) -> Path:
    """A copy of `csv_dir` whose manifest expects one Instance node more than its files hold."""
    shutil.copytree(csv_dir, into)
    data = json.loads((into / "import-manifest.json").read_text())
    data["nodes_per_label"]["Instance"] += 1
    (into / "import-manifest.json").write_text(json.dumps(data))
    return into


def test_rebuild_then_failed_rebuilds_leave_the_graph_serving(
    empty_db: ManagedNeo4j, tmp_path: Path
) -> None:
    broken = tmp_path / "20261128T020000Z.tar.gz"
    broken.write_bytes(b"this is not a tar file")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bulkgraph",
            "rebuild",
            *map(str, NATIVE),
            str(broken),
            "--workdir",
            str(tmp_path / "work"),
            "--json",
        ],
        env=empty_db.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    # 3: rebuilt, with the unreadable archive named and skipped
    assert proc.returncode == 3, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["snapshots"] == [S1, S2, S3]
    assert list(summary["skipped"]) == [str(broken)]
    assert str(broken) in proc.stderr
    assert set(summary["phases"]) >= {"transform", "import", "post_load", "verify", "swap"}
    assert summary["swap_mode"] == "staged"  # the server was running: checked on staging
    # the importer's CPU, from its own process: at least the JVM's start
    assert summary["import_cpu_seconds"] > 0.3

    manifest = read_manifest(tmp_path / "work" / "csv")
    labels, types = _counts(empty_db)
    assert labels == manifest.nodes_per_label
    assert types == manifest.relationships_per_type
    assert summary["nodes"] == sum(labels.values())
    assert _snapshot_chain(empty_db) == [[S1, S2], [S2, S3]]
    for label in ("Instance", "SecurityGroup", "LoadBalancer"):
        assert _version_chains(empty_db, label) == _expected_chains(
            tmp_path / "work" / "csv", label
        )
    # the post-load Cypher ran: uniqueness on uid for every label
    constrained = {
        r["label"]
        for r in empty_db.run(
            "SHOW CONSTRAINTS YIELD labelsOrTypes, properties, type "
            "WHERE type = 'UNIQUENESS' AND properties = ['uid'] RETURN labelsOrTypes[0] AS label"
        )
    }
    assert constrained >= set(manifest.nodes_per_label)
    assert not staging_home(empty_db.home).root.exists()

    # Then two rebuilds that must fail, each leaving this graph serving unchanged.
    # (One test, so that the machine imports the first graph once.)
    before = _counts(empty_db)
    all_csv = tmp_path / "work" / "csv"

    # a corrupt part file: a relationship to a node that does not exist
    corrupt = tmp_path / "corrupt"
    with_a_dangling_relationship(all_csv, corrupt)
    with pytest.raises(BulkgraphError, match="live graph is unchanged") as failure:
        bulk_import(corrupt, empty_db.home)
    assert "nope|" in str(failure.value)  # the importer's own words name the bad row
    assert _counts(empty_db) == before

    # a manifest whose counts the imported graph does not match: refused after verification
    wrong = _with_one_instance_too_many(all_csv, tmp_path / "wrong")
    with pytest.raises(BulkgraphError, match="label Instance: expected"):
        bulk_import(wrong, empty_db.home)
    assert _counts(empty_db) == before
    assert not staging_home(empty_db.home).root.exists()
    assert not (empty_db.home.root / PREVIOUS_DIR).exists()


def test_a_rebuild_with_the_server_stopped_is_checked_in_place(
    empty_db: ManagedNeo4j, all_csv: Path, tmp_path: Path
) -> None:
    home = empty_db.home
    empty_db.run("CREATE (:Marker {name: 'the previous graph'})")
    empty_db.stop()

    # counts the new store cannot match: refused after the move, the previous store back
    # and the server left stopped, as it was
    wrong = _with_one_instance_too_many(all_csv, tmp_path / "wrong")
    with pytest.raises(BulkgraphError, match="label Instance: expected") as refused:
        bulk_import(wrong, home)
    assert "previous store is back" in str(refused.value)
    assert server_pid(home) is None
    assert not (home.root / JOURNAL).exists()
    assert not (home.root / PREVIOUS_DIR).exists()
    assert not staging_home(home).root.exists()
    empty_db.start()
    assert empty_db.run("MATCH (n) RETURN labels(n) AS labels, n.name AS name") == [
        {"labels": ["Marker"], "name": "the previous graph"}
    ]
    empty_db.stop()

    summary = bulk_import(all_csv, home)
    assert summary.swap_mode == "in_place"
    assert server_pid(home) is not None  # started on the new store, and serving
    manifest = read_manifest(all_csv)
    assert _counts(empty_db) == (manifest.nodes_per_label, manifest.relationships_per_type)
    assert summary.nodes == sum(manifest.nodes_per_label.values())
    assert _snapshot_chain(empty_db) == [[S1, S2], [S2, S3]]
    online = empty_db.run("SHOW INDEXES YIELD state WHERE state <> 'ONLINE' RETURN count(*) AS n")
    assert online == [{"n": 0}]
    assert len(empty_db.run("SHOW CONSTRAINTS YIELD name RETURN name")) >= len(
        manifest.nodes_per_label
    )
    assert not (home.root / JOURNAL).exists()
    assert not (home.root / PREVIOUS_DIR).exists()
    assert not staging_home(home).root.exists()


def test_load_appends_idempotently_and_backfills_in_time_order(
    empty_db: ManagedNeo4j, all_csv: Path, tmp_path: Path
) -> None:
    outer = _transform([NATIVE[0], NATIVE[2]], tmp_path / "outer")
    middle = _transform([NATIVE[1]], tmp_path / "middle")

    first = append(outer)
    assert first.loaded == [S1, S3] and first.skipped == []
    assert _snapshot_chain(empty_db) == [[S1, S3]]
    after_first = _counts(empty_db)

    again = append(outer)
    assert again.loaded == [] and again.skipped == [S1, S3]
    assert _counts(empty_db) == after_first

    # a load that died half-way: the snapshot is still marked and only partly there;
    # questions do not see it, and the next load finishes it instead of skipping it
    empty_db.run("MATCH (s:Snapshot {snapshot_id: $sid}) SET s.loading = true", sid=S3)
    empty_db.run("MATCH (n:Instance {snapshot_id: $sid}) DETACH DELETE n", sid=S3)
    assert [s.snapshot_id for s in list_snapshots(empty_db.driver(), "neo4j")] == [S1]
    resumed = append(outer)
    assert resumed.loaded == [S3] and resumed.skipped == [S1]
    assert _counts(empty_db) == after_first

    backfill = append(middle)
    assert backfill.loaded == [S2]
    assert _snapshot_chain(empty_db) == [[S1, S2], [S2, S3]]
    for label in ("Instance", "SecurityGroup", "TargetGroup"):
        assert _version_chains(empty_db, label) == _expected_chains(all_csv, label)

    # appended in pieces, the graph is the one a bulk import of all three gives
    manifest = read_manifest(all_csv)
    labels, types = _counts(empty_db)
    assert labels == manifest.nodes_per_label
    assert types == manifest.relationships_per_type
    # and `changed` on every NEXT_VERSION is what the transform computed for the whole run
    found = {
        (r["a"], r["b"], r["changed"])
        for r in empty_db.run(
            "MATCH (a)-[r:NEXT_VERSION]->(b) RETURN a.uid AS a, b.uid AS b, r.changed AS changed"
        )
    }
    assert found == _next_versions(all_csv)
    assert any(c for _, _, c in found) and not all(c for _, _, c in found)
    assert not any((empty_db.home.import_dir / "bulkgraph").glob("*/*"))


def test_an_interrupted_swap_is_undone(tmp_path: Path) -> None:
    live = Neo4jHome(tmp_path / "home")
    parked = Neo4jHome(live.root / PREVIOUS_DIR)
    parked.store_dir().mkdir(parents=True)
    (parked.store_dir() / "neostore").write_text("old")
    parked.transactions_dir().mkdir(parents=True)
    live.store_dir().mkdir(parents=True)  # half-moved new store
    (live.store_dir() / "neostore").write_text("new")
    (live.root / JOURNAL).write_text("{}")

    recovery = recover(live)
    assert recovery is not None and recovery.action == "undone"
    assert (live.store_dir() / "neostore").read_text() == "old"
    assert live.transactions_dir().is_dir()
    assert not (live.root / JOURNAL).exists() and not parked.root.exists()
    assert recover(live) is None


def test_staging_shares_the_live_password(neo4j_server: ManagedNeo4j, tmp_path: Path) -> None:
    live = neo4j_server.home
    staging = prepare_staging(live)
    try:
        assert staging.read_password() == live.read_password()
        assert staging.auth_file.read_bytes() == live.auth_file.read_bytes()
        assert stat.S_IMODE(staging.password_file.stat().st_mode) == 0o600
    finally:
        discard_staging(live)

    # a home without our password file (e.g. a NEO4J_HOME set up by hand): staging gets its
    # own password from neo4j-admin
    bare = Neo4jHome(tmp_path / "bare")
    bare.root.mkdir()
    bare.lib.symlink_to(live.lib.resolve(), target_is_directory=True)
    staging = prepare_staging(bare)
    try:
        password = staging.read_password()
        assert password and password != live.read_password()
        assert staging.auth_file.is_file()
    finally:
        discard_staging(bare)
