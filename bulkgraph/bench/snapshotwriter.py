"""Write one native `bulkgraph-snapshot/1` folder: gzip data files plus manifest.json.

Output is byte-identical for identical input: gzip headers carry no time or file name, JSON
keeps the order the items were built in, and the manifest lists files sorted by path.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bulkgraph.bench.shapes import dumps
from bulkgraph.errors import BulkgraphError
from bulkgraph.extract.model import FORMAT_V1, is_valid_snapshot_id


@dataclass(frozen=True)
class DataFile:
    account_id: str
    region: str
    path: str  # under `<account>/<region>/`, without extension: "ec2/DescribeInstances"
    operation: str
    #: The calls, or their JSON text already rendered (see `shapes.dumps`).
    calls: list[dict[str, Any]] | str


@dataclass(frozen=True)
class Written:
    folder: Path
    files: int
    bytes: int


def write_snapshot(
    out: Path,
    snapshot_id: str,
    *,
    taken_at: datetime,
    completed_at: datetime,
    collector: dict[str, Any],
    data: Iterable[DataFile],
    compresslevel: int = 6,
    force: bool = False,
) -> Written:
    """Write `out/<snapshot_id>/`; it appears complete or not at all (built aside, renamed)."""
    if not is_valid_snapshot_id(snapshot_id):
        raise BulkgraphError(f"invalid snapshot id {snapshot_id!r}")
    folder = out / snapshot_id
    if folder.exists():
        if not force:
            raise BulkgraphError(f"{folder} already exists (use --force to replace it)")
        shutil.rmtree(folder)
    partial = out / f".{snapshot_id}.partial"
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    entries: list[dict[str, Any]] = []
    regions: dict[str, set[str]] = {}
    total = 0
    for item in data:
        relative = f"{item.account_id}/{item.region}/{item.path}.json.gz"
        calls = item.calls if isinstance(item.calls, str) else dumps(item.calls)
        raw = (
            f'{{"operation":{dumps(item.operation)},"account_id":{dumps(item.account_id)},'
            f'"region":{dumps(item.region)},"calls":{calls}}}'
        ).encode()
        packed = gzip.compress(raw, compresslevel=compresslevel, mtime=0)
        target = partial / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(packed)
        total += len(packed)
        regions.setdefault(item.account_id, set()).add(item.region)
        entries.append(
            {
                "path": relative,
                "operation": item.operation,
                "account_id": item.account_id,
                "region": item.region,
                "sha256": hashlib.sha256(packed).hexdigest(),
                "bytes": len(packed),
            }
        )
    manifest = {
        "format": FORMAT_V1,
        "snapshot_id": snapshot_id,
        "taken_at": taken_at.isoformat(),
        "completed_at": completed_at.isoformat(),
        "collector": collector,
        "accounts": [
            {"account_id": account, "regions": sorted(names)}
            for account, names in sorted(regions.items())
        ],
        "files": sorted(entries, key=lambda e: e["path"]),
        "errors": [],
    }
    (partial / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    partial.rename(folder)
    return Written(folder, len(entries), total)
