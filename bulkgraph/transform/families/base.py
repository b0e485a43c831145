"""Labels every family shares: the snapshot, accounts, regions and tags, and their helpers."""

from __future__ import annotations

import polars as pl

from bulkgraph.transform.declare import NodeSchema, Prop, RelSchema, rel
from bulkgraph.transform.family import Graph, children
from bulkgraph.transform.records import Paths, Table

#: the account and region of a resource: those of the snapshot file its record came from
ACCOUNT_REGION = (
    Prop("account_id", doc="the account the resource was read from"),
    Prop("region", doc="the region the resource was read from"),
)

SNAPSHOT = NodeSchema(
    "Snapshot",
    keys=(Prop("snapshot_id", doc="the snapshot's id (its folder name)"),),
    props=(
        Prop("taken_at", "datetime", "when the collection started"),
        Prop("source", doc="the snapshot's format (`bulkgraph-snapshot/1`, `aws_neo4j_map`)"),
        Prop(
            "unknown",
            "string[]",
            "`account/region/operation` calls the snapshot does not know (`*`: all); "
            "absent when it knows everything",
        ),
        Prop(
            "unknown_labels",
            "string[]",
            "`Label/account/region` whose nodes the snapshot does not know, from `unknown`",
        ),
    ),
    versioned=False,
    doc="one collection run",
    extra_indexes=(("taken_at",),),
)
ACCOUNT = NodeSchema(
    "Account",
    keys=(Prop("account_id", doc="the 12-digit account id"),),
    doc="an AWS account: those the snapshot's manifest names and those its data came from",
)
REGION = NodeSchema(
    "Region",
    keys=(Prop("account_id", doc="its account"), Prop("name", doc="e.g. `us-east-1`")),
    doc="a region of an account",
)
TAG = NodeSchema(
    "Tag",
    keys=(
        Prop("name", doc="the tag's key"),
        Prop("value", doc='the tag\'s value (`""` when AWS gives none)'),
    ),
    versioned=False,
    doc="one distinct key/value pair per snapshot",
    extra_indexes=(("name", "value"),),
)

ACCOUNT_CONTAINS_REGION = rel("CONTAINS", ACCOUNT, REGION)

#: the fields of a Tags / TagList element
TAGS: Paths = {"Key": "$.Key", "Value": "$.Value"}


def in_region(node: NodeSchema, type_: str = "CONTAINS") -> RelSchema:
    """`(Region)-[:type_]->(node)`: the region of the resource's file."""
    return rel(type_, REGION, node, start_cols={"account_id": "account_id", "name": "region"})


def tagged(node: NodeSchema) -> RelSchema:
    return rel("TAGGED", node, TAG, doc="the resource's tags")


def put_tags(g: Graph, schema: RelSchema, tab: Table, name: str, owner: pl.DataFrame) -> None:
    """Tags of list field `name` (elements `TAGS`) of the `owner` records: Tag nodes and
    `schema` (a `tagged()`) from each owner to its tags. A tag without a key is left out."""
    tags = children(tab, name, owner, schema.start_cols).select(
        *schema.start_cols,
        pl.col("Key").alias("name"),
        pl.col("Value").fill_null("").alias("value"),
    )
    tags = tags.filter(pl.col("name").is_not_null())
    g.put(TAG, tags)
    g.link(schema, tags)


NODES = (SNAPSHOT, ACCOUNT, REGION, TAG)
RELS = (ACCOUNT_CONTAINS_REGION,)
