"""A test-only converter: the versions layout (docs/versions-layout.md) derived from a
database in the snapshots layout, for the equivalence tests of the query side
(tests/test_versions_equivalence.py).

It reads the whole graph with plain Cypher, finds the runs in Python and writes the versions
graph back with plain Cypher (the database is cleared in between: Community has one user
database). It follows the contract, not the real versions build (transform + import), so
that the two can be checked against each other; `convert_to_versions` is the one entry point
a test needs, and the real build can take its place.

- A version of a resource (every label but Snapshot and Tag) is a maximal run of snapshots
  that saw it with the same labels and properties (all but `snapshot_id` and `uid`); a
  snapshot that did not see it ends the run only if it knew its label in its account and
  region (`Snapshot.unknown_labels`, "*" matches any; a resource of no account, an address
  or a CIDR, is unknown wherever the snapshot lacks anything). A resource that vanished and
  came back starts a new version.
- A relationship (every type but NEXT, NEXT_VERSION and the Snapshot's CONTAINS) is one per
  maximal run in which it held between the same two versions with the same properties,
  ended by a snapshot that did not hold it and knew the labels of both ends.
- Tags are shared, one per resource key; NEXT_VERSION links consecutive versions with
  `changed`; Snapshot nodes and NEXT are kept, each Snapshot gets `layout: "versions"`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Protocol

from bulkgraph.layout import LAYOUT_PROPERTY, Layout

#: properties of a snapshots-layout node that a version does not keep as they are
_PER_SNAPSHOT = ("snapshot_id", "uid")
_SKIPPED_TYPES = {"NEXT", "NEXT_VERSION"}
_BATCH = 500


class Server(Protocol):
    """What the converter needs of tests/conftest.py's ManagedNeo4j."""

    def run(self, query: str, **params: Any) -> list[dict[str, Any]]: ...

    def run_autocommit(self, query: str, **params: Any) -> list[dict[str, Any]]: ...

    def clear(self) -> None: ...


@dataclass
class _Version:
    labels: tuple[str, ...]
    rk: str
    props: dict[str, Any]
    first: int
    last: int
    #: index of the snapshot that ended it (valid_to), None while current
    ended_by: int | None = None


@dataclass
class _Rel:
    type: str
    start: str  # version uid
    end: str
    start_labels: tuple[str, ...]
    end_labels: tuple[str, ...]
    props: dict[str, Any]
    first: int
    last: int
    ended_by: int | None = None


@dataclass
class VersionsGraph:
    snapshots: list[dict[str, Any]]
    next_pairs: list[tuple[str, str]]
    nodes: list[tuple[tuple[str, ...], dict[str, Any]]] = field(default_factory=list)
    next_version: list[tuple[tuple[str, ...], str, str, bool]] = field(default_factory=list)
    rels: list[_Rel] = field(default_factory=list)


def _account_region(labels: tuple[str, ...], props: dict[str, Any]) -> tuple[str, str]:
    """A node's account and region as snapshot-diff.cypher reads them."""
    arn = str(props.get("arn") or "").split(":")
    account = props.get("account_id") or (arn[4] if len(arn) > 4 and arn[4] else None) or "?"
    if "Region" in labels:
        return str(account), str(props.get("name"))
    if "Account" in labels:
        return str(account), "*"
    region = props.get("region") or (arn[3] if len(arn) > 3 and arn[3] else None) or "?"
    return str(account), str(region)


def knows(snapshot: dict[str, Any], labels: tuple[str, ...], props: dict[str, Any]) -> bool:
    """Whether a snapshot knew what it would have held of a node with these labels and
    properties (docs/versions-layout.md, "Unknown is not absent")."""
    unknown = [str(u) for u in snapshot.get("unknown_labels") or []]
    if not unknown or "Tag" in labels:
        return True
    account, region = _account_region(labels, props)
    if account == "?":
        return False
    for label in labels:
        for u in unknown:
            parts = u.split("/")
            if len(parts) != 3 or parts[0] != label:
                continue
            if parts[1] in ("*", account) and parts[2] in ("*", region):
                return False
    return True


