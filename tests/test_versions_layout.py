"""The versions layout (docs/versions-layout.md): the transform's versions pass, the import,
and the proof that it says what the snapshots layout says.

A history collected from the moto estate with churn of every kind (tests/versions_estate.py:
a 1.0 archive next to 1.1 snapshots, a property change, relationships added and removed,
resources that vanish and come back the same or changed, a stub, a snapshot that does not
know RDS in one region), transformed in both layouts and bulk-imported into a real Neo4j.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import ManagedNeo4j, import_settings
from graph_cache import BuiltGraphs, graph_key
from layout_views import View, snapshot_view, versions_view
from versions_estate import (
    ACCOUNT_ID,
    CIDR,
    LEGACY,
    S1,
    S2,
    S3,
    S4,
    S5,
    SNAPSHOTS,
    US,
    History,
)

from bulkgraph import csvfolder
from bulkgraph.csvfolder import State, read_manifest
from bulkgraph.errors import InputError
from bulkgraph.extract.sources import discover
from bulkgraph.layout import Layout, recorded_layout
from bulkgraph.load.bulk import bulk_import
from bulkgraph.transform import versions_input
from bulkgraph.transform.keys import key_in_uid_cell
from bulkgraph.transform.run import transform
from bulkgraph.transform.schema import NODES, SNAPSHOT_RELS

pytestmark = pytest.mark.slow

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
TAKEN = {
    sid: dt.datetime.strptime(sid, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC) for sid in SNAPSHOTS[1:]
}
TAKEN[LEGACY] = dt.datetime(2026, 12, 1, 2, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def history(versions_history: History) -> History:
    return versions_history


def _transform(history: History, layout: Layout) -> Path:
    found = discover(history.sources_text, account_id=ACCOUNT_ID)
    assert found.problems == []
    out = history.root / f"csv-{layout.value}"
    result = transform(found.snapshots, out, workers=1, layout=layout)
    assert result.failed == {} and result.rejected == 0
    assert result.layout is layout
    return out


@pytest.fixture(scope="module")
def versions_csv(history: History) -> Path:
    return _transform(history, Layout.versions)


@pytest.fixture(scope="module")
def snapshots_csv(history: History) -> Path:
    return _transform(history, Layout.snapshots)


# -- (a) the versions files -------------------------------------------------------------------


def _rows(csv_dir: Path, kind: str, group: str) -> list[dict[str, str]]:
    """The rows of every part of a versions group (final, then open)."""
    folder = csv_dir / "versions" / kind / group
    header = (folder / "header.csv").read_text(encoding="utf-8").strip().split(",")
    names = [h.split(":")[0] or h for h in header]
    rows = []
    for part in ("final.csv", "open.csv"):
        if (folder / part).exists():
            with (folder / part).open(encoding="utf-8", newline="") as fh:
                rows += [dict(zip(names, row, strict=True)) for row in csv.reader(fh)]
    return rows


def _versions(csv_dir: Path, label: str, key: str) -> list[dict[str, str]]:
    """The versions of resource key `key`, oldest first."""
    found = [r for r in _rows(csv_dir, "nodes", label) if r["resource_key"] == key]
    return sorted(found, key=lambda r: r["valid_from"])


def _span(rows: list[dict[str, str]]) -> list[tuple[str, str, str]]:
    """(first, last, valid_to) of each version."""
    return [(r["first_snapshot_id"], r["last_snapshot_id"], r["valid_to"]) for r in rows]


def _iso(sid: str) -> str:
    return TAKEN[sid].isoformat()


def _links(csv_dir: Path, label: str) -> dict[tuple[str, str], str]:
    rows = _rows(csv_dir, "relationships", f"NEXT_VERSION__{label}__{label}")
    return {(r[":START_ID"], r[":END_ID"]): r["changed"] for r in rows}


def test_a_property_change_closes_a_version_and_links_the_next(
    history: History, versions_csv: Path
) -> None:
    iid = history.estate.regions[US].instances[f"web-2-{US}"]
    rows = _versions(versions_csv, "Instance", f"Instance|{iid}")
    # the 1.0 archive describes it with fewer properties: a version of its own
    assert _span(rows) == [(LEGACY, LEGACY, _iso(S1)), (S1, S1, _iso(S2)), (S2, S5, "")]
    assert [r["state"] for r in rows] == ["running", "running", "stopped"]
    assert [r["uid"] for r in rows] == [f"{s}|Instance|{iid}" for s in (LEGACY, S1, S2)]
    assert all(r["valid_from"] == _iso(r["first_snapshot_id"]) for r in rows)
    links = _links(versions_csv, "Instance")
    assert links[(rows[1]["uid"], rows[2]["uid"])] == "true"
    assert links[(rows[0]["uid"], rows[1]["uid"])] == "true"
    assert "fingerprint" not in _rows(versions_csv, "nodes", "Instance")[0]
    assert "snapshot_id" not in _rows(versions_csv, "nodes", "Instance")[0]


def test_a_resource_that_comes_back_the_same_is_a_new_version_linked_unchanged(
    versions_csv: Path,
) -> None:
    rows = _versions(versions_csv, "IPRange", f"IPRange|{CIDR}")
    assert _span(rows) == [(LEGACY, S1, _iso(S2)), (S3, S5, "")]
    assert _links(versions_csv, "IPRange")[(rows[0]["uid"], rows[1]["uid"])] == "false"


def test_a_resource_that_comes_back_changed(history: History, versions_csv: Path) -> None:
    name = next(d for d in history.estate.regions["eu-west-1"].db_instances if "orders" in d)
    rows = _versions(versions_csv, "RDSInstance", f"RDSInstance|{ACCOUNT_ID}|eu-west-1|{name}")
    assert _span(rows)[1:] == [(S1, S1, _iso(S2)), (S3, S5, "")]
    assert [r["StorageEncrypted"] for r in rows[1:]] == ["false", "true"]
    assert _links(versions_csv, "RDSInstance")[(rows[1]["uid"], rows[2]["uid"])] == "true"


def test_unknown_neither_ends_nor_starts(history: History, versions_csv: Path) -> None:
    """S4 does not know RDS in us-east-1: orders-db runs across it; reports-db, deleted
    before S4, ends at S5, the first snapshot that knew."""
    us = history.estate.regions[US]
    orders, reports = (
        f"RDSInstance|{ACCOUNT_ID}|{US}|{next(d for d in us.db_instances if p in d)}"
        for p in ("orders", "reports")
    )
    assert _span(_versions(versions_csv, "RDSInstance", orders))[1:] == [(S1, S5, "")]
    assert _span(_versions(versions_csv, "RDSInstance", reports))[1:] == [(S1, S3, _iso(S5))]
    # its relationships run across S4 too, and end with it
    groups = [
        r
        for r in _rows(versions_csv, "relationships", "BELONGS_TO__RDSInstance__SecurityGroup")
        if r[":START_ID"] == f"{S1}|{reports}"
    ]
    assert groups and {(r["last_snapshot_id"], r["valid_to"]) for r in groups} == {(S3, _iso(S5))}


def test_relationships_added_and_removed(history: History, versions_csv: Path) -> None:
    iid = history.estate.regions[US].instances[f"web-1-{US}"]
    runs = [
        r
        for r in _rows(versions_csv, "relationships", "TAGGED__Instance__Tag")
        if r[":END_ID"] == "Tag|patched|yes"
    ]
    # removed in S4: the instance's own call succeeded there, though Tag is unknown in
    # us-east-1 (RDS gives tags too)
    assert len(runs) == 1
    assert runs[0][":START_ID"].endswith(f"|Instance|{iid}")
    assert (runs[0]["first_snapshot_id"], runs[0]["last_snapshot_id"]) == (S2, S3)
    assert (runs[0]["valid_from"], runs[0]["valid_to"]) == (_iso(S2), _iso(S4))
    ranges = [
        r
        for r in _rows(versions_csv, "relationships", "ALLOWED__IPRange__SecurityGroup")
        if r[":START_ID"] == f"IPRange|{CIDR}" or r[":START_ID"].endswith(f"|IPRange|{CIDR}")
    ]
    # the group's 1.0 version ends at S1 (its 1.1 version has more properties), and the
    # relationship of the old version with it
    assert sorted((r["first_snapshot_id"], r["last_snapshot_id"]) for r in ranges) == [
        (S1, S1),
        (S3, S5),
        (LEGACY, LEGACY),
    ]


def test_tags_are_values_and_stubs_are_versions(versions_csv: Path) -> None:
    tags = _rows(versions_csv, "nodes", "Tag")
    assert all(r["uid"] == r["resource_key"] and r["uid"].startswith("Tag|") for r in tags)
    assert len({r["uid"] for r in tags}) == len(tags)
    assert "valid_from" not in tags[0] and "snapshot_id" not in tags[0]
    stubs = [r for r in _rows(versions_csv, "nodes", "SecurityGroup") if r["stub"] == "true"]
    assert stubs and all(r["resource_key"] for r in stubs)
    assert {(r["first_snapshot_id"], r["valid_to"]) for r in stubs} == {(LEGACY, "")}


def test_manifest_and_snapshot_nodes(versions_csv: Path) -> None:
    manifest = read_manifest(versions_csv)
    assert manifest.layout is Layout.versions
    groups = {g.group: g for g in manifest.versions_groups}
    assert not any(g.startswith("CONTAINS__Snapshot__") for g in groups)
    assert groups["NEXT__Snapshot__Snapshot"].total_rows == len(SNAPSHOTS) - 1
    assert groups["Snapshot"].total_rows == len(SNAPSHOTS)
    assert groups["Snapshot"].header_fields[-1] == "layout"
    assert groups["Snapshot"].parts == ["versions/nodes/Snapshot/final.csv"]
    lines = (versions_csv / "versions/nodes/Snapshot/final.csv").read_text().splitlines()
    assert len(lines) == len(SNAPSHOTS) and all(line.endswith(',"versions"') for line in lines)
    # closed versions are final, current ones open
    assert groups["Instance"].parts == [
        "versions/nodes/Instance/final.csv",
        "versions/nodes/Instance/open.csv",
    ]
    assert manifest.nodes_per_label["Snapshot"] == len(SNAPSHOTS)
    # the counts `import` checks are those of the versions files
    per_snapshot = {g.group: g.total_rows for g in manifest.groups}
    assert manifest.nodes_per_label["Instance"] == groups["Instance"].total_rows
    assert groups["Instance"].total_rows < per_snapshot["Instance"]
    assert manifest.relationships_per_type["TAGGED"] == sum(
        g.total_rows for g in manifest.versions_groups if g.type == "TAGGED"
    )
    # the per-snapshot parts are still there, for `load`
    assert any(g.group == "CONTAINS__Snapshot__Instance" for g in manifest.groups)
    assert all(a.find("versions/") >= 0 for a in manifest.import_args if a.startswith("--n"))


def test_each_worker_hands_the_pass_the_text_of_the_lines_it_wrote(versions_csv: Path) -> None:
    """What the versions pass compares is what the part files say: every row of a
    snapshot's versions input is the line of its part, in the part's order, cut after the
    node's fourth field or the relationship's two ids."""
    manifest = read_manifest(versions_csv)
    checked = {"n": 0, "r": 0}
    written = {n.group for n in NODES} | {r.group for r in SNAPSHOT_RELS if r.dynamic is None}
    for snap in manifest.snapshots:
        sid = snap.snapshot_id
        given = pl.read_parquet(State.dir(versions_csv, sid) / State.VERSIONS_INPUT)
        by_group = {g: f for (g,), f in given.partition_by("group", as_dict=True).items()}
        compared = set()
        for g in manifest.groups:
            kind = csvfolder.NODES if g.kind == csvfolder.NODES else csvfolder.RELATIONSHIPS
            part = csvfolder.part_path(kind, g.group, sid)
            # the groups the workers write, less what the pass does not compare
            if g.group not in written or g.group == "Snapshot" or versions_input.contains(g.group):
                continue
            if part not in g.parts:
                continue
            compared.add(g.group)
            lines = (versions_csv / part).read_text(encoding="utf-8").splitlines()
            rows = by_group[g.group].rows(named=True)
            assert len(rows) == len(lines), (sid, g.group)
            for row, line in zip(rows, lines, strict=True):
                if row["kind"] == "n":
                    assert line.startswith(row["start"] + ",") and line.endswith("," + row["props"])
                    head = line[: len(line) - len(row["props"]) - 1]
                    assert len(next(csv.reader([head]))) == 4
                else:
                    assert line == row["start"] + "," + row["end"] + row["props"]
                checked[row["kind"]] += 1
        assert set(by_group) == compared, sid
    assert checked["n"] > 100 and checked["r"] > 100


def test_a_lost_versions_input_is_an_error_naming_the_file(
    history: History, versions_csv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "csv"
    shutil.copytree(versions_csv, out)
    # a full pass: it reads every snapshot's input
    shutil.rmtree(out / csvfolder.VERSIONS_CHECKPOINT_DIR)
    lost = State.dir(out, S2) / State.VERSIONS_INPUT
    lost.unlink()
    found = discover(history.sources_text, account_id=ACCOUNT_ID)
    with pytest.raises(InputError, match=re.escape(str(lost))):
        transform(found.snapshots, out, workers=1, layout=Layout.versions)


def _continuing_rel_and_end(out: Path) -> tuple[str, str]:
    """A relationship of S2 that S1 held too between the same ends, with the same
    properties, whose end S1 and S2 say the same of and whose label has versions: (its
    group, its end's uid cell in S2)."""
    versioned = {n.label for n in NODES if n.versioned}
    before, now = versions_input.read(out, S1), versions_input.read(out, S2)
    cut1, cut2 = key_in_uid_cell(S1), key_in_uid_cell(S2)

    def tails(rows: pl.DataFrame, cut: int) -> set[tuple[str, str, str]]:
        return {(r["start"][cut:], r["end"][cut:], r["props"]) for r in rows.iter_rows(named=True)}

    for group, rows in now.items():
        end_label = group.split("__")[-1]
        if rows["kind"][0] != "r" or end_label not in versioned or group not in before:
            continue
        held = tails(before[group], cut1)
        nodes1, nodes2 = (
            {n["start"][cut:]: n["props"] for n in given[end_label].iter_rows(named=True)}
            for given, cut in ((before, cut1), (now, cut2))
        )
        for row in rows.iter_rows(named=True):
            end = row["end"][cut2:]
            same_end = nodes1.get(end) is not None and nodes1.get(end) == nodes2.get(end)
            if (row["start"][cut2:], end, row["props"]) in held and same_end:
                return group, row["end"]
    raise AssertionError("the history has no relationship that goes on from S1 to S2")


def test_a_relationship_whose_end_the_node_files_lose_is_an_error(
    history: History, versions_csv: Path, tmp_path: Path
) -> None:
    """A relationship that goes on from the night before (not mapped to versions again)
    still may not name a node its snapshot's node files do not hold: the end's version
    closes, which ends the run and starts it again, and the start finds no version."""
    out = tmp_path / "csv"
    shutil.copytree(versions_csv, out)
    shutil.rmtree(out / csvfolder.VERSIONS_CHECKPOINT_DIR)
    group, end = _continuing_rel_and_end(out)
    path = State.dir(out, S2) / State.VERSIONS_INPUT
    rows = pl.read_parquet(path)
    kept = rows.filter(~((pl.col("kind") == "n") & (pl.col("start") == end)))
    assert kept.height == rows.height - 1
    kept.write_parquet(path)
    found = discover(history.sources_text, account_id=ACCOUNT_ID)
    with pytest.raises(InputError, match=f"snapshot {S2}: .* names a node its node files") as err:
        transform(found.snapshots, out, workers=1, layout=Layout.versions)
    # the first of the relationships of that node: the one found or another
    assert end in str(err.value), (group, str(err.value))


def test_an_older_manifest_reads_as_snapshots(snapshots_csv: Path) -> None:
    path = snapshots_csv / "import-manifest.json"
    data = json.loads(path.read_text())
    assert data["layout"] == "snapshots" and data["versions_groups"] == []
    del data["layout"], data["versions_groups"]
    path.write_text(json.dumps(data))
    manifest = read_manifest(snapshots_csv)
    assert manifest.layout is Layout.snapshots
    assert manifest.import_groups == manifest.groups
    assert not (snapshots_csv / "versions").exists()


# -- (b) the graph: the versions layout as of S.taken_at is the snapshots layout at S ----------


def _import(
    server: ManagedNeo4j, graphs: BuiltGraphs, history: History, csv_dir: Path, layout: Layout
) -> None:
    """Bulk-import `csv_dir`, `history` transformed in `layout`; or get the same graph back
    (tests/test_report_versions.py rebuilds it from the same sources, with the same checks)."""

    def build() -> None:
        summary = bulk_import(csv_dir, server.home, settings=import_settings())
        assert summary.report_lines == 0

    graphs.ensure(graph_key(history.sources_text, layout, ACCOUNT_ID), build)


@pytest.fixture(scope="module")
def views(
    neo4j_server: ManagedNeo4j,
    built_graphs: BuiltGraphs,
    history: History,
    snapshots_csv: Path,
    versions_csv: Path,
) -> Iterator[dict[str, dict[str, View]]]:
    """layout -> snapshot -> what the graph of that layout says at it."""
    out: dict[str, dict[str, View]] = {}
    _import(neo4j_server, built_graphs, history, snapshots_csv, Layout.snapshots)
    assert recorded_layout(neo4j_server.driver()) is Layout.snapshots
    out["snapshots"] = {s: snapshot_view(neo4j_server.run, s) for s in SNAPSHOTS}
    # the versions layout's indexes are for versions graphs only
    names = {r["name"] for r in neo4j_server.run("SHOW INDEXES YIELD name RETURN name")}
    assert "instance_resource_key" in names
    assert "instance_resource_key_valid_from" not in names
    _import(neo4j_server, built_graphs, history, versions_csv, Layout.versions)
    assert recorded_layout(neo4j_server.driver()) is Layout.versions
    out["versions"] = {s: versions_view(neo4j_server.run, TAKEN[s]) for s in SNAPSHOTS}
    yield out


def test_every_snapshot_that_knows_everything_reads_the_same(
    views: dict[str, dict[str, View]],
) -> None:
    for sid in (S1, S2, S3, S5):
        old, new = views["snapshots"][sid], views["versions"][sid]
        assert old.nodes and old.rels
        assert new.nodes - old.nodes == set(), sid
        assert old.nodes - new.nodes == set(), sid
        assert new.rels - old.rels == set(), sid
        assert old.rels - new.rels == set(), sid


def test_where_a_snapshot_did_not_know_the_versions_layout_holds_the_last_known_state(
    views: dict[str, dict[str, View]],
) -> None:
    def unknown(key: str) -> bool:
        return key.startswith(f"RDSInstance|{ACCOUNT_ID}|{US}|")

    at = views["versions"][S4]
    assert at.without(unknown) == views["snapshots"][S4].without(unknown)
    assert views["snapshots"][S4].only(unknown) == View(frozenset(), frozenset())
    assert at.only(unknown) == views["snapshots"][S3].only(unknown)
    assert at.only(unknown).nodes


def test_the_1_0_archive_reads_the_same_where_it_knew(views: dict[str, dict[str, View]]) -> None:
    """The 1.0 archive knows instances, groups, RDS, load balancers: there both layouts agree
    (a label it does not know holds nothing in either: nothing came before it)."""
    assert views["versions"][LEGACY] == views["snapshots"][LEGACY]


def test_the_versions_graph_is_smaller_and_indexed(
    views: dict[str, dict[str, View]], neo4j_server: ManagedNeo4j
) -> None:
    names = {r["name"] for r in neo4j_server.run("SHOW INDEXES YIELD name RETURN name")}
    assert {"instance_resource_key_valid_from", "ipaddress_ip", "instance_private_ip"} <= names
    assert "instance_uid" in names  # the uniqueness constraints' indexes, as before
    with neo4j_server.driver().session() as session:
        summary = session.run(
            "EXPLAIN MATCH (n:Instance {resource_key: $k}) WHERE n.valid_from <= $t RETURN n",
            k="Instance|i-1",
            t=TAKEN[S3],
        ).consume()
    assert "NodeIndexSeek" in json.dumps(_operators(summary.plan))


def _operators(plan: Any) -> list[str]:
    if plan is None:
        return []
    ops = [str(plan.get("operatorType", "") if isinstance(plan, dict) else plan.operator_type)]
    children = plan.get("children", []) if isinstance(plan, dict) else plan.children
    for child in children:
        ops += _operators(child)
    return ops


# -- (c) the samples from the CLI --------------------------------------------------------------


def _rebuild_samples(server: ManagedNeo4j, layout: str, work: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bulkgraph",
            "rebuild",
            str(SAMPLES),
            "--layout",
            layout,
            "--workdir",
            str(work),
            "--workers",
            "1",
            "--json",
        ],
        env=server.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode in (0, 3), proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_rebuild_samples_in_the_versions_layout(
    managed_neo4j: ManagedNeo4j, tmp_path: Path
) -> None:
    ver = _rebuild_samples(managed_neo4j, "versions", tmp_path / "b")
    assert ver["layout"] == "versions"
    rows = managed_neo4j.run("MATCH (s:Snapshot) RETURN s.layout AS layout")
    assert [r["layout"] for r in rows] == ["versions"] * len(ver["snapshots"]) == ["versions"] * 4
    assert managed_neo4j.run("MATCH (:Snapshot)-[r:CONTAINS]->() RETURN r LIMIT 1") == []
    # its folder is for the import alone: of each snapshot's own parts, the Snapshot node's
    csv_dir = tmp_path / "b" / "csv"
    assert {p.parent.name for p in (csv_dir / "nodes").rglob("*.csv")} == {"Snapshot"}
    assert [s.parts for s in read_manifest(csv_dir).snapshots] == [False] * 4
    # the snapshots layout's records, from its transform alone (its rebuild is tested in
    # test_pipeline.py and by every test that rebuilds the samples)
    snap = read_manifest(_transform_samples(tmp_path / "a"))
    assert snap.layout is Layout.snapshots
    s_records = sum(snap.nodes_per_label.values()) + sum(snap.relationships_per_type.values())
    v_records = ver["nodes"] + ver["relationships"]
    print(f"samples: snapshots layout {s_records} records; versions layout {v_records}")
    assert v_records < s_records / 2


def _transform_samples(out: Path) -> Path:
    found = discover([str(SAMPLES)])
    assert found.problems == []
    assert transform(found.snapshots, out, workers=1, layout=Layout.snapshots).failed == {}
    return out


def _transform_cli(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bulkgraph", "transform", str(SAMPLES), "--out", str(out), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_bad_layout_is_a_usage_error(tmp_path: Path) -> None:
    proc = _transform_cli(tmp_path, "--layout", "sideways")
    assert proc.returncode == 2
    assert "sideways" in proc.stderr


def test_no_snapshot_parts_is_refused_on_a_dask_cluster(tmp_path: Path) -> None:
    # its tasks publish every part: the option would be silently ignored there
    proc = _transform_cli(
        tmp_path / "csv",
        *("--layout", "versions", "--no-snapshot-parts", "--scheduler", "tcp://127.0.0.1:9"),
        *("--shared", str(tmp_path / "shared")),
    )
    assert proc.returncode == 1, proc.stderr
    assert "--no-snapshot-parts" in proc.stderr and "Dask" in proc.stderr
    assert not (tmp_path / "csv").exists()
