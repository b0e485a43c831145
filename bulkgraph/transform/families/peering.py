"""ec2:DescribeVpcPeeringConnections: PEERED_TO from the requester VPC to the accepter.

Particular to it: the peering's tags are properties of the relationship, `tag_<key>`
(declared as its `dynamic` properties), and a VPC the snapshot does not hold (the peer, in
another account or region) keeps what the peering record says of it: its stub carries `cidr`,
`account_id` and `region` (declared as the relationship's `start_stub` and `end_stub`).
"""

from __future__ import annotations

import polars as pl

from bulkgraph.extract import operations as ops
from bulkgraph.extract.model import ApiResponse
from bulkgraph.transform.declare import DynamicProps, Prop, rel
from bulkgraph.transform.families.base import TAGS
from bulkgraph.transform.families.vpcs import VPC
from bulkgraph.transform.family import Family, Graph, Read, children, list_at, read, sourced

OPERATION = ops.DESCRIBE_VPC_PEERING_CONNECTIONS.name

PEERED_TO = rel(
    "PEERED_TO",
    VPC,
    VPC,
    start_cols={"id": "requester"},
    end_cols={"id": "accepter"},
    props=(
        Prop("id", doc="pcx-...", source="$.VpcPeeringConnectionId", required=True),
        Prop("status", doc="`active`, `pending-acceptance`...", source="$.Status.Code"),
    ),
    doc="a VPC peering connection, from the requester VPC to the accepter",
    dynamic=DynamicProps(
        "tag_", by="id", doc="the peering's tags, one property `tag_<key>` per tag key"
    ),
    start_stub={
        "cidr": "requester_cidr",
        "account_id": "requester_owner",
        "region": "requester_region",
    },
    end_stub={"cidr": "accepter_cidr", "account_id": "accepter_owner", "region": "accepter_region"},
)

READ = Read(
    (
        *sourced(PEERED_TO),
        Prop("requester", source="$.RequesterVpcInfo.VpcId", required=True),
        Prop("accepter", source="$.AccepterVpcInfo.VpcId", required=True),
        *(
            Prop(f"{side}_{name}", source=f"$.{info}VpcInfo.{field}")
            for side, info in (("requester", "Requester"), ("accepter", "Accepter"))
            for name, field in (("cidr", "CidrBlock"), ("owner", "OwnerId"), ("region", "Region"))
        ),
    ),
    lambda page: list_at(page, "VpcPeeringConnections"),
    {"Tags": TAGS},
)


def run(g: Graph, responses: list[ApiResponse]) -> None:
    good, tab = read(g, OPERATION, READ, responses)
    tags = (
        children(tab, "Tags", good, ["id"])
        .select("id", pl.col("Key").alias("key"), pl.col("Value").fill_null("").alias("value"))
        .filter(pl.col("key").is_not_null())
    )
    g.link_pairs(PEERED_TO, tags)
    g.link(PEERED_TO, good)


FAMILY = Family(OPERATION, READ, run, rels=(PEERED_TO,))
