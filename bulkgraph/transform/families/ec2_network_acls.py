"""ec2:DescribeNetworkAcls: network ACLs, their subnets, rules and tags.

Particular to it: each entry (rule) becomes a NACL_RULE between the ACL and the IPRange of
its CIDR (IPv4 or IPv6): from the range into the ACL for an ingress rule, out of the ACL to
the range for an egress one. Every entry is kept, denies and the default rule 32767 (deny
all) included: rules are evaluated in `rule_number` order, the lowest match wins.
"""

from __future__ import annotations

import polars as pl

from bulkgraph.extract import operations as ops
from bulkgraph.extract.model import ApiResponse
from bulkgraph.transform.declare import NodeSchema, Prop, rel
from bulkgraph.transform.families.base import ACCOUNT_REGION, TAGS, put_tags, tagged
from bulkgraph.transform.families.security_groups import IP_RANGE
from bulkgraph.transform.families.subnets import SUBNET
from bulkgraph.transform.families.vpcs import VPC
from bulkgraph.transform.family import Family, Graph, Read, children, list_at, read, sourced

OPERATION = ops.DESCRIBE_NETWORK_ACLS.name

NETWORK_ACL = NodeSchema(
    "NetworkAcl",
    doc="a network ACL",
    keys=(Prop("id", doc="acl-...", source="$.NetworkAclId", required=True),),
    props=(
        Prop("is_default", "boolean", "the VPC's default ACL", source="$.IsDefault"),
        Prop("vpc_id", doc="its VPC", source="$.VpcId"),
        *ACCOUNT_REGION,
    ),
)
IN_VPC = rel("BELONGS_TO", NETWORK_ACL, VPC, end_cols={"id": "vpc_id"})
SUBNET_IN_ACL = rel(
    "BELONGS_TO",
    SUBNET,
    NETWORK_ACL,
    start_cols={"id": "subnet"},
    doc="the ACL the subnet is associated with",
)
TAGGED = tagged(NETWORK_ACL)

#: one entry: read from the `Entries` elements (text), typed by `run`
RULE_PROPS = (
    Prop("rule_number", "int", "evaluation order: the lowest matching rule wins (32767: default)"),
    Prop("action", doc="`allow` or `deny`"),
    Prop("protocol", doc="the protocol number as AWS gives it (`6` tcp, `17` udp, `-1` all)"),
    Prop("fromPort", "int", "first port (tcp, udp)"),
    Prop("toPort", "int", "last port (tcp, udp)"),
    Prop("icmp_type", "int", "ICMP type (`-1`: all)"),
    Prop("icmp_code", "int", "ICMP code (`-1`: all)"),
    Prop("direction", doc="`ingress` or `egress`"),
)
INGRESS = rel(
    "NACL_RULE",
    IP_RANGE,
    NETWORK_ACL,
    props=RULE_PROPS,
    doc="an ACL entry: traffic from the range into the ACL's subnets (ingress) or out of "
    "them to the range (egress)",
)
EGRESS = rel("NACL_RULE", NETWORK_ACL, IP_RANGE, props=RULE_PROPS, doc=INGRESS.doc)
_ENTRY = {
    "rule_number": "$.RuleNumber",
    "action": "$.RuleAction",
    "protocol": "$.Protocol",
    "egress": "$.Egress",
    "ipv4": "$.CidrBlock",
    "ipv6": "$.Ipv6CidrBlock",
    "fromPort": "$.PortRange.From",
    "toPort": "$.PortRange.To",
    "icmp_type": "$.IcmpTypeCode.Type",
    "icmp_code": "$.IcmpTypeCode.Code",
}

READ = Read(
    sourced(NETWORK_ACL),
    lambda page: list_at(page, "NetworkAcls"),
    {"Tags": TAGS, "Associations": {"subnet": "$.SubnetId"}, "Entries": _ENTRY},
)


def _rules(entries: pl.DataFrame) -> pl.DataFrame:
    """One row per entry: `id` (the ACL), `cidr` and the typed RULE_PROPS."""
    ints = ("rule_number", "fromPort", "toPort", "icmp_type", "icmp_code")
    return entries.select(
        "id",
        pl.coalesce("ipv4", "ipv6").alias("cidr"),
        *(pl.col(c).cast(pl.Int32, strict=False) for c in ints),
        "action",
        "protocol",
        pl.when(pl.col("egress") == "true")
        .then(pl.lit("egress"))
        .otherwise(pl.lit("ingress"))
        .alias("direction"),
    ).filter(pl.col("cidr").is_not_null())


def run(g: Graph, responses: list[ApiResponse]) -> None:
    good, tab = read(g, OPERATION, READ, responses)
    g.put(NETWORK_ACL, good)
    g.link(IN_VPC, good)
    g.link(SUBNET_IN_ACL, children(tab, "Associations", good, ["id"]))
    rules = _rules(children(tab, "Entries", good, ["id"]))
    g.put(IP_RANGE, rules.select("cidr", pl.lit(None, pl.String).alias("description")))
    egress = pl.col("direction") == "egress"
    g.link(INGRESS, rules.filter(~egress))
    g.link(EGRESS, rules.filter(egress))
    put_tags(g, TAGGED, tab, "Tags", good)


FAMILY = Family(
    OPERATION,
    READ,
    run,
    nodes=(NETWORK_ACL,),
    rels=(IN_VPC, SUBNET_IN_ACL, INGRESS, EGRESS, TAGGED),
)
