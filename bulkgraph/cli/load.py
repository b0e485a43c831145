"""`bulkgraph import`, `bulkgraph load`, `bulkgraph rebuild`: CSVs into Neo4j."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

import typer

from bulkgraph.cli.common import LAYOUT_HELP, layout_option, progress_bar
from bulkgraph.cli.output import print_json
from bulkgraph.console import err, is_quiet, out
from bulkgraph.errors import ExitCode

#: The importer's lines worth showing by default: its phases, their end, and trouble.
#: Everything else (estimates, progress dots, type notes) shows with -v.
_IMPORTER_HEADLINE = re.compile(
    r"^\(\d+/\d+\)|COMPLETED|IMPORT DONE|IMPORT FAILED|ERROR|Error|Exception|Caused by"
)


def _importer_line(silent: bool) -> Callable[[str], None] | None:
    """Echo the importer's headlines to stderr (all of its output with -v), unless quiet
    or printing JSON."""
    if silent or is_quiet():
        return None
    everything = logging.getLogger("bulkgraph").isEnabledFor(logging.DEBUG)

    def echo(line: str) -> None:
        if everything or _IMPORTER_HEADLINE.search(line):
            err.print(f"  [dim]neo4j-admin[/] {line.rstrip()}", markup=True, highlight=False)

    return echo


def _phases(phases: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.1f}s" for name, seconds in phases.items())


def import_command(
    csv_dir: Path = typer.Argument(..., help="A `bulkgraph transform` output folder."),
    neo4j_home: Path | None = typer.Option(
        None, "--neo4j-home", help="Neo4j home to rebuild (default: NEO4J_HOME or managed)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Rebuild the database from CSV_DIR with neo4j-admin, atomically.

    Imports into a staging store, runs the post-load Cypher there, checks the counts
    against import-manifest.json, and only then swaps it in: if anything fails the
    previous graph keeps serving. When the server is stopped, the checks run on it
    after the swap instead (one server start saved); a failure puts the previous store
    back and leaves the server stopped.
    """
    from bulkgraph.load.bulk import bulk_import

    summary = bulk_import(csv_dir, neo4j_home, on_line=_importer_line(as_json))
    if as_json:
        print_json(summary.to_dict())
        return
    out.print(
        f"imported {len(summary.snapshots)} snapshots: {summary.nodes} nodes, "
        f"{summary.relationships} relationships into {summary.home} "
        f"({_phases(summary.phases)})"
    )
    if summary.report:
        err.print(f"the importer reported {summary.report_lines} lines in {summary.report}")


