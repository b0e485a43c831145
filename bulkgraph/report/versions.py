"""The report's questions asked of a graph in the versions layout (docs/versions-layout.md).

A snapshot S of the report stands for the time T = `S.taken_at`, and what S held is what holds
at T (`holds`). Each function answers with the rows the snapshots layout's Cypher returns
(data.py, timeline.py), so what the report makes of them is one code path for both layouts.

A stub version (a resource another one names, not collected) is not the resource, as in the
snapshots layout, where a stub node has no resource_key and no NEXT_VERSION: a resource is
*held* at T when a version of it that is not a stub holds at T.

- a snapshot's regions and resources per label: the versions, not stubs, that hold at T;
- a night (old, new): *added*, versions that start at new whose resource was not held at
  old; *removed*, versions that hold at old and end at new whose resource is not held at
  new; *changed*, a resource held at both whose properties changed (NEXT_VERSION from the
  version that held at old to one that starts at new) or whose relationships did (runs of
  it that end or start at new, compared by direction, type, properties and the other end's
  resource_key): the snapshots layout's `changed` flag is a fingerprint over both;
- a resource's timeline: its version at each snapshot that held it, and the same
  fingerprint against the snapshot before that held it.

Times are compared as the database stores them (the contract's predicate, with the Snapshot
node's own `taken_at`), or as instants in Python; where a scan must find the elements whose
interval starts or ends at one of many snapshots it matches `epochMillis` first (Cypher's
`=` on datetimes also compares the time zone) and decides in Python.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import neo4j

from bulkgraph.db import to_jsonable
from bulkgraph.errors import BulkgraphError
from bulkgraph.query.snapshots import SnapshotRef
from bulkgraph.report.graph import account_of, read, region_of

#: the properties a version or a relationship run has for its interval (not the resource's)
INTERVAL = frozenset({"valid_from", "valid_to", "first_snapshot_id", "last_snapshot_id"})
#: what the snapshots layout's fingerprint leaves out of a node's properties (and a version's
#: uid, which names its first snapshot)
_NOT_FINGERPRINTED = INTERVAL | {"uid", "stub"}


def holds(x: str, at: str) -> str:
    """Cypher: `x` (a version or a relationship run) holds at the time `at`."""
    return f"{x}.valid_from <= {at} AND ({x}.valid_to IS NULL OR {at} < {x}.valid_to)"


def _native(value: Any) -> dt.datetime | None:
    """A stored time as a Python datetime (compared as an instant); None stays None."""
    native = value.to_native() if hasattr(value, "to_native") else value
    if native is not None and not isinstance(native, dt.datetime):
        raise BulkgraphError(
            f"an interval bound is {to_jsonable(value)!r}, not a DATETIME: the database does "
            "not follow the versions layout (docs/versions-layout.md)"
        )
    return native


def _night(
    night_at: dict[dt.datetime, tuple[SnapshotRef, SnapshotRef]], value: Any
) -> tuple[SnapshotRef, SnapshotRef] | None:
    """The night (old, new) whose new snapshot was taken at the stored time `value`."""
    at = _native(value)
    return None if at is None else night_at.get(at)


# -- the snapshots ----------------------------------------------------------------------------

SCOPES = (
    """
MATCH (s:Snapshot) WHERE s.snapshot_id IN $ids
RETURN s.snapshot_id AS snapshot_id, coalesce(s.unknown_labels, []) AS unknown_labels,
       COLLECT {
         MATCH (r:Region)
         WHERE coalesce(r.stub, false) = false AND """
    + holds("r", "s.taken_at")
    + """
         RETURN [r.account_id, r.name] AS region ORDER BY region
       } AS regions
