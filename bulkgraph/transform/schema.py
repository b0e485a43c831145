"""The graph: every label, property, type and relationship, collected from the families.

Each label and relationship is declared once, in its family's module
(`bulkgraph/transform/families/`; the shared ones in `families/base.py`), with the types of
`declare.py`. This module collects them and generates from them what must agree with the part
files: LOAD CSV statements, constraints and indexes (`cypher/00-schema.cypher`); `docs.py`
writes `docs/graph-model.md` from the same data. The idea follows Cartography's declarative
node schemas: the data model is data, not code spread over loaders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from bulkgraph.csvfolder import rel_group
from bulkgraph.transform.declare import SYSTEM_NODE_PROPS, NodeSchema, Prop, RelSchema, rel
from bulkgraph.transform.families import FAMILIES, base
from bulkgraph.transform.types import PropType, kind

#: Labels and relationship groups of graph model 1.0, in the order 1.0 wrote them (manifest
#: groups, import arguments, docs): kept so that the transform's output stays byte for byte
#: the same. Declared labels and groups not listed come after, in family order: a new family
#: needs no entry here.
ORDER_1_0_NODES = (
    "Snapshot", "Account", "Region", "VPC", "Subnet", "Instance", "SecurityGroup", "Tag",
    "IPRange", "PrefixList", "RDSInstance", "LoadBalancer", "TargetGroup", "LambdaFunction",
    "IPAddress",
)  # fmt: skip
ORDER_1_0_RELS = (
    "CONTAINS__Account__Region",
    "CONTAINS__Region__Instance",
    "CONTAINS__Region__LoadBalancer",
    "HAS_SECURITYGROUP__Region__SecurityGroup",
    "BELONGS_TO__Instance__VPC",
    "BELONGS_TO__Instance__Subnet",
    "BELONGS_TO__Instance__SecurityGroup",
    "BELONGS_TO__Subnet__VPC",
    "BELONGS_TO__SecurityGroup__VPC",
    "TAGGED__Instance__Tag",
    "TAGGED__VPC__Tag",
    "TAGGED__Subnet__Tag",
    "TAGGED__SecurityGroup__Tag",
    "TAGGED__RDSInstance__Tag",
    "TAGGED__LoadBalancer__Tag",
    "ALLOWED__IPRange__SecurityGroup",
    "ALLOWED__PrefixList__SecurityGroup",
    "ALLOWED__SecurityGroup__SecurityGroup",
    "ALLOWED__SecurityGroup__IPRange",
    "ALLOWED__SecurityGroup__PrefixList",
    "BELONGS_TO__RDSInstance__VPC",
    "BELONGS_TO__RDSInstance__Region",
    "BELONGS_TO__RDSInstance__SecurityGroup",
    "BELONGS_TO__LoadBalancer__VPC",
    "BELONGS_TO__LoadBalancer__SecurityGroup",
    "CONTAINS__LoadBalancer__TargetGroup",
    "CONTAINS__TargetGroup__Instance",
    "CONTAINS__TargetGroup__IPAddress",
    "CONTAINS__TargetGroup__LambdaFunction",
    "CONTAINS__TargetGroup__LoadBalancer",
    "PEERED_TO__VPC__VPC",
)

T = TypeVar("T")


def _in_order(items: Iterable[T], name: Callable[[T], str], order: tuple[str, ...]) -> list[T]:
    """`items` in `order` (by name), those it does not name after, as they came."""
    rank = {n: i for i, n in enumerate(order)}
    return sorted(items, key=lambda x: rank.get(name(x), len(rank)))


def _collect() -> tuple[tuple[NodeSchema, ...], tuple[RelSchema, ...]]:
    """Every declared label and relationship; each declared once, every end declared."""
    nodes: dict[str, NodeSchema] = {}
    rels: dict[str, RelSchema] = {}
    owners: list[tuple[str, tuple[NodeSchema, ...], tuple[RelSchema, ...]]]
    owners = [("families/base.py", base.NODES, base.RELS)]
    owners += [(op, f.nodes, f.rels) for op, f in FAMILIES.items()]
    for owner, fnodes, frels in owners:
        for n in fnodes:
            if nodes.setdefault(n.label, n) is not n:
                raise ValueError(f"label {n.label} declared twice (again by {owner})")
        for r in frels:
            if rels.setdefault(r.group, r) is not r:
                raise ValueError(f"relationship {r.group} declared twice (again by {owner})")
    for r in rels.values():
        for end in (r.start, r.end):
            if end not in nodes:
                raise ValueError(f"relationship {r.group}: label {end} is not declared")
    for listed, known in ((ORDER_1_0_NODES, nodes), (ORDER_1_0_RELS, rels)):
        stale = [n for n in listed if n not in known]
        if stale:
            raise ValueError(f"ORDER_1_0 names undeclared {', '.join(stale)}")
    node_list = _in_order(nodes.values(), lambda n: n.label, ORDER_1_0_NODES)
    rel_list = _in_order(rels.values(), lambda r: r.group, ORDER_1_0_RELS)
    return tuple(node_list), tuple(rel_list)


NODES, _DECLARED_RELS = _collect()
NODE_BY_LABEL: dict[str, NodeSchema] = {n.label: n for n in NODES}

#: Relationships computed per snapshot: the Snapshot's to every other node, then the declared.
SNAPSHOT_RELS: tuple[RelSchema, ...] = (
    *(
        rel("CONTAINS", base.SNAPSHOT, n, doc="every node of the snapshot, stubs included")
        for n in NODES
        if n.label != "Snapshot"
    ),
    *_DECLARED_RELS,
)

#: Relationships between snapshots, computed by the sequential temporal pass.
TEMPORAL_RELS: tuple[RelSchema, ...] = (
    rel("NEXT", base.SNAPSHOT, base.SNAPSHOT, doc="the next snapshot in time"),
    *(
        rel(
            "NEXT_VERSION",
            n,
            n,
            props=(Prop("changed", "boolean", "the fingerprint differs"),),
            doc="the same resource in the next snapshot that holds it",
        )
        for n in NODES
        if n.versioned
    ),
)

RELS: tuple[RelSchema, ...] = (*SNAPSHOT_RELS, *TEMPORAL_RELS)
REL_BY_GROUP: dict[str, RelSchema] = {r.group: r for r in RELS}

#: Relationships whose changes do not count for a resource's fingerprint.
FINGERPRINT_EXCLUDED_TYPES = frozenset({"NEXT", "NEXT_VERSION"})

STANDARD_INDEXED = ("id", "private_ip", "snapshot_id", "resource_key")


def node_schema(label: str) -> NodeSchema:
    return NODE_BY_LABEL[label]


def rel_schema(type_: str, start: str, end: str) -> RelSchema:
    return REL_BY_GROUP[rel_group(type_, start, end)]


def _cell(index: int, prop: Prop, *, key: bool = False) -> str:
    return kind(prop.type).cypher.format(f"row[{index}]")


def load_csv_statement(schema: NodeSchema | RelSchema) -> str:
    """The LOAD CSV statement for the part files (no header line) of `schema`'s group.

    Run it with `session.run(statement, url=<file URL>, batch=<rows per transaction>)`;
    nodes are MERGEd on `uid`, relationships MATCH both ends by label and uid (through the
    uniqueness constraints) and are created once per distinct property combination. The
    file comes as a parameter so that one statement text serves every part of the group:
    the server plans it once and reuses the plan for every snapshot appended after.
    """
    lines = ["LOAD CSV FROM $url AS row", "CALL (row) {"]
    if isinstance(schema, NodeSchema):
        keys = set(schema.key_names)
        lines.append(f"  MERGE (n:`{schema.label}` {{uid: row[0]}})")
        sets = [
            f"n.`{p.name}` = {_cell(i, p, key=p.name in keys)}"
            for i, p in enumerate(schema.columns)
            if i > 0
        ]
        lines.append("  SET " + ",\n      ".join(sets))
    else:
        lines.append(f"  MATCH (a:`{schema.start}` {{uid: row[0]}})")
        lines.append(f"  MATCH (b:`{schema.end}` {{uid: row[1]}})")
        if not schema.props:
            lines.append(f"  MERGE (a)-[:`{schema.type}`]->(b)")
        else:
            values = [f"{_cell(i + 2, p)} AS v{i}" for i, p in enumerate(schema.props)]
            lines.append("  WITH a, b, " + ", ".join(values))
            # Parallel relationships differ by their properties, some of which may be
            # absent: MERGE cannot match on null, so look for an equal one first.
            same = " AND ".join(
                f"coalesce(old.`{p.name}` = v{i}, old.`{p.name}` IS NULL AND v{i} IS NULL)"
                for i, p in enumerate(schema.props)
            )
            vs = ", ".join(f"v{i}" for i in range(len(schema.props)))
            lines.append(f"  OPTIONAL MATCH (a)-[old:`{schema.type}`]->(b) WHERE {same}")
            lines.append(f"  WITH a, b, {vs}, count(old) AS found")
            lines.append("  WHERE found = 0")
            rsets = ", ".join(f"r.`{p.name}` = v{i}" for i, p in enumerate(schema.props))
            lines.append(f"  CREATE (a)-[r:`{schema.type}`]->(b) SET {rsets}")
    lines.append("} IN TRANSACTIONS OF $batch ROWS")
    return "\n".join(lines)


def index_statements() -> list[str]:
    """Constraints and indexes, `IF NOT EXISTS` so that they can be re-run."""
    out: list[str] = []
    for node in NODES:
        low = node.label.lower()
        out.append(
            f"CREATE CONSTRAINT {low}_uid IF NOT EXISTS "
            f"FOR (n:`{node.label}`) REQUIRE n.uid IS UNIQUE;"
        )
    for node in NODES:
        low = node.label.lower()
        names = {p.name for p in node.columns}
        if not node.versioned:
            # resource_key is looked up to link versions (temporal_cypher.py) and to diff
            # versioned resources; an index nothing reads still costs a population per
            # rebuild (Tag: ~1 M nodes at 90 x 10k)
            names.discard("resource_key")
        wanted: list[tuple[str, ...]] = [(p,) for p in STANDARD_INDEXED if p in names]
        wanted += [ix for ix in node.extra_indexes if ix not in wanted]
        for props in wanted:
            name = f"{low}_{'_'.join(p.lower() for p in props)}"
            fields = ", ".join(f"n.`{p}`" for p in props)
            out.append(f"CREATE INDEX {name} IF NOT EXISTS FOR (n:`{node.label}`) ON ({fields});")
    return out


def versions_index_statements() -> list[str]:
    """The indexes a versions-layout graph adds to `index_statements` (docs/versions-layout.md):
    as-of lookups find a resource's versions by resource key and start of validity (one
    composite range index: equality on the key, range on `valid_from`), or by any key
    property (an IP address by `ip`, a CIDR by `cidr`) that the snapshots layout does not
    index on its own already. Addresses held as properties (`private_ip`, `public_ip`) are
    indexed by `index_statements` (`STANDARD_INDEXED`, a family's `extra_indexes`)."""
    out: list[str] = []
    for node in NODES:
        if not node.versioned:
            continue
        low = node.label.lower()
        out.append(
            f"CREATE INDEX {low}_resource_key_valid_from IF NOT EXISTS "
            f"FOR (n:`{node.label}`) ON (n.`resource_key`, n.`valid_from`);"
        )
        names = {p.name for p in node.columns}
        indexed = {(p,) for p in STANDARD_INDEXED if p in names} | set(node.extra_indexes)
        for key in node.key_names:
            if (key,) not in indexed:
                out.append(
                    f"CREATE INDEX {low}_{key.lower()} IF NOT EXISTS "
                    f"FOR (n:`{node.label}`) ON (n.`{key}`);"
                )
    return out


def versions_schema_cypher() -> str:
    """The text of `cypher/versions/10-versions.cypher` (applied after `00-schema.cypher`
    on a graph in the versions layout only)."""
    head = [
        "// Generated by `bulkgraph schema docs` from the declarations of bulkgraph/transform/.",
        "// Do not edit: change the declaration and regenerate.",
        "// The versions layout's indexes, after 00-schema.cypher (docs/versions-layout.md).",
        "",
    ]
    return "\n".join(head + versions_index_statements()) + "\n"


def schema_cypher() -> str:
    """The text of `cypher/00-schema.cypher`."""
    head = [
        "// Generated by `bulkgraph schema docs` from the declarations of bulkgraph/transform/.",
        "// Do not edit: change the declaration and regenerate.",
        "// A uniqueness constraint on uid for every label, then the lookup indexes.",
        "",
    ]
    return "\n".join(head + index_statements()) + "\n"


__all__ = [
    "NODES",
    "NODE_BY_LABEL",
    "RELS",
    "REL_BY_GROUP",
    "SNAPSHOT_RELS",
    "SYSTEM_NODE_PROPS",
    "TEMPORAL_RELS",
    "NodeSchema",
    "Prop",
    "PropType",
    "RelSchema",
]