def build_versions(
    snapshots: list[dict[str, Any]],
    next_pairs: list[tuple[str, str]],
    nodes: list[dict[str, Any]],
    rels: list[dict[str, Any]],
) -> VersionsGraph:
    """The versions graph of a snapshots-layout graph read as rows: `snapshots` (Snapshot
    properties), `nodes` (`id`, `labels`, `props`), `rels` (`start`, `end`, `type`,
    `props`; ids as in `nodes`)."""
    snaps = sorted(snapshots, key=lambda s: (s["taken_at"].to_native(), s["snapshot_id"]))
    index = {s["snapshot_id"]: i for i, s in enumerate(snaps)}
    graph = VersionsGraph(snaps, next_pairs)

    # the copies of each resource by snapshot
    copies: dict[str, dict[int, tuple[tuple[str, ...], dict[str, Any], str]]] = defaultdict(dict)
    tags: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {}
    node_by_id: dict[str, tuple[tuple[str, ...], str, int]] = {}
    for row in nodes:
        labels = tuple(sorted(row["labels"]))
        props = dict(row["props"])
        sid = props.get("snapshot_id")
        if sid not in index:
            raise AssertionError(f"node {labels} {props.get('uid')} belongs to no snapshot")
        # a stub of the legacy reader has no resource_key: its uid still ends with it
        rk = str(props.get("resource_key") or str(props["uid"]).split("|", 1)[1])
        kept = {k: v for k, v in props.items() if k not in _PER_SNAPSHOT}
        node_by_id[row["id"]] = (labels, rk, index[sid])
        if "Tag" in labels:
            tags[rk] = (labels, kept | {"uid": rk})
            continue
        if index[sid] in copies[rk]:
            raise AssertionError(f"{rk} twice in snapshot {sid}")
        copies[rk][index[sid]] = (labels, kept, row["id"])

    # versions: runs of equal copies, across snapshots that did not know the resource
    version_at: dict[tuple[str, int], str] = {}
    uid_labels: dict[str, tuple[str, ...]] = {rk: t[0] for rk, t in tags.items()}
    for rk, seen in copies.items():
        versions: list[_Version] = []
        current: _Version | None = None
        for i in range(min(seen), len(snaps)):
            if i in seen:
                labels, props, _ = seen[i]
                if current is not None and current.labels == labels and current.props == props:
                    current.last = i
                    continue
                if current is not None:
                    current.ended_by = i
                current = _Version(labels, rk, props, i, i)
                versions.append(current)
            elif current is not None and knows(snaps[i], current.labels, current.props):
                current.ended_by = i
                current = None
        previous: _Version | None = None
        for v in versions:
            uid = f"{snaps[v.first]['snapshot_id']}|{rk}"
            props = dict(v.props) | {
                "uid": uid,
                "valid_from": snaps[v.first]["taken_at"],
                "first_snapshot_id": snaps[v.first]["snapshot_id"],
                "last_snapshot_id": snaps[v.last]["snapshot_id"],
            }
            if v.ended_by is not None:
                props["valid_to"] = snaps[v.ended_by]["taken_at"]
            graph.nodes.append((v.labels, props))
            uid_labels[uid] = v.labels
            # every snapshot the version spans, the unknown ones across which it runs too
            stop = v.ended_by if v.ended_by is not None else len(snaps)
            for i in range(v.first, stop):
                version_at[(rk, i)] = uid
            if previous is not None:
                prev_uid = f"{snaps[previous.first]['snapshot_id']}|{rk}"
                graph.next_version.append((v.labels, prev_uid, uid, previous.props != v.props))
            previous = v
    for labels, props in tags.values():
        graph.nodes.append((labels, props))

    # relationships: per (type, ends' versions, properties, occurrence), runs of snapshots
    held: dict[tuple[Any, ...], set[int]] = defaultdict(set)
    info: dict[tuple[Any, ...], tuple[str, str, str, dict[str, Any]]] = {}
    occurrences: dict[tuple[Any, ...], int] = defaultdict(int)
    for row in rels:
        if row["type"] in _SKIPPED_TYPES or row["start"] not in node_by_id:
            continue  # NEXT, NEXT_VERSION, and everything from a Snapshot (CONTAINS)
        s_labels, s_rk, i = node_by_id[row["start"]]
        e_labels, e_rk, j = node_by_id[row["end"]]
        if i != j:
            raise AssertionError(f"{row['type']} from {s_rk} to {e_rk} crosses snapshots")
        start = version_at.get((s_rk, i)) if "Tag" not in s_labels else s_rk
        end = version_at.get((e_rk, i)) if "Tag" not in e_labels else e_rk
        assert start is not None and end is not None
        props = dict(row["props"])
        frozen = tuple(sorted((k, repr(v)) for k, v in props.items()))
        base = (row["type"], start, end, frozen, i)
        occurrences[base] += 1
        key = (row["type"], start, end, frozen, occurrences[base])
        held[key].add(i)
        info[key] = (row["type"], start, end, props)
    props_by_uid = {props["uid"]: props for _, props in graph.nodes}
    for key, present in held.items():
        type_, start, end, props = info[key]
        s_labels, e_labels = uid_labels[start], uid_labels[end]
        run: _Rel | None = None
        for i in range(min(present), len(snaps)):
            if i in present:
                if run is None:
                    run = _Rel(type_, start, end, s_labels, e_labels, props, i, i)
                    graph.rels.append(run)
                else:
                    run.last = i
            elif run is not None and (
                knows(snaps[i], s_labels, props_by_uid[start])
                and knows(snaps[i], e_labels, props_by_uid[end])
            ):
                run.ended_by = i
                run = None
    return graph


