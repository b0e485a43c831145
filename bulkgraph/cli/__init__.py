"""The `bulkgraph` command: a thin layer over the library.

Each area's module holds its commands as module-level functions (`<name>_command`, a few
lines over a library function that tests can call directly) and adds them in `register(app)`;
results reach stdout through `bulkgraph.cli.output` only. Heavy libraries (the Neo4j driver,
polars, boto3) are imported inside the commands, so that `--help` answers at once.
"""

from __future__ import annotations

import typer

from bulkgraph import __version__
from bulkgraph.cli import load, neo4j, query, report, schema, snapshots, transform
from bulkgraph.cli.common import run_main
from bulkgraph.console import setup_logging
from bulkgraph.transform import workers

EPILOG = (
    "Exit codes: 0 ok; 1 failed, nothing usable produced; 2 bad arguments; "
    "3 done, but something was skipped or recorded as an error (see the summary)."
)

app = typer.Typer(
    name="bulkgraph",
    help="A historical graph of an AWS estate in Neo4j: collect snapshots, transform them "
    "to CSV, bulk-load them, and ask questions across time.",
    epilog=EPILOG,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bulkgraph {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="Say more (debug)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only warnings and errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    setup_logging(verbose=verbose, quiet=quiet)


for _module in (neo4j, snapshots, transform, load, query, report, schema):
    _module.register(app)


def main() -> None:
    workers.prepare_polars()  # before any command imports polars
    run_main(app)
