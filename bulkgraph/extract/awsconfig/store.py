"""The fold's state on disk: per account, region and resource, its latest item, kept in a
SQLite file so that memory stays bounded whatever the size of the estate (a snapshot file of
a large account holds more resources than memory should).

A resource's row holds what the data files need: its record already rendered as compact
JSON text, and the values records are ordered and grouped by.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from bulkgraph.extract.awsconfig.adapters import Held

_SCHEMA = """
CREATE TABLE held (
    scope TEXT NOT NULL,        -- account/region of the files
    rtype TEXT NOT NULL,
    rid TEXT NOT NULL,
    ctime TEXT NOT NULL,        -- capture time, ISO 8601 in UTC: sorts as it compares
    sid INTEGER NOT NULL,       -- configurationStateId
    deleted INTEGER NOT NULL,
    recorded INTEGER NOT NULL,
    record BLOB,
    sort_key TEXT NOT NULL,
    lb TEXT NOT NULL,
    tags BLOB,
    PRIMARY KEY (scope, rtype, rid)
) WITHOUT ROWID
"""

# a newer item (capture time, then state id) replaces the row; an older one is dropped
_UPSERT = """
INSERT INTO held VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (scope, rtype, rid) DO UPDATE SET
    ctime = excluded.ctime, sid = excluded.sid, deleted = excluded.deleted,
    recorded = excluded.recorded, record = excluded.record, sort_key = excluded.sort_key,
    lb = excluded.lb, tags = excluded.tags
WHERE (excluded.ctime, excluded.sid) >= (held.ctime, held.sid)
"""

_COLUMNS = "rtype, rid, ctime, sid, deleted, recorded, record, sort_key, lb, tags"


def _row(scope: str, h: Held) -> tuple[object, ...]:
    return (
        scope,
        h.resource_type,
        h.resource_id,
        h.capture_time.astimezone(UTC).isoformat(timespec="microseconds"),
        h.state_id,
        int(h.deleted),
        int(h.recorded),
        h.record,
        h.sort_key,
        h.load_balancer,
        h.tags,
    )


def _held(row: tuple[object, ...]) -> Held:
    rtype, rid, ctime, sid, deleted, recorded, record, sort_key, lb, tags = row
    return Held(
        str(rtype),
        str(rid),
        datetime.fromisoformat(str(ctime)),
        int(sid),  # type: ignore[call-overload]
        bool(deleted),
        bool(recorded),
        record=bytes(record) if record is not None else None,  # type: ignore[call-overload]
        sort_key=str(sort_key),
        load_balancer=str(lb),
        tags=bytes(tags) if tags is not None else None,  # type: ignore[call-overload]
    )


class Store:
    """One SQLite file for every account and region of a run."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode = OFF")
        self.db.execute("PRAGMA synchronous = OFF")
        self.db.execute("PRAGMA cache_size = -65536")  # 64 MiB of pages at most
        self.db.execute(_SCHEMA)
        self._pending = 0
        self.db.execute("BEGIN")

    def put(self, scope: str, held: Held) -> None:
        self.db.execute(_UPSERT, _row(scope, held))
        self._pending += 1
        if self._pending >= 10_000:
            self.commit()

    def commit(self) -> None:
        self.db.execute("COMMIT")
        self.db.execute("BEGIN")
        self._pending = 0

    def clear(self, scope: str) -> None:
        self.db.execute("DELETE FROM held WHERE scope = ?", (scope,))

    def move(self, source: str, scope: str) -> None:
        """The rows of `source` become those of `scope` (whose own rows are dropped)."""
        self.clear(scope)
        self.db.execute("UPDATE held SET scope = ? WHERE scope = ?", (scope, source))
        self.commit()

    def current(self, scope: str, rtype: str, by_load_balancer: bool = False) -> Iterator[Held]:
        """The resources of a type that exist (deleted ones left out), in data-file order
        (`by_load_balancer`: grouped by their load balancer first)."""
        self.commit()
        order = "lb, sort_key, rid" if by_load_balancer else "sort_key, rid"
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM held WHERE scope = ? AND rtype = ? AND deleted = 0 "
            f"ORDER BY {order}",
            (scope, rtype),
        )
        for row in rows:  # read as consumed: a caller must consume it before the next put
            yield _held(row)

    def any_unrecorded(self, scope: str, rtype: str) -> bool:
        self.commit()
        row = self.db.execute(
            "SELECT 1 FROM held WHERE scope = ? AND rtype = ? AND deleted = 0 AND recorded = 0 "
            "LIMIT 1",
            (scope, rtype),
        ).fetchone()
        return row is not None

    def close(self) -> None:
        self.db.execute("COMMIT")
        self.db.close()
