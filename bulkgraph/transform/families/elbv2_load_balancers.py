"""elbv2:DescribeLoadBalancers: load balancers, their VPC, subnets, security groups and tags."""

from __future__ import annotations

from bulkgraph.extract import operations as ops
from bulkgraph.extract.model import ApiResponse
from bulkgraph.transform.declare import NodeSchema, Prop, rel
from bulkgraph.transform.families.base import ACCOUNT_REGION, TAGS, in_region, put_tags, tagged
from bulkgraph.transform.families.security_groups import SECURITY_GROUP
from bulkgraph.transform.families.subnets import SUBNET
from bulkgraph.transform.families.vpcs import VPC
from bulkgraph.transform.family import Family, Graph, Read, children, list_at, read, sourced

OPERATION = ops.DESCRIBE_LOAD_BALANCERS.name

LOAD_BALANCER = NodeSchema(
    "LoadBalancer",
    doc="an application, network or gateway load balancer (elbv2)",
    keys=(Prop("arn", doc="its ARN", source="$.LoadBalancerArn", required=True),),
    props=(
        Prop("name", doc="its name", source="$.LoadBalancerName"),
        Prop("dns_name", doc="its public or internal DNS name", source="$.DNSName"),
        Prop("scheme", doc="`internet-facing` or `internal`", source="$.Scheme"),
        Prop("state", doc="`active`, `provisioning`...", source="$.State.Code"),
        Prop("type", doc="`application`, `network` or `gateway`", source="$.Type"),
        Prop("created_time", "datetime", "when it was created", source="$.CreatedTime"),
        Prop("vpc_id", doc="its VPC", source="$.VpcId"),
        *ACCOUNT_REGION,
    ),
    extra_indexes=(("name",),),
)
IN_REGION = in_region(LOAD_BALANCER)
IN_VPC = rel("BELONGS_TO", LOAD_BALANCER, VPC, end_cols={"id": "vpc_id"})
IN_GROUP = rel("BELONGS_TO", LOAD_BALANCER, SECURITY_GROUP, end_cols={"id": "sg"})
TAGGED = tagged(LOAD_BALANCER)
IN_SUBNET = rel(
    "BELONGS_TO",
    LOAD_BALANCER,
    SUBNET,
    end_cols={"id": "subnet"},
    doc="a subnet it has a node in (`AvailabilityZones[].SubnetId`)",
)

READ = Read(
    sourced(LOAD_BALANCER),
    lambda page: list_at(page, "LoadBalancers"),
    {"SecurityGroups": {"sg": "$"}, "Tags": TAGS, "AvailabilityZones": {"subnet": "$.SubnetId"}},
)


def run(g: Graph, responses: list[ApiResponse]) -> None:
    good, tab = read(g, OPERATION, READ, responses)
    g.put(LOAD_BALANCER, good)
    g.link(IN_REGION, good)
    g.link(IN_VPC, good)
    g.link(IN_GROUP, children(tab, "SecurityGroups", good, ["arn"]))
    put_tags(g, TAGGED, tab, "Tags", good)
    g.link(IN_SUBNET, children(tab, "AvailabilityZones", good, ["arn"]))


FAMILY = Family(
    OPERATION,
    READ,
    run,
    nodes=(LOAD_BALANCER,),
    rels=(IN_REGION, IN_VPC, IN_GROUP, TAGGED, IN_SUBNET),
)
