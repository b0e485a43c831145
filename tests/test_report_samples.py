"""`bulkgraph report` on the graph of the bundled samples/ (three native snapshots and one
legacy aws_neo4j_map archive, which never carried VPCs or subnets), built by the real
transform and bulk import, and the page opened in a real headless browser.

Expected values are those of the committed samples; regenerating samples/ means updating them.
`scripts/report-screenshot` regenerates docs/report.png from the browser test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import neo4j
import pytest
from browser import need_browser, visit
from graph_cache import BuiltGraphs, graph_key
from test_query_pipeline import ID

from bulkgraph.errors import ExitCode
from bulkgraph.layout import Layout
from bulkgraph.pipeline.rebuild import rebuild
from bulkgraph.query import diff_snapshots, run_query
from bulkgraph.report import data
from bulkgraph.report.coverage import Known
from bulkgraph.report.timeline import timeline
from bulkgraph.settings import Settings

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

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def drv(neo4j_server: Any, built_graphs: BuiltGraphs) -> Iterator[neo4j.Driver]:
    settings = Settings(_env_file=None).model_copy(  # type: ignore[call-arg]
        update={
            "bulkgraph_heap": "512m",
            "bulkgraph_pagecache": "256m",
            "bulkgraph_import_memory": "512m",
            "neo4j_uri": None,
            "neo4j_home": None,
        }
    )
    sources = [str(p) for p in sorted(SAMPLES.glob("*.tar.gz"))]
    sources.append(str(SAMPLES / LEGACY))

    def build() -> None:
        summary = rebuild(
            sources, home=neo4j_server.home, workers=1, settings=settings, account_id=ACCT
        )
        assert summary.snapshots == [LEGACY, D25, D26, D27]
        assert summary.layout == Layout.snapshots.value

    built_graphs.ensure(graph_key(sources, Layout.snapshots, ACCT), build)
    yield neo4j_server.driver()


def cli(server: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bulkgraph", "report", *args],
        capture_output=True,
        text=True,
        env=server.env(),
        timeout=300,
    )


def test_estate_counts_and_what_the_legacy_archive_did_not_collect(drv: neo4j.Driver) -> None:
    win = data.window(drv, database="neo4j")
    assert [s.snapshot_id for s in win.snaps] == [LEGACY, D25, D26, D27] and win.before is None
    series = {s.label: s for s in data.estate(drv, win, "neo4j").series}
    assert set(series) == {
        "Account", "Region", "VPC", "Subnet", "Instance", "SecurityGroup", "RDSInstance",
        "LoadBalancer", "TargetGroup", "LambdaFunction",
        # graph model 1.1
        "NetworkInterface", "RouteTable", "InternetGateway", "NatGateway", "NetworkAcl",
        "Gateway", "Listener", "IAMRole", "InstanceProfile",
    }  # fmt: skip
    # aws_neo4j_map never carried VPCs or subnets: unknown there, not zero
    assert series["VPC"].counts == [None, 4, 4, 4]
    assert series["Subnet"].counts == [None, 13, 13, 13]
    assert series["VPC"].known[0] is Known.none
    assert series["Instance"].counts == [8, 10, 11, 11]
    assert series["Instance"].known == [Known.all] * 4
    for label, s in series.items():
        [held] = drv.execute_query(
            f"MATCH (n:`{label}` {{snapshot_id: $sid}}) WHERE coalesce(n.stub, false) = false "
            "RETURN count(n) AS n",
            sid=D27,
            database_="neo4j",
        ).records
        assert s.counts[-1] == held["n"], label


def test_each_night_agrees_with_the_snapshot_diff(drv: neo4j.Driver) -> None:
    win = data.window(drv, database="neo4j")
    nights = data.nights(drv, win, "neo4j")
    assert [(n.previous, n.snapshot_id) for n in nights] == [(LEGACY, D25), (D25, D26), (D26, D27)]
    assert nights[0].unknown and not nights[1].unknown
    for night in nights:
        changes = diff_snapshots(drv, night.previous, night.snapshot_id, database="neo4j").changes
        # the report counts resources: addresses, ranges and tags are values, not resources
        diff = Counter(c["change"] for c in changes if c["label"] not in data.NOT_RESOURCES)
        assert night.counts["added"] == diff.get("added", 0), night.snapshot_id
        assert night.counts["removed"] == diff.get("removed", 0), night.snapshot_id
    assert [n.counts for n in nights][1:] == [
        {"added": 2, "removed": 0, "changed": 5},  # web-3 and its interface
        {"added": 0, "removed": 1, "changed": 9},  # web-2's interface
    ]
    # changed: versions whose NEXT_VERSION says so
    [changed] = drv.execute_query(
        "MATCH (o {snapshot_id: $old})-[v:NEXT_VERSION {changed: true}]->(n {snapshot_id: $new}) "
        "WHERE NOT split(n.resource_key, '|')[0] IN $skip RETURN count(*) AS n",
        old=D26,
        new=D27,
        skip=list(data.NOT_RESOURCES),
        database_="neo4j",
    ).records
    assert nights[2].counts["changed"] == changed["n"]


def _leaves(plan: Any) -> Iterator[Any]:
    children = plan.get("children", [])
    if not children:
        yield plan
    for child in children:
        yield from _leaves(child)


def test_a_snapshots_regions_are_read_by_its_id_not_from_the_whole_history(
    drv: neo4j.Driver,
) -> None:
    """The window reads each snapshot's regions by the Region(snapshot_id) index: before, the
    planner scanned every Region of the history once per snapshot (O(snapshots x history),
    minutes on a 90-night estate). Checked on the plan's rows, not on a time."""
    ids = [LEGACY, D25, D26, D27]
    with drv.session(database="neo4j") as session:
        result = session.run("PROFILE " + data._SCOPES, ids=ids)
        rows = list(result)
        plan = result.consume().profile
    [regions] = drv.execute_query(
        "MATCH (r:Region) RETURN count(r) AS n", database_="neo4j"
    ).records
    assert len(rows) == len(ids) and regions["n"] >= 4
    leaves = [p for p in _leaves(plan) if "r:Region" in p["args"].get("Details", "")]
    assert leaves, plan
    for leaf in leaves:
        assert leaf["operatorType"].startswith("NodeIndexSeek"), leaf
        assert "Region(snapshot_id)" in leaf["args"]["Details"], leaf
    # every Region is read once in all, not once per snapshot
    assert sum(leaf["rows"] for leaf in leaves) <= regions["n"]


