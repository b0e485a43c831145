"""The transform's output for samples/ is byte for byte what it was.

`tests/fixtures/samples-transform.sha256` holds the SHA-256 of every file the transform
writes for `samples/` (headers, parts, rejects.jsonl, import-manifest.json; not `state/`,
the worker's internal parquet files, whose bytes depend on the polars version). Any change to
the CSVs shows here, file by file. When a change is meant (a new property, a new family),
regenerate the list with `UPDATE_CHECKSUMS=1 pytest tests/test_transform_checksums.py` and
say why in the commit.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from bulkgraph.extract.sources import discover
from bulkgraph.transform.run import transform

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
CHECKSUMS = Path(__file__).parent / "fixtures" / "samples-transform.sha256"
#: the account the legacy archive of samples/ is read as (README: `--account-id`)
LEGACY_ACCOUNT = "123456789012"


def output_checksums(out: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every output file but `state/`. The manifest names each
    snapshot's location, an absolute path here: it is written relative to the checkout."""
    sums: dict[str, str] = {}
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out).as_posix()
        if not path.is_file() or rel.startswith("state/"):
            continue
        data = path.read_bytes()
        if rel == "import-manifest.json":
            data = data.replace(str(ROOT).encode("utf-8") + b"/", b"")
        sums[rel] = hashlib.sha256(data).hexdigest()
    return sums


def read_checksums(path: Path) -> dict[str, str]:
    """`sha256sum` format: `<digest>  <path>` per line."""
    sums: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        digest, rel = line.split("  ", 1)
        sums[rel] = digest
    return sums


def test_samples_transform_output_is_unchanged(tmp_path: Path) -> None:
    found = discover([str(SAMPLES)], account_id=LEGACY_ACCOUNT)
    assert not found.problems and len(found.snapshots) == 4
    result = transform(found.snapshots, tmp_path, workers=1)
    assert not result.failed and len(result.transformed) == 4
    got = output_checksums(tmp_path)
    assert "import-manifest.json" in got and "rejects.jsonl" in got
    if os.environ.get("UPDATE_CHECKSUMS"):
        CHECKSUMS.write_text("".join(f"{d}  {p}\n" for p, d in got.items()), encoding="utf-8")
        pytest.skip(f"wrote {CHECKSUMS}")
    want = read_checksums(CHECKSUMS)
    assert sorted(got) == sorted(want), "files written differ"
    changed = [p for p in want if got[p] != want[p]]
    assert changed == [], f"{len(changed)} output files changed, e.g. {changed[:5]}"
