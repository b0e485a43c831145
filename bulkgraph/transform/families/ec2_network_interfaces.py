"""ec2:DescribeNetworkInterfaces: network interfaces, where they sit, whose they are, their
addresses, groups and tags.

Particular to it:
- the owner (`owner_kind`, `owner_id`, ATTACHED_TO): the attachment's instance, else AWS's own
  description of the interface (`ELB app/<name>/<id>`: a load balancer, whose ARN is built
  from the account and region of the file; `AWS Lambda VPC ENI-<function>-<uuid>`: a Lambda
  function; `Interface for NAT Gateway <id>`: a NAT gateway); else `owner_kind` is the
  interface type and there is no relationship;
- HAS_IP to every address: primary and secondary private IPv4, their public IPv4, IPv6;
- an instance's security groups are the union of its own list and the groups of every
  interface attached to it: BELONGS_TO from the attached instance to each interface group
  (the relationship `ec2_instances.py` declares; rows are deduplicated).
"""

from __future__ import annotations

import polars as pl

from bulkgraph.extract import operations as ops
from bulkgraph.extract.model import ApiResponse
from bulkgraph.transform.declare import NodeSchema, Prop, RelSchema, rel
from bulkgraph.transform.families.base import ACCOUNT_REGION, TAGS, put_tags, tagged
from bulkgraph.transform.families.ec2_instances import IN_GROUP as INSTANCE_IN_GROUP
from bulkgraph.transform.families.ec2_instances import INSTANCE
from bulkgraph.transform.families.ec2_nat_gateways import HAS_IP_PROPS, NAT_GATEWAY
from bulkgraph.transform.families.elbv2_load_balancers import LOAD_BALANCER
from bulkgraph.transform.families.elbv2_target_health import IP_ADDRESS, LAMBDA_FUNCTION
from bulkgraph.transform.families.security_groups import SECURITY_GROUP
from bulkgraph.transform.families.subnets import SUBNET
from bulkgraph.transform.families.vpcs import VPC
from bulkgraph.transform.family import Family, Graph, Read, children, list_at, read, sourced

OPERATION = ops.DESCRIBE_NETWORK_INTERFACES.name

NETWORK_INTERFACE = NodeSchema(
    "NetworkInterface",
    doc="an elastic network interface",
    keys=(Prop("id", doc="eni-...", source="$.NetworkInterfaceId", required=True),),
    props=(
        Prop(
            "interface_type",
            doc="`interface`, `nat_gateway`, `lambda`...",
            source="$.InterfaceType",
        ),
        Prop(
            "description",
            doc="as AWS or its owner wrote it (absent when empty)",
            source="$.Description",
            blank_is_null=True,
        ),
        Prop("status", doc="`in-use` or `available`", source="$.Status"),
        Prop("requester_id", doc="who made it, if not the account", source="$.RequesterId"),
        Prop("requester_managed", "boolean", "made by an AWS service", source="$.RequesterManaged"),
        Prop("mac", doc="its MAC address", source="$.MacAddress"),
        Prop("private_ip", doc="primary private IPv4", source="$.PrivateIpAddress"),
        Prop("public_ip", doc="public IPv4 of the primary", source="$.Association.PublicIp"),
        Prop("subnet_id", doc="its subnet", source="$.SubnetId"),
        Prop("vpc_id", doc="its VPC", source="$.VpcId"),
        *ACCOUNT_REGION,
        Prop(
            "owner_kind",
            doc="the label of whose it is (`Instance`, `LoadBalancer`, `LambdaFunction`, "
            "`NatGateway`: from the attachment or AWS's description), else its interface type",
        ),
        Prop("owner_id", doc="the owner's key (id or ARN), when `owner_kind` is a label"),
    ),
    extra_indexes=(("public_ip",),),
)
IN_SUBNET = rel("BELONGS_TO", NETWORK_INTERFACE, SUBNET, end_cols={"id": "subnet_id"})
IN_VPC = rel("BELONGS_TO", NETWORK_INTERFACE, VPC, end_cols={"id": "vpc_id"})
IN_GROUP = rel("BELONGS_TO", NETWORK_INTERFACE, SECURITY_GROUP, end_cols={"id": "sg"})
TAGGED = tagged(NETWORK_INTERFACE)

ATTACHED_TO_INSTANCE = rel(
    "ATTACHED_TO",
    NETWORK_INTERFACE,
    INSTANCE,
    end_cols={"id": "owner_id"},
    props=(
        Prop(
            "device_index",
            "int",
            "its place on the instance (0: primary)",
            source="$.Attachment.DeviceIndex",
        ),
    ),
    doc="the instance the interface is attached to",
)
#: owner label -> ATTACHED_TO the owner (the instance's carries the device index)
ATTACHED_TO: dict[str, RelSchema] = {
    INSTANCE.label: ATTACHED_TO_INSTANCE,
    **{
        owner.label: rel(
            "ATTACHED_TO",
            NETWORK_INTERFACE,
            owner,
            end_cols={owner.key_names[0]: "owner_id"},
            doc="whose the interface is, by AWS's description of it",
        )
        for owner in (LOAD_BALANCER, LAMBDA_FUNCTION, NAT_GATEWAY)
    },
}

HAS_IP = rel(
    "HAS_IP",
    NETWORK_INTERFACE,
    IP_ADDRESS,
    props=HAS_IP_PROPS,
    doc="every address of the interface",
)

