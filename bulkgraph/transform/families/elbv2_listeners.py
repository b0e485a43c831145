"""elbv2:DescribeListeners: each load balancer's listeners and the target groups they forward to.

Particular to it: the operation is called once per load balancer, whose ARN is in each
listener record (and in the call's request, used where a record lacks it); a listener's
default actions are records inside the record, and a forward action names its target groups
twice over: `TargetGroupArn`, and the weighted list `ForwardConfig.TargetGroups`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl

from bulkgraph.extract import operations as ops
from bulkgraph.extract.model import ApiResponse
from bulkgraph.transform import tablecache
from bulkgraph.transform.declare import NodeSchema, Prop, rel
from bulkgraph.transform.families.elbv2_load_balancers import LOAD_BALANCER
from bulkgraph.transform.families.elbv2_target_groups import TARGET_GROUP
from bulkgraph.transform.family import Family, Graph, Read, children, list_at, read, sourced
from bulkgraph.transform.records import Table, paths_of, typed

OPERATION = ops.DESCRIBE_LISTENERS.name

LISTENER = NodeSchema(
    "Listener",
    doc="a load balancer listener: the port and protocol it accepts connections on",
    keys=(Prop("arn", doc="its ARN", source="$.ListenerArn", required=True),),
    props=(
        Prop("port", "int", "the port it listens on", source="$.Port"),
        Prop("protocol", doc="`HTTP`, `HTTPS`, `TCP`, `TLS`, `UDP`...", source="$.Protocol"),
    ),
)
HAS_LISTENER = rel("HAS_LISTENER", LOAD_BALANCER, LISTENER, start_cols={"arn": "lb"})
FORWARDS_TO = rel(
    "FORWARDS_TO",
    LISTENER,
    TARGET_GROUP,
    start_cols={"arn": "listener"},
    end_cols={"arn": "tg"},
    doc="a target group one of its default actions forwards to",
)

ACTIONS = Read(
    (
        Prop("type", source="$.Type"),
        Prop("tg", source="$.TargetGroupArn"),
        Prop("listener", source="$._listener"),  # put into each action by `run`
    ),
    lists={"ForwardConfig.TargetGroups": {"tg": "$.TargetGroupArn"}},
)
READ = Read(
    (
        *sourced(LISTENER),
        Prop("lb", source="$.LoadBalancerArn"),
        Prop("requested_lb", source="$._lb"),  # the call's request, put in by `_items`
    ),
    lambda page: list_at(page, "Listeners"),
    keep=("DefaultActions",),
    nested={"DefaultActions": ACTIONS},
)


#: the default actions' tables are kept under this name (transform/tablecache.py)
ACTIONS_CACHE = f"{OPERATION} actions"


def _items(responses: list[ApiResponse], lbs: list[Any]) -> Iterator[tuple[str, int, Any]]:
    """Every record, its call's load balancer (its `$._lb`) appended to `lbs`."""
    for resp in responses:
        pos = 0
        for call in resp.calls:
            lb = (call.get("request") or {}).get("LoadBalancerArn")
            for page in call.get("pages", []):
                for item in list_at(page, "Listeners") if isinstance(page, dict) else ():
                    yield resp.path, pos, item
                    lbs.append(lb)
                    pos += 1


def _forwards(g: Graph, tab: Table, listeners: pl.DataFrame) -> pl.DataFrame:
    """(listener, tg) of every target group the listeners' default actions name. A bad
    action is rejected against its listener's record, the listener itself kept."""
    owner = dict(
        zip(zip(listeners["file"], listeners["pos"], strict=True), listeners["arn"], strict=True)
    )
    places: list[tuple[int, int]] = []  # per action: its listener's position, its index
    listeners_of: list[Any] = []  # per action: its listener (its `$._listener`)

    def action_items() -> Iterator[tuple[str, int, Any]]:
        for file, pos, idx, action in tab.objects["DefaultActions"]:
            listener = owner.get((file, pos))
            if listener is None:  # the listener itself was rejected
                continue
            yield file, len(places), action
            places.append((pos, idx))
            listeners_of.append(listener)

    fields = ACTIONS.typed_fields
    atab = tablecache.table(
        ACTIONS_CACHE,
        list(action_items()),
        paths_of(fields),
        dict(ACTIONS.lists),
        given={"_listener": listeners_of},
    )
    actions, bad = typed(atab.main, fields, ACTIONS.required)
    problems = [*zip(bad["file"], bad["pos"], bad["reason"], strict=True), *atab.bad, *atab.dropped]
    g.rejects.add(
        g.snapshot_id,
        [
            (f, places[i][0], f"DefaultActions[{places[i][1]}]: {reason}")
            for f, i, reason in problems
        ],
    )
    weighted = children(atab, "ForwardConfig.TargetGroups", actions, ["listener"])
    return pl.concat([actions.select("listener", "tg"), weighted.select("listener", "tg")]).filter(
        pl.col("tg").is_not_null()
    )


def run(g: Graph, responses: list[ApiResponse]) -> None:
    lbs: list[Any] = []
    good, tab = read(g, OPERATION, READ, responses, list(_items(responses, lbs)), {"_lb": lbs})
    good = good.with_columns(pl.coalesce("lb", "requested_lb").alias("lb"))
    g.put(LISTENER, good)
    g.link(HAS_LISTENER, good)
    g.link(FORWARDS_TO, _forwards(g, tab, good))


FAMILY = Family(OPERATION, READ, run, nodes=(LISTENER,), rels=(HAS_LISTENER, FORWARDS_TO))