def test_exposure_and_findings_are_the_query_packs(drv: neo4j.Driver) -> None:
    win = data.window(drv, database="neo4j")
    exposure = data.exposure(drv, win, "neo4j")
    [line] = [x for x in exposure.lines if x.series.query == "internet-exposed-instances"]
    per_snapshot = run_query(
        drv, "internet-exposed-instances", all_snapshots=True, database="neo4j"
    )
    assert line.counts == [
        sum(r["snapshot_id"] == s for r in per_snapshot.rows) for s in (LEGACY, D25, D26, D27)
    ]
    assert line.counts == [6, 6, 8, 7]
    # over the three exposure queries: on the last day the Elastic IP moved to web-3, which
    # became reachable (no longer exposed-but-not-reachable)
    web3, db1 = ID["web-3-us-east-1"], ID["db-1-us-east-1"]
    assert [(e.snapshot_id, e.change, e.row["resource"]) for e in exposure.events] == [
        (D26, "exposed", web3),
        (D26, "exposed", db1),
        (D26, "exposed", web3),
        (D26, "exposed", db1),
        (D27, "no longer exposed", web3),
        (D27, "no longer exposed", GONE),
        (D27, "no longer exposed", GONE),
        (D27, "exposed", web3),
    ]
    findings = data.findings(drv, win.latest, "neo4j")
    assert [f.query.rule_id for f in findings] == sorted(f.query.rule_id or "" for f in findings)
    for f in findings:
        assert f.rows == run_query(drv, f.query, snapshot=D27, database="neo4j").rows
    assert {f.query.name: len(f.rows) for f in findings}["internet-exposed-instances"] == 7


