"""`bulkgraph schema docs`: regenerate or check the files generated from the graph schema."""

from __future__ import annotations

from pathlib import Path

import typer

from bulkgraph.cli.common import add_group
from bulkgraph.console import out
from bulkgraph.errors import BulkgraphError


def docs_command(
    check: bool = typer.Option(False, "--check", help="Only check they are up to date."),
    root: Path = typer.Option(Path("."), "--root", help="The repository's root folder."),
) -> None:
    """Write docs/graph-model.md (+ .png) and cypher/00-schema.cypher from the schema."""
    from bulkgraph.transform.docs import write_docs

    changed = write_docs(root, check=check)
    if check and changed:
        raise BulkgraphError(
            "out of date: " + ", ".join(map(str, changed)) + "; run `bulkgraph schema docs`"
        )
    out.print("up to date" if not changed else "wrote " + ", ".join(map(str, changed)))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    group = add_group(app, "schema", help="The graph schema and the files generated from it.")
    group.command("docs")(docs_command)
