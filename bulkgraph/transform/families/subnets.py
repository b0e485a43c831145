"""ec2:DescribeSubnets: subnets, their VPC and tags."""

from __future__ import annotations

from bulkgraph.extract import operations as ops
from bulkgraph.extract.model import ApiResponse
from bulkgraph.transform.declare import NodeSchema, Prop, rel
from bulkgraph.transform.families.base import ACCOUNT_REGION, TAGS, put_tags, tagged
from bulkgraph.transform.families.vpcs import VPC
from bulkgraph.transform.family import Family, Graph, Read, list_at, read, sourced

OPERATION = ops.DESCRIBE_SUBNETS.name

SUBNET = NodeSchema(
    "Subnet",
    doc="a subnet of a VPC",
    keys=(Prop("id", doc="subnet-...", source="$.SubnetId", required=True),),
    props=(
        Prop("cidr", doc="its IPv4 CIDR", source="$.CidrBlock"),
        Prop("availability_zone", doc="e.g. `us-east-1a`", source="$.AvailabilityZone"),
        Prop("vpc_id", doc="its VPC", source="$.VpcId"),
        *ACCOUNT_REGION,
        Prop(
            "map_public_ip_on_launch",
            "boolean",
            "instances launched in it get a public IPv4 address",
            source="$.MapPublicIpOnLaunch",
        ),
    ),
)
IN_VPC = rel("BELONGS_TO", SUBNET, VPC, end_cols={"id": "vpc_id"})
TAGGED = tagged(SUBNET)

READ = Read(sourced(SUBNET), lambda page: list_at(page, "Subnets"), {"Tags": TAGS})


def run(g: Graph, responses: list[ApiResponse]) -> None:
    good, tab = read(g, OPERATION, READ, responses)
    g.put(SUBNET, good)
    g.link(IN_VPC, good)
    put_tags(g, TAGGED, tab, "Tags", good)


FAMILY = Family(OPERATION, READ, run, nodes=(SUBNET,), rels=(IN_VPC, TAGGED))
