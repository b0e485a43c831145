"""Finding Config files under local folders and `s3://bucket/prefix/` URIs, and reading the
configuration items of one file as a stream.

A snapshot file of a large account is one JSON line of more than a gigabyte: it is never
loaded whole. ijson parses the gzip stream (local file or S3 body) item by item, so memory
holds one configuration item at a time whatever the file's size.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

from bulkgraph.errors import BulkgraphError, ExitCode
from bulkgraph.extract import s3
from bulkgraph.extract.awsconfig.keys import ConfigFile, parse_key
from bulkgraph.extract.model import Problem

#: statuses that end a resource
DELETED = frozenset({"ResourceDeleted", "ResourceDeletedNotRecorded"})
#: statuses whose item carries no configuration
NOT_RECORDED = frozenset({"ResourceNotRecorded", "ResourceDeletedNotRecorded"})


@dataclass(frozen=True)
class ConfigItem:
    """One configuration item, as much of it as the fold and the adapters use."""

    resource_type: str
    resource_id: str
    account_id: str
    #: the item's `awsRegion` (`global` for IAM)
    region: str
    capture_time: datetime
    #: `configurationStateId`: orders the items of one resource (a number in today's files)
    state_id: int
    status: str
    arn: str | None
    tags: dict[str, str] = field(default_factory=dict)
    configuration: dict[str, Any] | None = None

    @property
    def order(self) -> tuple[datetime, int]:
        return (self.capture_time, self.state_id)

    @property
    def deleted(self) -> bool:
        return self.status in DELETED

    @property
    def recorded(self) -> bool:
        """Its configuration is known (a resource of a type the recorder records)."""
        return self.status not in NOT_RECORDED and self.configuration is not None

    @property
    def tells_type(self) -> bool:
        """It says the recorder records its type (a `...NotRecorded` item says the opposite)."""
        return self.status not in NOT_RECORDED


def parse_time(text: str) -> datetime:
    """Config's times (`2026-11-27T02:00:00.123Z`, or with an offset) as aware datetimes."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _state_id(value: Any) -> int:
    # numeric in delivered files; the documentation's examples show UUIDs, which order
    # nothing: then capture time alone orders the items
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _first(raw: dict[str, Any], *names: str) -> Any:
    for name in names:
        if raw.get(name) is not None:
            return raw[name]
    return None


def to_item(raw: dict[str, Any], file: ConfigFile) -> ConfigItem:
    """A configuration item of `file`. Field names vary across item versions (`ARN`/`arn`,
    `awsAccountId`/`accountId`, `configurationStateId`/`configurationStateID`)."""
    resource_type = raw.get("resourceType")
    resource_id = raw.get("resourceId")
    captured = raw.get("configurationItemCaptureTime")
    if not isinstance(resource_type, str) or not isinstance(resource_id, str):
        raise ValueError("a configuration item without resourceType or resourceId")
    if not isinstance(captured, str):
        raise ValueError(f"{resource_type} {resource_id}: no configurationItemCaptureTime")
    configuration = raw.get("configuration")
    if isinstance(configuration, str):  # the API's shape; delivered files hold an object
        import json

        configuration = json.loads(configuration) if configuration.strip() else None
    tags = raw.get("tags")
    return ConfigItem(
        resource_type=resource_type,
        resource_id=resource_id,
        account_id=str(_first(raw, "awsAccountId", "accountId") or file.account_id),
        region=str(raw.get("awsRegion") or file.region),
        capture_time=parse_time(captured),
        state_id=_state_id(_first(raw, "configurationStateId", "configurationStateID")),
        status=str(raw.get("configurationItemStatus") or "OK"),
        arn=_first(raw, "ARN", "arn"),
        tags={str(k): "" if v is None else str(v) for k, v in tags.items()}
        if isinstance(tags, dict)
        else {},
        configuration=configuration if isinstance(configuration, dict) else None,
    )


@contextmanager
def _open(location: str, endpoint_url: str | None) -> Iterator[IO[bytes]]:
    if location.startswith("s3://"):
        loc = s3.parse_s3_uri(location)
        key = loc.prefix.rstrip("/")  # parse_s3_uri makes a prefix of the key
        body = s3.s3_client(endpoint_url).get_object(Bucket=loc.bucket, Key=key)["Body"]
        try:
            yield body
        finally:
            body.close()
    else:
        with open(location, "rb") as fh:
            yield fh


def read_items(file: ConfigFile, endpoint_url: str | None = None) -> Iterator[ConfigItem]:
    """The configuration items of `file`, one at a time. Raises on a file that cannot be
    read (the caller names it and goes on)."""
    import ijson

    with _open(file.location, endpoint_url) as raw, gzip.GzipFile(fileobj=raw) as stream:
        for obj in ijson.items(stream, "configurationItems.item", use_float=True):
            if isinstance(obj, dict):
                yield to_item(obj, file)


@dataclass
class Found:
    files: list[ConfigFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _local(root: Path, found: Found) -> None:
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = Path(folder) / name
            rel = path.relative_to(root).as_posix()
            # the key relative to the root may start at AWSLogs/ itself
            parsed = parse_key("/" + rel, str(path))
            if parsed is not None:
                found.files.append(parsed)


def _s3(uri: str, found: Found, endpoint_url: str | None) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    loc = s3.parse_s3_uri(uri)
    client = s3.s3_client(endpoint_url)
    try:
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=loc.bucket, Prefix=loc.prefix
        ):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                parsed = parse_key("/" + unquote(key), loc.uri(key))
                if parsed is not None:
                    found.files.append(parsed)
    except (BotoCoreError, ClientError) as exc:
        found.problems.append(Problem(uri, f"cannot list: {exc}"))


def discover(sources: list[str], endpoint_url: str | None = None) -> Found:
    """Every Config file under `sources` (local folders or s3:// URIs, at any depth above
    `AWSLogs/`), sorted by time; a source that cannot be listed is a problem."""
    found = Found()
    for source in sources:
        if source.startswith("s3://"):
            _s3(source, found, endpoint_url)
        elif Path(source).is_dir():
            _local(Path(source), found)
        else:
            raise BulkgraphError(f"{source}: not a folder or an s3:// URI", ExitCode.USAGE)
    found.files = sorted(set(found.files))
    return found
