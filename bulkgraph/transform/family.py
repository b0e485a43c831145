"""What a family is, and the tools family modules share.

A family maps the records of one AWS operation to nodes and relationships. Its module
(`bulkgraph/transform/families/<name>.py`) declares the labels and relationships it writes
(`declare.py`), what it reads (`Read`: which records of a page, which fields and lists), and a
function of (`Graph`, responses) holding only what is particular to it. `Graph.put` and
`Graph.link` take frames named as the declarations say and check them against it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from bulkgraph.extract.model import ApiResponse
from bulkgraph.transform import tablecache
from bulkgraph.transform.declare import NodeSchema, Prop, RelSchema
from bulkgraph.transform.records import (
    Paths,
    Rejects,
    Table,
    TypedFields,
    nonempty,
    paths_of,
    typed,
)
from bulkgraph.transform.types import kind

#: the records of one page of an operation's responses
Pick = Callable[[dict[str, Any]], Iterable[Any]]


@dataclass
class FamilyCount:
    read: int = 0
    written: int = 0
    rejected: int = 0


@dataclass
class Graph:
    snapshot_id: str
    nodes: dict[str, list[pl.DataFrame]] = field(default_factory=lambda: defaultdict(list))
    rels: dict[tuple[str, str, str], list[pl.DataFrame]] = field(
        default_factory=lambda: defaultdict(list)
    )
    rejects: Rejects = field(default_factory=Rejects)
    counts: dict[str, FamilyCount] = field(default_factory=dict)
    #: relationship group -> (by, key, value) pairs of its `dynamic` properties
    dynamic: dict[str, list[pl.DataFrame]] = field(default_factory=lambda: defaultdict(list))
    #: operations present in the snapshot that this version does not map
    unknown_operations: list[str] = field(default_factory=list)
    #: frames a family's `run` keeps for its `after` step (`hold`, `held`)
    holds: dict[str, list[pl.DataFrame]] = field(default_factory=lambda: defaultdict(list))
    #: label -> how many of its frames describe their resources (`put`): they come first,
    #: the frames of nodes known only by their keys (`put_known`) after them
    described: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def node(self, label: str, df: pl.DataFrame) -> None:
        self.nodes[label].append(df)

    def rel(self, type_: str, start: str, end: str, df: pl.DataFrame) -> None:
        """`df` holds each end's keys (`key_columns`, strings, in its label's key order) and
        the properties."""
        self.rels[(type_, start, end)].append(df)

    def put(self, schema: NodeSchema, df: pl.DataFrame) -> None:
        """Nodes of `schema`: `df` has a column for every declared key and property (a
        missing one is a mistake in the family, not an absent value: it fails here)."""
        missing = [p.name for p in schema.declared if p.name not in df.columns]
        if missing:
            raise ValueError(f"{schema.label} nodes without column(s) {', '.join(missing)}")
        frame = df.select(p.name for p in schema.declared)
        self.nodes[schema.label].insert(self.described[schema.label], frame)
        self.described[schema.label] += 1

    def put_known(self, schema: NodeSchema, df: pl.DataFrame) -> None:
        """Nodes of `schema` known only by their keys (a Lambda function that is a load
        balancer's target), their other properties absent. The transform keeps the first
        node of each key: these come after every node a family describes (`put`), so that
        the described one wins whichever family ran first."""
        self.node(schema.label, df.select(*schema.key_names))

    def link(self, schema: RelSchema, df: pl.DataFrame) -> None:
        """Relationships of `schema`: each end's keys from its declared columns of `df`."""
        self.rel(
            schema.type,
            schema.start,
            schema.end,
            df.select(
                *keys("start", schema.start_cols),
                *keys("end", schema.end_cols),
                *(p.name for p in schema.props),
                *(
                    pl.col(col).alias(name)
                    for side, given in (("start", schema.start_stub), ("end", schema.end_stub))
                    for (_, col), (_, name) in zip(given, schema.stub_columns(side), strict=True)
                ),
            ),
        )

    def nodes_of(self, schema: NodeSchema) -> pl.DataFrame:
        """Every node of `schema` put so far (by any family), duplicates included: for an
        `after` step, which runs once all families have put theirs."""
        frames = [f for f in self.nodes.get(schema.label, []) if f.height]
        if not frames:
            return pl.DataFrame(schema={p.name: kind(p.type).dtype() for p in schema.declared})
        return pl.concat(frames, how="diagonal_relaxed").select(p.name for p in schema.declared)

    def links_of(self, schema: RelSchema) -> pl.DataFrame:
        """Every row of `schema` linked so far (by any family), with the columns it was
        declared with (`start_cols`, `end_cols`, its properties): for an `after` step."""
        names = [*schema.start_cols, *schema.end_cols, *(p.name for p in schema.props)]
        if len(set(names)) != len(names):
            raise ValueError(f"{schema.group}: its columns repeat a name ({', '.join(names)})")
        dtypes = {p.name: kind(p.type).dtype() for p in schema.props}
        frames = [f for f in self.rels.get((schema.type, schema.start, schema.end), []) if f.height]
        if not frames:
            return pl.DataFrame(
                schema={
                    **dict.fromkeys([*schema.start_cols, *schema.end_cols], pl.String),
                    **dtypes,
                }
            )
        df = pl.concat(frames, how="diagonal_relaxed")
        return df.select(
            *(
                pl.col(k).alias(c)
                for side, cols in (("start", schema.start_cols), ("end", schema.end_cols))
                for k, c in zip(key_columns(side, len(cols)), cols, strict=True)
            ),
            *(pl.col(p.name).cast(dtypes[p.name]) for p in schema.props),
        )

    def hold(self, name: str, df: pl.DataFrame) -> None:
        """Keep `df` under `name` for the family's `after` step (what `run` read that only
        other families' nodes can place: a route through a peering to the peer VPC)."""
        self.holds[name].append(df)

    def held(self, name: str) -> list[pl.DataFrame]:
        return [f for f in self.holds.get(name, []) if f.height]

    def link_pairs(self, schema: RelSchema, df: pl.DataFrame) -> None:
        """The `dynamic` properties of `schema`'s rows: `df` holds the matching property
        (`schema.dynamic.by`), `key` and `value`."""
        if schema.dynamic is None:
            raise ValueError(f"{schema.group} declares no dynamic properties")
        self.dynamic[schema.group].append(df.select(schema.dynamic.by, "key", "value"))


def key_columns(side: str, count: int) -> list[str]:
    """The columns of a relationship frame (`Graph.rel`) holding the `count` keys of its
    `side` ("start" or "end") end: flat columns, not one list column (building and reading
    lists cost more CPU; docs/benchmarks.md)."""
    return [f"{side}_key{i}" for i in range(count)]


def keys(side: str, cols: tuple[str, ...]) -> list[pl.Expr]:
    """The columns `cols` (an end's keys, in its label's order) as the `key_columns` of
    `side`, as text."""
    names = key_columns(side, len(cols))
    return [pl.col(c).cast(pl.String).alias(n) for c, n in zip(cols, names, strict=True)]


def sourced(*decls: NodeSchema | RelSchema | Prop) -> tuple[Prop, ...]:
    """The properties of `decls` read from the record (those with a `source`), in order."""
    out: dict[str, Prop] = {}
    for d in decls:
        if isinstance(d, NodeSchema):
            props = d.declared
        elif isinstance(d, RelSchema):
            props = d.props
        else:
            props = (d,)
        for p in props:
            if p.source is not None:
                out.setdefault(p.name, p)
    return tuple(out.values())


@dataclass(frozen=True)
class Read:
    """What a family reads: `fields` of each record that `pick` finds in a page, and the
    elements of its list fields (`lists`: list name -> column -> path in the element; a
    list inside an object is named by its dotted path, `DBSubnetGroup.Subnets`; `keep`:
    lists whose parsed elements the family reads itself). `nested`: records inside
    a list field (security group rules), read by the family with their own `Read`."""

    fields: tuple[Prop, ...]
    pick: Pick | None = None
    lists: Mapping[str, Paths] = field(default_factory=dict)
    keep: tuple[str, ...] = ()
    nested: Mapping[str, Read] = field(default_factory=dict)

    @property
    def typed_fields(self) -> TypedFields:
        return {p.name: (p.source, p.type) for p in self.fields if p.source is not None}

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(p.source for p in self.fields if p.required and p.source is not None)


@dataclass(frozen=True)
class Family:
    """The mapping of one operation: its declarations, what it reads, and its function."""

    operation: str
    read: Read
    run: Callable[[Graph, list[ApiResponse]], None]
    nodes: tuple[NodeSchema, ...] = ()
    rels: tuple[RelSchema, ...] = ()
    #: run once every family of the snapshot has run (`run` of each first, then each
    #: `after`, in family order), for what needs the nodes or relationships other families
    #: put (`Graph.nodes_of`, `Graph.links_of`) and what `run` kept (`Graph.held`): the main
    #: route table of every subnet without its own. It writes with `put` and `link` as
    #: `run` does; it must not read what another family's `after` writes.
    after: Callable[[Graph], None] | None = None
    #: labels declared by another family whose nodes this one's records give too, known
    #: only by their keys (`Graph.put_known`: a Lambda function as a target)
    also: tuple[NodeSchema, ...] = ()

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels whose own (non-stub) nodes this operation's records give: its declared
        nodes, those it knows by their keys (`also`), and the shared Tag nodes its TAGGED
        relationships lead to."""
        own = {n.label for n in (*self.nodes, *self.also)}
        return tuple(sorted(own | {r.end for r in self.rels if r.end == "Tag"}))

    def __call__(self, g: Graph, responses: list[ApiResponse]) -> None:
        self.run(g, responses)

    def finish(self, g: Graph) -> None:
        """The `after` step, if the family has one."""
        if self.after is not None:
            self.after(g)


def list_at(page: dict[str, Any], name: str) -> list[Any]:
    value = page.get(name)
    return value if isinstance(value, list) else []


def items_of(responses: list[ApiResponse], pick: Pick) -> Iterator[tuple[str, int, Any]]:
    """(file, position in the file, record) of every record `pick` finds."""
    for resp in responses:
        pos = 0
        for page in resp.pages():
            for item in pick(page) if isinstance(page, dict) else ():
                yield resp.path, pos, item
                pos += 1


def read(
    g: Graph,
    operation: str,
    spec: Read,
    responses: list[ApiResponse],
    items: Iterable[tuple[str, int, Any]] | None = None,
    given: dict[str, list[Any]] | None = None,
) -> tuple[pl.DataFrame, Table]:
    """Records of one operation, typed, with the `account_id` and `region` of their file; bad
    ones recorded as rejects and counted. `items`: (file, position, record) picked by the
    family itself, when `spec.pick` cannot (a field from the call's request); `given`: what
    the items' records hold besides their own fields, one value per item (a field from the
    call's request), as `tablecache.table` takes it."""
    if items is None:
        assert spec.pick is not None, f"{operation}: no records to read"
        items = items_of(responses, spec.pick)
    origin = pl.DataFrame(
        [(r.path, r.account_id, r.region) for r in responses],
        schema={"file": pl.String, "account_id": pl.String, "region": pl.String},
        orient="row",
    ).unique("file", keep="first")
    fields = spec.typed_fields
    tab = tablecache.table(
        operation, list(items), paths_of(fields), dict(spec.lists), spec.keep, given
    )
    good, bad = typed(tab.main, fields, spec.required)
    good = good.with_columns(nonempty(pl.col(p.name)) for p in spec.fields if p.blank_is_null)
    good = good.join(origin, on="file", how="left")
    g.rejects.add(g.snapshot_id, tab.bad)
    g.rejects.add(g.snapshot_id, tab.dropped)  # list elements (a tag without Key...)
    g.rejects.add_frame(g.snapshot_id, bad)
    count = g.counts.setdefault(operation, FamilyCount())
    count.read += tab.main.height + len(tab.bad)
    count.rejected += bad.height + len(tab.bad)
    count.written += good.height
    return good, tab


def children(
    tab: Table, name: str, parent: pl.DataFrame, parent_cols: Iterable[str]
) -> pl.DataFrame:
    """Elements of list field `name` of the good parents, with the parents' `parent_cols`."""
    return tab.child(name).join(parent.select("file", "pos", *parent_cols), on=["file", "pos"])
