"""`bulkgraph neo4j install|start|stop|status|admin` and `bulkgraph cypher`."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import typer

from bulkgraph.cli.common import add_group, parse_params
from bulkgraph.cli.output import FORMAT_HELP, OutputFormat, emit, print_json
from bulkgraph.console import err, out, show_progress
from bulkgraph.errors import BulkgraphError

HOME_HELP = "Neo4j instance folder (default: NEO4J_HOME, else the managed one in the cache)."
JSON_HELP = "Print the status as JSON."


def _print_status(info: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(info)
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


def stop_command(
    home: Path | None = typer.Option(None, "--home", help=HOME_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Stop the server (SIGTERM, then SIGKILL after a timeout). Stopped already: no-op."""
    from bulkgraph import server

    _print_status(server.stop(home).to_dict(), as_json)


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


def cypher_command(
    query: str = typer.Argument(..., help="A Cypher statement; pass values with --param."),
    param: list[str] = typer.Option(
        [], "--param", "-p", help="Query parameter key=value ($key in the query); repeatable."
    ),
    fmt: OutputFormat | None = typer.Option(None, "--format", "-f", help=FORMAT_HELP),
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
    emit(fmt, db.rows_to_jsonable(rows))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    group = add_group(
        app,
        "neo4j",
        help="The Neo4j 5.26 Community server bulkgraph manages (assembled from Maven Central; "
        "needs Java 17+ and Maven).",
    )
    group.command("install")(install_command)
    group.command("start")(start_command)
    group.command("stop")(stop_command)
    group.command("status")(status_command)
    group.command(
        "admin", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
    )(admin_command)
    app.command("cypher")(cypher_command)
