"""The ONE declaration of the graph: every label, property, type and relationship.

Everything else is generated from it: CSV headers and column order, LOAD CSV statements,
constraints and indexes (`cypher/00-schema.cypher`), and `docs/graph-model.md`. The idea
follows Cartography's declarative node schemas: the data model is data, not code spread over
loaders, so that the importer, LOAD CSV and the docs cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bulkgraph.csvfolder import node_group, rel_group

PropType = Literal["string", "int", "long", "float", "boolean", "datetime", "string[]"]

#: How a CSV cell of each type becomes a value in LOAD CSV (cells always arrive as strings).
_CYPHER_CONVERSION: dict[str, str] = {
    "string": "{}",
    "int": "toInteger({})",
    "long": "toInteger({})",
    "float": "toFloat({})",
    "boolean": "toBoolean({})",
    "datetime": "datetime({})",
    "string[]": "split({}, ';')",
}


@dataclass(frozen=True)
class Prop:
    name: str
    type: PropType = "string"
    doc: str = ""

    @property
    def header(self) -> str:
        """The neo4j-admin header field: `name` for strings, `name:type` otherwise."""
        return self.name if self.type == "string" else f"{self.name}:{self.type}"


@dataclass(frozen=True)
class NodeSchema:
    label: str
    keys: tuple[Prop, ...]
    props: tuple[Prop, ...] = ()
    #: versioned nodes are linked across snapshots by NEXT_VERSION.
    versioned: bool = True
    doc: str = ""
    #: properties indexed besides the standard ones (id, private_ip, snapshot_id, and
    #: resource_key on versioned labels).
    extra_indexes: tuple[tuple[str, ...], ...] = ()

    @property
    def columns(self) -> tuple[Prop, ...]:
        """Every column of this label's node files, in order. The first one is the ID."""
        cols: list[Prop] = list(SYSTEM_NODE_PROPS)
        names = {p.name for p in cols}
        for prop in (*self.keys, *self.props):
            if prop.name not in names:
                cols.append(prop)
                names.add(prop.name)
        return tuple(cols)

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.keys)

    @property
    def header(self) -> str:
        cols = self.columns
        return ",".join(["uid:ID", *(p.header for p in cols[1:])])

    @property
    def group(self) -> str:
        """The folder under `nodes/` holding this label's files."""
        return node_group(self.label)


@dataclass(frozen=True)
class RelSchema:
    type: str
    start: str
    end: str
    props: tuple[Prop, ...] = ()
    doc: str = ""

    @property
    def header(self) -> str:
        return ",".join([":START_ID", ":END_ID", *(p.header for p in self.props)])

    @property
    def group(self) -> str:
        """The folder under `relationships/` holding this (type, start, end) combination."""
        return rel_group(self.type, self.start, self.end)

    @property
    def columns(self) -> tuple[str, ...]:
        return ("start", "end", *(p.name for p in self.props))


S: PropType = "string"

#: Columns every node file starts with. `uid` is the ID (stored as a property too).
SYSTEM_NODE_PROPS: tuple[Prop, ...] = (
    Prop("uid", S, "`<snapshot_id>|<resource_key>`, unique across the database"),
    Prop("snapshot_id", S, "the snapshot this node belongs to"),
    Prop("resource_key", S, "`<Label>|<key>[|<key>..]`: the resource across snapshots"),
    Prop("fingerprint", S, "hash of the node's properties and relationships"),
    Prop("stub", "boolean", "true for a referenced resource the snapshot does not hold"),
)

_ACCOUNT_REGION = (Prop("account_id"), Prop("region"))

NODES: tuple[NodeSchema, ...] = (
    NodeSchema(
        "Snapshot",
        keys=(Prop("snapshot_id"),),
        props=(Prop("taken_at", "datetime"), Prop("source")),
        versioned=False,
        doc="one collection run",
        extra_indexes=(("taken_at",),),
    ),
    NodeSchema("Account", keys=(Prop("account_id"),), doc="an AWS account"),
    NodeSchema("Region", keys=(Prop("account_id"), Prop("name")), doc="a region of an account"),
    NodeSchema(
        "VPC",
        keys=(Prop("id"),),
        props=(Prop("cidr"), *_ACCOUNT_REGION, Prop("is_default", "boolean"), Prop("state")),
    ),
    NodeSchema(
        "Subnet",
        keys=(Prop("id"),),
        props=(
            Prop("cidr"),
            Prop("availability_zone"),
            Prop("vpc_id"),
            *_ACCOUNT_REGION,
        ),
    ),
    NodeSchema(
        "Instance",
        keys=(Prop("id"),),
        props=(
            Prop("aws_hostname", S, "private DNS name"),
            Prop("private_ip"),
            Prop("public_ip"),
            Prop("public_dns"),
            Prop("state"),
            Prop("instance_type"),
            Prop("image_id"),
            Prop("launch_time", "datetime"),
            Prop("vpc_id"),
            Prop("subnet_id"),
            *_ACCOUNT_REGION,
        ),
    ),
    NodeSchema(
        "SecurityGroup",
        keys=(Prop("id"),),
        props=(Prop("name"), Prop("description"), Prop("vpc_id"), *_ACCOUNT_REGION),
    ),
    NodeSchema(
        "Tag",
        keys=(Prop("name"), Prop("value")),
        versioned=False,
        doc="one distinct key/value pair per snapshot",
        extra_indexes=(("name", "value"),),
    ),
    NodeSchema(
        "IPRange",
        keys=(Prop("cidr"),),
        props=(Prop("description", S, "the smallest description of the rules naming it (legacy)"),),
        extra_indexes=(("cidr",),),
    ),
    NodeSchema("PrefixList", keys=(Prop("id"),)),
    NodeSchema(
        "RDSInstance",
        keys=(Prop("account_id"), Prop("region"), Prop("DBInstanceIdentifier")),
        props=(
            Prop("DBInstanceStatus"),
            Prop("Engine"),
            Prop("EngineVersion"),
            Prop("DBInstanceClass"),
            Prop("MasterUsername"),
            Prop("VPCId"),
            Prop("MultiAZ", "boolean"),
            Prop("PubliclyAccessible", "boolean"),
            Prop("StorageEncrypted", "boolean"),
            Prop("IAMDatabaseAuthenticationEnabled", "boolean"),
            Prop("Endpoint", S, "address"),
            Prop("Port", "int"),
            Prop("BackupRetentionPeriod", "int"),
            Prop("DBName"),
            Prop("arn"),
        ),
        extra_indexes=(("DBInstanceIdentifier",),),
    ),
    NodeSchema(
        "LoadBalancer",
        keys=(Prop("arn"),),
        props=(
            Prop("name"),
            Prop("dns_name"),
            Prop("scheme"),
            Prop("state"),
            Prop("type"),
            Prop("created_time", "datetime"),
            Prop("vpc_id"),
            *_ACCOUNT_REGION,
        ),
        extra_indexes=(("name",),),
    ),
    NodeSchema(
        "TargetGroup",
        keys=(Prop("arn"),),
        props=(
            Prop("name"),
            Prop("protocol"),
            Prop("port", "int"),
            Prop("target_type"),
            Prop("vpc_id"),
            *_ACCOUNT_REGION,
        ),
    ),
    NodeSchema("LambdaFunction", keys=(Prop("arn"),), doc="a load balancer target"),
    NodeSchema("IPAddress", keys=(Prop("ip"),), doc="an `ip` load balancer target"),
)

