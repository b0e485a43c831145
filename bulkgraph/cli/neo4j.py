"""`bulkgraph neo4j install|start|stop|status|admin` and `bulkgraph cypher`."""

from __future__ import annotations

import csv
import io
import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import typer

from bulkgraph.cli.common import OutputFormat, parse_params
from bulkgraph.console import err, out, show_progress
from bulkgraph.errors import BulkgraphError

HOME_HELP = "Neo4j instance folder (default: NEO4J_HOME, else the managed one in the cache)."
JSON_HELP = "Print the status as JSON."

neo4j_app = typer.Typer(
    name="neo4j",
    help="The Neo4j 5.26 Community server bulkgraph manages (assembled from Maven Central; "
    "needs Java 17+ and Maven).",
    no_args_is_help=True,
)


def _print_status(info: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(info, indent=2) + "\n")
        return
    state = "running" if info["running"] else "stopped" if info["installed"] else "not installed"
    pid = f" (pid {info['pid']})" if info["pid"] else ""
    out.print(f"Neo4j {info['version'] or '?'}: {state}{pid}", highlight=False)
    out.print(f"  home: {info['home']}", highlight=False)
    out.print(f"  bolt: {info['bolt_uri'] or '-'}", highlight=False)
    for other in info.get("servers", []):
        if other["role"] != "live":
            out.print(
                f"  {other['role']} server: pid {other['pid']}, bolt {other['bolt_uri'] or '-'}, "
                f"store {other['store'] or '-'} ({other['home']})",
                highlight=False,
            )
    for said in (info.get("settled") or {}).get("messages", []):
        err.print(f"  note: {said}", highlight=False)


def _settle(home: Path | None) -> dict[str, Any]:
    """Clean up after a killed rebuild before the server is used (load/settle.py)."""
    from bulkgraph import server
    from bulkgraph.load.settle import settle

    return settle(server.resolve_home(home)).to_dict()


@neo4j_app.command("install")
def install_command(
    home: Path | None = typer.Option(None, "--home", help=HOME_HELP),
    version: str | None = typer.Option(
        None, "--version", help="Neo4j version (default: BULKGRAPH_NEO4J_VERSION, 5.26.x)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Install Neo4j: fetch its jars once per version, create the instance (config, random
    password kept in the home, mode 0600). Safe to run again; prints where it is."""
    from bulkgraph import server

    with err.status("installing Neo4j...", spinner="dots") if show_progress() else nullcontext():
        installed = server.install(home, version)
    _print_status(server.status(installed).to_dict(), as_json)


@neo4j_app.command("start")
def start_command(
    home: Path | None = typer.Option(None, "--home", help=HOME_HELP),
    timeout: float = typer.Option(180.0, "--timeout", help="Seconds to wait for Bolt."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Start the server in the background and wait until it answers on Bolt. First cleans
    up after a killed rebuild, as `status` does."""
    from bulkgraph import server

    with err.status("starting Neo4j...", spinner="dots") if show_progress() else nullcontext():
        settled = _settle(home)
        if settled["busy"] is not None and _swapping(home):
            raise BulkgraphError(
                f"a rebuild (pid {settled['busy']}) is swapping the store folders right now; "
                "it starts the server itself when it is done"
            )
        info = server.start(home, timeout=timeout).to_dict()
    _print_status({**info, "settled": settled}, as_json)


def _swapping(home: Path | None) -> bool:
    from bulkgraph import server
    from bulkgraph.load.swap import read_journal

    return read_journal(server.resolve_home(home)) is not None


@neo4j_app.command("stop")
def stop_command(
    home: Path | None = typer.Option(None, "--home", help=HOME_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Stop the server (SIGTERM, then SIGKILL after a timeout). Stopped already: no-op."""
    from bulkgraph import server

    _print_status(server.stop(home).to_dict(), as_json)


@neo4j_app.command("status")
def status_command(
    home: Path | None = typer.Option(None, "--home", help=HOME_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show whether the server runs, its version, home, Bolt URI and pid, and every other
    server running in the home (a rebuild's staging one). First cleans up after a killed
    rebuild: stops its orphaned staging server, finishes or undoes an interrupted swap
    (`settled` in --json)."""
    from bulkgraph import server

    settled = _settle(home)
    _print_status({**server.status(home).to_dict(), "settled": settled}, as_json)


@neo4j_app.command(
    "admin",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
def admin_command(
    args: list[str] = typer.Argument(None, metavar="ARGS...", help="Arguments of neo4j-admin."),
    home: Path | None = typer.Option(None, "--home", help=HOME_HELP),
) -> None:
    """Run the instance's `neo4j-admin ARGS...`, e.g. `bulkgraph neo4j admin -- database
    import full neo4j --nodes=...` (the server must be stopped for an import). Exits with
    neo4j-admin's code."""
    from bulkgraph import server

    def echo(line: str) -> None:
        sys.stdout.write(line)
        sys.stdout.flush()

    result = server.run_admin(
        args or ["--help"], server.resolve_home(home), check=False, on_line=echo
    )
    if result.returncode:
        # SystemExit, not typer.Exit: run_main(standalone_mode=False) drops typer.Exit's code
        sys.exit(result.returncode)


# -- bulkgraph cypher -----------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return list(columns)


def render_rows(rows: list[dict[str, Any]], fmt: OutputFormat) -> str:
    """JSON-ready rows as json / jsonl / csv text (the table goes through rich)."""
    if fmt is OutputFormat.json:
        return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    if fmt is OutputFormat.jsonl:
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = _columns(rows)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buffer.getvalue()


def cypher_command(
    query: str = typer.Argument(..., help="A Cypher statement; pass values with --param."),
    param: list[str] = typer.Option(
        [], "--param", "-p", help="Query parameter key=value ($key in the query); repeatable."
    ),
    fmt: OutputFormat | None = typer.Option(
        None,
        "--format",
        "-f",
        help="table, json, jsonl or csv; default: table on a terminal, JSON when piped.",
    ),
    auto_commit: bool = typer.Option(
        False,
        "--auto-commit",
        help="Run in an auto-commit transaction (needed for CALL {...} IN TRANSACTIONS).",
    ),
) -> None:
    """Run one Cypher statement against the configured Neo4j and print the rows."""
    from bulkgraph import db

    params = parse_params(param)
    if auto_commit or "IN TRANSACTIONS" in query.upper():
        rows = db.run_autocommit(query, params)
    else:
        rows = db.run_query(query, params)
    data = db.rows_to_jsonable(rows)
    if fmt is None:
        fmt = OutputFormat.table if sys.stdout.isatty() else OutputFormat.json
    if fmt is not OutputFormat.table:
        sys.stdout.write(render_rows(data, fmt))
        return
    from rich.table import Table
    from rich.text import Text

    if not data:
        err.print("(no rows)")
        return
    columns = _columns(data)
    table = Table()
    for column in columns:
        table.add_column(Text(column))
    for row in data:  # Text: values are data, never rich markup
        table.add_row(*(Text(_cell(row.get(c))) for c in columns))
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(neo4j_app)
    app.command("cypher")(cypher_command)