def read_snapshots_layout(server: Server) -> dict[str, Any]:
    """The whole snapshots-layout graph as rows (what `build_versions` takes)."""
    return {
        "snapshots": [
            r["props"] for r in server.run("MATCH (s:Snapshot) RETURN properties(s) AS props")
        ],
        "next_pairs": [
            (r["a"], r["b"])
            for r in server.run(
                "MATCH (a:Snapshot)-[:NEXT]->(b:Snapshot) RETURN a.uid AS a, b.uid AS b"
            )
        ],
        "nodes": server.run(
            "MATCH (n) WHERE NOT n:Snapshot "
            "RETURN elementId(n) AS id, labels(n) AS labels, properties(n) AS props"
        ),
        "rels": server.run(
            "MATCH (a)-[r]->(b) WHERE NOT a:Snapshot "
            "RETURN elementId(a) AS start, elementId(b) AS end, type(r) AS type, "
            "properties(r) AS props"
        ),
    }


def _labels(labels: tuple[str, ...]) -> str:
    return "".join(f":`{label}`" for label in labels)


def write_versions(server: Server, graph: VersionsGraph) -> dict[str, int]:
    """Write `graph` into the (cleared) database; returns counts of what it wrote."""
    for labels in {labels for labels, _ in graph.nodes} | {("Snapshot",)}:
        for label in labels:
            server.run_autocommit(
                f"CREATE CONSTRAINT `oracle_{label.lower()}_uid` IF NOT EXISTS "
                f"FOR (n:`{label}`) REQUIRE n.uid IS UNIQUE"
            )
    snapshot_rows = [dict(s) | {LAYOUT_PROPERTY: Layout.versions.value} for s in graph.snapshots]
    server.run("UNWIND $rows AS row CREATE (s:Snapshot) SET s = row", rows=snapshot_rows)
    server.run(
        "UNWIND $pairs AS p MATCH (a:Snapshot {uid: p[0]}), (b:Snapshot {uid: p[1]}) "
        "CREATE (a)-[:NEXT]->(b)",
        pairs=[list(p) for p in graph.next_pairs],
    )
    by_labels: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for labels, props in graph.nodes:
        by_labels[labels].append(props)
    for labels, rows in by_labels.items():
        for k in range(0, len(rows), _BATCH):
            server.run(
                f"UNWIND $rows AS row CREATE (n{_labels(labels)}) SET n = row",
                rows=rows[k : k + _BATCH],
            )
    nv: dict[tuple[str, ...], list[list[Any]]] = defaultdict(list)
    for labels, a, b, changed in graph.next_version:
        nv[labels].append([a, b, changed])
    for labels, pairs in nv.items():
        label = _labels(labels[:1])
        server.run(
            f"UNWIND $pairs AS p MATCH (a{label} {{uid: p[0]}}) MATCH (b{label} {{uid: p[1]}}) "
            "CREATE (a)-[:NEXT_VERSION {changed: p[2]}]->(b)",
            pairs=pairs,
        )
    by_group: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in graph.rels:
        props = dict(r.props) | {
            "valid_from": graph.snapshots[r.first]["taken_at"],
            "first_snapshot_id": graph.snapshots[r.first]["snapshot_id"],
            "last_snapshot_id": graph.snapshots[r.last]["snapshot_id"],
        }
        if r.ended_by is not None:
            props["valid_to"] = graph.snapshots[r.ended_by]["taken_at"]
        group = (r.type, r.start_labels[0], r.end_labels[0])
        by_group[group].append({"a": r.start, "b": r.end, "props": props})
    for (type_, start, end), rows in by_group.items():
        for k in range(0, len(rows), _BATCH):
            server.run(
                f"UNWIND $rows AS row MATCH (a:`{start}` {{uid: row.a}}) "
                f"MATCH (b:`{end}` {{uid: row.b}}) "
                f"CREATE (a)-[r:`{type_}`]->(b) SET r = row.props",
                rows=rows[k : k + _BATCH],
            )
    return {
        "snapshots": len(graph.snapshots),
        "nodes": len(graph.nodes),
        "next_version": len(graph.next_version),
        "relationships": len(graph.rels),
    }


def convert_to_versions(server: Server) -> dict[str, int]:
    """Replace the snapshots-layout graph in the server's database by its versions layout."""
    rows = read_snapshots_layout(server)
    graph = build_versions(rows["snapshots"], rows["next_pairs"], rows["nodes"], rows["rels"])
    server.clear()
    return write_versions(server, graph)