NODE_BY_LABEL: dict[str, NodeSchema] = {n.label: n for n in NODES}

_ALLOWED_PROPS = (
    Prop("protocol", S, "`-1` = all"),
    Prop("fromPort", "int"),
    Prop("toPort", "int"),
    Prop("direction", S, "`ingress` or `egress`"),
    Prop("description", S, "the rule entry's description, where AWS gives one"),
)
_TARGET_PROPS = (Prop("port", "int"), Prop("health"))
_PEERING_PROPS = (Prop("id"), Prop("status"))

#: Relationships computed per snapshot.
SNAPSHOT_RELS: tuple[RelSchema, ...] = (
    *(RelSchema("CONTAINS", "Snapshot", n.label) for n in NODES if n.label != "Snapshot"),
    RelSchema("CONTAINS", "Account", "Region"),
    RelSchema("CONTAINS", "Region", "Instance"),
    RelSchema("CONTAINS", "Region", "LoadBalancer"),
    RelSchema("HAS_SECURITYGROUP", "Region", "SecurityGroup"),
    RelSchema("BELONGS_TO", "Instance", "VPC"),
    RelSchema("BELONGS_TO", "Instance", "Subnet"),
    RelSchema("BELONGS_TO", "Instance", "SecurityGroup"),
    RelSchema("BELONGS_TO", "Subnet", "VPC"),
    RelSchema("BELONGS_TO", "SecurityGroup", "VPC"),
    *(
        RelSchema("TAGGED", label, "Tag")
        for label in ("Instance", "VPC", "Subnet", "SecurityGroup", "RDSInstance", "LoadBalancer")
    ),
    RelSchema("ALLOWED", "IPRange", "SecurityGroup", _ALLOWED_PROPS),
    RelSchema("ALLOWED", "PrefixList", "SecurityGroup", _ALLOWED_PROPS),
    RelSchema("ALLOWED", "SecurityGroup", "SecurityGroup", _ALLOWED_PROPS),
    RelSchema("ALLOWED", "SecurityGroup", "IPRange", _ALLOWED_PROPS),
    RelSchema("ALLOWED", "SecurityGroup", "PrefixList", _ALLOWED_PROPS),
    RelSchema("BELONGS_TO", "RDSInstance", "VPC"),
    RelSchema("BELONGS_TO", "RDSInstance", "Region"),
    RelSchema("BELONGS_TO", "RDSInstance", "SecurityGroup"),
    RelSchema("BELONGS_TO", "LoadBalancer", "VPC"),
    RelSchema("BELONGS_TO", "LoadBalancer", "SecurityGroup"),
    RelSchema("CONTAINS", "LoadBalancer", "TargetGroup"),
    *(
        RelSchema("CONTAINS", "TargetGroup", end, _TARGET_PROPS)
        for end in ("Instance", "IPAddress", "LambdaFunction", "LoadBalancer")
    ),
    RelSchema(
        "PEERED_TO",
        "VPC",
        "VPC",
        _PEERING_PROPS,
        doc="the peering's tags become properties `tag_<key>` (see docs)",
    ),
)

#: Relationships between snapshots, computed by the sequential temporal pass.
TEMPORAL_RELS: tuple[RelSchema, ...] = (
    RelSchema("NEXT", "Snapshot", "Snapshot"),
    *(
        RelSchema("NEXT_VERSION", n.label, n.label, (Prop("changed", "boolean"),))
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
    raw = f"row[{index}]"
    return _CYPHER_CONVERSION[prop.type].format(raw)


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


def schema_cypher() -> str:
    """The text of `cypher/00-schema.cypher`."""
    head = [
        "// Generated by `bulkgraph schema docs` from bulkgraph/transform/schema.py.",
        "// Do not edit: change the declaration and regenerate.",
        "// A uniqueness constraint on uid for every label, then the lookup indexes.",
        "",
    ]
    return "\n".join(head + index_statements()) + "\n"
