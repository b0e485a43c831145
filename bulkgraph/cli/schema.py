"""`bulkgraph schema docs`: regenerate or check the files generated from the graph schema.
`bulkgraph schema iam-policy`: the read-only IAM policy `collect` needs, from the registry."""

from __future__ import annotations

from pathlib import Path

import typer

from bulkgraph.cli.common import add_group
from bulkgraph.cli.output import print_json
from bulkgraph.console import out
from bulkgraph.errors import BulkgraphError, ExitCode


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


def iam_policy_command(
    role_arn: list[str] = typer.Option(
        [],
        "--role-arn",
        help="A role `collect --role-arn` assumes: adds sts:AssumeRole of it (for the caller). "
        "Repeatable.",
    ),
) -> None:
    """Print the IAM policy document (JSON) `bulkgraph collect` needs: every read-only action
    it calls. Attach it to the identity that reads each account."""
    from bulkgraph.extract.collect import parse_role
    from bulkgraph.extract.permissions import collect_policy

    try:
        arns = [parse_role(r).arn for r in role_arn]
    except BulkgraphError as exc:
        raise BulkgraphError(str(exc), ExitCode.USAGE) from None
    print_json(collect_policy(arns))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    group = add_group(app, "schema", help="The graph schema and the files generated from it.")
    group.command("docs")(docs_command)
    group.command("iam-policy")(iam_policy_command)
