"""ec2:DescribeInstances: instances, where they run, their security groups and tags."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl

from bulkgraph.extract import operations as ops
from bulkgraph.extract.model import ApiResponse
from bulkgraph.transform.declare import NodeSchema, Prop, rel
from bulkgraph.transform.families.base import ACCOUNT_REGION, TAGS, in_region, put_tags, tagged
from bulkgraph.transform.families.iam_roles import INSTANCE_PROFILE
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
        # graph model 1.1
        Prop("key_name", doc="the EC2 key pair it was launched with", source="$.KeyName"),
        Prop(
            "iam_instance_profile_arn",
            doc="its instance profile, if any",
            source="$.IamInstanceProfile.Arn",
        ),
        Prop(
            "imds_v1_allowed",
            "boolean",
            "the instance metadata service answers without a session token (IMDSv1): "
            "`MetadataOptions.HttpTokens` is `optional`; absent when AWS does not say",
        ),
    ),
    # the pack's one-instance questions find it by id, private IP or hostname, full or
    # short (`aws_hostname STARTS WITH 'ip-10-0-0-5.'`), and an address by private or public
    # IP: each an index seek (issue #20; without public_ip the versions layout scanned every
    # instance version for ip-at-time, where the snapshots layout reads one snapshot's)
    extra_indexes=(("aws_hostname",), ("public_ip",)),
)
IN_REGION = in_region(INSTANCE)
IN_VPC = rel("BELONGS_TO", INSTANCE, VPC, end_cols={"id": "vpc_id"})
IN_SUBNET = rel("BELONGS_TO", INSTANCE, SUBNET, end_cols={"id": "subnet_id"})
IN_GROUP = rel("BELONGS_TO", INSTANCE, SECURITY_GROUP, end_cols={"id": "sg"})
TAGGED = tagged(INSTANCE)
HAS_PROFILE = rel(
    "HAS_INSTANCE_PROFILE",
    INSTANCE,
    INSTANCE_PROFILE,
    end_cols={"arn": "iam_instance_profile_arn"},
    doc="the instance profile it was launched with (a stub where IAM is not in the snapshot)",
)


def _instances(page: dict[str, Any]) -> Iterator[Any]:
    for reservation in list_at(page, "Reservations"):
        if isinstance(reservation, dict):
            yield from list_at(reservation, "Instances")


READ = Read(
    (*sourced(INSTANCE), Prop("http_tokens", source="$.MetadataOptions.HttpTokens")),
    _instances,
    {"Tags": TAGS, "SecurityGroups": {"sg": "$.GroupId"}},
)


def run(g: Graph, responses: list[ApiResponse]) -> None:
    good, tab = read(g, OPERATION, READ, responses)
    tokens = pl.col("http_tokens")
    good = good.with_columns(
        pl.when(tokens.is_null())
        .then(None)
        .otherwise(tokens == "optional")
        .alias("imds_v1_allowed")
    )
    g.put(INSTANCE, good)
    g.link(IN_REGION, good)
    g.link(IN_VPC, good)
    g.link(IN_SUBNET, good)
    g.link(IN_GROUP, children(tab, "SecurityGroups", good, ["id"]))
    put_tags(g, TAGGED, tab, "Tags", good)
    g.link(HAS_PROFILE, good)


FAMILY = Family(
    OPERATION,
    READ,
    run,
    nodes=(INSTANCE,),
    rels=(IN_REGION, IN_VPC, IN_SUBNET, IN_GROUP, TAGGED, HAS_PROFILE),
)
