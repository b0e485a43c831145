"""`bulkgraph report` on a graph in the versions layout (docs/versions-layout.md): the bundled
samples/ rebuilt in the snapshots layout and then in the versions layout (Community Neo4j
has one database: one after the other), and the report's data read from each must be the
same: the snapshots and what they know, the counts per label, each night's additions,
removals and changes, and resources' timelines. Then the command writes the page from the
versions database.

The exposure chart and the findings run pack queries through bulkgraph.query.runner, which
asks a versions graph as of each snapshot's `taken_at`: their series are the same too.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import neo4j
import pytest
from conftest import import_settings, two_at_a_time
from graph_cache import BuiltGraphs, graph_key
from test_query_pipeline import ID
from versions_estate import ACCOUNT_ID, S2, S3, S4, S5, History

from bulkgraph.layout import Layout
from bulkgraph.pipeline.rebuild import rebuild
from bulkgraph.report import data
from bulkgraph.report.coverage import Known, SnapshotScope
from bulkgraph.report.timeline import Timeline, timeline

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
ACCT = "123456789012"  # the account the legacy archive is read as (README, scripts/demo)
LEGACY, D25, D26, D27 = (
    "archive_20261124_020000",
    "20261125T020000Z",
    "20261126T020000Z",
    "20261127T020000Z",
)
#: an instance behind a load balancer, terminated in the last snapshot (web-2-us-east-1)
GONE = ID["web-2-us-east-1"]
#: resources whose timelines are compared: every one of these labels (subnets and VPCs were
#: stubs in the legacy archive; instances, interfaces and groups change over the nights)
TIMELINE_LABELS = ("Instance", "NetworkInterface", "Subnet", "VPC", "SecurityGroup")

pytestmark = pytest.mark.slow


@dataclass
class Facts:
    """What the report reads from one graph."""

    layout: Layout
    scopes: list[SnapshotScope]
    estate: data.Estate
    nights: list[data.NightChanges]
    #: with --since D26: the first night compares with the snapshot before the span
    nights_since: list[data.NightChanges]
    estate_since: data.Estate
    exposure: list[tuple[str, list[int | None]]]
    timelines: dict[str, Timeline]
    #: NEXT_VERSION relationships into a version (not a stub) that starts in D27
    new_versions_d27: int


def _build(
    server: Any, graphs: BuiltGraphs, layout: Layout, sources: list[str] | None = None
) -> neo4j.Driver:
    """Rebuild `sources` (default: samples/) in `layout` (or get the graph back: another
    module may have built the same one)."""
    if sources is None:
        sources = [str(p) for p in sorted(SAMPLES.glob("*.tar.gz"))]
        sources.append(str(SAMPLES / LEGACY))

    def build() -> None:
        summary = rebuild(
            sources,
            home=server.home,
            workers=1,
            settings=import_settings(),
            account_id=ACCT,
            layout=layout,
        )
        assert len(summary.snapshots) == len(sources)
        assert summary.layout == layout.value
        # the importer took every row (tests/test_versions_layout.py checks the same)
        assert summary.import_summary is not None
        assert summary.import_summary.report_lines == 0

    graphs.ensure(graph_key(sources, layout, ACCT), build)
    drv: neo4j.Driver = server.driver()
    return drv


def _facts(drv: neo4j.Driver) -> Facts:
    win = data.window(drv, database="neo4j")
    since = data.window(drv, since=dt.datetime(2026, 11, 26, tzinfo=dt.UTC), database="neo4j")
    keys = [
        r["key"]
        for r in drv.execute_query(
            "MATCH (n) WHERE n.resource_key IS NOT NULL AND coalesce(n.stub, false) = false "
            "AND split(n.resource_key, '|')[0] IN $labels "
            "RETURN DISTINCT n.resource_key AS key ORDER BY key",
            labels=list(TIMELINE_LABELS),
            database_="neo4j",
        ).records
    ]
    [new_versions] = drv.execute_query(
        "MATCH (n)<-[:NEXT_VERSION]-() WHERE n.first_snapshot_id = $sid "
        "AND coalesce(n.stub, false) = false AND NOT split(n.resource_key, '|')[0] IN $skip "
        "RETURN count(*) AS n",
        sid=D27,
        skip=list(data.NOT_RESOURCES),
        database_="neo4j",
    ).records
    return Facts(
        layout=win.layout,
        scopes=[s.scope for s in [*([win.before] if win.before else []), *win.snaps]],
        estate=data.estate(drv, win, "neo4j"),
        nights=data.nights(drv, win, "neo4j"),
        nights_since=data.nights(drv, since, "neo4j"),
        estate_since=data.estate(drv, since, "neo4j"),
        exposure=[(x.series.query, x.counts) for x in data.exposure(drv, win, "neo4j").lines],
        timelines=dict(
            zip(keys, two_at_a_time(lambda k: timeline(drv, win, k, "neo4j"), keys), strict=True)
        ),
        new_versions_d27=new_versions["n"],
    )


@pytest.fixture(scope="module")
def both(neo4j_server: Any, built_graphs: BuiltGraphs) -> Iterator[tuple[Facts, Facts]]:
    """The report's data of samples/ in the snapshots layout, then in the versions layout
    (the server holds the versions graph afterwards)."""
    snapshots = _facts(_build(neo4j_server, built_graphs, Layout.snapshots))
    versions = _facts(_build(neo4j_server, built_graphs, Layout.versions))
    yield snapshots, versions


def test_each_graph_says_its_layout(both: tuple[Facts, Facts]) -> None:
    snapshots, versions = both
    assert (snapshots.layout, versions.layout) == (Layout.snapshots, Layout.versions)


def test_the_snapshots_regions_and_counts_are_the_same(both: tuple[Facts, Facts]) -> None:
    snapshots, versions = both
    # regions per snapshot: the versions of Region held at its taken_at
    assert versions.scopes == snapshots.scopes
    assert all(s.regions for s in versions.scopes)
    assert versions.estate == snapshots.estate
    assert versions.estate_since == snapshots.estate_since
    counts = {s.label: s.counts for s in versions.estate.series}
    assert counts["Instance"] == [8, 10, 11, 11]
    assert counts["VPC"] == [None, 4, 4, 4]  # legacy: unknown, not its stubs


def test_each_night_is_the_same(both: tuple[Facts, Facts]) -> None:
    snapshots, versions = both
    assert versions.nights == snapshots.nights
    assert versions.nights_since == snapshots.nights_since
    assert [n.previous for n in versions.nights_since] == [D25, D26]
    assert [n.counts for n in versions.nights][1:] == [
        {"added": 2, "removed": 0, "changed": 5},
        {"added": 0, "removed": 1, "changed": 9},
    ]
    # changed counts resources whose relationships changed too, not only new versions
    assert versions.new_versions_d27 < versions.nights[2].counts["changed"]


def test_every_timeline_is_the_same(both: tuple[Facts, Facts]) -> None:
    snapshots, versions = both
    assert len(versions.timelines) > 40
    assert versions.timelines == snapshots.timelines
    tl = versions.timelines[f"Instance|{GONE}"]
    assert [v.changed for v in tl.versions] == [None, True, False, True]
    assert [v.load_balancers for v in tl.versions] == [["web-us-east-1"]] * 3 + [[]]
    # a subnet the legacy archive knew only as a stub: not held there
    stubbed = [t for k, t in versions.timelines.items() if k.startswith("Subnet|")]
    assert sum(t.presence[0] == "unknown" for t in stubbed) == 13


def test_the_exposure_series_are_the_same(both: tuple[Facts, Facts]) -> None:
    snapshots, versions = both
    assert versions.exposure == snapshots.exposure


def test_the_command_writes_the_report_of_a_versions_graph(
    neo4j_server: Any, both: tuple[Facts, Facts], tmp_path: Path
) -> None:
    out = tmp_path / "report"
    args = ["--out", str(out), "--resource", GONE, "--json"]
    proc = subprocess.run(
        [sys.executable, "-m", "bulkgraph", "report", *args],
        capture_output=True,
        text=True,
        env=neo4j_server.env(),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["layout"] == "versions"
    assert (summary["snapshots"], summary["latest"]) == (4, D27)
    assert summary["charts"] == ["estate", "nights", "exposure", "resource"]
    page = (out / "index.html").read_text(encoding="utf-8")
    for words in ("The estate over time", "What changed each night", GONE, "terminated"):
        assert words in page
    # the findings' Cypher as it ran on this graph: as of the latest snapshot's taken_at
    assert ':param as_of => datetime("2026-11-27T02:00:00+00:00");' in page
    assert ':param snapshot_id => "20261127T020000Z";' in page


# -- a history with churn of every kind (tests/versions_estate.py) ------------------------------


@pytest.fixture(scope="module")
def churn(
    neo4j_server: Any, built_graphs: BuiltGraphs, versions_history: History
) -> tuple[Facts, Facts]:
    """The report's data of the churn history in both layouts (the samples' tests, above,
    run first: each fixture rebuilds the one database)."""
    history = versions_history
    assert ACCOUNT_ID == ACCT
    snapshots = _facts(_build(neo4j_server, built_graphs, Layout.snapshots, history.sources_text))
    versions = _facts(_build(neo4j_server, built_graphs, Layout.versions, history.sources_text))
    return snapshots, versions


def _held(tl: Timeline) -> list[tuple[Any, ...]]:
    return [
        (v.snapshot_id, v.props, v.tags, v.security_groups, v.load_balancers) for v in tl.versions
    ]


def _changed(tl: Timeline) -> list[tuple[str, bool | None]]:
    return [(v.snapshot_id, v.changed) for v in tl.versions if v.snapshot_id not in (S4, S5)]


def test_churn_where_every_snapshot_knew_everything(churn: tuple[Facts, Facts]) -> None:
    snapshots, versions = churn
    assert versions.scopes == snapshots.scopes
    nights = {n.snapshot_id: n for n in snapshots.nights}
    seen = {n.snapshot_id: n for n in versions.nights}
    # S2: a property change, a tag added, a rule revoked, an RDS deleted; S3: the rule and
    # the RDS back (changed)
    for sid in (S2, S3):
        assert seen[sid] == nights[sid], sid
    assert seen[S2].by_label["RDSInstance"]["removed"] == 1
    assert seen[S2].by_label["Instance"]["changed"] >= 2  # stopped; tagged
    assert seen[S3].by_label["RDSInstance"]["added"] == 1
    assert versions.timelines.keys() == snapshots.timelines.keys()
    for key, tl in versions.timelines.items():
        # what each snapshot held; whether it changed, except across S4 (next test)
        assert _held(tl) == _held(snapshots.timelines[key]), key
        assert _changed(tl) == _changed(snapshots.timelines[key]), key
    counts = {s.label: s.counts for s in snapshots.estate.series}
    for series in versions.estate.series:
        known = [i for i, sid in enumerate(versions.estate.snapshots) if sid != S4]
        assert [series.counts[i] for i in known] == [counts[series.label][i] for i in known]


def test_churn_across_a_snapshot_that_did_not_know(churn: tuple[Facts, Facts]) -> None:
    """S4 did not know RDS in us-east-1, where reports-db was deleted meanwhile: the
    versions layout holds its last known state across S4 (the contract), so it counts it
    there and sees it removed in S5; the snapshots layout counts what S4 saw and, S4 not
    knowing, never sees the removal."""
    snapshots, versions = churn
    at = versions.estate.snapshots.index(S4)
    old = {s.label: s for s in snapshots.estate.series}["RDSInstance"]
    new = {s.label: s for s in versions.estate.series}["RDSInstance"]
    assert new.known[at] is old.known[at] is Known.part
    assert new.counts[at] == new.counts[at - 1] > old.counts[at]  # type: ignore[operator]
    nights = {n.snapshot_id: n for n in snapshots.nights}
    seen = {n.snapshot_id: n for n in versions.nights}
    # the snapshots layout also counts as changed what had a relationship to an RDS of
    # us-east-1 (S4 did not see those); the versions layout holds them across S4
    assert seen[S4].counts["changed"] <= nights[S4].counts["changed"]
    assert seen[S4].counts["added"] == nights[S4].counts["added"]
    assert nights[S5].by_label.get("RDSInstance", {}).get("removed", 0) == 0
    assert seen[S5].by_label["RDSInstance"]["removed"] == 1
