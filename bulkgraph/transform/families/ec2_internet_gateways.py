"""ec2:DescribeInternetGateways: internet gateways, the VPCs they are attached to, tags."""

from __future__ import annotations

from bulkgraph.extract import operations as ops
from bulkgraph.extract.model import ApiResponse
from bulkgraph.transform.declare import NodeSchema, Prop, rel
from bulkgraph.transform.families.base import ACCOUNT_REGION, TAGS, put_tags, tagged
from bulkgraph.transform.families.vpcs import VPC
from bulkgraph.transform.family import Family, Graph, Read, children, list_at, read, sourced

OPERATION = ops.DESCRIBE_INTERNET_GATEWAYS.name

INTERNET_GATEWAY = NodeSchema(
    "InternetGateway",
    doc="an internet gateway",
    keys=(Prop("id", doc="igw-...", source="$.InternetGatewayId", required=True),),
    props=ACCOUNT_REGION,
)
ATTACHED_TO = rel(
    "ATTACHED_TO",
    INTERNET_GATEWAY,
    VPC,
    end_cols={"id": "vpc"},
    props=(Prop("state", doc="`available` (attached), `attaching`, `detaching`..."),),
    doc="the VPC the gateway is attached to",
)
TAGGED = tagged(INTERNET_GATEWAY)

READ = Read(
    sourced(INTERNET_GATEWAY),
    lambda page: list_at(page, "InternetGateways"),
    {"Tags": TAGS, "Attachments": {"vpc": "$.VpcId", "state": "$.State"}},
)


def run(g: Graph, responses: list[ApiResponse]) -> None:
    good, tab = read(g, OPERATION, READ, responses)
    g.put(INTERNET_GATEWAY, good)
    g.link(ATTACHED_TO, children(tab, "Attachments", good, ["id"]))
    put_tags(g, TAGGED, tab, "Tags", good)


FAMILY = Family(OPERATION, READ, run, nodes=(INTERNET_GATEWAY,), rels=(ATTACHED_TO, TAGGED))
