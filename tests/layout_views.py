"""What a graph says about one snapshot, read the same way from either layout.

`snapshot_view(run, snapshot_id)` reads a snapshots-layout graph at snapshot S: its nodes
(what S CONTAINS) and the relationships between them. `versions_view(run, at)` reads a
versions-layout graph as of time T (docs/versions-layout.md): the versions and relationships
whose interval holds T, and the Tag nodes those relationships reach. Both give a `View` of
plain tuples, with the properties each layout adds of its own left out, so that
`snapshot_view(S) == versions_view(S.taken_at)` wherever S knew everything.

`run(query, **params) -> list[dict]` is a read query runner (`ManagedNeo4j.run`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Run = Callable[..., list[dict[str, Any]]]

#: properties that say where a node sits in its layout, not what the resource is
LAYOUT_PROPS = frozenset(
    {
        "uid",
        "snapshot_id",
        "fingerprint",
        "resource_key",
        "valid_from",
        "valid_to",
        "first_snapshot_id",
        "last_snapshot_id",
    }
)

Props = frozenset[tuple[str, Any]]
Node = tuple[str, str, Props]  # label, resource key, properties
Rel = tuple[str, str, str, Props]  # type, start resource key, end resource key, properties


@dataclass(frozen=True)
class View:
    nodes: frozenset[Node]
    rels: frozenset[Rel]

    def only(self, keep: Callable[[str], bool]) -> View:
        """The nodes whose resource key `keep`s, and the relationships with such an end."""
        return View(
            frozenset(n for n in self.nodes if keep(n[1])),
            frozenset(r for r in self.rels if keep(r[1]) or keep(r[2])),
        )

    def without(self, drop: Callable[[str], bool]) -> View:
        """The complement of `only(drop)`."""
        return View(
            frozenset(n for n in self.nodes if not drop(n[1])),
            frozenset(r for r in self.rels if not (drop(r[1]) or drop(r[2]))),
        )


def _value(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_value(x) for x in v)
    if hasattr(v, "iso_format"):  # neo4j temporal values
        return str(v.iso_format())
    return v


def _props(props: Mapping[str, Any]) -> Props:
    return frozenset((k, _value(v)) for k, v in props.items() if k not in LAYOUT_PROPS)


def _snapshot_key(uid: str) -> str:
    """A snapshots-layout node's resource key: its uid after `<snapshot_id>|` (a stub has
    no `resource_key` property there)."""
    return uid.split("|", 1)[1]


def snapshot_view(run: Run, snapshot_id: str) -> View:
    """The snapshots layout at snapshot `snapshot_id` (Snapshot nodes, CONTAINS, NEXT and
    NEXT_VERSION left out)."""
    nodes = run(
        "MATCH (:Snapshot {snapshot_id: $sid})-[:CONTAINS]->(n) "
        "RETURN labels(n)[0] AS label, n.uid AS uid, properties(n) AS props",
        sid=snapshot_id,
    )
    rels = run(
        "MATCH (:Snapshot {snapshot_id: $sid})-[:CONTAINS]->(a)-[r]->(b) "
        "WHERE NOT type(r) IN ['NEXT_VERSION', 'NEXT'] "
        "RETURN type(r) AS type, a.uid AS a, b.uid AS b, properties(r) AS props",
        sid=snapshot_id,
    )
    return View(
        frozenset((r["label"], _snapshot_key(r["uid"]), _props(r["props"])) for r in nodes),
        frozenset(
            (r["type"], _snapshot_key(r["a"]), _snapshot_key(r["b"]), _props(r["props"]))
            for r in rels
        ),
    )


_HOLDS = "{x}.valid_from <= $t AND ({x}.valid_to IS NULL OR $t < {x}.valid_to)"


def versions_view(run: Run, at: dt.datetime) -> View:
    """The versions layout as of `at`: versions and relationships valid then (NEXT_VERSION
    and NEXT left out), and the Tag nodes (valid always) such a relationship reaches."""
    nodes = run(
        f"MATCH (n) WHERE n.valid_from IS NOT NULL AND {_HOLDS.format(x='n')} "
        "RETURN labels(n)[0] AS label, n.resource_key AS rk, properties(n) AS props",
        t=at,
    )
    rels = run(
        f"MATCH (a)-[r]->(b) WHERE r.valid_from IS NOT NULL AND {_HOLDS.format(x='r')} "
        "RETURN type(r) AS type, a.resource_key AS a, b.resource_key AS b, "
        "labels(b)[0] AS end_label, properties(b) AS end_props, properties(r) AS props",
        t=at,
    )
    tags = {
        (r["end_label"], r["b"], _props(r["end_props"]))
        for r in rels
        if r["end_props"].get("valid_from") is None
    }
    return View(
        frozenset({(r["label"], r["rk"], _props(r["props"])) for r in nodes} | tags),
        frozenset((r["type"], r["a"], r["b"], _props(r["props"])) for r in rels),
    )


__all__ = ["LAYOUT_PROPS", "View", "snapshot_view", "versions_view"]
