"""elbv2:DescribeTags: the tags of load balancers and target groups.

Particular to it: DescribeLoadBalancers and DescribeTargetGroups return no tags; this
operation, called per batch of their ARNs, does. Whose tags they are follows from the ARN. A
load balancer's TAGGED is the one `elbv2_load_balancers.py` declares (the legacy format
carried its tags in the load balancer's record).
"""

from __future__ import annotations

import polars as pl

from bulkgraph.extract import operations as ops
from bulkgraph.extract.model import ApiResponse
from bulkgraph.transform.declare import Prop
from bulkgraph.transform.families.base import TAGS, put_tags, tagged
from bulkgraph.transform.families.elbv2_load_balancers import TAGGED as LB_TAGGED
from bulkgraph.transform.families.elbv2_target_groups import TARGET_GROUP
from bulkgraph.transform.family import Family, Graph, Read, list_at, read

OPERATION = ops.DESCRIBE_TAGS.name

TG_TAGGED = tagged(TARGET_GROUP)

READ = Read(
    (Prop("arn", doc="the tagged resource", source="$.ResourceArn", required=True),),
    lambda page: list_at(page, "TagDescriptions"),
    {"Tags": TAGS},
)

#: the resource type in an elbv2 ARN (`...:loadbalancer/app/...`, `...:targetgroup/...`)
_OWNERS = ((":loadbalancer/", LB_TAGGED), (":targetgroup/", TG_TAGGED))


def run(g: Graph, responses: list[ApiResponse]) -> None:
    good, tab = read(g, OPERATION, READ, responses)
    arn = pl.col("arn")
    for marker, schema in _OWNERS:
        put_tags(g, schema, tab, "Tags", good.filter(arn.str.contains(marker, literal=True)))
    # an ARN of neither kind (the operation tags listeners and rules too): not lost silently
    other = good.filter(~pl.any_horizontal(arn.str.contains(m, literal=True) for m, _ in _OWNERS))
    g.rejects.add(
        g.snapshot_id,
        [
            (f, p, "$.ResourceArn: not a load balancer or target group ARN")
            for f, p in zip(other["file"], other["pos"], strict=True)
        ],
    )
    count = g.counts[OPERATION]
    count.rejected += other.height
    count.written -= other.height


FAMILY = Family(OPERATION, READ, run, rels=(LB_TAGGED, TG_TAGGED))
