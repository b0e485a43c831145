"""ec2:DescribeInstances: instances, where they run, their security groups and tags."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bulkgraph.extract import operations as ops
from bulkgraph.extract.model import ApiResponse
from bulkgraph.transform.declare import NodeSchema, Prop, rel
from bulkgraph.transform.families.base import ACCOUNT_REGION, TAGS, in_region, put_tags, tagged
from bulkgraph.transform.families.security_groups import SECURITY_GROUP
from bulkgraph.transform.families.subnets import SUBNET
from bulkgraph.transform.families.vpcs import VPC
from bulkgraph.transform.family import Family, Graph, Read, children, list_at, read, sourced

OPERATION = ops.DESCRIBE_INSTANCES.name

INSTANCE = NodeSchema(
    "Instance",
    doc="an EC2 instance (terminated ones too, while AWS still lists them)",
    keys=(Prop("id", doc="i-...", source="$.InstanceId", required=True),),
    props=(
        Prop("aws_hostname", doc="private DNS name", source="$.PrivateDnsName", blank_is_null=True),
        Prop("private_ip", doc="primary private IPv4 address", source="$.PrivateIpAddress"),
        Prop("public_ip", doc="public IPv4 address, if any", source="$.PublicIpAddress"),
        Prop(
            "public_dns",
            doc="public DNS name, if any",
            source="$.PublicDnsName",
            blank_is_null=True,
        ),
        Prop("state", doc="`running`, `stopped`, `terminated`...", source="$.State.Name"),
        Prop("instance_type", doc="e.g. `t3.micro`", source="$.InstanceType"),
        Prop("image_id", doc="the AMI it was launched from", source="$.ImageId"),
        Prop("launch_time", "datetime", "when it was last launched", source="$.LaunchTime"),
        Prop(
            "vpc_id", doc="its VPC (absent once terminated)", source="$.VpcId", blank_is_null=True
        ),
        Prop("subnet_id", doc="its subnet", source="$.SubnetId", blank_is_null=True),
        *ACCOUNT_REGION,
    ),
)
IN_REGION = in_region(INSTANCE)
IN_VPC = rel("BELONGS_TO", INSTANCE, VPC, end_cols={"id": "vpc_id"})
IN_SUBNET = rel("BELONGS_TO", INSTANCE, SUBNET, end_cols={"id": "subnet_id"})
IN_GROUP = rel("BELONGS_TO", INSTANCE, SECURITY_GROUP, end_cols={"id": "sg"})
TAGGED = tagged(INSTANCE)


def _instances(page: dict[str, Any]) -> Iterator[Any]:
    for reservation in list_at(page, "Reservations"):
        if isinstance(reservation, dict):
            yield from list_at(reservation, "Instances")


READ = Read(
    sourced(INSTANCE),
    _instances,
    {"Tags": TAGS, "SecurityGroups": {"sg": "$.GroupId"}},
)


def run(g: Graph, responses: list[ApiResponse]) -> None:
    good, tab = read(g, OPERATION, READ, responses)
    g.put(INSTANCE, good)
    g.link(IN_REGION, good)
    g.link(IN_VPC, good)
    g.link(IN_SUBNET, good)
    g.link(IN_GROUP, children(tab, "SecurityGroups", good, ["id"]))
    put_tags(g, TAGGED, tab, "Tags", good)


FAMILY = Family(
    OPERATION, READ, run, nodes=(INSTANCE,), rels=(IN_REGION, IN_VPC, IN_SUBNET, IN_GROUP, TAGGED)
)
