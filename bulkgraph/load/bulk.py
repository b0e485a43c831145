"""`bulkgraph import`: rebuild the whole graph from a transform's CSV folder, atomically.

1. `neo4j-admin database import full` into a staging instance beside the live one, each file
   group's per-snapshot parts joined into one input file;
2. start the staging server, run the post-load Cypher, compare its counts with the manifest;
3. swap the verified store into the live instance (`swap.py`).

First of all, with the home's operation lock held for the whole run, whatever a killed run
left behind is cleaned up (`settle.py`: an orphaned staging server, an interrupted swap);
`settled` in the summary says what that did. The live graph serves queries until step 3 and
is untouched if any step fails. When the live
server is not running (nothing is being served), steps 2 and 3 trade places: the new store is
moved into the live instance with the previous one parked, and the post-load and the count
check run on the live server itself; a failure puts the previous store back. That saves one
server start and stop with the same outcome either way.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bulkgraph.csvfolder import MANIFEST_NAME, Manifest, read_manifest
from bulkgraph.db import home_connection, open_driver
from bulkgraph.errors import BulkgraphError
from bulkgraph.load.counts import GraphCounts, compare, graph_counts
from bulkgraph.load.importer import import_command
from bulkgraph.load.postload import apply_post_load
from bulkgraph.load.settle import operation_lock, settle_locked
from bulkgraph.load.staging import discard_staging, prepare_staging
from bulkgraph.load.swap import swap_in, swap_in_then_check
from bulkgraph.pausepoint import pause_point
from bulkgraph.server import (
    DEFAULT_DATABASE,
    Neo4jHome,
    resolve_home,
    run_admin,
    server_pid,
    start,
    stop,
)
from bulkgraph.settings import Settings, get_settings

log = logging.getLogger(__name__)

REPORT_NAME = "import.report"


@dataclass
class ImportSummary:
    csv_dir: str
    home: str
    snapshots: list[str]
    nodes: int
    relationships: int
    nodes_per_label: dict[str, int]
    relationships_per_type: dict[str, int]
    #: seconds per phase: import, post_load, verify, swap
    phases: dict[str, float] = field(default_factory=dict)
    #: wall seconds of the whole call: the phases plus setting up and removing staging
    seconds: float = 0.0
    #: "staged": checked on a staging server, then swapped in while the live one served;
    #: "in_place": the live server was not running, so checked on it after the move
    swap_mode: str = "staged"
    #: CPU seconds of neo4j-admin's import (user + system; see AdminResult.cpu_seconds)
    import_cpu_seconds: float = 0.0
    report: str | None = None  # path of import.report when it lists anything
    report_lines: int = 0
    #: what was cleaned up first after a killed run (see settle.py), or None
    settled: dict[str, object] | None = None
    #: the graph layout imported (the manifest's)
    layout: str = "snapshots"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def bulk_import(
    csv_dir: Path,
    home: Neo4jHome | Path | str | None = None,
    *,
    on_line: Callable[[str], None] | None = None,
    settings: Settings | None = None,
) -> ImportSummary:
    """Rebuild the live database of `home` from `csv_dir`; see the module docstring.

    `on_line` receives the importer's output lines (its progress). Raises BulkgraphError
    when anything fails, with the live graph left as it was.
    """
    began = time.monotonic()
    settings = settings or get_settings()
    csv_dir = Path(csv_dir).resolve()
    manifest = read_manifest(csv_dir)
    live = home if isinstance(home, Neo4jHome) else resolve_home(home, settings)
    if not live.is_installed:
        raise BulkgraphError(f"no Neo4j installed at {live.root}: run `bulkgraph neo4j install`")
    with operation_lock(live):
        settled = settle_locked(live)
        try:
            summary = _import_locked(csv_dir, manifest, live, settings, on_line)
        except BulkgraphError as exc:
            if not settled.acted:
                raise
            before = "; ".join(settled.messages())
            raise BulkgraphError(f"{exc}\n(before this import: {before})", exc.exit_code) from exc
    summary.settled = settled.to_dict() if settled.acted else None
    summary.seconds = time.monotonic() - began
    return summary


def _import_locked(
    csv_dir: Path,
    manifest: Manifest,
    live: Neo4jHome,
    settings: Settings,
    on_line: Callable[[str], None] | None,
) -> ImportSummary:
    report = csv_dir / REPORT_NAME
    report.unlink(missing_ok=True)
    phases: dict[str, float] = {}

    staging = prepare_staging(live, settings)
    try:
        t0 = time.monotonic()
        merged = merged_input(manifest, csv_dir, staging.root / "import-input")
        # apart from "import", which is then neo4j-admin's alone: issue #21 compares the
        # rebuild with the bare importer
        phases["join_parts"] = time.monotonic() - t0
        t0 = time.monotonic()
        args = import_command(
            manifest,
            csv_dir,
            DEFAULT_DATABASE,
            merged=merged,
            options=[
                "--overwrite-destination=true",
                f"--report-file={report}",
                f"--max-off-heap-memory={settings.bulkgraph_import_memory}",
                # without it a bad row is only "Error in input data": with it, the row and why
                "--verbose",
            ],
        )
        causes: list[str] = []

        def collect(line: str) -> None:
            if line.startswith("Caused by:"):
                causes.append(line)
            if on_line is not None:
                on_line(line)
            pause_point("import")  # neo4j-admin is running and talking

        result = run_admin(args, staging, check=False, on_line=collect, cwd=csv_dir)
        phases["import"] = time.monotonic() - t0
        if result.returncode != 0:
            raise BulkgraphError(
                f"neo4j-admin import of {csv_dir} failed (exit {result.returncode}); the live "
                f"graph is unchanged.\n{_importer_error(causes, result.tail)}"
            )

        if server_pid(live) is not None:
            swap_mode = "staged"
            found = _post_load_and_verify(staging, manifest, csv_dir, phases, "staging_post_load")
            t0 = time.monotonic()
            stop(staging)
            swap_in(staging, live)
            phases["swap"] = time.monotonic() - t0
        else:
            swap_mode = "in_place"
            t0 = time.monotonic()
            found = swap_in_then_check(
                staging,
                live,
                lambda: _post_load_and_verify(
                    live, manifest, csv_dir, phases, "in_place_post_load"
                ),
            )
            # the renames and the clean-up around the checks
            phases["swap"] = time.monotonic() - t0 - phases["post_load"] - phases["verify"]
    finally:
        discard_staging(live)

    report_lines = _count_lines(report)
    return ImportSummary(
        csv_dir=str(csv_dir),
        home=str(live.root),
        snapshots=[s.snapshot_id for s in manifest.snapshots],
        nodes=found.nodes,
        relationships=found.relationships,
        nodes_per_label=found.labels,
        relationships_per_type=found.types,
        phases=phases,
        swap_mode=swap_mode,
        import_cpu_seconds=result.cpu_seconds,
        report=str(report) if report_lines else None,
        report_lines=report_lines,
        layout=manifest.layout.value,
    )


def _post_load_and_verify(
    home: Neo4jHome,
    manifest: Manifest,
    csv_dir: Path,
    phases: dict[str, float],
    pause_name: str,
) -> GraphCounts:
    """Start `home`'s server on the new store, run the post-load Cypher, check the counts."""
    t0 = time.monotonic()
    start(home)
    # a test kills a rebuild here: a server up on a store without its constraints yet
    pause_point(pause_name)
    conn = home_connection(home)
    with open_driver(conn) as driver:
        apply_post_load(driver, conn.database, layout=manifest.layout)
        phases["post_load"] = time.monotonic() - t0
        t0 = time.monotonic()
        found = graph_counts(driver, conn.database)
    # the manifest counts what the import of its layout creates (csvfolder.Manifest)
    mismatches = compare(found, manifest.nodes_per_label, manifest.relationships_per_type)
    phases["verify"] = time.monotonic() - t0
    if mismatches:
        listed = "\n  ".join(str(m) for m in mismatches)
        raise BulkgraphError(
            f"the imported graph does not match {csv_dir}/{MANIFEST_NAME}; the live "
            f"graph is unchanged:\n  {listed}"
        )
    return found


