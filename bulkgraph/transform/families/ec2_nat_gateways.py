"""ec2:DescribeNatGateways: NAT gateways, their subnet, addresses and tags.

Particular to it: HAS_IP to each address of `NatGatewayAddresses` (private and public); an
address is primary where AWS says so (`IsPrimary`), or, in responses from before NAT gateways
had secondary addresses (no `IsPrimary`), when it is the first.
"""

from __future__ import annotations

import polars as pl

from bulkgraph.extract import operations as ops
from bulkgraph.extract.model import ApiResponse
from bulkgraph.transform.declare import NodeSchema, Prop, rel
from bulkgraph.transform.families.base import ACCOUNT_REGION, TAGS, put_tags, tagged
from bulkgraph.transform.families.elbv2_target_health import IP_ADDRESS
from bulkgraph.transform.families.subnets import SUBNET
from bulkgraph.transform.families.vpcs import VPC
from bulkgraph.transform.family import Family, Graph, Read, children, list_at, read, sourced

OPERATION = ops.DESCRIBE_NAT_GATEWAYS.name

NAT_GATEWAY = NodeSchema(
    "NatGateway",
    doc="a NAT gateway",
    keys=(Prop("id", doc="nat-...", source="$.NatGatewayId", required=True),),
    props=(
        Prop("state", doc="`available`, `pending`, `deleted`...", source="$.State"),
        Prop("connectivity_type", doc="`public` or `private`", source="$.ConnectivityType"),
        Prop("subnet_id", doc="its subnet", source="$.SubnetId"),
        Prop("vpc_id", doc="its VPC", source="$.VpcId"),
        *ACCOUNT_REGION,
    ),
)
IN_SUBNET = rel("BELONGS_TO", NAT_GATEWAY, SUBNET, end_cols={"id": "subnet_id"})
IN_VPC = rel("BELONGS_TO", NAT_GATEWAY, VPC, end_cols={"id": "vpc_id"})
TAGGED = tagged(NAT_GATEWAY)

#: HAS_IP's properties; the same as an interface's (ec2_network_interfaces.HAS_IP_PROPS,
#: which imports this module: declared here to avoid the cycle)
HAS_IP_PROPS = (
    Prop("kind", doc="`private` (IPv4), `public` (IPv4) or `ipv6`"),
    Prop(
        "primary",
        "boolean",
        "the holder's primary address (a public address: that of the primary private one)",
    ),
)
HAS_IP = rel("HAS_IP", NAT_GATEWAY, IP_ADDRESS, props=HAS_IP_PROPS, doc="the gateway's addresses")

READ = Read(
    sourced(NAT_GATEWAY),
    lambda page: list_at(page, "NatGateways"),
    {
        "Tags": TAGS,
        "NatGatewayAddresses": {
            "private": "$.PrivateIp",
            "public": "$.PublicIp",
            "primary": "$.IsPrimary",
        },
    },
)


def run(g: Graph, responses: list[ApiResponse]) -> None:
    good, tab = read(g, OPERATION, READ, responses)
    g.put(NAT_GATEWAY, good)
    g.link(IN_SUBNET, good)
    g.link(IN_VPC, good)
    found = children(tab, "NatGatewayAddresses", good, ["id"])
    primary = (
        pl.when(pl.col("primary").is_null())
        .then(pl.col("idx") == 0)
        .otherwise(pl.col("primary") == "true")
        .alias("primary")
    )
    addresses = pl.concat(
        [
            found.select("id", pl.col(col).alias("ip"), pl.lit(k).alias("kind"), primary)
            for col, k in (("private", "private"), ("public", "public"))
        ]
    ).filter(pl.col("ip").is_not_null())
    g.put(IP_ADDRESS, addresses)
    g.link(HAS_IP, addresses)
    put_tags(g, TAGGED, tab, "Tags", good)


FAMILY = Family(
    OPERATION, READ, run, nodes=(NAT_GATEWAY,), rels=(IN_SUBNET, IN_VPC, HAS_IP, TAGGED)
)
