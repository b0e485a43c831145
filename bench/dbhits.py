"""PROFILE db hits of pack queries in one snapshot: the deterministic figures of the layout
tables in docs/versions-layout.md (issue #20), where timings on the shared machine are noise.

    PYTHONPATH=. python -m bench.dbhits --neo4j-home HOME [--query NAME ...] [--snapshot ID]
        [--param instance=i-0abc ...]

HOME is a managed Neo4j home holding a graph in either layout (`bulkgraph rebuild
--layout ...` of a `gen-estate` history); the layout is read from the graph, as `bulkgraph
query` reads it. A query's required `instance` / `ip` default to `bench.layouts.sample` (the
smallest instance id with a private IP, and that IP: the same in both layouts), other
parameters to their defaults. One JSON line per query: its db hits summed over the plan,
its rows and a digest of them (equal digests in both layouts: the same answer).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import neo4j

from bench.layouts import sample
from bulkgraph.cli.common import parse_params
from bulkgraph.db import home_connection
from bulkgraph.layout import Layout, recorded_layout
from bulkgraph.query.asof import versions_text
from bulkgraph.query.pack import Scope, load_pack
from bulkgraph.query.runner import execute, scope_params
from bulkgraph.query.snapshots import list_snapshots
from bulkgraph.server import Neo4jHome


def db_hits(plan: dict[str, Any]) -> int:
    """The db hits of a PROFILE plan and all its children."""
    return int(plan.get("dbHits", 0)) + sum(db_hits(c) for c in plan.get("children") or [])


def measure(
    driver: neo4j.Driver,
    names: list[str],
    given: dict[str, Any],
    snapshot: str | None = None,
    database: str = "neo4j",
) -> list[dict[str, Any]]:
    layout = recorded_layout(driver, database)
    snapshots = list_snapshots(driver, database)
    snap = next(s for s in snapshots if s.snapshot_id == snapshot) if snapshot else snapshots[-1]
    picked = sample(driver, database)
    defaults = {"instance": picked["instance"], "ip": picked["ip"]}
    pack = load_pack()
    out = []
    for name in names:
        query = pack[name]
        if query.scope is not Scope.snapshot:
            raise SystemExit(f"{name}: only snapshot-scoped queries are measured here")
        declared = {p.name for p in query.params}
        params = {k: v for k, v in defaults.items() if k in declared} | {
            k: v for k, v in given.items() if k in declared
        }
        params = query.bind(params) | scope_params(query, [snap], layout)
        text = query.text if layout is Layout.snapshots else versions_text(query)
        summary = driver.execute_query("PROFILE " + text, params, database_=database).summary
        assert summary.profile is not None
        _, rows = execute(driver, query, params, database, layout)
        digest = hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode())
        out.append(
            {
                "layout": layout.value,
                "snapshot_id": snap.snapshot_id,
                "query": name,
                "params": {k: v for k, v in params.items() if k in declared},
                "db_hits": db_hits(summary.profile),
                "rows": len(rows),
                "rows_sha256": digest.hexdigest()[:16],
            }
        )
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.dbhits", description=__doc__.split("\n")[0])
    parser.add_argument("--neo4j-home", type=Path, required=True)
    parser.add_argument("--query", action="append", default=[], help="default: every one")
    parser.add_argument("--snapshot", help="default: the latest")
    parser.add_argument("--param", action="append", default=[], help="key=value")
    args = parser.parse_args(argv)
    conn = home_connection(Neo4jHome(args.neo4j_home))
    names = args.query or [n for n, q in load_pack().items() if q.scope is Scope.snapshot]
    with neo4j.GraphDatabase.driver(
        conn.uri, auth=conn.auth, notifications_min_severity="OFF"
    ) as driver:
        for line in measure(driver, names, parse_params(args.param), args.snapshot):
            print(json.dumps(line, default=str))


if __name__ == "__main__":
    main()
