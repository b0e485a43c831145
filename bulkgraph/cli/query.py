"""`bulkgraph queries`, `query`, `diff` and `alerts`: asking the loaded graph."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bulkgraph.cli.common import parse_params
from bulkgraph.cli.output import FORMAT_HELP, OutputFormat, emit, print_json, print_table
from bulkgraph.console import err

if TYPE_CHECKING:  # the driver takes ~0.2 s to import: not for --help
    import neo4j


@contextmanager
def _driver() -> Iterator[tuple[neo4j.Driver, str]]:
    """A driver for the configured Neo4j (managed, or NEO4J_URI) and the database to read."""
    from bulkgraph import db

    # pack queries name optional properties on purpose; Neo4j's "property key does not
    # exist" notices about them are noise for the user
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)
    with db.driver() as drv:
        yield drv, db.database()


def queries_command(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable list."),
) -> None:
    """List the query pack: names, what they answer, their parameters."""
    from bulkgraph.query import load_pack

    pack = load_pack()
    if as_json:
        print_json([q.to_json() for q in pack.values()])
        return
    rows = [
        {
            "name": q.name,
            "scope": q.scope.value,
            "params": ", ".join(
                p.name if p.required else f"{p.name}={p.default}" for p in q.params
            ),
            "alert": f"{q.rule_id} {q.severity}" if q.is_alert else "",
            "description": q.description,
        }
        for q in pack.values()
    ]
    print_table(["name", "scope", "params", "alert", "description"], rows)


def query_command(
    name: str = typer.Argument(..., help="Query name (see `bulkgraph queries`)."),
    param: list[str] = typer.Option(
        [], "--param", "-p", help="Query parameter as key=value; repeat for several."
    ),
    snapshot: str | None = typer.Option(
        None, "--snapshot", "-s", help="Snapshot id to ask (default: the latest)."
    ),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Ask the latest snapshot taken at or before this ISO 8601 time."
    ),
    all_snapshots: bool = typer.Option(
        False, "--all", help="Ask every snapshot, oldest first (adds a snapshot_id column)."
    ),
    fmt: OutputFormat | None = typer.Option(None, "--format", "-f", help=FORMAT_HELP),
) -> None:
    """Run one query of the pack in a snapshot (the latest unless told otherwise).

    Example: bulkgraph query instance-ingress --param instance=10.0.1.5 --as-of 2026-11-01
    """
    from bulkgraph.query import get_query, run_query

    q = get_query(name)
    params = parse_params(param)
    with _driver() as (drv, database):
        result = run_query(
            drv,
            q,
            params,
            snapshot=snapshot,
            as_of=as_of,
            all_snapshots=all_snapshots,
            database=database,
        )
    where = ", ".join(s.snapshot_id for s in result.snapshots)
    err.print(f"{q.name}: {len(result.rows)} row(s) in {where or 'the database'}", highlight=False)
    emit(fmt, result.rows, result.columns, doc=result.to_json(), title=q.name)


def diff_command(
    old: str | None = typer.Argument(
        None, help="Older snapshot id (default: the snapshot before NEW)."
    ),
    new: str | None = typer.Argument(None, help="Newer snapshot id (default: the latest)."),
    fmt: OutputFormat | None = typer.Option(None, "--format", "-f", help=FORMAT_HELP),
) -> None:
    """What changed between two snapshots: added and removed resources, ports newly open to
    the internet, tag changes and state changes. Default: the two latest snapshots."""
    from bulkgraph.query import diff_snapshots

    with _driver() as (drv, database):
        result = diff_snapshots(drv, old, new, database=database)
    counts = ", ".join(f"{v} {k}" for k, v in result.summary().items()) or "no changes"
    err.print(f"{result.old.snapshot_id} -> {result.new.snapshot_id}: {counts}", highlight=False)
    _unknown_note(result.unknown, "no change is reported for what it would hold")
    title = f"{result.old.snapshot_id} -> {result.new.snapshot_id}"
    emit(fmt, result.changes, result.columns, doc=result.to_json(), title=title)


def alerts_command(
    out_file: Path = typer.Option(
        ..., "--out", "-o", help="JSON-lines file to append findings to (created if missing)."
    ),
    snapshot: str | None = typer.Option(
        None, "--snapshot", "-s", help="Snapshot id to check (default: the latest)."
    ),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Check the latest snapshot taken at or before this time."
    ),
    all_snapshots: bool = typer.Option(False, "--all", help="Check every snapshot."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Run every alert query and append one JSON line per finding to FILE, for a SIEM file
    reader (Wazuh localfile with log_format json, Filebeat, ...). Running it again for the
    same snapshot appends nothing: findings already in the file are recognised by id."""
    from bulkgraph.query import write_alerts

    with _driver() as (drv, database):
        summary = write_alerts(
            drv,
            out_file,
            snapshot=snapshot,
            as_of=as_of,
            all_snapshots=all_snapshots,
            database=database,
        )
    if as_json:
        print_json(summary.to_json())
    else:
        err.print(
            f"{summary.findings} finding(s) in {', '.join(summary.snapshots)}: "
            f"{summary.written} written to {out_file}, {summary.already_present} already there",
            highlight=False,
        )
        _unknown_note(summary.unknown, "a finding there is neither found nor resolved")


def _unknown_note(unknown: dict[str, list[str]], meaning: str) -> None:
    """Name the calls a snapshot did not collect, so that silence there is not read as
    absence."""
    for sid, calls in unknown.items():
        shown = ", ".join(calls[:5]) + (f" and {len(calls) - 5} more" if len(calls) > 5 else "")
        err.print(f"{sid} does not know {shown}: {meaning}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("queries")(queries_command)
    app.command("query")(query_command)
    app.command("diff")(diff_command)
    app.command("alerts")(alerts_command)