"""
)


# -- the estate -------------------------------------------------------------------------------

# Each version adds one to its label's count from `valid_from` on and takes it away from
# `valid_to` on: one scan of the versions, summed per time, answers every snapshot at once.
_STEPS = """
MATCH (n) WHERE n.resource_key IS NOT NULL AND coalesce(n.stub, false) = false
WITH n, split(n.resource_key, '|')[0] AS label
WHERE NOT label IN $not_resources
UNWIND [[n.valid_from, 1], [n.valid_to, -1]] AS step
WITH label, step WHERE step[1] = 1 OR step[0] IS NOT NULL
RETURN label, step[0] AS at, sum(step[1]) AS delta
"""


def counts(
    driver: neo4j.Driver,
    snaps: Sequence[SnapshotRef],
    not_resources: Sequence[str],
    database: str | None = None,
) -> list[dict[str, Any]]:
    """(snapshot_id, label, n) of every label with resources held at each snapshot."""
    steps: dict[str, list[tuple[dt.datetime | None, int]]] = defaultdict(list)
    for row in read(driver, _STEPS, database, not_resources=list(not_resources)):
        steps[row["label"]].append((_native(row["at"]), row["delta"]))
    out = []
    for snap in snaps:
        for label, changes in steps.items():
            # a node without valid_from (none should be) holds always
            n = sum(delta for at, delta in changes if at is None or at <= snap.taken_at)
            if n:
                out.append({"snapshot_id": snap.snapshot_id, "label": label, "n": n})
    return out


# -- the nights -------------------------------------------------------------------------------

# Versions that start at a night's new snapshot: changed when the version before them held
# at the old snapshot and was not a stub, else added.
_STARTED = (
    """
MATCH (n) WHERE n.first_snapshot_id IN $news AND n.resource_key IS NOT NULL
  AND coalesce(n.stub, false) = false
WITH n, split(n.resource_key, '|')[0] AS label
WHERE NOT label IN $not_resources
OPTIONAL MATCH (old:Snapshot {snapshot_id: $old_of[n.first_snapshot_id]})
OPTIONAL MATCH (o)-[v:NEXT_VERSION]->(n) WHERE """
    + holds("o", "old.taken_at")
    + """
WITH n, label, CASE WHEN o IS NULL OR o.stub THEN 'added'
                    WHEN v.changed THEN 'changed' END AS change
WHERE change IS NOT NULL
RETURN n.first_snapshot_id AS snapshot_id, change, label,
       """
    + account_of("n")
    + """ AS account,
       """
    + region_of("n", "label")
    + """ AS region, count(*) AS n
"""
)

# Versions that end at a night's new snapshot with no version of their resource from it on,
# or a stub.
_ENDED = (
    """
MATCH (s:Snapshot) WHERE s.snapshot_id IN $news
WITH collect(s.taken_at.epochMillis) AS news
MATCH (o) WHERE o.valid_to.epochMillis IN news AND o.resource_key IS NOT NULL
  AND coalesce(o.stub, false) = false
  AND NOT EXISTS {
    MATCH (o)-[:NEXT_VERSION]->(n)
    WHERE n.valid_from.epochMillis = o.valid_to.epochMillis AND coalesce(n.stub, false) = false
  }
WITH o, split(o.resource_key, '|')[0] AS label
WHERE NOT label IN $not_resources
RETURN o.valid_to AS at, 'removed' AS change, label,
       """
    + account_of("o")
    + """ AS account,
       """
    + region_of("o", "label")
    + """ AS region, count(*) AS n
"""
)


def _end(node: str) -> str:
    """Cypher: what a night needs of one end of a relationship run (`{node}_label` bound)."""
    return (
        f"{{key: {node}.resource_key, label: {node}_label, stub: coalesce({node}.stub, false), "
        f"valid_from: {node}.valid_from, valid_to: {node}.valid_to, "
        f"account: {account_of(node)}, region: {region_of(node, node + '_label')}}}"
    )


# Relationship runs that start or end at a night's new snapshot.
_RUNS = (
    """
MATCH (s:Snapshot) WHERE s.snapshot_id IN $news
WITH collect(s.taken_at.epochMillis) AS news
MATCH (a)-[r]->(b)
WHERE r.valid_from.epochMillis IN news OR r.valid_to.epochMillis IN news
WITH r, a, b, split(a.resource_key, '|')[0] AS a_label, split(b.resource_key, '|')[0] AS b_label
RETURN r.valid_from AS valid_from, r.valid_to AS valid_to, type(r) AS type,
       properties(r) AS props, """
    + _end("a")
    + " AS start, "
    + _end("b")
    + """ AS end
"""
)


def _props_text(props: dict[str, Any]) -> str:
    """A relationship's own properties, comparable and hashable."""
    own = {k: to_jsonable(v) for k, v in props.items() if k not in INTERVAL}
    return json.dumps(own, sort_keys=True)


