"""One resource through time (`report --resource ID`): its versions, what changed between
them, and its security groups, addresses and load balancers in each snapshot."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import neo4j

from bulkgraph.errors import BulkgraphError, ExitCode
from bulkgraph.layout import Layout
from bulkgraph.query.snapshots import list_snapshots
from bulkgraph.report import versions as versions_layout
from bulkgraph.report.coverage import Known
from bulkgraph.report.data import NOT_RESOURCES, Snap, Window, cell, read

#: properties every node has, which say nothing about the resource itself
BOOKKEEPING = frozenset({"uid", "snapshot_id", "resource_key", "fingerprint", "stub"})

_LABELS = "CALL db.labels() YIELD label RETURN label ORDER BY label"

# the ways a person names a resource: its id, ARN, name, RDS identifier or resource_key
_FIND = """
MATCH (n:`{label}`)
WHERE (n.id = $id OR n.arn = $id OR n.name = $id OR n.DBInstanceIdentifier = $id
       OR n.resource_key = $id)
  AND n.resource_key IS NOT NULL AND coalesce(n.stub, false) = false
RETURN DISTINCT n.resource_key AS key
"""

_VERSIONS = """
MATCH (n:`{label}` {{resource_key: $key}})
WHERE n.snapshot_id IN $ids
OPTIONAL MATCH (prev)-[v:NEXT_VERSION]->(n)
RETURN n.snapshot_id AS snapshot_id, properties(n) AS props,
       prev.snapshot_id AS previous, v.changed AS changed,
       COLLECT {{
         MATCH (n)-[:TAGGED]->(t:Tag) RETURN t.name + '=' + t.value AS tag ORDER BY tag
       }} AS tags,
       COLLECT {{
         MATCH (n)-[:BELONGS_TO]->(sg:SecurityGroup)
         RETURN sg.id + coalesce(' (' + sg.name + ')', '') AS g ORDER BY g
       }} AS security_groups,
       COLLECT {{
         MATCH (lb:LoadBalancer)-[:CONTAINS]->(:TargetGroup)
               (()-[:CONTAINS]->(:LoadBalancer)-[:CONTAINS]->(:TargetGroup)){{0,3}}
               ()-[:CONTAINS]->(n)
         WITH DISTINCT coalesce(lb.name, lb.arn) AS name
         RETURN name ORDER BY name
       }} AS load_balancers
"""


@dataclass
class Version:
    snapshot_id: str
    props: dict[str, Any]
    tags: list[str]
    security_groups: list[str]
    load_balancers: list[str]
    previous: str | None
    changed: bool | None

    @property
    def addresses(self) -> list[str]:
        """Its IP addresses: the properties that hold one (`private_ip`, `public_ip`, `ip`)."""
        return sorted(
            {str(v) for k, v in self.props.items() if (k == "ip" or k.endswith("_ip")) and v}
        )


@dataclass
class Change:
    snapshot_id: str
    previous: str
    field: str
    before: Any
    after: Any


@dataclass
class Timeline:
    resource: str  # what the user asked for
    key: str  # its resource_key
    label: str
    #: per snapshot of the window: held / absent / unknown (the label not known there)
    presence: list[str]
    versions: list[Version]
    changes: list[Change] = field(default_factory=list)

    def version(self, snapshot_id: str) -> Version | None:
        return next((v for v in self.versions if v.snapshot_id == snapshot_id), None)


def find(driver: neo4j.Driver, resource: str, database: str | None = None) -> str:
    """The resource_key of the one resource `resource` names."""
    labels = [r["label"] for r in read(driver, _LABELS, database)]
    keys: set[str] = set()
    for label in labels:
        if label in NOT_RESOURCES:
            continue
        cypher = _FIND.replace("{label}", label.replace("`", "``"))
        keys |= {r["key"] for r in read(driver, cypher, database, id=resource)}
    if not keys:
        raise BulkgraphError(
            f"--resource {resource!r}: no resource has that id, ARN, name or resource_key",
            ExitCode.USAGE,
        )
    if len(keys) > 1:
        shown = ", ".join(sorted(keys)[:10])
        raise BulkgraphError(
            f"--resource {resource!r} names {len(keys)} resources ({shown}): give one resource_key",
            ExitCode.USAGE,
        )
    return keys.pop()


def timeline(
    driver: neo4j.Driver, win: Window, resource: str, database: str | None = None
) -> Timeline:
    key = find(driver, resource, database)
    label = key.split("|", 1)[0]
    ids = [s.snapshot_id for s in win.snaps]
    if win.layout is Layout.versions:
        refs = [s.ref for s in win.snaps]
        history = list_snapshots(driver, database)
        rows = versions_layout.timeline(driver, label, key, refs, history, database)
    else:
        cypher = _VERSIONS.format(label=label.replace("`", "``"))
        rows = read(driver, cypher, database, key=key, ids=ids)
    versions = [
        Version(
            r["snapshot_id"],
            {k: cell(v) for k, v in sorted(r["props"].items()) if k not in BOOKKEEPING},
            list(r["tags"]),
            list(r["security_groups"]),
            list(r["load_balancers"]),
            r["previous"],
            r["changed"],
        )
        for r in rows
    ]
    order = {sid: i for i, sid in enumerate(ids)}
    versions.sort(key=lambda v: order[v.snapshot_id])
    held = {v.snapshot_id for v in versions}
    presence = [_presence(s, label, held) for s in win.snaps]
    if not versions:
        raise BulkgraphError(
            f"--resource {resource!r} ({key}) is in no snapshot of the report's time span",
            ExitCode.USAGE,
        )
    return Timeline(resource, key, label, presence, versions, _changes(versions))


def _presence(snap: Snap, label: str, held: set[str]) -> str:
    if snap.snapshot_id in held:
        return "held"
    # not there: gone, unless the snapshot did not know the label (then nobody can tell)
    return "absent" if snap.scope.known([label]) is Known.all else "unknown"


def _changes(versions: list[Version]) -> list[Change]:
    """Field by field, what differs between each version and the one before it."""
    out: list[Change] = []
    for old, new in itertools.pairwise(versions):
        fields = {f"property {k}": (old.props.get(k), new.props.get(k)) for k in new.props}
        fields |= {f"property {k}": (v, None) for k, v in old.props.items() if k not in new.props}
        for name in ("tags", "security_groups", "load_balancers"):
            fields[name.replace("_", " ")] = (getattr(old, name), getattr(new, name))
        for name, (before, after) in sorted(fields.items()):
            if before != after:
                out.append(Change(new.snapshot_id, old.snapshot_id, name, before, after))
    return out
