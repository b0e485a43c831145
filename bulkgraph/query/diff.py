"""What changed between two snapshots (the pack's `snapshot-diff` query)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import neo4j

from bulkgraph.query.runner import run_query
from bulkgraph.query.snapshots import SnapshotRef

DIFF_QUERY = "snapshot-diff"


@dataclass
class SnapshotDiff:
    old: SnapshotRef
    new: SnapshotRef
    columns: list[str]
    #: one row per change: change, label, resource, resource_key, field, before, after
    changes: list[dict[str, Any]]

    @property
    def unknown(self) -> dict[str, list[str]]:
        """Per snapshot of the pair, the calls it does not know: no change is reported for
        what they would hold."""
        return {s.snapshot_id: list(s.unknown) for s in (self.old, self.new) if s.unknown}

    def summary(self) -> dict[str, int]:
        return dict(sorted(Counter(c["change"] for c in self.changes).items()))

    def to_json(self) -> dict[str, Any]:
        return {
            "old": self.old.to_json(),
            "new": self.new.to_json(),
            "summary": self.summary(),
            "unknown": self.unknown,
            "changes": self.changes,
        }


def diff_snapshots(
    driver: neo4j.Driver,
    old: str | None = None,
    new: str | None = None,
    database: str | None = None,
) -> SnapshotDiff:
    """Changes from `old` to `new` (snapshot ids; default: the two latest snapshots, or NEW
    and the snapshot before it), in either layout (`run_query` reads it)."""
    result = run_query(driver, DIFF_QUERY, old=old, new=new, database=database)
    old_ref, new_ref = result.snapshots
    return SnapshotDiff(old_ref, new_ref, result.columns, result.rows)
