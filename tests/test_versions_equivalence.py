"""The proof of the query side of the versions layout (issue #20): the same history in both
layouts gives the same answers.

Both layouts are built by the real pipeline (transform and bulk import, `--layout`) from the
bundled samples/ (three native snapshots of graph model 1.1 after one legacy archive, which
does not know the 1.1 families; as tests/test_query_pipeline.py builds them: an Elastic IP
that moves, an instance terminated, groups and rules that change). Then, for every
snapshot S and every snapshot-scoped query of the pack (with parameters that hit the
samples' instances, addresses and groups), the rows at S in the snapshots layout equal the
rows of the versions layout as of S.taken_at; the same for `diff` between consecutive
snapshots and for the alerts of each snapshot; and `--all` / `--as-of` choose the same
snapshots. Community Neo4j has one user database: the answers of the snapshots layout are
collected first, then the versions graph replaces it. (The graph model 1.0 estate of
tests/query_estate.py answers the legacy queries below; the build itself is proven element for
element in tests/test_versions_layout.py and tests/test_load_versions.py.)
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import neo4j
import pytest
import query_estate
from conftest import import_settings, two_at_a_time
from graph_cache import BuiltGraphs, graph_key
from query_estate import QueryGraphs
from test_query_pipeline import ID, SAMPLES, _interface_of
from test_report_samples import ACCT

from bulkgraph.db import rows_to_jsonable
from bulkgraph.layout import Layout, recorded_layout
from bulkgraph.pipeline.rebuild import rebuild
from bulkgraph.query import diff_snapshots, findings_for, list_snapshots, load_pack, run_query
from bulkgraph.query.pack import Query, Scope

pytestmark = pytest.mark.slow

LEGACY, D25, D26, D27 = (
    "archive_20261124_020000",
    "20261125T020000Z",
    "20261126T020000Z",
    "20261127T020000Z",
)


@dataclass(frozen=True)
class History:
    """A history built in the snapshots layout, and what to ask it."""

    name: str
    snapshots: list[str]
    #: values for the pack's required parameters that the history holds (and some not)
    values: dict[str, list[Any]]
    #: queries it gives no row in any snapshot (nothing there to find); every other query
    #: must answer something somewhere, or the comparison proves little
    empty: frozenset[str] = frozenset()
    #: an address whose owner changes, for --all and --as-of (and the time to ask at)
    moving_ip: str = ""
    as_of: str = ""


#: more parameter sets for queries whose parameters all have defaults
EXTRA_PARAMS: dict[str, list[dict[str, Any]]] = {
    "internet-reachable": [{"port": 443}, {"port": 22, "protocol": "tcp"}],
    "exposed-not-reachable": [{"port": 443}, {"port": 3306, "protocol": "tcp"}],
}

SAMPLES_HISTORY = History(
    "samples",
    [LEGACY, D25, D26, D27],
    {
        "instance": [
            ID["web-1-us-east-1"],  # behind a load balancer, two interfaces
            ID["ip:db-1-us-east-1"],  # by private IP
            ID["web-2-us-east-1"],  # terminated in the last snapshot
            ID["idle-eu-west-1"],
        ],
        "ip": [
            ID["public:web-3-us-east-1"],  # the Elastic IP that moved
            ID["ip:web-1-us-east-1"],
            _interface_of(D27, ID["web-1-us-east-1"])[1],
            ID["ip:db-1-eu-west-1"],
            "192.0.2.1",
        ],
        "group": [ID["sg:us-east-1:web"], ID["sg:eu-west-1:db"], "admin"],
    },
    empty=frozenset({"nacl-deny-shadowed"}),
    moving_ip=ID["public:web-3-us-east-1"],
    as_of="2026-11-26T12:00:00Z",
)
#: one history keeps the suite's time: the samples answer every query of the pack but
#: nacl-deny-shadowed, and tests/test_query_graph11.py holds the 1.1 questions' own cases
HISTORIES = {h.name: h for h in (SAMPLES_HISTORY,)}


def param_sets(history: History, query: Query) -> list[dict[str, Any]]:
    required = [p.name for p in query.params if p.required]
    optional = [p.name for p in query.params if not p.required]
    if not required:
        more = [{name: v} for name in optional for v in history.values.get(name, [])]
        return [{}, *EXTRA_PARAMS.get(query.name, []), *more]
    (name,) = required  # the pack's queries take at most one
    return [{name: v} for v in history.values[name]]


@dataclass
class Answers:
    layout: Layout
    #: (query, params as JSON, snapshot id) -> rows
    rows: dict[tuple[str, str, str], list[dict[str, Any]]] = field(default_factory=dict)
    diffs: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    alerts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    all_snapshots: list[dict[str, Any]] = field(default_factory=list)
    as_of: list[dict[str, Any]] = field(default_factory=list)


def collect(driver: neo4j.Driver, history: History) -> Answers:
    answers = Answers(recorded_layout(driver, "neo4j"))
    snapshots = list_snapshots(driver, "neo4j")
    assert [s.snapshot_id for s in snapshots] == history.snapshots
    asked = [
        (query, params, snap.snapshot_id)
        for query in load_pack().values()
        if query.scope is Scope.snapshot
        for params in param_sets(history, query)
        for snap in snapshots
    ]

    def ask(item: tuple[Query, dict[str, Any], str]) -> list[dict[str, Any]]:
        query, params, sid = item
        return run_query(
            driver, query, params, snapshot=sid, database="neo4j", layout=answers.layout
        ).rows

    # ~350 questions a layout
    for (query, params, sid), rows in zip(asked, two_at_a_time(ask, asked), strict=True):
        answers.rows[(query.name, json.dumps(params, sort_keys=True), sid)] = rows
    for old, new in itertools.pairwise(snapshots):
        found = diff_snapshots(driver, old.snapshot_id, new.snapshot_id, database="neo4j")
        answers.diffs[(old.snapshot_id, new.snapshot_id)] = found.changes
    for snap in snapshots:
        answers.alerts[snap.snapshot_id] = findings_for(driver, snap, "neo4j")
    ip = {"ip": history.moving_ip}
    answers.all_snapshots = run_query(
        driver, "ip-owner", ip, all_snapshots=True, database="neo4j"
    ).rows
    answers.as_of = run_query(driver, "ip-owner", ip, as_of=history.as_of, database="neo4j").rows
    return answers


def comparable(value: Any) -> Any:
    """An answer without a whole node's `fingerprint`: the snapshots layout's internal digest
    of a node and its relationships (what NEXT_VERSION's `changed` is computed from), which a
    version does not carry (its relationships have intervals of their own)."""
    if isinstance(value, dict):
        drop = {"fingerprint"} if "_labels" in value else set()
        return {k: comparable(v) for k, v in value.items() if k not in drop}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


def canonical(rows: list[dict[str, Any]]) -> Counter[str]:
    """Rows as a multiset (the legacy queries have no ORDER BY)."""
    return Counter(json.dumps(comparable(r), sort_keys=True, default=str) for r in rows)


@dataclass
class Both:
    history: History
    snapshots: Answers
    versions: Answers


def build_samples(server: Any, graphs: BuiltGraphs, layout: Layout) -> None:
    """samples/ in `layout`, the legacy archive read as account ACCT (rebuilt, or put back:
    tests/test_report_samples.py and tests/test_report_versions.py ask for the same graphs;
    one key for all of them saves a rebuild of the suite)."""
    settings = import_settings()
    sources = [str(p) for p in sorted(SAMPLES.glob("*.tar.gz"))]
    sources.append(str(SAMPLES / LEGACY))

    def build() -> None:
        summary = rebuild(
            sources, home=server.home, workers=1, settings=settings, account_id=ACCT, layout=layout
        )
        assert summary.layout == layout.value

    graphs.ensure(graph_key(sources, layout, ACCT), build)


@pytest.fixture(scope="module", params=list(HISTORIES))
def both(
    request: pytest.FixtureRequest,
    neo4j_server: Any,
    built_graphs: BuiltGraphs,
) -> Iterator[Both]:
    history = HISTORIES[request.param]
    answers = {}
    for layout in Layout:
        build_samples(neo4j_server, built_graphs, layout)
        answers[layout] = collect(neo4j_server.driver(), history)
    yield Both(history, answers[Layout.snapshots], answers[Layout.versions])


def test_the_two_graphs_are_the_two_layouts(both: Both, neo4j_server: Any) -> None:
    assert both.snapshots.layout is Layout.snapshots
    assert both.versions.layout is Layout.versions
    # history by change: fewer versions than copies, no Snapshot CONTAINS, intervals set
    rows = neo4j_server.run(
        "MATCH (n) WHERE NOT n:Snapshot AND NOT n:Tag "
        "RETURN count(n) AS n, count(n.valid_from) AS dated, count(n.snapshot_id) AS sid"
    )
    assert rows[0]["n"] == rows[0]["dated"] and rows[0]["sid"] == 0
    assert neo4j_server.run("MATCH (:Snapshot)-[r:CONTAINS]->() RETURN count(r) AS n") == [{"n": 0}]
    assert rows[0]["n"] > 0


def test_every_snapshot_query_answers_the_same_in_both_layouts(both: Both) -> None:
    assert both.versions.rows.keys() == both.snapshots.rows.keys()
    differ = []
    for key, want in both.snapshots.rows.items():
        got = both.versions.rows[key]
        if canonical(got) != canonical(want):
            differ.append((key, want, got))
    assert not differ, "\n".join(
        f"{key}:\n  snapshots {want}\n  versions  {got}" for key, want, got in differ[:5]
    )
    # and in the same order where the query orders them
    ordered = [k for k in both.snapshots.rows if "ORDER BY" in load_pack()[k[0]].text]
    assert all(
        comparable(both.versions.rows[k]) == comparable(both.snapshots.rows[k]) for k in ordered
    )


def test_the_comparison_covers_something_in_every_query(both: Both) -> None:
    answered = {name for (name, _, _), rows in both.snapshots.rows.items() if rows}
    asked = {name for name, _, _ in both.snapshots.rows}
    assert asked - answered == both.history.empty
    # the history changes: some query answers differently from one snapshot to the next
    first, *later = both.history.snapshots
    changing = {
        name
        for (name, params, sid), rows in both.snapshots.rows.items()
        if sid in later and rows != both.snapshots.rows[(name, params, first)]
    }
    assert len(changing) > 3, f"little history to compare: only {changing} change"


def test_diff_between_consecutive_snapshots_is_the_same(both: Both) -> None:
    assert both.versions.diffs.keys() == both.snapshots.diffs.keys()
    for pair, want in both.snapshots.diffs.items():
        assert both.versions.diffs[pair] == want, pair
    kinds = {c["change"] for changes in both.snapshots.diffs.values() for c in changes}
    assert {"added", "removed"} <= kinds


def test_alerts_are_the_same(both: Both) -> None:
    assert both.versions.alerts == both.snapshots.alerts
    assert any(both.snapshots.alerts.values())


def test_all_and_as_of_choose_the_same_snapshots(both: Both) -> None:
    assert both.versions.all_snapshots == both.snapshots.all_snapshots
    assert len({r["owner"] for r in both.snapshots.all_snapshots}) > 1  # it moved
    assert both.versions.as_of == both.snapshots.as_of
    assert both.snapshots.as_of


def _without_layout(value: Any) -> Any:
    """A raw answer's nodes without what only one layout has (interval, snapshot_id, uid)."""
    if isinstance(value, dict):
        drop = {"valid_from", "valid_to", "first_snapshot_id", "last_snapshot_id"}
        if "_labels" in value:
            drop |= {"snapshot_id", "uid"}
        return {k: _without_layout(v) for k, v in value.items() if k not in drop}
    if isinstance(value, list):
        return [_without_layout(v) for v in value]
    return value


def test_legacy_queries_on_one_snapshot_run_unchanged_on_its_versions(
    neo4j_server: Any, query_graphs: QueryGraphs
) -> None:
    """The older aws_neo4j_map users' own queries, as they are, on a database holding one
    snapshot: the same rows in both layouts (nodes compared by their properties)."""
    from test_query_legacy import PACK_VERSIONS, legacy_statements

    statements = legacy_statements()
    query_graphs.load(neo4j_server, [query_estate.S1])
    before = [
        _without_layout(rows_to_jsonable(neo4j_server.run(stmt, **params)))
        for stmt, (_, params) in zip(statements, PACK_VERSIONS, strict=True)
    ]
    query_graphs.load(neo4j_server, [query_estate.S1], Layout.versions)
    assert recorded_layout(neo4j_server.driver(), "neo4j") is Layout.versions
    after = [
        _without_layout(rows_to_jsonable(neo4j_server.run(stmt, **params)))
        for stmt, (_, params) in zip(statements, PACK_VERSIONS, strict=True)
    ]
    for stmt, want, got in zip(statements, before, after, strict=True):
        assert want, stmt  # each finds something in the estate
        assert canonical(got) == canonical(want), stmt
