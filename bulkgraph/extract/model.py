"""The hand-off between reading snapshots (extract) and normalizing them (transform).

Whatever a snapshot came from (a native `bulkgraph-snapshot/1` folder, a tar file, an S3
prefix, or a legacy `aws_neo4j_map` archive), readers give the transform the same thing: a
`SnapshotInfo` and, per data file, an `ApiResponse` holding the raw AWS API pages in the
shape boto3 returns them. Legacy records are turned into that shape by the reader, so the
transform has exactly one path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

FORMAT_V1 = "bulkgraph-snapshot/1"
LEGACY_FORMAT = "aws_neo4j_map"

#: Matched against the whole id (`fullmatch`: `$` would let a final newline through).
SNAPSHOT_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")
#: The rule, for messages.
SNAPSHOT_ID_RULE = "1-128 characters of A-Z a-z 0-9 . _ -, not . or .."


def is_valid_snapshot_id(snapshot_id: str) -> bool:
    """1-128 characters of A-Z a-z 0-9 . _ -, and not `.` or `..`: an id names folders and
    files (`state/<id>/`, `<id>.csv`), so it must not name the folder itself or its parent."""
    return bool(SNAPSHOT_ID_RE.fullmatch(snapshot_id)) and snapshot_id not in (".", "..")


@dataclass(frozen=True)
class AccountInfo:
    account_id: str
    regions: tuple[str, ...]


@dataclass(frozen=True)
class CollectionError:
    """A call that failed while collecting: that (account, region, operation) is unknown."""

    account_id: str
    region: str
    operation: str
    error_code: str
    message: str = ""


@dataclass(frozen=True)
class SnapshotInfo:
    snapshot_id: str
    taken_at: datetime  # timezone-aware
    source: str  # FORMAT_V1 or LEGACY_FORMAT
    location: str  # where it was read from, for messages (path or s3 URI)
    accounts: tuple[AccountInfo, ...] = ()
    errors: tuple[CollectionError, ...] = ()
    #: sha256 over the snapshot's input bytes: equal checksums mean equal input.
    checksum: str = ""
    completed_at: datetime | None = None
    collector: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    #: operations listed in the manifest that this version does not read (also in warnings)
    skipped_operations: tuple[str, ...] = ()
    #: the data files `responses()` reads, relative to the snapshot (for listings and messages)
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class Problem:
    """Something wrong with an input: a snapshot that cannot be read, or one bad file in it.

    Readers report problems instead of dropping input silently; `location` names the snapshot
    or file (a path or an s3 URI), `message` says what is wrong with it.
    """

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


def unreadable(exc: BaseException) -> str:
    """The message of a Problem for a failure no reader foresaw (a reader bug, or input
    stranger than its checks): the error's kind and text, cut short, never a traceback."""
    return f"cannot be read ({type(exc).__name__}: {str(exc)[:200]})"


@dataclass(frozen=True)
class LeftOut:
    """A record the reader took out of its page because it could not be read safely (nested
    too deep): the transform reports it in rejects.jsonl, so nothing goes without a trace."""

    record: int  # its position in its page's list
    where: str  # `calls[0].pages[1].Reservations[3]`
    reason: str


@dataclass(frozen=True)
class ApiResponse:
    """One data file: every call made for one operation in one account and region."""

    operation: str  # e.g. "ec2:DescribeInstances"
    account_id: str
    region: str
    path: str  # the file it came from, for messages and rejects.jsonl
    calls: list[dict[str, Any]]  # [{"request": {...}, "pages": [{...}, ...]}]
    left_out: tuple[LeftOut, ...] = ()

    def pages(self) -> Iterator[dict[str, Any]]:
        for call in self.calls:
            yield from call.get("pages", [])


class Snapshot(Protocol):
    """A readable snapshot. `responses()` re-reads the data each time it is called."""

    @property
    def info(self) -> SnapshotInfo: ...

    def responses(self) -> Iterator[ApiResponse]: ...
