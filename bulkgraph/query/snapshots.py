"""Which snapshot(s) a question is about: latest, by id, as of a time, or all of them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import neo4j
from neo4j import RoutingControl

from bulkgraph.db import to_jsonable
from bulkgraph.errors import BulkgraphError, ExitCode

# A snapshot that `bulkgraph load` is still appending (or whose load died) carries
# `loading: true` until it is complete: questions never see it.
_LIST = """
MATCH (s:Snapshot) WHERE s.loading IS NULL
RETURN s.snapshot_id AS snapshot_id, s.taken_at AS taken_at, s.source AS source,
       coalesce(s.unknown, []) AS unknown
ORDER BY s.taken_at, s.snapshot_id
"""


@dataclass(frozen=True)
class SnapshotRef:
    snapshot_id: str
    taken_at: dt.datetime
    source: str | None = None
    #: `account/region/operation` calls the snapshot does not know (Snapshot.unknown)
    unknown: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "snapshot_id": self.snapshot_id,
            "taken_at": self.taken_at.isoformat(),
            "source": self.source,
            "unknown": list(self.unknown),
        }


def list_snapshots(driver: neo4j.Driver, database: str | None = None) -> list[SnapshotRef]:
    """Every snapshot in the database, oldest first."""
    records, _, _ = driver.execute_query(_LIST, database_=database, routing_=RoutingControl.READ)
    out = []
    for rec in records:
        taken = rec["taken_at"]
        taken_at = taken.to_native() if hasattr(taken, "to_native") else taken
        if not isinstance(taken_at, dt.datetime):
            raise BulkgraphError(
                f"snapshot {rec['snapshot_id']!r} has taken_at {to_jsonable(taken)!r}, "
                "not a DATETIME: the database does not follow the graph model"
            )
        unknown = tuple(str(u) for u in rec["unknown"] or ())
        out.append(SnapshotRef(rec["snapshot_id"], taken_at, rec["source"], unknown))
    return out


def parse_time(text: str, option: str = "--as-of") -> dt.datetime:
    """An ISO 8601 date or date-time (basic `20261127T020000Z` too); no zone means UTC.
    `option` names the command-line option in the error."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise BulkgraphError(
            f"{option} {text!r}: not an ISO 8601 time (e.g. 2026-11-27T02:00:00Z or 2026-11-27)",
            ExitCode.USAGE,
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def _need_some(snapshots: list[SnapshotRef]) -> None:
    if not snapshots:
        raise BulkgraphError("the database holds no snapshot: load one first (bulkgraph load)")


def _by_id(snapshots: list[SnapshotRef], snapshot_id: str) -> SnapshotRef:
    for snap in snapshots:
        if snap.snapshot_id == snapshot_id:
            return snap
    known = ", ".join(s.snapshot_id for s in snapshots[-5:])
    raise BulkgraphError(
        f"no snapshot {snapshot_id!r} in the database (latest: {known})", ExitCode.USAGE
    )


def pick_snapshots(
    snapshots: list[SnapshotRef],
    *,
    snapshot: str | None = None,
    as_of: str | dt.datetime | None = None,
    all_snapshots: bool = False,
) -> list[SnapshotRef]:
    """At most one of the choices; none means the latest snapshot. Oldest first."""
    chosen = [x for x in (snapshot is not None, as_of is not None, all_snapshots) if x]
    if len(chosen) > 1:
        raise BulkgraphError("give at most one of --snapshot, --as-of and --all", ExitCode.USAGE)
    _need_some(snapshots)
    if all_snapshots:
        return list(snapshots)
    if snapshot is not None:
        if snapshot == "latest":
            return [snapshots[-1]]
        return [_by_id(snapshots, snapshot)]
    if as_of is not None:
        when = parse_time(as_of) if isinstance(as_of, str) else as_of
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        before = [s for s in snapshots if s.taken_at <= when]
        if not before:
            raise BulkgraphError(
                f"no snapshot was taken at or before {when.isoformat()} "
                f"(the oldest is {snapshots[0].snapshot_id}, {snapshots[0].taken_at.isoformat()})",
                ExitCode.USAGE,
            )
        return [before[-1]]
    return [snapshots[-1]]


def pick_pair(
    snapshots: list[SnapshotRef], old: str | None = None, new: str | None = None
) -> tuple[SnapshotRef, SnapshotRef]:
    """OLD and NEW by id; NEW defaults to the latest, OLD to the snapshot before NEW."""
    _need_some(snapshots)
    new_ref = snapshots[-1] if new in (None, "latest") else _by_id(snapshots, str(new))
    if old is None:
        earlier = [s for s in snapshots if s.taken_at < new_ref.taken_at]
        if not earlier:
            raise BulkgraphError(
                f"no snapshot before {new_ref.snapshot_id} to compare it with", ExitCode.USAGE
            )
        return earlier[-1], new_ref
    old_ref = _by_id(snapshots, old)
    if old_ref.taken_at >= new_ref.taken_at:
        raise BulkgraphError(
            f"{old_ref.snapshot_id} ({old_ref.taken_at.isoformat()}) is not older than "
            f"{new_ref.snapshot_id} ({new_ref.taken_at.isoformat()}): give OLD first",
            ExitCode.USAGE,
        )
    return old_ref, new_ref
