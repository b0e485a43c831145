"""`bulkgraph report`: the history in the graph as a static HTML page."""

from __future__ import annotations

from pathlib import Path

import typer

from bulkgraph.cli.output import print_json
from bulkgraph.cli.query import _driver
from bulkgraph.console import err


def report_command(
    out_dir: Path = typer.Option(
        ..., "--out", "-o", help="Folder to write the report into (index.html; created)."
    ),
    since: str | None = typer.Option(
        None, "--since", help="First snapshot time to cover (ISO 8601; default: the oldest)."
    ),
    until: str | None = typer.Option(
        None, "--until", help="Last snapshot time to cover (a date: that whole day)."
    ),
    resource: str | None = typer.Option(
        None,
        "--resource",
        "-r",
        help="Add this resource's timeline: an id (i-..., sg-...), ARN, name or resource_key.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Write a self-contained HTML report of the graph's history: resources per type and
    what changed each night, exposure over time, the latest snapshot's findings with their
    queries, and with --resource one resource's timeline. It opens in any browser with no
    network (no server, scripts or fonts fetched)."""
    from bulkgraph.report import build_report
    from bulkgraph.report.build import time_span

    start, end = time_span(since, until)
    with _driver() as (drv, database):
        summary = build_report(
            drv, out_dir, since=start, until=end, resource=resource, database=database
        )
    if as_json:
        print_json(summary.to_json())
        return
    err.print(
        f"wrote {summary.out} ({summary.bytes / 1e6:.1f} MB): {len(summary.snapshots)} "
        f"snapshot(s), {summary.snapshots[0]} to {summary.snapshots[-1]}; charts: "
        f"{', '.join(summary.charts)}; {sum(summary.findings.values())} finding(s) in the "
        f"latest; {summary.exposure_events} exposure change(s)",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("report")(report_command)
