"""Temporal links for snapshots appended to a live graph (`bulkgraph load`).

The bulk path gets NEXT and NEXT_VERSION from the transform. A snapshot appended with LOAD
CSV must be linked to what the database already holds, which may include later snapshots
(a back-fill): so the links are computed here, in Cypher, one snapshot at a time, using the
`resource_key` index. Every statement is generated from the schema (labels are ours, never
text from a snapshot); values travel as parameters.
"""

from __future__ import annotations

from typing import Any

import neo4j

from bulkgraph.db import run_autocommit, run_query
from bulkgraph.transform.schema import NODES


def snapshot_order(driver: neo4j.Driver, database: str) -> list[str]:
    """Every loaded snapshot id in time order (taken_at, then id)."""
    rows = run_query(
        "MATCH (s:Snapshot) RETURN s.snapshot_id AS id ORDER BY s.taken_at, s.snapshot_id",
        driver=driver,
        database=database,
    )
    return [str(r["id"]) for r in rows]


def link_snapshot(driver: neo4j.Driver, database: str, snapshot_id: str, batch: int) -> None:
    """Put `snapshot_id` into the NEXT chain and its resources into their NEXT_VERSION chains."""
    order = snapshot_order(driver, database)
    pos = order.index(snapshot_id)
    prev = order[pos - 1] if pos > 0 else None
    nxt = order[pos + 1] if pos + 1 < len(order) else None
    run_autocommit(
        """
        MATCH (s:Snapshot {snapshot_id: $sid})
        OPTIONAL MATCH (p:Snapshot {snapshot_id: $prev})
        OPTIONAL MATCH (q:Snapshot {snapshot_id: $next})
        OPTIONAL MATCH (p)-[old:NEXT]->(q)
        DELETE old
        FOREACH (_ IN CASE WHEN p IS NULL THEN [] ELSE [1] END | MERGE (p)-[:NEXT]->(s))
        FOREACH (_ IN CASE WHEN q IS NULL THEN [] ELSE [1] END | MERGE (s)-[:NEXT]->(q))
        """,
        {"sid": snapshot_id, "prev": prev, "next": nxt},
        driver=driver,
        database=database,
    )
    rank = {sid: i for i, sid in enumerate(order)}
    params: dict[str, Any] = {"sid": snapshot_id, "rank": rank, "me": pos, "batch": batch}
    for node in NODES:
        if node.versioned:
            run_autocommit(
                version_link_statement(node.label), params, driver=driver, database=database
            )


def version_link_statement(label: str) -> str:
    """Link each resource of snapshot `$sid` to its nearest earlier and later versions.

    `$rank` maps snapshot id -> position in time, `$me` is `$sid`'s position. Where an earlier
    version p and a later version q were linked directly (the new snapshot is a back-fill
    between them), that link is replaced by p -> n -> q.
    """
    return f"""
    MATCH (n:`{label}` {{snapshot_id: $sid}}) WHERE n.stub IS NULL
    CALL (n) {{
      CALL (n) {{
        OPTIONAL MATCH (p:`{label}` {{resource_key: n.resource_key}})
        WHERE p.stub IS NULL AND $rank[p.snapshot_id] < $me
        RETURN p ORDER BY $rank[p.snapshot_id] DESC LIMIT 1
      }}
      CALL (n) {{
        OPTIONAL MATCH (q:`{label}` {{resource_key: n.resource_key}})
        WHERE q.stub IS NULL AND $rank[q.snapshot_id] > $me
        RETURN q ORDER BY $rank[q.snapshot_id] ASC LIMIT 1
      }}
      OPTIONAL MATCH (p)-[old:NEXT_VERSION]->(q)
      DELETE old
      FOREACH (_ IN CASE WHEN p IS NULL THEN [] ELSE [1] END |
        MERGE (p)-[r:NEXT_VERSION]->(n) SET r.changed = p.fingerprint <> n.fingerprint)
      FOREACH (_ IN CASE WHEN q IS NULL THEN [] ELSE [1] END |
        MERGE (n)-[r:NEXT_VERSION]->(q) SET r.changed = n.fingerprint <> q.fingerprint)
    }} IN TRANSACTIONS OF $batch ROWS
    """
