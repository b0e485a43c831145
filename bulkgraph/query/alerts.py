"""Alerts: every alert query of the pack, one JSON line per finding, for a SIEM file reader.

Each line is one flat JSON object, the shape a file-tailing SIEM reader (Wazuh `localfile`
with `log_format json`, Filebeat, Vector) decodes without configuration:

    {"timestamp": "...", "source": "bulkgraph", "finding_id": "...", "rule_id": "BG-RDS-001",
     "rule_name": "rds-unencrypted", "kind": "rds_unencrypted", "severity": "high",
     "title": "...", "snapshot_id": "...", "account": "...", "region": "...",
     "resource": "...", "evidence": {...}}

`timestamp` is when the snapshot was taken: the time the condition was observed. The finding
id hashes rule, snapshot, account, region and resource, so the same finding of the same
snapshot always has the same id; writing appends only ids the file does not hold yet.

`kind` says what a finding is: `internet_reachable` (BG-EC2-002: a public address, a route to
an internet gateway, the network ACL and a security group all let the internet in) and
`exposed_in_config` (BG-EC2-003: a security group is open to the internet, the network is not)
are different findings. `internet_exposed` (BG-EC2-001) judges security groups alone, as
graph model 1.0 could: where a snapshot knows network interfaces, each instance it reports is
reported by exactly one of the other two.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import neo4j

from bulkgraph.errors import BulkgraphError
from bulkgraph.layout import Layout, recorded_layout
from bulkgraph.query.pack import Query, load_pack
from bulkgraph.query.runner import execute, scope_params
from bulkgraph.query.snapshots import SnapshotRef, list_snapshots, pick_snapshots

log = logging.getLogger(__name__)

#: columns every alert query returns; the others become the evidence
LOCATION_COLUMNS = ("account_id", "region", "resource")
#: Wazuh-style numeric levels, for readers that want a number
LEVELS = {"info": 3, "low": 5, "medium": 8, "high": 11, "critical": 14}


@dataclass
class AlertSummary:
    out: Path
    snapshots: list[str]
    findings: int = 0
    written: int = 0
    already_present: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    #: per snapshot checked, the calls it does not know: no finding there is not a fix
    unknown: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "snapshots": self.snapshots,
            "findings": self.findings,
            "written": self.written,
            "already_present": self.already_present,
            "by_rule": self.by_rule,
            "unknown": self.unknown,
        }


def finding_id(rule_id: str, snapshot_id: str, account: Any, region: Any, resource: Any) -> str:
    key = json.dumps([rule_id, snapshot_id, account, region, resource], separators=(",", ":"))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def alert_queries() -> list[Query]:
    return [q for q in load_pack().values() if q.is_alert]


def findings_for(
    driver: neo4j.Driver,
    snap: SnapshotRef,
    database: str | None = None,
    layout: Layout | None = None,
) -> list[dict[str, Any]]:
    """The findings of every alert query in one snapshot, ordered by rule then resource.
    `layout` is the database's (read when not given)."""
    if layout is None:
        layout = recorded_layout(driver, database)
    findings: list[dict[str, Any]] = []
    taken_at = snap.taken_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    for query in sorted(alert_queries(), key=lambda q: q.rule_id or ""):
        assert query.rule_id is not None and query.severity is not None
        # the alert's defaults, and the snapshot (and the time, in the versions layout)
        params = query.bind({}) | scope_params(query, [snap], layout)
        columns, rows = execute(driver, query, params, database, layout)
        missing = [c for c in LOCATION_COLUMNS if c not in columns]
        if missing:
            raise BulkgraphError(
                f"{query.source}: an alert query must return {', '.join(LOCATION_COLUMNS)} "
                f"(lacks {', '.join(missing)})"
            )
        for row in rows:
            findings.append(
                {
                    "timestamp": taken_at,
                    "source": "bulkgraph",
                    "finding_id": finding_id(
                        query.rule_id,
                        snap.snapshot_id,
                        row["account_id"],
                        row["region"],
                        row["resource"],
                    ),
                    "rule_id": query.rule_id,
                    "rule_name": query.name,
                    "kind": query.kind,
                    "severity": query.severity,
                    "level": LEVELS[query.severity],
                    "title": query.description,
                    "snapshot_id": snap.snapshot_id,
                    "account": row["account_id"],
                    "region": row["region"],
                    "resource": row["resource"],
                    "evidence": {k: v for k, v in row.items() if k not in LOCATION_COLUMNS},
                }
            )
    return findings


def existing_finding_ids(path: Path) -> set[str]:
    """Finding ids already in an alerts file; lines that are not our JSON are left alone."""
    ids: set[str] = set()
    if not path.exists():
        return ids
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                log.warning("%s:%d: not a JSON line, ignored", path, number)
                continue
            if isinstance(record, dict) and isinstance(record.get("finding_id"), str):
                ids.add(record["finding_id"])
    return ids


def write_alerts(
    driver: neo4j.Driver,
    out: Path,
    *,
    snapshot: str | None = None,
    as_of: str | dt.datetime | None = None,
    all_snapshots: bool = False,
    database: str | None = None,
) -> AlertSummary:
    """Append the findings of the chosen snapshot(s) (default: the latest) to `out`, one JSON
    object per line, skipping findings whose id the file already holds."""
    chosen = pick_snapshots(
        list_snapshots(driver, database),
        snapshot=snapshot,
        as_of=as_of,
        all_snapshots=all_snapshots,
    )
    summary = AlertSummary(
        out=out,
        snapshots=[s.snapshot_id for s in chosen],
        unknown={s.snapshot_id: list(s.unknown) for s in chosen if s.unknown},
    )
    seen = existing_finding_ids(out)
    lines: list[str] = []
    layout = recorded_layout(driver, database)
    for snap in chosen:
        for finding in findings_for(driver, snap, database, layout):
            summary.findings += 1
            summary.by_rule[finding["rule_id"]] = summary.by_rule.get(finding["rule_id"], 0) + 1
            if finding["finding_id"] in seen:
                summary.already_present += 1
                continue
            seen.add(finding["finding_id"])
            lines.append(json.dumps(finding, sort_keys=False, separators=(",", ":")) + "\n")
    if lines:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            needs_newline = out.exists() and out.stat().st_size > 0 and not _ends_with_newline(out)
            with out.open("a", encoding="utf-8") as fh:
                if needs_newline:
                    fh.write("\n")
                fh.writelines(lines)
        except OSError as exc:
            raise BulkgraphError(f"{out}: cannot write alerts: {exc.strerror}") from exc
    summary.written = len(lines)
    return summary


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(-1, 2)
        return fh.read(1) == b"\n"