def load_command(
    csv_dir: Path = typer.Argument(..., help="A `bulkgraph transform` output folder."),
    uri: str | None = typer.Option(None, "--uri", help="Bolt URI (default: NEO4J_URI or managed)."),
    import_dir: Path | None = typer.Option(
        None,
        "--import-dir",
        help="The server's import directory as seen from here (needed for a remote server).",
    ),
    batch: int | None = typer.Option(None, "--batch", help="Rows per transaction."),
    layout: str | None = typer.Option(
        None,
        "--layout",
        help="Graph layout of a new graph: snapshots or versions (default: BULKGRAPH_LAYOUT). "
        "A database that holds snapshots keeps its own; asking for another one is an error.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Append CSV_DIR's snapshots to a live graph with LOAD CSV.

    Snapshots already in the database are skipped, so loading the same folder twice
    changes nothing. In the snapshots layout each new snapshot is linked into the NEXT /
    NEXT_VERSION chains, also when it is older than what is loaded (a back-fill). In the
    versions layout a snapshot closes and opens intervals (docs/versions-layout.md), and one
    older than the newest snapshot held is refused (exit 1: rebuild instead).
    """
    from bulkgraph.db import resolve_connection
    from bulkgraph.errors import BulkgraphError, ExitCode, InputError
    from bulkgraph.layout import parse_layout
    from bulkgraph.load.append import append
    from bulkgraph.settings import get_settings

    try:
        asked = parse_layout(layout) if layout is not None else None
    except InputError as exc:
        raise BulkgraphError(f"--layout: {exc}", ExitCode.USAGE) from None
    settings = get_settings()
    if uri is not None:
        settings = settings.model_copy(update={"neo4j_uri": uri})
    conn = resolve_connection(settings)

    def say(snapshot_id: str, what: str) -> None:
        if not as_json:
            err.print(f"{snapshot_id}: {what}", highlight=False)

    summary = append(
        csv_dir,
        connection=conn,
        import_dir=import_dir,
        batch=batch,
        on_snapshot=say,
        layout=asked,
    )
    if as_json:
        print_json(summary.to_dict())
    else:
        out.print(
            f"loaded {len(summary.loaded)} snapshots ({summary.rows} rows), "
            f"{len(summary.skipped)} already present ({summary.layout} layout)"
        )


def rebuild_command(
    sources: list[str] = typer.Argument(
        ..., help="Snapshot folders, .tar.gz/.tar files, s3:// prefixes or legacy archives."
    ),
    workdir: Path | None = typer.Option(
        None, "--workdir", help="Keep the CSVs here and reuse them next time."
    ),
    keep_csv: bool = typer.Option(False, "--keep-csv", help="Keep the temporary CSVs."),
    neo4j_home: Path | None = typer.Option(None, "--neo4j-home", help="Neo4j home to rebuild."),
    account_id: str | None = typer.Option(
        None, "--account-id", help="Account of legacy aws_neo4j_map archives."
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        help="Transform processes (default: one per core), and the versions pass's over 32 "
        "snapshots or more.",
    ),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help="Dask scheduler (tcp://host:8786) to transform on "
        "(default: BULKGRAPH_DASK_SCHEDULER; unset = local processes).",
    ),
    shared: str | None = typer.Option(
        None,
        "--shared",
        help="With --scheduler: where workers put their files (default: BULKGRAPH_DASK_SHARED).",
    ),
    layout: str | None = typer.Option(None, "--layout", help=LAYOUT_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Transform every snapshot found and rebuild the graph from them (the nightly job).

    Exit 0: rebuilt. Exit 3: rebuilt, but some snapshots were skipped, records rejected, or a
    snapshot holds input that was ignored (files not in its manifest, operations this version
    does not read, missing legacy files), each named on stderr. Exit 1: nothing replaced (no
    usable snapshot, or the import failed; the previous graph serves on).
    """
    from bulkgraph.cli.transform import dask_options, print_notes
    from bulkgraph.pipeline.rebuild import rebuild

    chosen = layout_option(layout)
    cluster = dask_options(scheduler, shared, workers)
    with progress_bar("transforming", as_json) as progress:
        summary = rebuild(
            sources,
            workdir=workdir,
            keep_csv=keep_csv,
            home=neo4j_home,
            account_id=account_id,
            workers=workers,
            progress=progress,
            on_import_line=_importer_line(as_json),
            scheduler=cluster[0] if cluster else None,
            shared=cluster[1] if cluster else None,
            layout=chosen,
        )
    for where, why in summary.skipped.items():
        err.print(f"[yellow]skipped[/] {where}: {why}", markup=True, highlight=False)
    for r in summary.reject_samples:
        err.print(
            f"rejected {r['file']} record {r['record']}: {r['reason']}",
            markup=False,
            highlight=False,
        )
    if summary.rejects > len(summary.reject_samples):
        more = summary.rejects - len(summary.reject_samples)
        err.print(f"... and {more} more rejected records (rejects.jsonl, --keep-csv)")
    print_notes(summary.warnings, summary.unknown)
    if as_json:
        print_json(summary.to_dict())
    else:
        out.print(
            f"rebuilt from {len(summary.snapshots)} snapshots "
            f"({len(summary.skipped)} skipped): {summary.nodes} nodes, "
            f"{summary.relationships} relationships, {summary.rejects} rejected records "
            f"({_phases(summary.phases)})"
        )
        if summary.csv_dir:
            out.print(f"CSV files: {summary.csv_dir}")
    if summary.exit_code != ExitCode.OK:
        raise typer.Exit(int(summary.exit_code))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("import")(import_command)
    app.command("load")(load_command)
    app.command("rebuild")(rebuild_command)
