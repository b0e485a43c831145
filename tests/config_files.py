"""AWS Config files as AWS delivers them, written by tests (docs/aws-config.md).

`item()` gives a configuration item in the shape of delivered files (item version 1.3);
`java_bean()` turns a boto3 record into Config's `configuration` (Java-bean lower camel case,
security group ranges as Config writes them, times as Config writes them); `write_snapshot`
and `write_history` put gzipped files under `AWSLogs/...` at the keys AWS uses.
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from bulkgraph.extract.awsconfig.keys import history_key, snapshot_key


def config_time(value: datetime | str) -> str:
    """Config's time format: milliseconds and `Z`."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


_TIME_KEYS = {
    "LaunchTime",
    "AttachTime",
    "CreatedTime",
    "InstanceCreateTime",
    "LatestRestorableTime",
    "CreateTime",
    "CreateDate",
}


def _lower_first(key: str) -> str:
    return key[:1].lower() + key[1:]


def java_bean(value: Any) -> Any:
    """A boto3 value as Config writes it in `configuration`."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k in _TIME_KEYS and isinstance(v, str):
                out[_lower_first(k)] = config_time(v)
            elif k == "Variables":  # the user's names (Lambda environment variables)
                out[_lower_first(k)] = v
            elif k in ("IpPermissions", "IpPermissionsEgress"):
                out[_lower_first(k)] = [_rule(r) for r in v]
            else:
                out[_lower_first(k)] = java_bean(v)
        return out
    if isinstance(value, list):
        return [java_bean(v) for v in value]
    return value


def _rule(rule: dict[str, Any]) -> dict[str, Any]:
    """Config: `ipRanges` a flat list of CIDR strings, `ipv4Ranges[].cidrIp` beside it."""
    out = java_bean({k: v for k, v in rule.items() if k != "IpRanges"})
    ranges = rule.get("IpRanges", [])
    out["ipRanges"] = [r["CidrIp"] for r in ranges]
    out["ipv4Ranges"] = java_bean(ranges)
    return dict(out)


def item(
    resource_type: str,
    resource_id: str,
    configuration: dict[str, Any] | None,
    *,
    account: str,
    region: str,
    captured: datetime,
    state_id: int,
    status: str = "OK",
    arn: str | None = None,
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "relatedEvents": [],
        "relationships": [],
        "configuration": configuration,
        "supplementaryConfiguration": {},
        "tags": tags or {},
        "configurationItemVersion": "1.3",
        "configurationItemCaptureTime": config_time(captured),
        "configurationStateId": state_id,
        "awsAccountId": account,
        "configurationItemStatus": status,
        "resourceType": resource_type,
        "resourceId": resource_id,
        "resourceName": None,
        "ARN": arn or f"arn:aws:config-test:{region}:{account}:{resource_id}",
        "awsRegion": region,
        "availabilityZone": "Not Applicable",
        "configurationStateMd5Hash": "",
    }


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # one JSON line, as AWS writes a snapshot file
    path.write_bytes(gzip.compress(json.dumps(doc, separators=(",", ":")).encode(), mtime=0))
    return path


def write_snapshot(
    root: Path, account: str, region: str, at: datetime, items: list[dict[str, Any]]
) -> Path:
    doc = {
        "fileVersion": "1.0",
        "configSnapshotId": f"snap-{at:%Y%m%d%H%M}",
        "configurationItems": items,
    }
    return _write(root / snapshot_key(account, region, at, f"snap-{at:%Y%m%d%H%M}"), doc)


def write_history(
    root: Path,
    account: str,
    region: str,
    resource_type: str,
    start: datetime,
    end: datetime,
    items: list[dict[str, Any]],
    *,
    encoded: bool = False,
) -> Path:
    """`encoded`: the `::` of the type URL-encoded in the key, as AWS sometimes writes it."""
    rtype = resource_type.replace(":", "%3A") if encoded else resource_type
    return _write(
        root / history_key(account, region, rtype, start, end),
        {"fileVersion": "1.0", "configurationItems": items},
    )
