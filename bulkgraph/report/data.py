"""What the report shows, read from the graph: plain data, no charts and no HTML.

- the estate: resources per label per snapshot;
- the nights: what each snapshot added, removed and changed against the one before
  (NEXT_VERSION and its `changed` flag; additions and removals where the other snapshot did
  not know the label are left out, as the pack's snapshot-diff does);
- exposure: the resources each exposure query of the pack lists per snapshot, and which
  became exposed (or stopped being) when;
- findings: every alert query of the pack in the latest snapshot, with its Cypher.

Where a snapshot does not know a label (`Snapshot.unknown_labels`), a count is None (nothing
known) or flagged partial (a lower bound): never a zero it did not see.

The Cypher here reads the snapshots layout; `window` reads the graph's layout once
(`Window.layout`), and on a graph in the versions layout the snapshots' regions, the counts
and the nights come from versions.py, in rows of the same shape. Exposure and findings run
the pack through bulkgraph.query.runner in either layout.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import neo4j

from bulkgraph.db import to_jsonable
from bulkgraph.errors import BulkgraphError, ExitCode
from bulkgraph.layout import Layout, recorded_layout
from bulkgraph.query.pack import Query, load_pack
from bulkgraph.query.runner import execute, scope_params
from bulkgraph.query.snapshots import SnapshotRef, list_snapshots
from bulkgraph.report import versions
from bulkgraph.report.coverage import Known, SnapshotScope, covers
from bulkgraph.report.graph import NOT_RESOURCES, account_of, read, region_of
from bulkgraph.report.parallel import ordered

#: the columns by which the report tells one listed resource from another (alert queries
#: return them all: bulkgraph/query/alerts.py)
LOCATION = ("account_id", "region", "resource")


@dataclass(frozen=True)
class ExposureSeries:
    """One line of the exposure chart: the resources a pack query lists per snapshot."""

    query: str
    title: str
    #: labels the query reads: where a snapshot does not know one, its count is unknown
    needs: tuple[str, ...]


#: The exposure chart's series, each one pack query; a series whose query the pack lacks is
#: left out. Graph model 1.1's reachability queries come first; until the pack has them,
#: security groups open to the internet are all the report can tell.
EXPOSURE_SERIES = (
    ExposureSeries(
        "internet-reachable",
        "internet-reachable",
        ("Instance", "LoadBalancer", "NetworkInterface", "Subnet", "RouteTable",
         "InternetGateway", "NetworkAcl", "SecurityGroup"),
    ),
    ExposureSeries(
        "exposed-not-reachable",
        "exposed in configuration only",
        ("Instance", "LoadBalancer", "NetworkInterface", "Subnet", "RouteTable",
         "InternetGateway", "NetworkAcl", "SecurityGroup"),
    ),
    ExposureSeries(
        "internet-exposed-instances",
        "open to the internet by a security group",
        ("Instance", "SecurityGroup"),
    ),
)  # fmt: skip


# -- the snapshots ----------------------------------------------------------------------------

# A snapshot's regions by the Region(snapshot_id) index (every node carries its snapshot's
# id): through `(s)-[:CONTAINS]->(r:Region)` the planner scanned every Region of the history
# for each snapshot, O(snapshots x history) (tests/test_report_samples.py)
_SCOPES = """
MATCH (s:Snapshot) WHERE s.snapshot_id IN $ids
RETURN s.snapshot_id AS snapshot_id, coalesce(s.unknown_labels, []) AS unknown_labels,
       COLLECT {
         MATCH (r:Region {snapshot_id: s.snapshot_id}) WHERE coalesce(r.stub, false) = false
         RETURN [r.account_id, r.name] AS region ORDER BY region
       } AS regions