def merged_input(manifest: Manifest, csv_dir: Path, into: Path) -> dict[tuple[str, str], Path]:
    """Each group's header and part files joined into one file: (kind, group) -> that file.

    The importer spends a fixed time on every input file before it imports anything
    (docs/benchmarks.md, "Measurements behind the design"). With one part per snapshot and
    group, 90 snapshots would be minutes of that, so the parts are concatenated into a scratch
    folder first (a sequential copy, seconds). The per-snapshot parts stay as they are for
    re-use and LOAD CSV.
    """
    merged: dict[tuple[str, str], Path] = {}
    for group in manifest.import_groups:
        folder = into / group.kind / group.group
        folder.mkdir(parents=True, exist_ok=True)
        # the header is the first line of the group's one file: a separate header file would
        # be one more input file to pay for
        with (folder / "data.csv").open("wb") as out:
            for part in (group.header, *group.parts):
                with (csv_dir / part).open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
        merged[(group.kind, group.group)] = folder / "data.csv"
    return merged


def _count_lines(path: Path) -> int:
    try:
        with path.open("rb") as fh:
            return sum(1 for line in fh if line.strip())
    except FileNotFoundError:
        return 0


_ERROR_LINE = re.compile(r"(error|exception|invalid|missing|duplicate)", re.IGNORECASE)
#: "Caused by: a.b.CsvImportException: a.b.InputException: <the message>" -> the message
_CAUSE_PREFIX = re.compile(r"^Caused by:\s*(?:[\w.$]+(?:Exception|Error):\s*)*")


def _importer_error(causes: list[str], tail: str) -> str:
    """The importer's own explanation: the innermost causes of its Java exception (the bad
    row and why, e.g. "... referring to missing node x"), else its error lines."""
    if causes:
        reasons = [_CAUSE_PREFIX.sub("", c).strip() for c in causes]
        return "\n".join(dict.fromkeys(reasons))
    lines = [ln for ln in tail.splitlines() if _ERROR_LINE.search(ln)]
    return "\n".join(lines[-10:] or tail.splitlines()[-10:])
