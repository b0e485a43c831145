"""The declaration types: a property, a node label, a relationship, each declared once.

In the spirit of Cartography's `PropertyRef`/`CartographyNodeSchema`/`CartographyRelSchema`:
a family module (`bulkgraph/transform/families/`) declares its labels and relationships as
data, and everything else is generated from that data: which JSON fields are read and how they
are typed (`Prop.source`, `Prop.type`), the CSV columns and headers, the LOAD CSV statements,
the constraints and indexes, and docs/graph-model.md with every description (`doc`).
`bulkgraph/transform/schema.py` collects the declarations of all families.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from bulkgraph import csvfolder
from bulkgraph.transform.types import PropType, kind


@dataclass(frozen=True)
class Prop:
    """One property: its name in the graph, its type, what it means, where it comes from."""

    name: str
    type: PropType = "string"
    doc: str = ""
    #: JSON path in the API record (`$.State.Name`), or None: computed by the family or the
    #: transform (the family's `doc` says how). Paths starting `$._` name fields the family
    #: puts into the record itself (a request parameter, the owner of a nested rule).
    source: str | None = None
    #: a record without it is rejected (rejects.jsonl) instead of becoming a node
    required: bool = False
    #: AWS sends "" for some absent values (the DNS name of a stopped instance): absent
    blank_is_null: bool = False

    def __post_init__(self) -> None:
        kind(self.type)  # an unknown type fails where it is declared

    @property
    def header(self) -> str:
        """The neo4j-admin header field: `name` for strings, `name:type` otherwise."""
        return self.name + kind(self.type).header_suffix


#: Columns every node file starts with. `uid` is the ID (stored as a property too).
SYSTEM_NODE_PROPS: tuple[Prop, ...] = (
    Prop("uid", doc="`<snapshot_id>|<resource_key>`, unique across the database"),
    Prop("snapshot_id", doc="the snapshot this node belongs to"),
    Prop("resource_key", doc="`<Label>|<key>[|<key>..]`: the resource across snapshots"),
    Prop("fingerprint", doc="hash of the node's properties and relationships"),
    Prop("stub", "boolean", "true for a referenced resource the snapshot does not hold"),
)


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
    def declared(self) -> tuple[Prop, ...]:
        """Keys and properties: the columns a family gives (the system columns aside)."""
        system = {p.name for p in SYSTEM_NODE_PROPS}
        return tuple(p for p in (*self.keys, *self.props) if p.name not in system)

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
        return csvfolder.node_group(self.label)


@dataclass(frozen=True)
class DynamicProps:
    """Properties named by the data: each (key, value) pair a family gives for a row becomes
    property `prefix` + key (PEERED_TO's peering tags). A part file's columns must be known
    before it is written, so the transform's final pass gives the relationship one column per
    key of all snapshots (transform/run.py); a row without the key leaves it absent."""

    prefix: str
    #: the declared property that matches a pair to its relationship row
    by: str
    doc: str = ""

    def column(self, key: str) -> str:
        """`prefix` + the key, characters other than letters, digits and `_` replaced by `_`
        (header fields cannot hold `:` or `,`)."""
        return self.prefix + re.sub(r"[^A-Za-z0-9_]", "_", key)

    def columns(self, keys: Iterable[str]) -> dict[str, str]:
        """key -> its column, for every key; keys that read the same get `_2`, `_3`..."""
        columns: dict[str, str] = {}
        used: set[str] = set()
        for key in sorted(keys):
            name = base = self.column(key)
            n = 2
            while name in used:
                name, n = f"{base}_{n}", n + 1
            used.add(name)
            columns[key] = name
        return columns


@dataclass(frozen=True)
class RelSchema:
    """A relationship type between two labels. `start_cols`/`end_cols` name the columns of
    the frame a family gives that hold each end's keys, in the order of that label's declared
    keys: build it with `rel()`, which checks them against the end labels."""

    type: str
    start: str
    end: str
    props: tuple[Prop, ...] = ()
    doc: str = ""
    start_cols: tuple[str, ...] = field(default=(), compare=False)
    end_cols: tuple[str, ...] = field(default=(), compare=False)
    dynamic: DynamicProps | None = field(default=None, compare=False)
    #: (property of the start/end label, column of the frame): what a stub made for that
    #: end keeps from the relationship's row (a peer VPC's CIDR and account); see `rel()`
    start_stub: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    end_stub: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def stub_columns(self, side: str) -> tuple[tuple[str, str], ...]:
        """(property, column in the relationship's frame) of a stub made for end `side`
        (`start` or `end`): the column is named `<side>.<property>`."""
        props = self.start_stub if side == "start" else self.end_stub
        return tuple((name, f"{side}.{name}") for name, _ in props)

    def widened(self, columns: Iterable[str]) -> RelSchema:
        """This relationship with the `dynamic` columns given (strings) after its own."""
        return replace(self, props=(*self.props, *(Prop(c) for c in columns)))

    def as_written(self, header_fields: list[str]) -> RelSchema:
        """The schema a part file with this header was written with (its dynamic columns)."""
        if self.dynamic is None:
            return self
        fixed = {p.name for p in self.props}
        names = [f.split(":")[0] for f in header_fields[2:]]
        return self.widened(n for n in names if n not in fixed)

    @property
    def header(self) -> str:
        return ",".join([":START_ID", ":END_ID", *(p.header for p in self.props)])

    @property
    def group(self) -> str:
        """The folder under `relationships/` holding this (type, start, end) combination."""
        return csvfolder.rel_group(self.type, self.start, self.end)

    @property
    def columns(self) -> tuple[str, ...]:
        return ("start", "end", *(p.name for p in self.props))


def _match(node: NodeSchema, cols: Mapping[str, str] | None, what: str) -> tuple[str, ...]:
    if cols is None:
        return node.key_names
    if set(cols) != set(node.key_names):
        raise ValueError(
            f"{what}: {node.label} is keyed by {', '.join(node.key_names)}, "
            f"the columns given are for {', '.join(cols) or 'nothing'}"
        )
    return tuple(cols[k] for k in node.key_names)


def _stub_props(
    node: NodeSchema, cols: Mapping[str, str] | None, what: str
) -> tuple[tuple[str, str], ...]:
    if not cols:
        return ()
    declared = {p.name for p in node.props} - set(node.key_names)
    wrong = sorted(set(cols) - declared)
    if wrong:
        raise ValueError(f"{what}: {node.label} declares no property {', '.join(wrong)}")
    return tuple((p.name, cols[p.name]) for p in node.props if p.name in cols)


def rel(
    type_: str,
    start: NodeSchema,
    end: NodeSchema,
    *,
    start_cols: Mapping[str, str] | None = None,
    end_cols: Mapping[str, str] | None = None,
    props: tuple[Prop, ...] = (),
    doc: str = "",
    dynamic: DynamicProps | None = None,
    start_stub: Mapping[str, str] | None = None,
    end_stub: Mapping[str, str] | None = None,
) -> RelSchema:
    """Declare `(start)-[:type_]->(end)`. `start_cols`/`end_cols` map each key of that end's
    label to the column holding it (default: the columns named as the keys), so that an end's
    key is always assembled in the order its label declares. `start_stub`/`end_stub` map
    properties of that end's label to columns of the frame: a stub made for an end the
    snapshot does not hold carries them (a stub otherwise holds its keys only)."""
    what = f"({start.label})-[:{type_}]->({end.label})"
    if dynamic is not None and dynamic.by not in {p.name for p in props}:
        raise ValueError(f"{what}: dynamic properties matched by {dynamic.by}, not a property")
    return RelSchema(
        type_,
        start.label,
        end.label,
        props,
        doc,
        _match(start, start_cols, what + " start"),
        _match(end, end_cols, what + " end"),
        dynamic,
        _stub_props(start, start_stub, what + " start stub"),
        _stub_props(end, end_stub, what + " end stub"),
    )
