"""ec2:DescribeVpcs: VPCs and their tags."""

from __future__ import annotations

from bulkgraph.extract import operations as ops
from bulkgraph.extract.model import ApiResponse
from bulkgraph.transform.declare import NodeSchema, Prop
from bulkgraph.transform.families.base import ACCOUNT_REGION, TAGS, put_tags, tagged
from bulkgraph.transform.family import Family, Graph, Read, list_at, read, sourced

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
    ),
)
TAGGED = tagged(VPC)

READ = Read(sourced(VPC), lambda page: list_at(page, "Vpcs"), {"Tags": TAGS})


def run(g: Graph, responses: list[ApiResponse]) -> None:
    good, tab = read(g, OPERATION, READ, responses)
    g.put(VPC, good)
    put_tags(g, TAGGED, tab, "Tags", good)


FAMILY = Family(OPERATION, READ, run, nodes=(VPC,), rels=(TAGGED,))