"""


@dataclass(frozen=True)
class Snap:
    """A snapshot of the report: when it was taken and what it does not know."""

    ref: SnapshotRef
    scope: SnapshotScope

    @property
    def snapshot_id(self) -> str:
        return self.ref.snapshot_id

    @property
    def taken_at(self) -> dt.datetime:
        return self.ref.taken_at


@dataclass
class Window:
    """The snapshots the report covers, oldest first, and the one before the first (the
    first night compares with it), and the layout of the graph they are in (read once)."""

    snaps: list[Snap]
    before: Snap | None = None
    layout: Layout = Layout.snapshots

    @property
    def latest(self) -> Snap:
        return self.snaps[-1]

    def pairs(self) -> list[tuple[Snap, Snap]]:
        """(previous, snapshot) for each snapshot that has one."""
        chain = ([self.before] if self.before else []) + self.snaps
        return list(itertools.pairwise(chain))


def window(
    driver: neo4j.Driver,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    database: str | None = None,
) -> Window:
    """The snapshots taken in [since, until] (each end open when None)."""
    layout = recorded_layout(driver, database)
    every = list_snapshots(driver, database)
    if not every:
        raise BulkgraphError("the database holds no snapshot: load one first (bulkgraph load)")
    chosen = [
        s
        for s in every
        if (since is None or s.taken_at >= since) and (until is None or s.taken_at <= until)
    ]
    if not chosen:
        span = f"{every[0].taken_at.isoformat()} to {every[-1].taken_at.isoformat()}"
        raise BulkgraphError(
            f"no snapshot was taken between {since.isoformat() if since else 'the start'} and "
            f"{until.isoformat() if until else 'now'} (the graph holds {span})",
            ExitCode.USAGE,
        )
    first = every.index(chosen[0])
    before = every[first - 1] if first > 0 else None
    refs = [*([before] if before else []), *chosen]
    scopes_cypher = versions.SCOPES if layout is Layout.versions else _SCOPES
    rows = read(driver, scopes_cypher, database, ids=[r.snapshot_id for r in refs])
    scopes = {
        r["snapshot_id"]: SnapshotScope(
            r["snapshot_id"],
            tuple(str(u) for u in r["unknown_labels"]),
            tuple((str(a), str(n)) for a, n in r["regions"]),
        )
        for r in rows
    }
    snaps = [Snap(r, scopes[r.snapshot_id]) for r in refs]
    return Window(snaps[1:], snaps[0], layout) if before else Window(snaps, None, layout)


# -- the estate -------------------------------------------------------------------------------

_COUNTS = """
MATCH (s:Snapshot)-[:CONTAINS]->(n)
WHERE s.snapshot_id IN $ids AND n.resource_key IS NOT NULL AND coalesce(n.stub, false) = false
WITH s.snapshot_id AS snapshot_id, split(n.resource_key, '|')[0] AS label
WHERE NOT label IN $not_resources
RETURN snapshot_id, label, count(*) AS n
"""


@dataclass
class LabelSeries:
    """One label's count per snapshot of the window (None: the snapshot does not know it)."""

    label: str
    counts: list[int | None]
    known: list[Known]


@dataclass
class Estate:
    snapshots: list[str]
    series: list[LabelSeries]


def _read_each(
    driver: neo4j.Driver, query: str, database: str | None, params: list[dict[str, Any]]
) -> list[Any]:
    """`query`'s records for each parameter set (plus `not_resources`), a few sets at once,
    in the order given."""
    return [
        row
        for part in ordered(
            lambda p: read(driver, query, database, not_resources=list(NOT_RESOURCES), **p),
            params,
        )
        for row in part
    ]


def estate(driver: neo4j.Driver, win: Window, database: str | None = None) -> Estate:
    ids = [s.snapshot_id for s in win.snaps]
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    if win.layout is Layout.versions:
        rows = versions.counts(driver, [s.ref for s in win.snaps], NOT_RESOURCES, database)
    else:
        # one query per snapshot, a few at once
        rows = _read_each(driver, _COUNTS, database, [{"ids": [sid]} for sid in ids])
    for row in rows:
        counts[row["label"]][row["snapshot_id"]] = row["n"]
    # a label some snapshot does not know at all is charted too, as unknown there
    unknown = {u.split("/", 1)[0] for s in win.snaps for u in s.scope.unknown_labels}
    labels = sorted(set(counts) | (unknown - set(NOT_RESOURCES)))
    series = []
    for label in labels:
        known = [s.scope.known([label]) for s in win.snaps]
        values: list[int | None] = [
            None if k is Known.none else counts[label].get(s.snapshot_id, 0)
            for s, k in zip(win.snaps, known, strict=True)
        ]
        series.append(LabelSeries(label, values, known))
    return Estate(ids, series)


# -- the nights -------------------------------------------------------------------------------

