"""`bulkgraph transform`: snapshots to neo4j-admin import CSVs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bulkgraph.cli.common import LAYOUT_HELP, layout_option, progress_bar
from bulkgraph.cli.output import print_json
from bulkgraph.console import err, is_quiet, out
from bulkgraph.errors import BulkgraphError, ExitCode

if TYPE_CHECKING:
    from bulkgraph.extract.model import Problem


def transform_command(
    sources: list[str] = typer.Argument(
        ..., help="Snapshot folders, .tar.gz/.tar files, s3:// prefixes or legacy archives."
    ),
    out_dir: Path = typer.Option(..., "--out", help="CSV_DIR: where the CSVs go."),
    force: bool = typer.Option(False, "--force", help="Redo snapshots already transformed."),
    workers: int | None = typer.Option(
        None,
        "--workers",
        help="Worker processes (default: one per core); the versions layout's pass over 32 "
        "snapshots or more runs in as many.",
    ),
    account_id: str | None = typer.Option(None, "--account-id", help="Legacy archives."),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help="Dask scheduler (tcp://host:8786) to transform on, one task per snapshot "
        "(default: BULKGRAPH_DASK_SCHEDULER; unset = local processes).",
    ),
    shared: str | None = typer.Option(
        None,
        "--shared",
        help="With --scheduler: where workers put their files, a folder they all see or an "
        "s3:// prefix (default: BULKGRAPH_DASK_SHARED).",
    ),
    layout: str | None = typer.Option(None, "--layout", help=LAYOUT_HELP),
    snapshot_parts: bool = typer.Option(
        True,
        "--snapshot-parts/--no-snapshot-parts",
        help="Write each snapshot's node and relationship CSVs, which `load` appends from. "
        "--no-snapshot-parts, in the versions layout: a folder for `import` only, a small "
        "part of the disk and less work (what `rebuild --layout versions` writes).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Normalize snapshots into CSV_DIR: node/relationship CSVs, import-manifest.json,
    rejects.jsonl. Snapshots already transformed from the same input (by a bulkgraph
    writing the same columns) are reused. Exit 3 when a snapshot failed, a record was
    rejected (rejects.jsonl), or a snapshot holds input that was ignored (files not in its
    manifest, operations not read), named on stderr."""
    from bulkgraph.csvfolder import REJECTS_NAME

    chosen = layout_option(layout)
    cluster = dask_options(scheduler, shared, workers)
    if not snapshot_parts and cluster is not None:
        raise BulkgraphError("--no-snapshot-parts: not on a Dask cluster (its tasks write them)")
    problems: list[Problem] = []
    if cluster is None:
        from bulkgraph.extract.sources import discover

        found = discover(sources, account_id=account_id)
        problems = found.problems
        _print_skipped(problems)
        if not found.snapshots:
            raise BulkgraphError("no usable snapshots in " + ", ".join(sources))
    with progress_bar("transforming", as_json) as progress:
        if cluster is None:
            from bulkgraph.transform.run import transform

            result = transform(
                found.snapshots,
                out_dir,
                force=force,
                workers=workers,
                progress=progress,
                layout=chosen,
                snapshot_parts=snapshot_parts,
            )
        else:
            from bulkgraph.transform.cluster import transform_on_cluster

            result, problems = transform_on_cluster(
                sources,
                out_dir,
                scheduler=cluster[0],
                shared=cluster[1],
                force=force,
                account_id=account_id,
                progress=progress,
                layout=chosen,
            )
            _print_skipped(problems)
    for sid, message in result.failed.items():
        err.print(f"[red]failed[/] {sid}: {message}", markup=True, highlight=False)
    print_notes(result.warnings, result.unknown)
    if as_json:
        print_json(result.to_json())
    else:
        out.print(
            f"{len(result.transformed)} transformed, {len(result.reused)} reused, "
            f"{len(result.failed)} failed, {result.rejected} records rejected "
            f"-> {result.manifest_path} (layout {result.layout.value})"
        )
        for op, c in sorted(result.families.items()):
            out.print(f"  {op}: read {c['read']}, written {c['written']}, rejected {c['rejected']}")
    if not result.transformed and not result.reused:
        raise typer.Exit(int(ExitCode.FAILED))
    if result.rejected and not as_json:
        err.print(f"rejected records, with file, position and reason: {out_dir / REJECTS_NAME}")
    partial = problems or result.failed or result.rejected
    if partial or result.warnings or result.skipped_operations:
        raise typer.Exit(int(ExitCode.PARTIAL))


def _print_skipped(problems: list[Problem]) -> None:
    for p in problems:
        err.print(f"[yellow]skipped[/] {p.location}: {p.message}", markup=True, highlight=False)


def dask_options(
    scheduler: str | None, shared: str | None, workers: int | None
) -> tuple[str, str | None] | None:
    """(scheduler, shared location) when the transform runs on Dask, from the options or
    the settings; None for the local process pool."""
    from bulkgraph.settings import get_settings

    settings = get_settings()
    scheduler = scheduler or settings.bulkgraph_dask_scheduler
    if scheduler is None:
        if shared is not None:
            raise BulkgraphError(
                "--shared is for a Dask scheduler: give --scheduler too", ExitCode.USAGE
            )
        return None
    if workers is not None:
        raise BulkgraphError(
            "--workers sets local processes; with a Dask scheduler the cluster's workers transform",
            ExitCode.USAGE,
        )
    return scheduler, shared or settings.bulkgraph_dask_shared


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("transform")(transform_command)


def print_notes(warnings: dict[str, list[str]], unknown: dict[str, list[str]]) -> None:
    """On stderr: the readers' warnings (input ignored or missing: exit 3), then what the
    snapshots do not know (collection errors: recorded in the graph, not a failure here)."""
    for sid, messages in warnings.items():
        for message in messages:
            err.print(f"[yellow]warning[/] {sid}: {message}", markup=True, highlight=False)
    if is_quiet():
        return
    for n, (sid, calls) in enumerate(unknown.items()):
        if n == _SHOWN:
            err.print(f"... and {len(unknown) - n} more snapshots (see --json)", highlight=False)
            break
        more = f" and {len(calls) - _SHOWN} more" if len(calls) > _SHOWN else ""
        err.print(f"{sid}: not known: {', '.join(calls[:_SHOWN])}{more}", highlight=False)


_SHOWN = 5
