"""elbv2:DescribeTargetGroups: target groups and the load balancers they serve."""

from __future__ import annotations

from bulkgraph.extract import operations as ops
from bulkgraph.extract.model import ApiResponse
from bulkgraph.transform.declare import NodeSchema, Prop, rel
from bulkgraph.transform.families.base import ACCOUNT_REGION
from bulkgraph.transform.families.elbv2_load_balancers import LOAD_BALANCER
from bulkgraph.transform.family import Family, Graph, Read, children, list_at, read, sourced

OPERATION = ops.DESCRIBE_TARGET_GROUPS.name

TARGET_GROUP = NodeSchema(
    "TargetGroup",
    doc="a load balancer target group",
    keys=(Prop("arn", doc="its ARN", source="$.TargetGroupArn", required=True),),
    props=(
        Prop("name", doc="its name", source="$.TargetGroupName"),
        Prop("protocol", doc="`HTTP`, `TCP`... (absent for Lambda targets)", source="$.Protocol"),
        Prop("port", "int", "the port targets receive traffic on", source="$.Port"),
        Prop("target_type", doc="`instance`, `ip`, `lambda` or `alb`", source="$.TargetType"),
        Prop("vpc_id", doc="its VPC", source="$.VpcId"),
        *ACCOUNT_REGION,
    ),
)
SERVED = rel("CONTAINS", LOAD_BALANCER, TARGET_GROUP, start_cols={"arn": "lb"})

READ = Read(
    sourced(TARGET_GROUP),
    lambda page: list_at(page, "TargetGroups"),
    {"LoadBalancerArns": {"lb": "$"}},
)


def run(g: Graph, responses: list[ApiResponse]) -> None:
    good, tab = read(g, OPERATION, READ, responses)
    g.put(TARGET_GROUP, good)
    g.link(SERVED, children(tab, "LoadBalancerArns", good, ["arn"]))


FAMILY = Family(OPERATION, READ, run, nodes=(TARGET_GROUP,), rels=(SERVED,))