def test_a_resource_timeline(drv: neo4j.Driver) -> None:
    win = data.window(drv, database="neo4j")
    tl = timeline(drv, win, GONE, "neo4j")
    assert tl.key == f"Instance|{GONE}" and tl.presence == ["held"] * 4
    assert [v.load_balancers for v in tl.versions] == [["web-us-east-1"]] * 3 + [[]]
    assert [v.addresses for v in tl.versions] == [["10.10.1.4"]] * 3 + [[]]
    last = {c.field: (c.before, c.after) for c in tl.changes if c.snapshot_id == D27}
    assert last["property state"] == ("running", "terminated")
    assert last["load balancers"] == (["web-us-east-1"], [])
    # the legacy archive's version differs from the first native one; D26 changed nothing
    assert [v.changed for v in tl.versions] == [None, True, False, True]
    assert not [c for c in tl.changes if c.snapshot_id == D26]


def test_the_report_in_a_browser(neo4j_server: Any, drv: neo4j.Driver, tmp_path: Path,
                                 request: pytest.FixtureRequest) -> None:  # fmt: skip
    need_browser()
    out = tmp_path / "report"
    proc = cli(neo4j_server, "--out", str(out), "--resource", GONE, "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["snapshots"] == 4 and summary["latest"] == D27
    assert summary["charts"] == ["estate", "nights", "exposure", "resource"]
    page = out / "index.html"
    assert summary["out"] == str(page)

    shots: dict[Path, int | None] = {tmp_path / "report.png": None}
    wanted = request.config.getoption("--report-screenshot")
    if wanted:
        shots[Path(wanted)] = 1800  # docs/report.png: the top of the page
    seen = visit(page, shots)

    assert seen.errors == []
    assert seen.blocked == [] and seen.requests == [page.resolve().as_uri()]
    assert set(seen.charts) == {"estate", "nights", "exposure", "resource"}
    for name, chart in seen.charts.items():
        assert chart["drawn"] and chart["svg"] >= 1, name
        assert chart["traces"] >= 1 and chart["points"] >= 1, name
    estate = seen.charts["estate"]
    assert estate["traces"] == 19  # a panel per resource label (graph model 1.1: 19)
    # the legacy archive's VPC count is a gap in the drawn chart, never a zero
    vpc = estate["ys"][estate["names"].index("VPC")]
    assert vpc == [None, 4, 4, 4]
    assert seen.charts["nights"]["names"] == ["added", "changed", "removed"]
    for words in (
        "The estate over time",
        "What changed each night",
        "Exposure over time",
        "BG-EC2-001 internet-exposed-instances",
        GONE,
        "terminated",
    ):
        assert words in seen.text
    assert (tmp_path / "report.png").stat().st_size > 50_000


def test_a_time_span_and_bad_arguments(
    neo4j_server: Any, drv: neo4j.Driver, tmp_path: Path
) -> None:
    proc = cli(neo4j_server, "--out", str(tmp_path), "--since", "2026-11-26", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert (summary["first"], summary["latest"], summary["snapshots"]) == (D26, D27, 2)
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert D25 in page  # the first night compares with the snapshot before the span

    proc = cli(neo4j_server, "--out", str(tmp_path), "--until", "2026-11-25")
    assert proc.returncode == 0, proc.stderr
    assert "2 snapshot(s), archive_20261124_020000 to 20261125T020000Z" in proc.stderr

    for args, says in (
        (["--since", "2030-01-01"], "no snapshot was taken between 2030-01-01"),
        (["--resource", "i-nope"], "--resource 'i-nope': no resource has that id"),
        (["--until", "yesterday"], "--until 'yesterday': not an ISO 8601 time"),
    ):
        proc = cli(neo4j_server, "--out", str(tmp_path / "x"), *args)
        assert proc.returncode == ExitCode.USAGE, (args, proc.stderr)
        assert says in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x").exists()  # nothing written for a refused report
