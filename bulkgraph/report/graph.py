"""How the report asks the graph, in either layout: the read call, and the rules the
snapshots layout's Cypher (data.py, timeline.py) and the versions layout's (versions.py)
share, so that both count the same things."""

from __future__ import annotations

from typing import Any

import neo4j
from neo4j import RoutingControl

#: labels whose nodes are values a rule or a target names, not resources of the estate
NOT_RESOURCES = ("Snapshot", "Tag", "IPRange", "PrefixList", "IPAddress")


def read(driver: neo4j.Driver, cypher: str, database: str | None, **params: Any) -> list[Any]:
    records, _, _ = driver.execute_query(
        cypher, params, database_=database, routing_=RoutingControl.READ
    )
    return list(records)


def account_of(node: str) -> str:
    """Cypher: the account of `node`, as the pack's snapshot-diff query places it (its own
    `account_id`, else its ARN's)."""
    return f"coalesce({node}.account_id, split({node}.arn, ':')[4], '?')"


def region_of(node: str, label: str) -> str:
    """Cypher: the region of `node` whose label is the expression `label` (a Region's name;
    every region of an Account)."""
    return (
        f"CASE {label} WHEN 'Region' THEN {node}.name WHEN 'Account' THEN '*'\n"
        f"       ELSE coalesce({node}.region, split({node}.arn, ':')[3], '?') END"
    )
