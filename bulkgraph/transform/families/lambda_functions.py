"""lambda:ListFunctions: Lambda functions, their role, and where they sit in a VPC.

A function that is a load balancer's target is known from DescribeTargetHealth too: there by
its ARN alone (`elbv2_target_health.py`); the node this family describes wins over it.
"""

from __future__ import annotations

from bulkgraph.extract import operations as ops
from bulkgraph.extract.model import ApiResponse
from bulkgraph.transform.declare import NodeSchema, Prop, rel
from bulkgraph.transform.families.iam_roles import IAM_ROLE
from bulkgraph.transform.families.security_groups import SECURITY_GROUP
from bulkgraph.transform.families.subnets import SUBNET
from bulkgraph.transform.family import Family, Graph, Read, children, list_at, read, sourced

OPERATION = ops.LIST_FUNCTIONS.name

LAMBDA_FUNCTION = NodeSchema(
    "LambdaFunction",
    doc="a Lambda function (one known only as a load balancer's target holds its ARN alone)",
    keys=(Prop("arn", doc="the function's ARN", source="$.FunctionArn", required=True),),
    props=(
        Prop("name", doc="its name", source="$.FunctionName"),
        Prop("runtime", doc="e.g. `python3.12` (absent for container images)", source="$.Runtime"),
        Prop("role_arn", doc="the execution role it runs as", source="$.Role"),
        Prop(
            "vpc_id",
            doc="the VPC it reaches into, if any",
            source="$.VpcConfig.VpcId",
            blank_is_null=True,
        ),
    ),
)
HAS_ROLE = rel(
    "HAS_ROLE",
    LAMBDA_FUNCTION,
    IAM_ROLE,
    end_cols={"arn": "role_arn"},
    doc="the execution role of the function",
)
IN_SUBNET = rel(
    "BELONGS_TO", LAMBDA_FUNCTION, SUBNET, end_cols={"id": "subnet"}, doc="its VPC config's subnets"
)
IN_GROUP = rel(
    "BELONGS_TO",
    LAMBDA_FUNCTION,
    SECURITY_GROUP,
    end_cols={"id": "sg"},
    doc="its VPC config's security groups",
)

READ = Read(
    sourced(LAMBDA_FUNCTION),
    lambda page: list_at(page, "Functions"),
    {
        "VpcConfig.SubnetIds": {"subnet": "$"},
        "VpcConfig.SecurityGroupIds": {"sg": "$"},
    },
)


def run(g: Graph, responses: list[ApiResponse]) -> None:
    good, tab = read(g, OPERATION, READ, responses)
    g.put(LAMBDA_FUNCTION, good)
    g.link(HAS_ROLE, good)
    g.link(IN_SUBNET, children(tab, "VpcConfig.SubnetIds", good, ["arn"]))
    g.link(IN_GROUP, children(tab, "VpcConfig.SecurityGroupIds", good, ["arn"]))


FAMILY = Family(
    OPERATION, READ, run, nodes=(LAMBDA_FUNCTION,), rels=(HAS_ROLE, IN_SUBNET, IN_GROUP)
)
