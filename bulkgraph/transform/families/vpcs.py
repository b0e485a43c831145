"""ec2:DescribeVpcs: VPCs and their tags.

Particular to it: `cidrs`, every CIDR associated with the VPC, is built from two list fields.
"""

from __future__ import annotations

import polars as pl

from bulkgraph.extract import operations as ops
from bulkgraph.extract.model import ApiResponse
from bulkgraph.transform.declare import NodeSchema, Prop
from bulkgraph.transform.families.base import ACCOUNT_REGION, TAGS, put_tags, tagged
from bulkgraph.transform.family import Family, Graph, Read, list_at, read, sourced
from bulkgraph.transform.records import Table

OPERATION = ops.DESCRIBE_VPCS.name

VPC = NodeSchema(
    "VPC",
    doc="a virtual private cloud",
    keys=(Prop("id", doc="vpc-...", source="$.VpcId", required=True),),
    props=(
        Prop("cidr", doc="the primary IPv4 CIDR", source="$.CidrBlock"),
        *ACCOUNT_REGION,
        Prop("is_default", "boolean", "the region's default VPC", source="$.IsDefault"),
        Prop("state", doc="`pending` or `available`", source="$.State"),
        Prop(
            "cidrs",
            "string[]",
            "every IPv4 and IPv6 CIDR associated with it (association state `associated`), "
            "IPv4 first, each in AWS's order; absent when it has none",
        ),
    ),
)
TAGGED = tagged(VPC)

#: the two lists of associated CIDRs: the CIDR and its association's state
_CIDR_SETS = {
    "CidrBlockAssociationSet": {"cidr": "$.CidrBlock", "state": "$.CidrBlockState.State"},
    "Ipv6CidrBlockAssociationSet": {
        "cidr": "$.Ipv6CidrBlock",
        "state": "$.Ipv6CidrBlockState.State",
    },
}
READ = Read(sourced(VPC), lambda page: list_at(page, "Vpcs"), {"Tags": TAGS, **_CIDR_SETS})


def _cidrs(tab: Table, good: pl.DataFrame) -> pl.DataFrame:
    """`good` with `cidrs`: its associated CIDRs (a disassociated one is history)."""
    found = pl.concat(
        [tab.child(name).with_columns(pl.lit(n).alias("set")) for n, name in enumerate(_CIDR_SETS)]
    )
    found = found.filter(pl.col("state").is_null() | (pl.col("state") == "associated"))
    lists = found.sort("set", "idx").group_by("file", "pos").agg(pl.col("cidr").alias("cidrs"))
    return good.join(lists, on=["file", "pos"], how="left")


def run(g: Graph, responses: list[ApiResponse]) -> None:
    good, tab = read(g, OPERATION, READ, responses)
    good = _cidrs(tab, good)
    g.put(VPC, good)
    put_tags(g, TAGGED, tab, "Tags", good)


FAMILY = Family(OPERATION, READ, run, nodes=(VPC,), rels=(TAGGED,))
