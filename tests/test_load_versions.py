"""`bulkgraph load` into a database in the versions layout (docs/versions-layout.md,
"Appending"; issue #20): a history of six nights with churn of every kind
(tests/versions_history.py), loaded night by night into a real Neo4j.

The proof: the same history loaded into a snapshots-layout database answers, for every
snapshot S that knows everything, with the same nodes and relationships as the versions
database holds valid at `S.taken_at`. The readers of both (`snapshot_view`, `versions_view`)
are plain functions, to be shared with the versions build's tests later.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import neo4j
import pytest
from conftest import ManagedNeo4j
from versions_history import (
    ACCOUNT,
    EU,
    N1,
    N2,
    N3,
    N4,
    N5,
    N6,
    NIGHTS,
    US,
    taken_at,
    write_history,
)

from bulkgraph.errors import BulkgraphError
from bulkgraph.extract.sources import discover
from bulkgraph.layout import Layout, recorded_layout
from bulkgraph.load.append import append
from bulkgraph.load.versions_append import unknown_param
from bulkgraph.load.versions_cypher import close_nodes_statement, close_rels_statement
from bulkgraph.query.snapshots import list_snapshots
from bulkgraph.transform.run import transform
from bulkgraph.transform.schema import NODE_BY_LABEL, REL_BY_GROUP

pytestmark = pytest.mark.slow

#: a version's or relationship's interval: not compared with the snapshots layout
INTERVAL = ("valid_from", "valid_to", "first_snapshot_id", "last_snapshot_id")
#: node properties that say which element it is, not what the resource is
IDENTITY = ("uid", "snapshot_id", "fingerprint", "resource_key")
#: relationships between snapshots or versions, and the Snapshot's CONTAINS: not the estate's
TEMPORAL = ("NEXT", "NEXT_VERSION")
DB_EU = f"RDSInstance|{ACCOUNT}|{EU}|db-eu"
DB_US = f"RDSInstance|{ACCOUNT}|{US}|db-us"


@dataclass(frozen=True)
class History:
    nights: dict[str, Path]  # snapshot id -> a CSV folder holding that night only
    all: Path  # a CSV folder holding every night


def _transform(folders: list[Path], out: Path) -> Path:
    found = discover([str(p) for p in folders], cache_dir=out.parent / "cache")
    assert not found.problems
    result = transform(found.snapshots, out, workers=1)
    assert not result.failed
    return out


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    root = tmp_path_factory.mktemp("history")
    folders = write_history(root / "snapshots")
    nights = {
        sid: _transform([f], root / sid / "csv") for sid, f in zip(NIGHTS, folders, strict=True)
    }
    return History(nights, _transform(folders, root / "all" / "csv"))


# -- readers ------------------------------------------------------------------------------

Row = tuple[Any, ...]


def _plain(value: Any) -> Any:
    """A property value that compares and sorts: DateTimes as ISO text, lists as tuples."""
    if isinstance(value, neo4j.time.DateTime):
        return value.to_native().isoformat()
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    return value


def _props(props: dict[str, Any], leave_out: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, _plain(v)) for k, v in props.items() if k not in leave_out))


@dataclass(frozen=True)
class View:
    """What a graph holds at one time: nodes (label, resource_key, properties) and
    relationships (type, start key, end key, properties), sorted; no Snapshot nodes and no
    NEXT / NEXT_VERSION / Snapshot CONTAINS."""

    nodes: list[Row]
    rels: list[Row]


def snapshot_view(db: ManagedNeo4j, sid: str) -> View:
    """Snapshot `sid` of a snapshots-layout database. A node's key is read from its uid
    (`<sid>|<resource_key>`): a stub carries no resource_key."""
    cut = len(sid) + 1
    nodes = db.run(
        "MATCH (n) WHERE n.snapshot_id = $sid AND NOT n:Snapshot "
        "RETURN labels(n)[0] AS label, substring(n.uid, $cut) AS key, properties(n) AS props",
        sid=sid,
        cut=cut,
    )
    rels = db.run(
        "MATCH (a)-[r]->(b) WHERE a.snapshot_id = $sid AND b.snapshot_id = $sid "
        "AND NOT a:Snapshot AND NOT type(r) IN $temporal "
        "RETURN type(r) AS type, substring(a.uid, $cut) AS a, substring(b.uid, $cut) AS b, "
        "properties(r) AS props",
        sid=sid,
        cut=cut,
        temporal=list(TEMPORAL),
    )
    return View(
        sorted((n["label"], n["key"], _props(n["props"], IDENTITY)) for n in nodes),
        sorted((r["type"], r["a"], r["b"], _props(r["props"], ())) for r in rels),
    )


#: the versions graph of every night loaded night by night, as the first test made it: the
#: bulk build's test compares with it instead of loading the nights once more
_NIGHT_BY_NIGHT: list[tuple[list[Row], list[Row]]] = []

_HOLDS = "{x}.valid_from <= $t AND ({x}.valid_to IS NULL OR $t < {x}.valid_to)"


def versions_view(db: ManagedNeo4j, at: Any) -> View:
    """What a versions-layout database holds valid at `at`. Elements without valid_from
    (Tag) always hold; of those, the nodes a relationship valid at `at` reaches are shown
    (a snapshot holds a Tag only while something is tagged with it)."""
    rels = db.run(
        "MATCH (a)-[r]->(b) WHERE r.valid_from IS NOT NULL AND "
        + _HOLDS.format(x="r")
        + " RETURN type(r) AS type, a.resource_key AS a, b.resource_key AS b, "
        "properties(r) AS props",
        t=at,
    )
    versions = db.run(
        "MATCH (n) WHERE n.valid_from IS NOT NULL AND "
        + _HOLDS.format(x="n")
        + " RETURN labels(n)[0] AS label, n.resource_key AS key, properties(n) AS props",
        t=at,
    )
    values = db.run(
        "MATCH (n) WHERE n.valid_from IS NULL AND NOT n:Snapshot AND EXISTS { "
        "MATCH (n)-[r]-() WHERE r.valid_from IS NOT NULL AND "
        + _HOLDS.format(x="r")
        + " } RETURN labels(n)[0] AS label, n.resource_key AS key, properties(n) AS props",
        t=at,
    )
    return View(
        sorted(
            (n["label"], n["key"], _props(n["props"], (*IDENTITY, *INTERVAL)))
            for n in [*versions, *values]
        ),
        sorted((r["type"], r["a"], r["b"], _props(r["props"], INTERVAL)) for r in rels),
    )


def dump(db: ManagedNeo4j) -> tuple[list[Row], list[Row]]:
    """Every node and relationship with every property: to see that nothing changed."""
    nodes = db.run("MATCH (n) RETURN labels(n) AS labels, properties(n) AS props")
    rels = db.run(
        "MATCH (a)-[r]->(b) RETURN type(r) AS type, a.uid AS a, b.uid AS b, properties(r) AS props"
    )
    return (
        sorted((tuple(n["labels"]), _props(n["props"], ())) for n in nodes),
        sorted((r["type"], r["a"], r["b"], _props(r["props"], ())) for r in rels),
    )


def _load_nights(history: History, nights: tuple[str, ...], layout: Layout) -> None:
    for sid in nights:
        summary = append(history.nights[sid], layout=layout)
        assert summary.loaded == [sid] and summary.layout == layout.value


def _versions(db: ManagedNeo4j, label: str, key: str) -> list[dict[str, Any]]:
    """The versions of one resource, oldest first: interval, stub, and NEXT_VERSION."""
    return db.run(
        f"MATCH (n:`{label}` {{resource_key: $key}}) "
        "OPTIONAL MATCH (n)-[nv:NEXT_VERSION]->() "
        "RETURN n.first_snapshot_id AS first, n.last_snapshot_id AS last, "
        "n.valid_from AS valid_from, n.valid_to AS valid_to, n.stub AS stub, "
        "nv.changed AS changed, n.uid AS uid ORDER BY n.valid_from",
        key=key,
    )


def _runs(db: ManagedNeo4j, type_: str, start: str, end: str) -> list[tuple[Any, ...]]:
    """(first, last, valid_to) of each relationship of `type_` between two resources."""
    rows = db.run(
        f"MATCH (a {{resource_key: $start}})-[r:`{type_}`]->(b {{resource_key: $end}}) "
        "RETURN r.first_snapshot_id AS first, r.last_snapshot_id AS last, "
        "r.valid_to AS valid_to, r.valid_from AS valid_from ORDER BY r.valid_from",
        start=start,
        end=end,
    )
    return [(r["first"], r["last"], _plain(r["valid_to"])) for r in rows]


def _t(sid: str) -> str:
    return taken_at(sid).isoformat()


# -- tests --------------------------------------------------------------------------------


def _check_history_versions(empty_db: ManagedNeo4j) -> None:
    """The versions, intervals and relationships the six nights leave (versions_history.py)."""
    assert recorded_layout(empty_db.driver(), "neo4j") is Layout.versions
    snaps = empty_db.run(
        "MATCH (s:Snapshot) OPTIONAL MATCH (s)-[:NEXT]->(n) RETURN s.snapshot_id AS id, "
        "s.layout AS layout, s.loading AS loading, n.snapshot_id AS next ORDER BY id"
    )
    assert [(s["id"], s["layout"], s["loading"], s["next"]) for s in snaps] == [
        (sid, "versions", None, nxt) for sid, nxt in zip(NIGHTS, [*NIGHTS[1:], None], strict=True)
    ]
    assert empty_db.run("MATCH (:Snapshot)-[r]->(n) WHERE NOT n:Snapshot RETURN count(r) AS n") == [
        {"n": 0}
    ]

    def versions(label: str, key: str) -> list[tuple[Any, ...]]:
        return [
            (v["first"], v["last"], _plain(v["valid_from"]), _plain(v["valid_to"]), v["stub"],
             v["changed"], v["uid"])
            for v in _versions(empty_db, label, key)
        ]  # fmt: skip

    # a property changes (i-a stopped at N2): closed and opened, NEXT_VERSION changed
    assert versions("Instance", "Instance|i-a") == [
        (N1, N1, _t(N1), _t(N2), None, True, f"{N1}|Instance|i-a"),
        (N2, N6, _t(N2), None, None, None, f"{N2}|Instance|i-a"),
    ]
    # vanished at N3 and back the same at N4: two versions, NEXT_VERSION not changed
    assert versions("Instance", "Instance|i-b") == [
        (N1, N2, _t(N1), _t(N3), None, False, f"{N1}|Instance|i-b"),
        (N4, N6, _t(N4), None, None, None, f"{N4}|Instance|i-b"),
    ]
    # unknown at N4: db-eu's change is seen at N5, its first version ends there
    assert versions("RDSInstance", DB_EU) == [
        (N1, N3, _t(N1), _t(N5), None, True, f"{N1}|{DB_EU}"),
        (N5, N6, _t(N5), None, None, None, f"{N5}|{DB_EU}"),
    ]
    # gone at N6, where RDS was known
    assert versions("RDSInstance", DB_US) == [
        (N1, N5, _t(N1), _t(N6), None, None, f"{N1}|{DB_US}"),
    ]
    # a stub at N5, described at N6: one version each
    assert versions("SecurityGroup", "SecurityGroup|sg-x") == [
        (N5, N5, _t(N5), _t(N6), True, True, f"{N5}|SecurityGroup|sg-x"),
        (N6, N6, _t(N6), None, None, None, f"{N6}|SecurityGroup|sg-x"),
    ]
    # a group whose rules changed (relationships only) is one version
    assert versions("SecurityGroup", "SecurityGroup|sg-a") == [
        (N1, N6, _t(N1), None, None, None, f"{N1}|SecurityGroup|sg-a"),
    ]

    # relationships: i-b moved from sg-a to sg-b at N2 (i-b itself did not change)
    assert _runs(empty_db, "BELONGS_TO", "Instance|i-b", "SecurityGroup|sg-a") == [(N1, N1, _t(N2))]
    # ... held by i-b's first version until it vanished, then by its second
    assert _runs(empty_db, "BELONGS_TO", "Instance|i-b", "SecurityGroup|sg-b") == [
        (N2, N2, _t(N3)),
        (N4, N6, None),
    ]
    # i-a's version changed at N2: its group relationship of the old version ends there
    assert _runs(empty_db, "BELONGS_TO", "Instance|i-a", "SecurityGroup|sg-a") == [
        (N1, N1, _t(N2)),
        (N2, N6, None),
    ]
    # the stub's relationship ends with the stub, the group's begins with the group
    assert _runs(empty_db, "BELONGS_TO", "Instance|i-a", "SecurityGroup|sg-x") == [
        (N5, N5, _t(N6)),
        (N6, N6, None),
    ]
    # sg-a opened to the world at N3
    assert _runs(empty_db, "ALLOWED", "IPRange|10.0.0.0/8", "SecurityGroup|sg-a") == [
        (N1, N2, _t(N3))
    ]
    assert _runs(empty_db, "ALLOWED", "IPRange|0.0.0.0/0", "SecurityGroup|sg-a") == [(N3, N6, None)]
    # db-eu's region: not ended at N4 (RDS unknown), ended with db-eu's version at N5
    region_eu = f"Region|{ACCOUNT}|{EU}"
    assert _runs(empty_db, "BELONGS_TO", DB_EU, region_eu) == [
        (N1, N3, _t(N5)),
        (N5, N6, None),
    ]
    # tags: one node per value, no interval; time is on TAGGED
    tags = empty_db.run(
        "MATCH (t:Tag) RETURN t.uid AS uid, t.resource_key AS key, t.valid_from AS vf, "
        "t.snapshot_id AS sid, t.fingerprint AS fp ORDER BY uid"
    )
    assert tags == [
        {"uid": f"Tag|Name|{v}", "key": f"Tag|Name|{v}", "vf": None, "sid": None, "fp": None}
        for v in ("a", "a2")
    ]
    assert _runs(empty_db, "TAGGED", "Instance|i-a", "Tag|Name|a") == [(N1, N1, _t(N2))]
    assert _runs(empty_db, "TAGGED", "Instance|i-a", "Tag|Name|a2") == [(N2, N6, None)]
    # the Region of us-east-1 never changed: one version, current
    assert versions("Region", f"Region|{ACCOUNT}|{US}") == [
        (N1, N6, _t(N1), None, None, None, f"{N1}|Region|{ACCOUNT}|{US}")
    ]
    # versions carry neither snapshot_id nor fingerprint
    assert empty_db.run(
        "MATCH (n) WHERE n.valid_from IS NOT NULL "
        "AND (n.snapshot_id IS NOT NULL OR n.fingerprint IS NOT NULL) RETURN count(n) AS n"
    ) == [{"n": 0}]
    # a relationship never outlives its ends
    assert empty_db.run(
        "MATCH (a)-[r]->(b) WHERE r.valid_from IS NOT NULL "
        "AND any(x IN [a, b] WHERE x.valid_from IS NOT NULL AND (x.valid_from > r.valid_from "
        "OR (x.valid_to IS NOT NULL AND (r.valid_to IS NULL OR r.valid_to > x.valid_to)))) "
        "RETURN count(r) AS n"
    ) == [{"n": 0}]


def test_a_history_loaded_night_by_night_holds_at_each_snapshot_what_the_snapshots_layout_holds(
    empty_db: ManagedNeo4j, history: History
) -> None:
    """Loaded into a snapshots-layout database, then (cleared) night by night into a
    versions-layout one: its versions and intervals, and at each snapshot the same graph."""
    summary = append(history.all, layout=Layout.snapshots)
    assert summary.loaded == list(NIGHTS) and summary.layout == "snapshots"
    knowing = [
        r["id"]
        for r in empty_db.run(
            "MATCH (s:Snapshot) WHERE s.unknown_labels IS NULL RETURN s.snapshot_id AS id "
            "ORDER BY id"
        )
    ]
    assert knowing == [N1, N2, N3, N5, N6]  # N4 does not know RDS in EU
    expected = {sid: snapshot_view(empty_db, sid) for sid in NIGHTS}
    empty_db.clear()

    _load_nights(history, NIGHTS[:4], Layout.versions)
    # N4 did not know RDS in EU: db-eu's version goes on across it
    assert [(v["first"], v["last"], v["valid_to"]) for v in _versions(
        empty_db, "RDSInstance", DB_EU
    )] == [(N1, N3, None)]  # fmt: skip
    _load_nights(history, NIGHTS[4:], Layout.versions)
    _check_history_versions(empty_db)
    _NIGHT_BY_NIGHT.append(dump(empty_db))

    times = {
        r["id"]: r["t"]
        for r in empty_db.run("MATCH (s:Snapshot) RETURN s.snapshot_id AS id, s.taken_at AS t")
    }
    for sid in knowing:
        found = versions_view(empty_db, times[sid])
        assert found.nodes == expected[sid].nodes, sid
        assert found.rels == expected[sid].rels, sid
        assert found.nodes and found.rels
    # where N4 did not know, the versions layout answers with the last known state
    n4 = versions_view(empty_db, times[N4])
    gone = set(n4.nodes) - set(expected[N4].nodes)
    assert {(label, key) for label, key, _ in gone} == {("RDSInstance", DB_EU)}
    assert set(expected[N4].nodes) <= set(n4.nodes)


def test_loading_again_changes_nothing_and_a_killed_load_is_finished(
    empty_db: ManagedNeo4j, history: History, tmp_path: Path
) -> None:
    # every night in one folder: appended in time order, as night by night below
    assert append(history.all, layout=Layout.versions).loaded == list(NIGHTS)
    whole = dump(empty_db)

    again = append(history.all)  # the database's layout; every snapshot already there
    assert again.loaded == [] and again.skipped == list(NIGHTS)
    assert again.layout == "versions"
    assert dump(empty_db) == whole

    # every step of N6 run again over its own finished work: nothing changes
    empty_db.run("MATCH (s:Snapshot {snapshot_id: $sid}) SET s.loading = true", sid=N6)
    assert append(history.nights[N6]).loaded == [N6]
    assert dump(empty_db) == whole

    # killed half-way through N6 (versions in, relationships not): questions do not see N6,
    # another folder cannot be appended over it, and the next load of N6 finishes it
    empty_db.clear()
    _load_nights(history, NIGHTS[:5], Layout.versions)
    _kill_at(empty_db, "load_versions", ["load", str(history.nights[N6])], tmp_path)
    assert [s.snapshot_id for s in list_snapshots(empty_db.driver(), "neo4j")] == list(NIGHTS[:5])
    with pytest.raises(BulkgraphError, match=f"{N6}.*stopped half-way"):
        append(history.nights[N5])
    assert append(history.nights[N6]).loaded == [N6]
    assert dump(empty_db) == whole
    assert not any((empty_db.home.import_dir / "bulkgraph").glob("*/*"))


def test_an_older_snapshot_is_refused_with_a_word_to_rebuild(
    empty_db: ManagedNeo4j, history: History
) -> None:
    _load_nights(history, (N1, N3), Layout.versions)
    before = dump(empty_db)
    proc = _cli(empty_db, "load", str(history.nights[N2]))
    assert proc.returncode == 1, proc.stderr
    assert N2 in proc.stderr and "rebuild" in proc.stderr
    assert dump(empty_db) == before
    # a folder holding the old one with the held ones: refused as a whole, nothing loaded
    with pytest.raises(BulkgraphError, match=f"{N2}.*older than {N3}"):
        append(history.all)
    assert dump(empty_db) == before


def test_a_folder_transformed_for_import_only_is_refused_with_nothing_loaded(
    empty_db: ManagedNeo4j, history: History, tmp_path: Path
) -> None:
    """A versions folder without the snapshots' own parts (rebuild's) would append a night
    that saw nothing, closing every current version: `load` refuses it first."""
    _load_nights(history, (N1,), Layout.versions)
    before = dump(empty_db)
    second = write_history(tmp_path / "snapshots")[1]
    found = discover([str(second)], cache_dir=tmp_path / "cache")
    lean = tmp_path / "csv"
    done = transform(found.snapshots, lean, workers=1, layout=Layout.versions, snapshot_parts=False)
    assert done.transformed == [N2]
    with pytest.raises(BulkgraphError, match=f"{N2} were transformed without their node"):
        append(lean)
    assert dump(empty_db) == before
    # transformed again with them (the default), it loads
    transform(found.snapshots, lean, workers=1, layout=Layout.versions)
    assert append(lean).loaded == [N2]


def test_the_layout_is_the_databases(empty_db: ManagedNeo4j, history: History) -> None:
    # an empty database: the setting's layout, or the one asked for
    proc = _cli(empty_db, "load", str(history.nights[N1]), BULKGRAPH_LAYOUT="versions")
    assert proc.returncode == 0, proc.stderr
    assert recorded_layout(empty_db.driver(), "neo4j") is Layout.versions
    # then the database's, whatever the setting says; asking for another one is an error
    proc = _cli(empty_db, "load", str(history.nights[N2]), BULKGRAPH_LAYOUT="snapshots")
    assert proc.returncode == 0, proc.stderr
    assert "versions layout" in proc.stdout
    before = dump(empty_db)
    proc = _cli(empty_db, "load", str(history.nights[N3]), "--layout", "snapshots")
    assert proc.returncode == 2
    assert "versions layout" in proc.stderr and "rebuild" in proc.stderr
    assert dump(empty_db) == before

    empty_db.clear()
    proc = _cli(empty_db, "load", str(history.nights[N1]), "--layout", "snapshots")
    assert proc.returncode == 0, proc.stderr
    with pytest.raises(BulkgraphError, match=r"snapshots layout.*rebuild") as refused:
        append(history.nights[N2], layout=Layout.versions)
    assert refused.value.exit_code == 2
    assert _cli(empty_db, "load", str(history.nights[N2]), "--layout", "nope").returncode == 2


# -- helpers: the CLI, and killing it at a pause point -----------------------------------


def _cli(db: ManagedNeo4j, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bulkgraph", *args],
        env=db.env(**env),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def _kill_at(db: ManagedNeo4j, point: str, args: list[str], scratch: Path) -> None:
    """Run `bulkgraph ARGS` until it pauses at `point`, then SIGKILL its process group."""
    pause_dir = scratch / f"pause-{point}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bulkgraph", *args],
        env=db.env(BULKGRAPH_TEST_PAUSE_AT=point, BULKGRAPH_TEST_PAUSE_DIR=str(pause_dir)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    arrived: Callable[[], bool] = (pause_dir / point).exists
    deadline = time.monotonic() + 300
    try:
        while not arrived():
            assert proc.poll() is None, f"exited {proc.returncode} before {point}"
            assert time.monotonic() < deadline, f"did not reach {point}"
            time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


def test_a_version_goes_on_where_the_snapshot_does_not_know_its_label(
    empty_db: ManagedNeo4j,
) -> None:
    """The closing statement alone, over versions made by hand: `*` in an entry, a place
    read from an ARN, an Account (every region), a label that names no place."""
    old = {"valid_from": taken_at(N1), "first_snapshot_id": N1, "last_snapshot_id": N1}
    made: dict[str, tuple[str, dict[str, Any]]] = {
        "i-a-us": ("Instance", {"account_id": "A", "region": US}),
        "i-a-eu": ("Instance", {"account_id": "A", "region": EU}),
        "i-b-us": ("Instance", {"account_id": "B", "region": US}),
        "fn-eu": ("LambdaFunction", {"arn": f"arn:aws:lambda:{EU}:A:function:fn-eu"}),
        "fn-us": ("LambdaFunction", {"arn": f"arn:aws:lambda:{US}:A:function:fn-us"}),
        "role": ("IAMRole", {"arn": "arn:aws:iam::A:role/role"}),
        "acct-a": ("Account", {"account_id": "A"}),
        "acct-b": ("Account", {"account_id": "B"}),
        "ip": ("IPAddress", {"address": "10.0.0.9"}),
    }
    for uid, (label, props) in made.items():
        empty_db.run(f"CREATE (n:`{label}`) SET n = $props", props={"uid": uid, **props, **old})
    unknown = [
        f"Instance/*/{US}",
        f"LambdaFunction/A/{EU}",
        "IAMRole/A/*",
        "Account/A/*",
        f"IPAddress/A/{EU}",
    ]
    params = {
        "sid": N2,
        "taken_at": taken_at(N2),
        "unknown": unknown_param(unknown),
        "batch": 100,
    }
    for label in {label for label, _ in made.values()}:
        empty_db.run_autocommit(close_nodes_statement(NODE_BY_LABEL[label]), **params)
    closed = {
        r["uid"] for r in empty_db.run("MATCH (n) WHERE n.valid_to IS NOT NULL RETURN n.uid AS uid")
    }
    assert closed == {"i-a-eu", "fn-us", "acct-b"}


def test_a_relationship_is_known_where_its_placed_end_is(empty_db: ManagedNeo4j) -> None:
    """The closing statement alone: a snapshot without network ACLs or interfaces (a 1.0
    archive) does not know IPRange or Tag anywhere, yet knows every rule and tag of the
    groups and instances it has; where it does not know instances, their tags go on."""
    old = {"valid_from": taken_at(N1), "first_snapshot_id": N1, "last_snapshot_id": N1}
    empty_db.run(
        "CREATE (i:Instance {uid: 'i'}) SET i += $old, i.account_id = 'A', i.region = $us "
        "CREATE (j:Instance {uid: 'j'}) SET j += $old, j.account_id = 'A', j.region = $eu "
        "CREATE (g:SecurityGroup {uid: 'g'}) SET g += $old, g.account_id = 'A', g.region = $us "
        "CREATE (r:IPRange {uid: 'r'}) SET r += $old "
        "CREATE (t:Tag {uid: 't'}) "
        "CREATE (i)-[x:TAGGED {name: 'i'}]->(t) SET x += $old "
        "CREATE (j)-[y:TAGGED {name: 'j'}]->(t) SET y += $old "
        "CREATE (r)-[z:ALLOWED {name: 'r'}]->(g) SET z += $old",
        old=old,
        us=US,
        eu=EU,
    )
    unknown = [f"IPRange/A/{US}", f"Tag/A/{US}", f"Tag/A/{EU}", f"Instance/A/{EU}"]
    params = {"sid": N2, "taken_at": taken_at(N2), "unknown": unknown_param(unknown), "batch": 9}
    for group in ("TAGGED__Instance__Tag", "ALLOWED__IPRange__SecurityGroup"):
        empty_db.run_autocommit(close_rels_statement(REL_BY_GROUP[group]), **params)
    closed = {
        r["name"]
        for r in empty_db.run("MATCH ()-[r]->() WHERE r.valid_to IS NOT NULL RETURN r.name AS name")
    }
    assert closed == {"i", "r"}


def test_the_bulk_build_and_the_nightly_append_make_the_same_graph(
    empty_db: ManagedNeo4j, history: History, tmp_path: Path
) -> None:
    """The two ways into a versions database agree element for element, properties,
    uids and intervals included: `rebuild --layout versions` (the transform's versions pass,
    then neo4j-admin) and `load` night by night (Cypher that closes and opens intervals).
    They are written separately (transform/versions.py, load/versions_cypher.py), so this is
    what keeps them to one contract."""
    from conftest import import_settings

    from bulkgraph.load.bulk import bulk_import

    if _NIGHT_BY_NIGHT:  # the first test of this module loaded them so: not again
        appended = _NIGHT_BY_NIGHT[0]
    else:
        _load_nights(history, NIGHTS, Layout.versions)
        appended = dump(empty_db)
    empty_db.clear()
    snapshots = sorted((history.all.parent.parent / "snapshots").iterdir())
    found = discover([str(p) for p in snapshots], cache_dir=tmp_path / "cache")
    csv_dir = tmp_path / "csv"
    assert not transform(found.snapshots, csv_dir, workers=1, layout=Layout.versions).failed
    empty_db.stop()  # the import moves the new store in, no staging server beside it
    summary = bulk_import(csv_dir, empty_db.home, settings=import_settings())
    assert summary.report_lines == 0
    empty_db.start()
    built = dump(empty_db)
    assert built[0], "the bulk build holds no node"
    for kind, b, a in (("nodes", built[0], appended[0]), ("relationships", built[1], appended[1])):
        only_built, only_appended = set(b) - set(a), set(a) - set(b)
        assert not only_built and not only_appended, (
            kind,
            sorted(only_built),
            sorted(only_appended),
        )
    assert built == appended
