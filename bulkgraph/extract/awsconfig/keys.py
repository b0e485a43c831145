"""Where AWS Config puts its files, and what a file's key says about it.

AWS Config delivers to `[<prefix>/][<org-id>/]AWSLogs/<account>/Config/<region>/<YYYY>/<M>/<D>/`
(month and day without zero padding), then

- `ConfigSnapshot/<account>_Config_<region>_ConfigSnapshot_<YYYYMMDDThhmmssZ>_<id>.json.gz`:
  every recorded resource of the account and region at that time (only where periodic
  snapshot delivery was on);
- `ConfigHistory/<account>_Config_<region>_ConfigHistory_<ResourceType>_<start>_<end>_<n>.json.gz`:
  one configuration item per change of that resource type in [start, end] (the `::` of the
  type may be URL-encoded).

Anything else under `AWSLogs/` (the writability check file, oversized change notifications,
CloudTrail logs) is not a Config file and is left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from urllib.parse import unquote

SUFFIX = ".json.gz"

_FOLDER = re.compile(
    r"(?:^|/)AWSLogs/(?P<account>\d{12})/Config/(?P<region>[a-z0-9-]+)/"
    r"(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<kind>ConfigSnapshot|ConfigHistory)/"
    r"(?P<name>[^/]+)$"
)
_STAMP = r"\d{8}T\d{6}Z"
_SNAPSHOT = re.compile(
    rf"(?P<account>\d{{12}})_Config_(?P<region>[a-z0-9-]+)_ConfigSnapshot_(?P<time>{_STAMP})_"
    r"(?P<id>[^/]+)\.json\.gz"
)
_HISTORY = re.compile(
    rf"(?P<account>\d{{12}})_Config_(?P<region>[a-z0-9-]+)_ConfigHistory_(?P<type>.+)_"
    rf"(?P<start>{_STAMP})_(?P<end>{_STAMP})_(?P<n>\d+)\.json\.gz"
)


class Kind(Enum):
    SNAPSHOT = "ConfigSnapshot"
    HISTORY = "ConfigHistory"


def parse_stamp(text: str) -> datetime:
    """`YYYYMMDDThhmmssZ` -> an aware UTC datetime."""
    return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


@dataclass(frozen=True, order=True)
class ConfigFile:
    """One Config file: where it is, and what its key says it holds."""

    #: snapshot: its time; history: the start of its period (files sort by this first)
    start: datetime
    #: snapshot: its time; history: the end of its period
    end: datetime
    account_id: str
    region: str
    kind: Kind
    #: history files: the resource type they hold (`AWS::EC2::Instance`); snapshots: ""
    resource_type: str
    #: the local path or `s3://bucket/key`, for reading and for messages
    location: str

    @property
    def is_snapshot(self) -> bool:
        return self.kind is Kind.SNAPSHOT


def parse_key(key: str, location: str | None = None) -> ConfigFile | None:
    """The Config file a key (or a path, `/`-separated) names; None when it names none."""
    folder = _FOLDER.search(key)
    if folder is None:
        return None
    name = folder["name"]
    where = location if location is not None else key
    if folder["kind"] == Kind.SNAPSHOT.value:
        m = _SNAPSHOT.fullmatch(name)
        if m is None:
            return None
        at = parse_stamp(m["time"])
        return ConfigFile(at, at, m["account"], m["region"], Kind.SNAPSHOT, "", where)
    m = _HISTORY.fullmatch(name)
    if m is None:
        return None
    start, end = parse_stamp(m["start"]), parse_stamp(m["end"])
    return ConfigFile(
        start, end, m["account"], m["region"], Kind.HISTORY, unquote(m["type"]), where
    )


def history_key(
    account: str, region: str, resource_type: str, start: datetime, end: datetime, n: int = 1
) -> str:
    """The key AWS Config gives a history file (from `AWSLogs/` on); for tests and docs."""
    day = f"{start.year}/{start.month}/{start.day}"
    name = (
        f"{account}_Config_{region}_ConfigHistory_{resource_type}_"
        f"{start:%Y%m%dT%H%M%SZ}_{end:%Y%m%dT%H%M%SZ}_{n}{SUFFIX}"
    )
    return f"AWSLogs/{account}/Config/{region}/{day}/ConfigHistory/{name}"


def snapshot_key(account: str, region: str, at: datetime, snapshot_id: str) -> str:
    """The key AWS Config gives a snapshot file (from `AWSLogs/` on)."""
    day = f"{at.year}/{at.month}/{at.day}"
    name = f"{account}_Config_{region}_ConfigSnapshot_{at:%Y%m%dT%H%M%SZ}_{snapshot_id}{SUFFIX}"
    return f"AWSLogs/{account}/Config/{region}/{day}/ConfigSnapshot/{name}"