# Per pair of consecutive snapshots: nodes of the new one with no version in the old (added)
# or one that differs (changed), and nodes of the old one with no version in the new
# (removed). NEXT_VERSION links consecutive snapshots that hold a resource, so one hop is
# enough. Grouped by label, account and region; where the other snapshot did not know them,
# additions and removals are dropped in Python (`covers`, the snapshot-diff's rule).
_NIGHTS = (
    """
UNWIND $pairs AS pair
CALL (pair) {
  MATCH (:Snapshot {snapshot_id: pair.new})-[:CONTAINS]->(n)
  WHERE n.resource_key IS NOT NULL AND coalesce(n.stub, false) = false
  OPTIONAL MATCH (o)-[v:NEXT_VERSION]->(n)
  WHERE o.snapshot_id = pair.old
  WITH n, o, v WHERE o IS NULL OR v.changed
  RETURN n AS node, CASE WHEN o IS NULL THEN 'added' ELSE 'changed' END AS change
  UNION ALL
  MATCH (:Snapshot {snapshot_id: pair.old})-[:CONTAINS]->(o)
  WHERE o.resource_key IS NOT NULL AND coalesce(o.stub, false) = false
    AND NOT EXISTS { MATCH (o)-[:NEXT_VERSION]->(n) WHERE n.snapshot_id = pair.new }
  RETURN o AS node, 'removed' AS change
}
WITH pair, change, node, split(node.resource_key, '|')[0] AS label
WHERE NOT label IN $not_resources
WITH pair, change, label,
     """
    + account_of("node")
    + """ AS account,
     """
    + region_of("node", "label")
    + """ AS region
RETURN pair.new AS snapshot_id, change, label, account, region, count(*) AS n
"""
)

CHANGES = ("added", "removed", "changed")


@dataclass
class NightChanges:
    """What one snapshot added, removed and changed against the snapshot before it."""

    snapshot_id: str
    previous: str
    counts: dict[str, int]  # change -> resources
    by_label: dict[str, dict[str, int]]  # label -> change -> resources
    #: unknown entries of either snapshot: no addition or removal is counted there
    unknown: list[str] = field(default_factory=list)


def nights(driver: neo4j.Driver, win: Window, database: str | None = None) -> list[NightChanges]:
    pairs = win.pairs()
    found: dict[str, NightChanges] = {}
    by_id = {new.snapshot_id: (old, new) for old, new in pairs}
    for old, new in pairs:
        unknown = sorted(set(old.scope.unknown_labels) | set(new.scope.unknown_labels))
        found[new.snapshot_id] = NightChanges(
            new.snapshot_id, old.snapshot_id, dict.fromkeys(CHANGES, 0), {}, unknown
        )
    if win.layout is Layout.versions:
        refs = [(o.ref, n.ref) for o, n in pairs]
        rows = versions.nights(driver, refs, NOT_RESOURCES, database)
    else:
        # one query per night, a few at once: each reads two snapshots, not the history
        rows = _read_each(
            driver,
            _NIGHTS,
            database,
            [{"pairs": [{"old": o.snapshot_id, "new": n.snapshot_id}]} for o, n in pairs],
        )
    for row in rows:
        old, new = by_id[row["snapshot_id"]]
        change, label = row["change"], row["label"]
        other = old if change == "added" else new
        if change != "changed" and covers(
            other.scope.unknown_labels, label, str(row["account"]), str(row["region"])
        ):
            continue
        night = found[new.snapshot_id]
        night.counts[change] += row["n"]
        per = night.by_label.setdefault(label, dict.fromkeys(CHANGES, 0))
        per[change] += row["n"]
    return [found[new.snapshot_id] for _, new in pairs]


# -- exposure ---------------------------------------------------------------------------------


def ask(
    driver: neo4j.Driver,
    query: Query,
    params: dict[str, Any],
    snap: Snap,
    layout: Layout,
    database: str | None = None,
) -> tuple[list[str], list[dict[str, Any]]]:
    """One run of a pack query at one snapshot: the one place the report runs the pack
    (exposure and findings), through bulkgraph.query.runner, which asks a graph in the
    versions layout as of the snapshot's `taken_at`."""
    scope = scope_params(query, [snap.ref], layout)
    return execute(driver, query, params | scope, database, layout)


@dataclass
class ExposureEvent:
    snapshot_id: str
    taken_at: dt.datetime
    query: str  # the series' pack query
    change: str  # "exposed" or "no longer exposed"
    row: dict[str, Any]  # the query's row (of the snapshot that lists it)


@dataclass
class ExposureLine:
    series: ExposureSeries
    counts: list[int | None]  # per snapshot of the window
    known: list[Known]


@dataclass
class Exposure:
    snapshots: list[str]
    lines: list[ExposureLine]
    events: list[ExposureEvent]


def exposure_series(pack: dict[str, Query] | None = None) -> list[ExposureSeries]:
    """The exposure series whose query the pack has."""
    pack = load_pack() if pack is None else pack
    return [s for s in EXPOSURE_SERIES if s.query in pack]


