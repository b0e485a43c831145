"""`bulkgraph rebuild`: every snapshot found -> CSV -> a new graph, swapped in atomically.

What a nightly cron job or systemd timer runs. A snapshot that cannot be read or transformed
is named and skipped, and the rebuild goes on with the rest (exit 3); with no usable snapshot
nothing is replaced (exit 1). Every stage gets the one `Settings` the rebuild was given:
finding snapshots (its cache folder for tar and S3 snapshots) and the import (its Neo4j).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bulkgraph.csvfolder import REJECTS_NAME
from bulkgraph.errors import BulkgraphError, ExitCode
from bulkgraph.extract.sources import discover, snapshot_cache_dir
from bulkgraph.layout import Layout, parse_layout
from bulkgraph.load.bulk import ImportSummary, bulk_import
from bulkgraph.load.settle import settle
from bulkgraph.pausepoint import pause_point
from bulkgraph.server import Neo4jHome, resolve_home
from bulkgraph.settings import Settings, get_settings
from bulkgraph.transform.run import Progress, transform

#: rejected records a summary shows (a temporary CSV folder goes, and its rejects.jsonl with it)
REJECT_SAMPLES = 20


@dataclass
class RebuildSummary:
    snapshots: list[str] = field(default_factory=list)
    #: the layout the graph was built in
    layout: str = "snapshots"
    skipped: dict[str, str] = field(default_factory=dict)  # location or id -> why
    nodes: int = 0
    relationships: int = 0
    rejects: int = 0
    #: the readers' warnings per snapshot (input ignored or missing: exit 3)
    warnings: dict[str, list[str]] = field(default_factory=dict)
    skipped_operations: dict[str, list[str]] = field(default_factory=dict)
    #: per snapshot, `account/region/operation` it does not know (recorded in the graph)
    unknown: dict[str, list[str]] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)
    csv_dir: str | None = None  # kept with --keep-csv
    #: what was cleaned up first after a killed run (orphaned staging server, interrupted
    #: swap; see load/settle.py), or None
    settled: dict[str, object] | None = None
    import_summary: ImportSummary | None = None

    #: the first rejected records (all of them are in the CSV folder's rejects.jsonl)
    reject_samples: list[dict[str, object]] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        partial = self.skipped or self.rejects or self.warnings or self.skipped_operations
        return ExitCode.PARTIAL if partial else ExitCode.OK

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("import_summary")
        data["exit_code"] = int(self.exit_code)
        if self.import_summary is not None:
            data["nodes_per_label"] = self.import_summary.nodes_per_label
            data["relationships_per_type"] = self.import_summary.relationships_per_type
            data["import_report"] = self.import_summary.report
            data["import_cpu_seconds"] = self.import_summary.import_cpu_seconds
            data["swap_mode"] = self.import_summary.swap_mode
            data["settled"] = self.settled or self.import_summary.settled
        return data


def rebuild(
    sources: list[str],
    *,
    workdir: Path | None = None,
    keep_csv: bool = False,
    home: Neo4jHome | Path | str | None = None,
    account_id: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    on_import_line: Callable[[str], None] | None = None,
    settings: Settings | None = None,
    scheduler: str | None = None,
    shared: str | None = None,
    layout: Layout | None = None,
) -> RebuildSummary:
    """Discover, transform and bulk-import `sources`; see the module docstring.

    With a `workdir`, the CSV folder lives there and is reused by the next run (snapshots
    whose input did not change are not transformed again); without one a temporary folder is
    used and removed unless `keep_csv`. With a Dask `scheduler`, the snapshots are opened and
    transformed on its workers, who put their files in `shared` (transform/cluster.py).
    The graph is built in `layout` (default: the setting `bulkgraph_layout`).
    """
    settings = settings or get_settings()
    layout = layout or parse_layout(settings.bulkgraph_layout)
    summary = RebuildSummary()
    live = home if isinstance(home, Neo4jHome) else resolve_home(home, settings)
    # first, before the transform takes the machine: a killed run's staging server goes
    settled = settle(live)
    if settled.acted:
        summary.settled = settled.to_dict()
    found = None
    if scheduler is None:
        t0 = time.monotonic()
        found = discover(sources, cache_dir=snapshot_cache_dir(settings), account_id=account_id)
        for problem in found.problems:
            summary.skipped[problem.location] = problem.message
        summary.phases["discover"] = time.monotonic() - t0
        if not found.snapshots:
            raise BulkgraphError(
                "no usable snapshot in "
                + ", ".join(sources)
                + "; the graph was not replaced"
                + "".join(f"\n  {where}: {why}" for where, why in summary.skipped.items())
            )

    own_tmp = workdir is None
    csv_dir = (
        Path(tempfile.mkdtemp(prefix="bulkgraph-csv-")) if workdir is None else workdir / "csv"
    )
    try:
        t0 = time.monotonic()
        if found is not None:
            result = transform(
                found.snapshots,
                csv_dir,
                workers=workers,
                progress=_pausing(progress),
                layout=layout,
                # for import only: the versions layout's import reads none of them
                snapshot_parts=False,
            )
        else:
            from bulkgraph.transform.cluster import transform_on_cluster

            assert scheduler is not None
            result, problems = transform_on_cluster(
                sources,
                csv_dir,
                scheduler=scheduler,
                shared=shared,
                account_id=account_id,
                progress=_pausing(progress),
                layout=layout,
            )
            for problem in problems:
                summary.skipped[problem.location] = problem.message
        summary.phases["transform"] = time.monotonic() - t0
        summary.skipped.update(result.failed)
        summary.rejects = result.rejected
        summary.reject_samples = _first_rejects(csv_dir / REJECTS_NAME, REJECT_SAMPLES)
        summary.warnings = result.warnings
        summary.skipped_operations = result.skipped_operations
        summary.unknown = result.unknown
        summary.snapshots = [*result.reused, *result.transformed]
        if not summary.snapshots:
            raise BulkgraphError(
                "no snapshot could be transformed; the graph was not replaced"
                + "".join(f"\n  {sid}: {why}" for sid, why in result.failed.items())
            )
        imported = bulk_import(csv_dir, live, on_line=on_import_line, settings=settings)
        summary.import_summary = imported
        summary.layout = result.layout.value
        summary.snapshots = imported.snapshots
        summary.nodes = imported.nodes
        summary.relationships = imported.relationships
        summary.phases.update(imported.phases)
        if keep_csv or not own_tmp:
            summary.csv_dir = str(csv_dir)
    finally:
        if own_tmp and not keep_csv:
            shutil.rmtree(csv_dir, ignore_errors=True)
    return summary


def _first_rejects(path: Path, n: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if len(rows) == n:
                break
            rows.append(json.loads(line))
    return rows


def _pausing(progress: Progress | None) -> Progress:
    """`progress`, with the test pause point "transform" once a snapshot is transformed."""

    def report(message: str, done: int, total: int) -> None:
        if message == "transforming" and done >= 1:
            pause_point("transform")
        if progress is not None:
            progress(message, done, total)

    return report
