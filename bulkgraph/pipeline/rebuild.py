"""`bulkgraph rebuild`: every snapshot found -> CSV -> a new graph, swapped in atomically.

What a nightly cron job or systemd timer runs. A snapshot that cannot be read or transformed
is named and skipped, and the rebuild goes on with the rest (exit 3); with no usable snapshot
nothing is replaced (exit 1). Every stage gets the one `Settings` the rebuild was given:
finding snapshots (its cache folder for tar and S3 snapshots) and the import (its Neo4j).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bulkgraph.errors import BulkgraphError, ExitCode
from bulkgraph.extract.sources import discover, snapshot_cache_dir
from bulkgraph.load.bulk import ImportSummary, bulk_import
from bulkgraph.server import Neo4jHome
from bulkgraph.settings import Settings, get_settings
from bulkgraph.transform.run import Progress, transform


@dataclass
class RebuildSummary:
    snapshots: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # location or id -> why
    nodes: int = 0
    relationships: int = 0
    rejects: int = 0
    phases: dict[str, float] = field(default_factory=dict)
    csv_dir: str | None = None  # kept with --keep-csv
    import_summary: ImportSummary | None = None

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.PARTIAL if self.skipped else ExitCode.OK

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
) -> RebuildSummary:
    """Discover, transform and bulk-import `sources`; see the module docstring.

    With a `workdir`, the CSV folder lives there and is reused by the next run (snapshots
    whose input did not change are not transformed again); without one a temporary folder is
    used and removed unless `keep_csv`.
    """
    settings = settings or get_settings()
    summary = RebuildSummary()
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
        result = transform(found.snapshots, csv_dir, workers=workers, progress=progress)
        summary.phases["transform"] = time.monotonic() - t0
        summary.skipped.update(result.failed)
        summary.rejects = result.rejected
        summary.snapshots = [*result.reused, *result.transformed]
        if not summary.snapshots:
            raise BulkgraphError(
                "no snapshot could be transformed; the graph was not replaced"
                + "".join(f"\n  {sid}: {why}" for sid, why in result.failed.items())
            )
        imported = bulk_import(csv_dir, home, on_line=on_import_line, settings=settings)
        summary.import_summary = imported
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
