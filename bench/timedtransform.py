"""One measured transform, run in a fresh process by the benchmark.

A fresh interpreter per measurement keeps the benchmark's own memory (drivers, data frames
of the baseline, earlier runs) out of the transform's peak RSS, which the parent samples
over this process and its workers.

    python bench/timedtransform.py [--layout=LAYOUT] RESULT.json OUT_DIR WORKERS SNAPSHOT_DIR...
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bulkgraph.transform.workers import prepare_polars

# as the `bulkgraph` command does (cli.main), before polars loads: this process's own part of
# the transform (the passes after the workers) then keeps its memory as it does there
prepare_polars()

from bulkgraph.extract.sources import discover  # noqa: E402
from bulkgraph.layout import Layout, parse_layout  # noqa: E402
from bulkgraph.transform.run import transform  # noqa: E402


def _cpu_seconds() -> float:
    """User + system CPU of this process and of its children that have ended: the transform's
    worker processes are joined before `transform()` returns, so they are counted."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    ended = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + ended.ru_utime + ended.ru_stime


def measure(
    snapshot_dirs: list[str], out_dir: Path, workers: int, layout: Layout = Layout.snapshots
) -> dict[str, object]:
    t0 = time.monotonic()
    found = discover(snapshot_dirs)
    discovered = time.monotonic() - t0
    if found.problems:
        listed = "; ".join(f"{p.location}: {p.message}" for p in found.problems)
        raise SystemExit(f"timedtransform: unreadable snapshots: {listed}")
    marks: dict[str, float] = {}

    def progress(message: str, done: int, total: int) -> None:
        marks.setdefault(message, time.monotonic())

    cpu0 = _cpu_seconds()
    t0 = time.monotonic()
    # as `rebuild` does: the versions layout's folder for its import only
    result = transform(
        found.snapshots,
        out_dir,
        workers=workers,
        progress=progress,
        layout=layout,
        snapshot_parts=layout is not Layout.versions,
    )
    seconds = time.monotonic() - t0
    cpu = _cpu_seconds() - cpu0
    # the parallel per-snapshot part ends when the sequential linking pass starts
    linking = marks.get("linking snapshots", t0 + seconds)
    return {
        "discover_seconds": discovered,
        "transform_seconds": seconds,
        "cpu_seconds": cpu,
        "per_snapshot_seconds": linking - t0,
        "link_and_manifest_seconds": t0 + seconds - linking,
        "transformed": len(result.transformed),
        "reused": len(result.reused),
        "failed": result.failed,
        "nodes": sum(result.nodes_per_label.values()),
        "relationships": sum(result.relationships_per_type.values()),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    layout = Layout.snapshots
    if args and args[0].startswith("--layout="):
        layout = parse_layout(args.pop(0).removeprefix("--layout="))
    if len(args) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    result_path, out_dir, workers, *dirs = args
    data = measure(dirs, Path(out_dir), int(workers), layout)
    Path(result_path).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