def nights(
    driver: neo4j.Driver,
    pairs: Sequence[tuple[SnapshotRef, SnapshotRef]],
    not_resources: Sequence[str],
    database: str | None = None,
) -> list[dict[str, Any]]:
    """(snapshot_id, change, label, account, region, n) per night, as data._NIGHTS."""
    if not pairs:
        return []
    news = [new.snapshot_id for _, new in pairs]
    old_of = {new.snapshot_id: old.snapshot_id for old, new in pairs}
    night_at = {new.taken_at: (old, new) for old, new in pairs}
    params = {"news": news, "not_resources": list(not_resources)}
    rows: list[dict[str, Any]] = [
        dict(r) for r in read(driver, _STARTED, database, old_of=old_of, **params)
    ]
    for r in read(driver, _ENDED, database, **params):
        found = _night(night_at, r["at"])
        if found:
            rows.append({"snapshot_id": found[1].snapshot_id, **{k: r[k] for k in _GROUP}})
    counted: Counter[tuple[str, ...]] = Counter()
    for (sid, key), place in _relationships_changed(
        read(driver, _RUNS, database, **params), night_at, set(not_resources)
    ).items():
        del key  # one resource: counted once
        counted[(sid, "changed", *place)] += 1
    rows += [
        {"snapshot_id": sid, "change": change, "label": label, "account": a, "region": r, "n": n}
        for (sid, change, label, a, r), n in counted.items()
    ]
    return rows


_GROUP = ("change", "label", "account", "region", "n")


def _relationships_changed(
    runs: list[Any],
    night_at: dict[dt.datetime, tuple[SnapshotRef, SnapshotRef]],
    not_resources: set[str],
) -> dict[tuple[str, str], tuple[str, str, str]]:
    """(night's snapshot_id, resource_key) -> (label, account, region) of the resources whose
    relationships differ between a night's old and new snapshots while the same version of
    them, not a stub, holds at both (a new version is counted by _STARTED)."""
    ended: dict[tuple[str, str], Counter[tuple[str, ...]]] = defaultdict(Counter)
    started: dict[tuple[str, str], Counter[tuple[str, ...]]] = defaultdict(Counter)
    spanning: dict[tuple[str, str], tuple[str, str, str]] = {}
    for run in runs:
        props = _props_text(run["props"])
        begins, stops = _night(night_at, run["valid_from"]), _night(night_at, run["valid_to"])
        for me, other, direction in (
            (run["start"], run["end"], "out"),
            (run["end"], run["start"], "in"),
        ):
            if me["key"] is None or me["label"] in not_resources:
                continue
            seen = (direction, run["type"], props, str(other["key"]))
            for night, into in ((begins, started), (stops, ended)):
                if night is None:
                    continue
                old, new = night
                into[(new.snapshot_id, me["key"])][seen] += 1
                vfrom, vto = _native(me["valid_from"]), _native(me["valid_to"])
                if (
                    not me["stub"]
                    and vfrom is not None
                    and vfrom <= old.taken_at
                    and (vto is None or vto > new.taken_at)
                ):
                    spanning[(new.snapshot_id, me["key"])] = (
                        me["label"], str(me["account"]), str(me["region"])
                    )  # fmt: skip
    return {
        key: place
        for key, place in spanning.items()
        if ended.get(key, Counter()) != started.get(key, Counter())
    }


# -- a resource's timeline --------------------------------------------------------------------

_AT_SNAPSHOTS = (
    """
MATCH (s:Snapshot) WHERE s.snapshot_id IN $ids
WITH s, s.taken_at AS t
MATCH (n:`{label}` {{resource_key: $key}})
WHERE coalesce(n.stub, false) = false AND """
    + holds("n", "t")
    + """
RETURN s.snapshot_id AS snapshot_id, properties(n) AS props,
       COLLECT {{
         MATCH (n)-[r:TAGGED]->(tag:Tag) WHERE """
    + holds("r", "t")
    + """
         RETURN tag.name + '=' + tag.value AS tag ORDER BY tag
       }} AS tags,
       COLLECT {{
         MATCH (n)-[r:BELONGS_TO]->(sg:SecurityGroup) WHERE """
    + holds("r", "t")
    + """
         RETURN sg.id + coalesce(' (' + sg.name + ')', '') AS g ORDER BY g
       }} AS security_groups,
       COLLECT {{
         MATCH p = (lb:LoadBalancer)-[:CONTAINS]->(:TargetGroup)
               (()-[:CONTAINS]->(:LoadBalancer)-[:CONTAINS]->(:TargetGroup)){{0,3}}
               ()-[:CONTAINS]->(n)
         WHERE all(r IN relationships(p) WHERE """
    + holds("r", "t")
    + """)
         WITH DISTINCT coalesce(lb.name, lb.arn) AS name
         RETURN name ORDER BY name
       }} AS load_balancers
"""
)

