"""Snapshot objects built from JSON fixtures of raw API responses (tests/fixtures/native/)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bulkgraph.extract.model import AccountInfo, ApiResponse, SnapshotInfo

NATIVE = Path(__file__).parent / "fixtures" / "native"


@dataclass
class FixtureSnapshot:
    info: SnapshotInfo
    data: list[dict[str, Any]]

    def responses(self) -> Iterator[ApiResponse]:
        for r in self.data:
            yield ApiResponse(r["operation"], r["account_id"], r["region"], r["path"], r["calls"])


def load(name: str, **override: Any) -> FixtureSnapshot:
    raw = json.loads((NATIVE / name).read_text(encoding="utf-8"))
    return from_dict(raw, **override)


def from_dict(raw: dict[str, Any], **override: Any) -> FixtureSnapshot:
    raw = copy.deepcopy(raw)
    i = {**raw["info"], **override}
    info = SnapshotInfo(
        snapshot_id=i["snapshot_id"],
        taken_at=datetime.fromisoformat(i["taken_at"]),
        source=i["source"],
        location=f"fixture:{i['snapshot_id']}",
        accounts=tuple(AccountInfo(a["account_id"], tuple(a["regions"])) for a in i["accounts"]),
        checksum=i.get("checksum", ""),
    )
    return FixtureSnapshot(info, raw["responses"])
