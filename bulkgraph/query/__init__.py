"""Asking the graph: the query pack, snapshot choice, snapshot diffs and SIEM alerts.

Library first; `bulkgraph/cli/query.py` is a thin layer over these functions.
"""

from bulkgraph.query.alerts import AlertSummary, findings_for, write_alerts
from bulkgraph.query.diff import SnapshotDiff, diff_snapshots
from bulkgraph.query.pack import Param, Query, Scope, get_query, load_pack, pack_dir
from bulkgraph.query.runner import QueryResult, run_query
from bulkgraph.query.snapshots import (
    SnapshotRef,
    list_snapshots,
    parse_time,
    pick_pair,
    pick_snapshots,
)

__all__ = [
    "AlertSummary",
    "Param",
    "Query",
    "QueryResult",
    "Scope",
    "SnapshotDiff",
    "SnapshotRef",
    "diff_snapshots",
    "findings_for",
    "get_query",
    "list_snapshots",
    "load_pack",
    "pack_dir",
    "parse_time",
    "pick_pair",
    "pick_snapshots",
    "run_query",
    "write_alerts",
]
