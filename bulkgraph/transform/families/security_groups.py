"""ec2:DescribeSecurityGroups: groups, their tags, and one ALLOWED per rule entry.

Particular to it: a group's rules are records inside the record (`IpPermissions`,
`IpPermissionsEgress`), each naming CIDRs, prefix lists and other groups; each of those
becomes an ALLOWED relationship, into the group for ingress and out of it for egress, and a
malformed rule is rejected against its group's record.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl

from bulkgraph.extract import operations as ops
from bulkgraph.extract.model import ApiResponse
from bulkgraph.transform import tablecache
from bulkgraph.transform.declare import NodeSchema, Prop, RelSchema, rel
from bulkgraph.transform.families.base import (
    ACCOUNT_REGION,
    TAGS,
    in_region,
    put_tags,
    tagged,
)
from bulkgraph.transform.families.vpcs import VPC
from bulkgraph.transform.family import Family, Graph, Read, children, list_at, read, sourced
from bulkgraph.transform.records import paths_of, typed

OPERATION = ops.DESCRIBE_SECURITY_GROUPS.name

SECURITY_GROUP = NodeSchema(
    "SecurityGroup",
    doc="a VPC security group",
    keys=(Prop("id", doc="sg-...", source="$.GroupId", required=True),),
    props=(
        Prop("name", doc="the group's name", source="$.GroupName"),
        Prop("description", doc="the group's description", source="$.Description"),
        Prop("vpc_id", doc="its VPC", source="$.VpcId"),
        *ACCOUNT_REGION,
    ),
    # group-reachability finds a group by id or name: an index seek on both (issue #20)
    extra_indexes=(("name",),),
)
IP_RANGE = NodeSchema(
    "IPRange",
    keys=(Prop("cidr", doc="an IPv4 or IPv6 CIDR a rule names"),),
    props=(Prop("description", doc="the smallest description of the rules naming it (legacy)"),),
    doc="a CIDR a security group rule names",
    extra_indexes=(("cidr",),),
)
PREFIX_LIST = NodeSchema(
    "PrefixList",
    keys=(Prop("id", doc="pl-..."),),
    doc="a managed prefix list a security group rule names",
)

IN_REGION = in_region(SECURITY_GROUP, "HAS_SECURITYGROUP")
IN_VPC = rel("BELONGS_TO", SECURITY_GROUP, VPC, end_cols={"id": "vpc_id"})
TAGGED = tagged(SECURITY_GROUP)

#: one rule entry: the rule's protocol and ports, its direction, and the entry's description
ALLOWED_PROPS = (
    Prop("protocol", doc="`-1` = all", source="$.IpProtocol"),
    Prop("fromPort", "int", "first port (ICMP: type)", source="$.FromPort"),
    Prop("toPort", "int", "last port (ICMP: code)", source="$.ToPort"),
    # put into each rule by `run`: which of the group's lists the rule is in
    Prop("direction", doc="`ingress` or `egress`", source="$._dir"),
    Prop("description", doc="the entry's `Description` (of its `IpRanges`... element), if any"),
)


def _allowed(start: NodeSchema, end: NodeSchema) -> RelSchema:
    """ALLOWED from `start` to `end`: a group and a peer, either way round. Both ends come
    from the columns `src` and `dst`, so that group-to-group is one declaration for both
    directions."""
    return rel(
        "ALLOWED",
        start,
        end,
        start_cols=dict.fromkeys(start.key_names, "src"),
        end_cols=dict.fromkeys(end.key_names, "dst"),
        props=ALLOWED_PROPS,
        doc="one rule entry naming the peer: into the group (ingress) or out of it (egress)",
    )


_PEERS_OF = (IP_RANGE, PREFIX_LIST, SECURITY_GROUP)
#: peer label -> ALLOWED from the peer into a group, from a group out to the peer
INGRESS = {p.label: _allowed(p, SECURITY_GROUP) for p in _PEERS_OF}
EGRESS = {p.label: _allowed(SECURITY_GROUP, p) for p in _PEERS_OF}
EGRESS["SecurityGroup"] = INGRESS["SecurityGroup"]  # the same relationship
ALLOWED = tuple({r.group: r for r in (*INGRESS.values(), *EGRESS.values())}.values())

#: each rule names its peers in four lists; an entry's `peer` and its description
_PEERS = {
    "IpRanges": {"peer": "$.CidrIp", "description": "$.Description"},
    "Ipv6Ranges": {"peer": "$.CidrIpv6", "description": "$.Description"},
    "PrefixListIds": {"peer": "$.PrefixListId", "description": "$.Description"},
    "UserIdGroupPairs": {"peer": "$.GroupId", "description": "$.Description"},
}
RULES = Read(
    (
        *sourced(*ALLOWED_PROPS),
        Prop("sg", source="$._sg"),  # the rule's group
        Prop("sgpos", "int", source="$._pos"),  # the group's record, for rejects
    ),
    lists=_PEERS,
)
#: the rules' tables are kept under this name (transform/tablecache.py)
RULES_CACHE = f"{OPERATION} rules"
READ = Read(
    sourced(SECURITY_GROUP),
    lambda page: list_at(page, "SecurityGroups"),
    {"Tags": TAGS},
    keep=("IpPermissions", "IpPermissionsEgress"),
    nested={"IpPermissions": RULES, "IpPermissionsEgress": RULES},
)


def run(g: Graph, responses: list[ApiResponse]) -> None:
    good, tab = read(g, OPERATION, READ, responses)
    g.put(SECURITY_GROUP, good)
    g.link(IN_REGION, good)
    g.link(IN_VPC, good)
    put_tags(g, TAGGED, tab, "Tags", good)

    # Rules: one row per rule, then one relationship per CIDR / prefix list / group pair.
    owner = dict(zip(zip(good["file"], good["pos"], strict=True), good["id"], strict=True))
    sg_pos: list[tuple[int, str]] = []  # per rule: its group's position, where it sits
    # per rule, what it holds as `$._sg`, `$._dir` and `$._pos` (RULES)
    given: dict[str, list[Any]] = {"_sg": [], "_dir": [], "_pos": []}

    def rule_items() -> Iterator[tuple[str, int, Any]]:
        for name, direction in (("IpPermissions", "ingress"), ("IpPermissionsEgress", "egress")):
            for file, pos, idx, rule in tab.objects[name]:
                sg = owner.get((file, pos))
                if sg is None:  # the group itself was rejected
                    continue
                yield file, len(sg_pos), rule
                sg_pos.append((pos, f"{name}[{idx}]"))
                given["_sg"].append(sg)
                given["_dir"].append(direction)
                given["_pos"].append(pos)

    fields = RULES.typed_fields
    rtab = tablecache.table(
        RULES_CACHE, list(rule_items()), paths_of(fields), dict(RULES.lists), given=given
    )
    rules, bad = typed(rtab.main, fields, ())
    # a bad rule is reported against its security group's record
    bad = bad.join(
        rtab.main.select("file", "pos", pl.col("sgpos").cast(pl.Int64)), on=["file", "pos"]
    ).select("file", pl.col("sgpos").alias("pos"), "reason")
    g.rejects.add_frame(g.snapshot_id, bad)
    g.rejects.add(
        g.snapshot_id,
        [
            (f, sg_pos[i][0], f"{sg_pos[i][1]}: {reason}")
            for f, i, reason in [*rtab.bad, *rtab.dropped]
        ],
    )
    ingress = pl.col("direction") == "ingress"

    def emit(peer: NodeSchema, peers: pl.DataFrame) -> None:
        # AWS describes each rule entry, not the CIDR/list/group it names: the description
        # travels on the relationship (one IPRange node is shared by many rules).
        peers = peers.filter(pl.col("peer").is_not_null())
        into, out = peers.filter(ingress), peers.filter(~ingress)
        g.link(INGRESS[peer.label], into.rename({"peer": "src", "sg": "dst"}))
        g.link(EGRESS[peer.label], out.rename({"sg": "src", "peer": "dst"}))

    cols = ["sg", "protocol", "fromPort", "toPort", "direction"]
    ranges = pl.concat(
        [children(rtab, "IpRanges", rules, cols), children(rtab, "Ipv6Ranges", rules, cols)]
    )
    ranges = ranges.filter(pl.col("peer").is_not_null())
    # one IPRange per CIDR: several rules may describe it differently; keep the smallest
    g.put(
        IP_RANGE,
        ranges.group_by("peer")
        .agg(pl.col("description").min())
        .select(pl.col("peer").alias("cidr"), "description"),
    )
    emit(IP_RANGE, ranges)
    prefixes = children(rtab, "PrefixListIds", rules, cols)
    g.put(
        PREFIX_LIST,
        prefixes.filter(pl.col("peer").is_not_null()).select(pl.col("peer").alias("id")),
    )
    emit(PREFIX_LIST, prefixes)
    emit(SECURITY_GROUP, children(rtab, "UserIdGroupPairs", rules, cols))


FAMILY = Family(
    OPERATION,
    READ,
    run,
    nodes=(SECURITY_GROUP, IP_RANGE, PREFIX_LIST),
    rels=(IN_REGION, IN_VPC, TAGGED, *ALLOWED),
)
