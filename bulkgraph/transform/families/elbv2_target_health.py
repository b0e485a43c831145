"""elbv2:DescribeTargetHealth: the targets behind each target group.

Particular to it: the target group is named in each call's request, not in its records (it is
given to each record as its `$._tg`), and a target's label follows from its id.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl

from bulkgraph.extract import operations as ops
from bulkgraph.extract.model import ApiResponse
from bulkgraph.transform.declare import NodeSchema, Prop, RelSchema, rel
from bulkgraph.transform.families.ec2_instances import INSTANCE
from bulkgraph.transform.families.elbv2_load_balancers import LOAD_BALANCER
from bulkgraph.transform.families.elbv2_target_groups import TARGET_GROUP
from bulkgraph.transform.families.lambda_functions import LAMBDA_FUNCTION
from bulkgraph.transform.family import Family, Graph, Read, list_at, read, sourced

OPERATION = ops.DESCRIBE_TARGET_HEALTH.name

IP_ADDRESS = NodeSchema(
    "IPAddress", keys=(Prop("ip", doc="the address"),), doc="an `ip` load balancer target"
)

TARGET_PROPS = (
    Prop("port", "int", "the port the target receives traffic on", source="$.Target.Port"),
    Prop("health", doc="`healthy`, `unhealthy`, `unused`...", source="$.TargetHealth.State"),
)
#: target label -> CONTAINS from the target group to it (the target id is that label's key)
TARGETS: dict[str, RelSchema] = {
    end.label: rel(
        "CONTAINS",
        TARGET_GROUP,
        end,
        start_cols={"arn": "tg"},
        end_cols={end.key_names[0]: "target"},
        props=TARGET_PROPS,
    )
    for end in (INSTANCE, IP_ADDRESS, LAMBDA_FUNCTION, LOAD_BALANCER)
}

READ = Read(
    (
        Prop("tg", source="$._tg", required=True),
        Prop("target", source="$.Target.Id", required=True),
        *sourced(*TARGET_PROPS),
    ),
    lambda page: list_at(page, "TargetHealthDescriptions"),
)


def _items(responses: list[ApiResponse], tgs: list[Any]) -> Iterator[tuple[str, int, Any]]:
    """Every record, its call's target group (its `$._tg`) appended to `tgs`."""
    for resp in responses:
        pos = 0
        for call in resp.calls:
            tg = (call.get("request") or {}).get("TargetGroupArn")
            for page in call.get("pages", []):
                for item in list_at(page, "TargetHealthDescriptions"):
                    yield resp.path, pos, item
                    tgs.append(tg)
                    pos += 1


def run(g: Graph, responses: list[ApiResponse]) -> None:
    tgs: list[Any] = []
    good, _ = read(g, OPERATION, READ, responses, list(_items(responses, tgs)), {"_tg": tgs})
    # the target's kind follows from its id: i-..., a Lambda ARN, a load balancer ARN, an IP
    target = pl.col("target")
    kind = (
        pl.when(target.str.starts_with("i-"))
        .then(pl.lit("Instance"))
        .when(target.str.contains(":lambda:", literal=True))
        .then(pl.lit("LambdaFunction"))
        .when(target.str.contains(":loadbalancer/", literal=True))
        .then(pl.lit("LoadBalancer"))
        .otherwise(pl.lit("IPAddress"))
    )
    good = good.with_columns(kind.alias("kind"))
    for label, schema in TARGETS.items():
        part = good.filter(pl.col("kind") == label)
        for node in (IP_ADDRESS, LAMBDA_FUNCTION):
            if node.label == label:  # known as targets: the target makes the node
                g.put_known(node, part.select(pl.col("target").alias(node.key_names[0])))
        g.link(schema, part)


FAMILY = Family(
    OPERATION,
    READ,
    run,
    nodes=(IP_ADDRESS,),
    rels=tuple(TARGETS.values()),
    also=(LAMBDA_FUNCTION,),
)