def _key(row: dict[str, Any]) -> tuple[str, str, str]:
    return (str(row["account_id"]), str(row["region"]), str(row["resource"]))


def exposure(driver: neo4j.Driver, win: Window, database: str | None = None) -> Exposure:
    """Each series' query at each snapshot of the window (and the one before it) that knows
    what the query reads: the longest part of a report, one query per series and snapshot,
    so a few run at once (`parallel.ordered`) and each answer is folded as it comes, keeping
    only the previous snapshot's rows (the events need them), not the whole history's."""
    pack = load_pack()
    chain = ([win.before] if win.before else []) + win.snaps
    series_list = exposure_series(pack)
    known = {
        (series.query, snap.snapshot_id): snap.scope.known(series.needs)
        for series in series_list
        for snap in chain
    }
    # nothing to ask where the snapshot did not collect what the query reads
    asks = [
        (series, snap)
        for series in series_list
        for snap in chain
        if known[series.query, snap.snapshot_id] is not Known.none
    ]

    def run(task: tuple[ExposureSeries, Snap]) -> tuple[list[str], list[dict[str, Any]]]:
        series, snap = task
        query = pack[series.query]
        return ask(driver, query, query.bind({}), snap, win.layout, database)

    counts: dict[tuple[str, str], int] = {}
    events: list[ExposureEvent] = []
    previous: dict[str, tuple[Snap, dict[tuple[str, str, str], dict[str, Any]]]] = {}
    for (series, snap), (columns, rows) in zip(asks, ordered(run, asks), strict=True):
        query = pack[series.query]
        missing = [c for c in LOCATION if c not in columns]
        if missing:
            raise BulkgraphError(
                f"{query.source}: an exposure query must return {', '.join(LOCATION)} "
                f"(lacks {', '.join(missing)})"
            )
        listed = {_key(r): r for r in rows}
        counts[series.query, snap.snapshot_id] = len(listed)
        if series.query in previous:
            old, before = previous[series.query]
            events += _events(series, old, snap, before, listed)
        previous[series.query] = (snap, listed)
    lines = [
        ExposureLine(
            series,
            [counts.get((series.query, s.snapshot_id)) for s in win.snaps],
            [known[series.query, s.snapshot_id] for s in win.snaps],
        )
        for series in series_list
    ]
    events.sort(key=lambda e: (e.taken_at, e.query, e.change, _key(e.row)))
    return Exposure([s.snapshot_id for s in win.snaps], lines, events)


def _events(
    series: ExposureSeries,
    old: Snap,
    new: Snap,
    before: dict[tuple[str, str, str], dict[str, Any]],
    after: dict[tuple[str, str, str], dict[str, Any]],
) -> list[ExposureEvent]:
    """Resources listed in `new` and not in `old`, the previous snapshot that knew anything
    (and the reverse). A resource whose account and region either snapshot did not know for
    a label the query reads is neither: nobody saw it change."""

    def seen(key: tuple[str, str, str]) -> bool:
        account, region, _ = key
        return not any(
            covers(s.scope.unknown_labels, label, account, region)
            for s in (old, new)
            for label in series.needs
        )

    events: list[ExposureEvent] = []
    for change, keys, rows in (
        ("exposed", set(after) - set(before), after),
        ("no longer exposed", set(before) - set(after), before),
    ):
        events += [
            ExposureEvent(new.snapshot_id, new.taken_at, series.query, change, rows[key])
            for key in sorted(keys)
            if seen(key)
        ]
    return events


# -- findings ---------------------------------------------------------------------------------


@dataclass
class Findings:
    """One alert query's rows in the latest snapshot, with what re-runs it."""

    query: Query
    params: dict[str, Any]
    columns: list[str]
    rows: list[dict[str, Any]]


def findings(
    driver: neo4j.Driver,
    snap: Snap,
    database: str | None = None,
    layout: Layout = Layout.snapshots,
) -> list[Findings]:
    alerts = sorted(
        (q for q in load_pack().values() if q.is_alert), key=lambda q: (q.rule_id or "", q.name)
    )

    def run(query: Query) -> Findings:
        params = query.bind({}) | scope_params(query, [snap.ref], layout)
        columns, rows = ask(driver, query, params, snap, layout, database)
        return Findings(query, params, columns, rows)

    return list(ordered(run, alerts))


def cell(value: Any) -> Any:
    """A value as the report prints it (the CLI's JSON-ready form)."""
    return to_jsonable(value)
