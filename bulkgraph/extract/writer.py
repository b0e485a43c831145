"""Writing a `bulkgraph-snapshot/1` folder: gzip data files first, manifest.json last.

A folder without a manifest is not a snapshot, so a run that dies half-way leaves nothing
that could be mistaken for a complete one. The manifest is written to a temporary name and
renamed into place, so it is either absent or whole.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import threading
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

from bulkgraph import __version__
from bulkgraph.errors import BulkgraphError, ExitCode
from bulkgraph.extract.model import (
    FORMAT_V1,
    SNAPSHOT_ID_RULE,
    CollectionError,
    is_valid_snapshot_id,
)
from bulkgraph.extract.native import MANIFEST
from bulkgraph.extract.operations import BY_NAME, Operation


def _json_default(value: object) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"cannot store {type(value).__name__} in a snapshot")


def dumps(doc: object) -> bytes:
    """The JSON of a data file: compact, ASCII. Pieces rendered apart (e.g. the calls of a
    data file, or single items of a page) join to the text of the whole."""
    return json.dumps(doc, default=_json_default, separators=(",", ":")).encode()


class _Hashing:
    """A binary file that also hashes and counts what is written to it."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


class SnapshotWriter:
    """Collects data files into `<out_dir>/<snapshot_id>/`; thread-safe.

    The same content gives the same bytes: gzip headers carry no time or file name, JSON
    keeps the order the items came in, and the manifest lists files sorted by path.
    """

    def __init__(
        self,
        out_dir: Path,
        snapshot_id: str,
        taken_at: datetime,
        *,
        collector: dict[str, Any] | None = None,
        compresslevel: int = 6,
    ) -> None:
        if not is_valid_snapshot_id(snapshot_id):
            raise BulkgraphError(
                f"invalid snapshot id {snapshot_id!r}: {SNAPSHOT_ID_RULE}",
                ExitCode.USAGE,
            )
        if taken_at.tzinfo is None:
            raise ValueError("taken_at must be timezone-aware")
        self.snapshot_id = snapshot_id
        self.taken_at = taken_at
        self.collector = collector or {"name": "bulkgraph", "version": __version__}
        self.compresslevel = compresslevel
        self.folder = out_dir / snapshot_id
        if (self.folder / MANIFEST).exists():
            raise BulkgraphError(f"{self.folder}: a snapshot with this id already exists")
        self.folder.mkdir(parents=True, exist_ok=True)
        self._files: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def write(
        self,
        operation: str | Operation,
        account_id: str,
        region: str,
        calls: list[dict[str, Any]] | bytes,
    ) -> dict[str, Any]:
        """One data file; `operation` is a registry operation or its name. `calls` may come
        already rendered by `dumps` (a generator that reuses the text of unchanged items
        saves most of the encoding)."""
        op = BY_NAME[operation] if isinstance(operation, str) else operation
        rel = op.path(account_id, region)
        rendered = calls if isinstance(calls, bytes) else dumps(calls)
        # the text json.dumps gives for the whole document, keys in this order
        doc = b'{"operation":%s,"account_id":%s,"region":%s,"calls":%s}' % (
            dumps(op.name),
            dumps(account_id),
            dumps(region),
            rendered,
        )
        # mtime=0 and no file name: the same content gives the same bytes (and sha256)
        data = gzip.compress(doc, compresslevel=self.compresslevel, mtime=0)
        path = self.folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        # written aside and renamed: a data file that exists is whole, even after a kill
        # (an interrupted collection is resumed from the files that exist)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return self._add(op, account_id, region, data)

    def adopt(self, operation: Operation, account_id: str, region: str) -> dict[str, Any]:
        """List a data file an earlier, interrupted run of this collection wrote."""
        data = (self.folder / operation.path(account_id, region)).read_bytes()
        return self._add(operation, account_id, region, data)

    def _add(self, op: Operation, account_id: str, region: str, data: bytes) -> dict[str, Any]:
        entry = {
            "path": op.path(account_id, region),
            "operation": op.name,
            "account_id": account_id,
            "region": region,
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
        }
        with self._lock:
            self._files.append(entry)
        return entry

    def write_stream(
        self,
        operation: str | Operation,
        account_id: str,
        region: str,
        calls: Iterable[bytes],
    ) -> dict[str, Any]:
        """One data file whose `calls` come as pieces of rendered text (joined, the JSON
        array `dumps` gives), compressed as they come: a data file larger than memory."""
        op = BY_NAME[operation] if isinstance(operation, str) else operation
        rel = op.path(account_id, region)
        path = self.folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        head = b'{"operation":%s,"account_id":%s,"region":%s,"calls":' % (
            dumps(op.name),
            dumps(account_id),
            dumps(region),
        )
        with path.open("wb") as raw:
            sink = _Hashing(raw)
            # no file name and mtime=0: the same content gives the same bytes (and sha256)
            with gzip.GzipFile(
                filename="", fileobj=sink, mode="wb", compresslevel=self.compresslevel, mtime=0
            ) as gz:
                gz.write(head)
                for piece in calls:
                    gz.write(piece)
                gz.write(b"}")
        entry = {
            "path": rel,
            "operation": op.name,
            "account_id": account_id,
            "region": region,
            "sha256": sink.sha256.hexdigest(),
            "bytes": sink.size,
        }
        with self._lock:
            self._files.append(entry)
        return entry

    @property
    def files(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._files)

    @property
    def file_count(self) -> int:
        return len(self._files)

    def finish(
        self,
        accounts: dict[str, list[str]],
        errors: list[CollectionError],
        completed_at: datetime,
    ) -> Path:
        manifest = {
            "format": FORMAT_V1,
            "snapshot_id": self.snapshot_id,
            "taken_at": self.taken_at.isoformat(),
            "completed_at": completed_at.isoformat(),
            "collector": self.collector,
            "accounts": [
                {"account_id": a, "regions": sorted(r)} for a, r in sorted(accounts.items())
            ],
            "files": sorted(self._files, key=lambda f: f["path"]),
            "errors": [
                {
                    "account_id": e.account_id,
                    "region": e.region,
                    "operation": e.operation,
                    "error_code": e.error_code,
                    "message": e.message,
                }
                for e in sorted(errors, key=lambda e: (e.account_id, e.region, e.operation))
            ],
        }
        target = self.folder / MANIFEST
        tmp = self.folder / f".{MANIFEST}.tmp"
        tmp.write_bytes(json.dumps(manifest, indent=2).encode() + b"\n")
        os.replace(tmp, target)
        return target