READ = Read(
    (
        *sourced(NETWORK_INTERFACE, ATTACHED_TO_INSTANCE),
        Prop("attached_instance", source="$.Attachment.InstanceId"),
    ),
    lambda page: list_at(page, "NetworkInterfaces"),
    {
        "TagSet": TAGS,
        "Groups": {"sg": "$.GroupId"},
        "PrivateIpAddresses": {
            "ip": "$.PrivateIpAddress",
            "primary": "$.Primary",
            "public": "$.Association.PublicIp",
        },
        "Ipv6Addresses": {"ip": "$.Ipv6Address", "primary": "$.IsPrimaryIpv6"},
    },
)

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
#: AWS's descriptions of the interfaces it makes for a service: owner label -> pattern whose
#: first group is the owner's name or id
_DESCRIBED = {
    LOAD_BALANCER.label: r"^ELB ((?:app|net|gwy)/[^/\s]+/[0-9a-f]+)$",
    LAMBDA_FUNCTION.label: rf"^AWS Lambda VPC ENI-([A-Za-z0-9_-]+?)(?:-{_UUID})?$",
    NAT_GATEWAY.label: r"^Interface for NAT Gateway (nat-[0-9a-f]+)$",
}


def _partition(region: pl.Expr) -> pl.Expr:
    """The ARN partition of a region: `aws-cn` in China, `aws-us-gov` in GovCloud."""
    return (
        pl.when(region.str.starts_with("cn-"))
        .then(pl.lit("aws-cn"))
        .when(region.str.starts_with("us-gov-"))
        .then(pl.lit("aws-us-gov"))
        .otherwise(pl.lit("aws"))
    )


def _owners(good: pl.DataFrame) -> pl.DataFrame:
    """`good` with `owner_kind` and `owner_id` (see the module doc)."""
    desc = pl.col("description")
    found = {label: desc.str.extract(pattern, 1) for label, pattern in _DESCRIBED.items()}
    arn = [pl.lit("arn:"), _partition(pl.col("region"))]
    where = [pl.col("region"), pl.lit(":"), pl.col("account_id")]
    lb_name = found[LOAD_BALANCER.label]
    built = {
        LOAD_BALANCER.label: pl.concat_str(
            [*arn, pl.lit(":elasticloadbalancing:"), *where, pl.lit(":loadbalancer/"), lb_name]
        ),
        LAMBDA_FUNCTION.label: pl.concat_str(
            [*arn, pl.lit(":lambda:"), *where, pl.lit(":function:"), found[LAMBDA_FUNCTION.label]]
        ),
        NAT_GATEWAY.label: found[NAT_GATEWAY.label],
    }
    # the attachment first, then the descriptions
    choices = [(INSTANCE.label, pl.col("attached_instance")), *built.items()]
    kind: pl.Expr = pl.col("interface_type")
    owner: pl.Expr = pl.lit(None, pl.String)
    for label, value in reversed(choices):
        kind = pl.when(value.is_not_null()).then(pl.lit(label)).otherwise(kind)
        owner = pl.when(value.is_not_null()).then(value).otherwise(owner)
    return good.with_columns(kind.alias("owner_kind"), owner.alias("owner_id"))


def _addresses(tab_private: pl.DataFrame, tab_v6: pl.DataFrame, good: pl.DataFrame) -> pl.DataFrame:
    """(id, ip, kind, primary) of every address of the interfaces in `good`."""
    primary = pl.col("primary") == "true"
    private = tab_private.select("id", "ip", pl.lit("private").alias("kind"), primary)
    public = tab_private.select(
        "id", pl.col("public").alias("ip"), pl.lit("public").alias("kind"), primary
    )
    # the interface's own primary addresses, should its list lack them
    own = [
        good.select(
            "id", pl.col(c).alias("ip"), pl.lit(k).alias("kind"), pl.lit(True).alias("primary")
        )
        for c, k in (("private_ip", "private"), ("public_ip", "public"))
    ]
    # an IPv6 address is primary only where AWS says so (IsPrimaryIpv6, given since 2023)
    v6 = tab_v6.select("id", "ip", pl.lit("ipv6").alias("kind"), primary.fill_null(False))
    found = pl.concat([private, public, *own, v6], how="vertical_relaxed")
    return found.filter(pl.col("ip").is_not_null()).unique(maintain_order=True)


def run(g: Graph, responses: list[ApiResponse]) -> None:
    good, tab = read(g, OPERATION, READ, responses)
    good = _owners(good)
    g.put(NETWORK_INTERFACE, good)
    g.link(IN_SUBNET, good)
    g.link(IN_VPC, good)
    groups = children(tab, "Groups", good, ["id", "attached_instance"])
    g.link(IN_GROUP, groups)
    # the instance is in every group of its interfaces, not only those it lists itself
    g.link(
        INSTANCE_IN_GROUP,
        groups.filter(pl.col("attached_instance").is_not_null()).select(
            pl.col("attached_instance").alias("id"), "sg"
        ),
    )
    for label, schema in ATTACHED_TO.items():
        g.link(schema, good.filter(pl.col("owner_kind") == label))
    addresses = _addresses(
        children(tab, "PrivateIpAddresses", good, ["id"]),
        children(tab, "Ipv6Addresses", good, ["id"]),
        good,
    )
    g.put(IP_ADDRESS, addresses)
    g.link(HAS_IP, addresses)
    put_tags(g, TAGGED, tab, "TagSet", good)


FAMILY = Family(
    OPERATION,
    READ,
    run,
    nodes=(NETWORK_INTERFACE,),
    rels=(IN_SUBNET, IN_VPC, IN_GROUP, *ATTACHED_TO.values(), HAS_IP, TAGGED, INSTANCE_IN_GROUP),
)