# every version of the resource, not a stub, and every run of its relationships: its
# fingerprint at any snapshot, for `changed`
_HISTORY = """
MATCH (n:`{label}` {{resource_key: $key}}) WHERE coalesce(n.stub, false) = false
RETURN n.valid_from AS valid_from, n.valid_to AS valid_to, properties(n) AS props,
       COLLECT {{
         MATCH (n)-[r]->(m) WHERE r.valid_from IS NOT NULL
         RETURN ['out', type(r), m.resource_key, r] AS run
       }} + COLLECT {{
         MATCH (n)<-[r]-(m) WHERE r.valid_from IS NOT NULL
         RETURN ['in', type(r), m.resource_key, r] AS run
       }} AS runs
"""


class _Version:
    """One version of the resource with its relationship runs."""

    def __init__(self, row: Any) -> None:
        self.valid_from = _native(row["valid_from"])
        self.valid_to = _native(row["valid_to"])
        self.props = own_properties(row["props"])
        self.runs = [
            (
                (direction, kind, str(other), _props_text(dict(r))),
                _native(r.get("valid_from")),
                _native(r.get("valid_to")),
            )
            for direction, kind, other, r in row["runs"]
        ]

    def holds(self, at: dt.datetime) -> bool:
        return _within(self.valid_from, self.valid_to, at)

    def fingerprint(self, at: dt.datetime) -> tuple[Any, ...]:
        """Its properties and the relationships that hold at `at`: what the snapshots
        layout's fingerprint of the node at that snapshot is computed from."""
        rels = sorted(seen for seen, vfrom, vto in self.runs if _within(vfrom, vto, at))
        props = {k: v for k, v in self.props.items() if k not in _NOT_FINGERPRINTED}
        return (json.dumps(props, sort_keys=True), tuple(rels))


def _within(valid_from: dt.datetime | None, valid_to: dt.datetime | None, at: dt.datetime) -> bool:
    return (valid_from is None or valid_from <= at) and (valid_to is None or at < valid_to)


def own_properties(props: dict[str, Any]) -> dict[str, Any]:
    """A version's properties as the resource's (JSON-ready), without its interval."""
    return {k: to_jsonable(v) for k, v in props.items() if k not in INTERVAL}


def timeline(
    driver: neo4j.Driver,
    label: str,
    key: str,
    window: Sequence[SnapshotRef],
    history: Sequence[SnapshotRef],
    database: str | None = None,
) -> list[dict[str, Any]]:
    """(snapshot_id, props, previous, changed, tags, security_groups, load_balancers) of the
    resource at each snapshot of `window` that held it, as timeline._VERSIONS; `history` is
    every snapshot of the graph, oldest first (`previous` may lie before the window)."""
    quoted = label.replace("`", "``")
    ids = [s.snapshot_id for s in window]
    rows = read(driver, _AT_SNAPSHOTS.format(label=quoted), database, key=key, ids=ids)
    versions = [_Version(r) for r in read(driver, _HISTORY.format(label=quoted), database, key=key)]

    def version_at(snap: SnapshotRef) -> _Version | None:
        return next((v for v in versions if v.holds(snap.taken_at)), None)

    out = []
    for row in rows:
        index = next(i for i, s in enumerate(history) if s.snapshot_id == row["snapshot_id"])
        now = history[index]
        before = next((s for s in reversed(history[:index]) if version_at(s)), None)
        changed: bool | None = None
        old, new = (version_at(before) if before else None), version_at(now)
        if before is not None and old is not None and new is not None:
            changed = old.fingerprint(before.taken_at) != new.fingerprint(now.taken_at)
        out.append(
            {
                "snapshot_id": row["snapshot_id"],
                "props": own_properties(row["props"]),
                "previous": before.snapshot_id if before else None,
                "changed": changed,
                "tags": row["tags"],
                "security_groups": row["security_groups"],
                "load_balancers": row["load_balancers"],
            }
        )
    return out
