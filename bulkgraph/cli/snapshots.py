"""`bulkgraph collect`, `bulkgraph snapshots list`, `bulkgraph snapshots verify`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from bulkgraph.cli.common import add_group
from bulkgraph.cli.output import print_json, print_table
from bulkgraph.console import err, out, show_progress
from bulkgraph.errors import BulkgraphError, ExitCode

SOURCES_HELP = (
    "Snapshot folders, folders of snapshots, .tar.gz/.tar files, s3://bucket/prefix/ URIs or "
    "aws_neo4j_map archive folders, in any mix."
)


def _taken_at(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        raise BulkgraphError(
            f"--taken-at {value!r}: not an ISO 8601 time", ExitCode.USAGE
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _describe(sources: list[str], account_id: str | None, taken_at: str | None) -> Any:
    from bulkgraph.extract.sources import discover

    return discover(sources, account_id=account_id, taken_at=_taken_at(taken_at))


def snapshot_rows(sources: list[str], account_id: str | None, taken_at: str | None) -> Any:
    """(rows, problems) for `snapshots list`; each row verified end to end."""
    from bulkgraph.extract.verify import verify

    found = _describe(sources, account_id, taken_at)
    rows = []
    for snap in found.snapshots:
        info = snap.info
        bad = verify(snap)
        rows.append(
            {
                "snapshot_id": info.snapshot_id,
                "taken_at": info.taken_at.isoformat(),
                "source": info.source,
                "location": info.location,
                "accounts": [a.account_id for a in info.accounts],
                "regions": sorted({r for a in info.accounts for r in a.regions}),
                "files": len(info.files),
                "errors": len(info.errors),
                "warnings": list(info.warnings),
                "checksum": info.checksum,
                "valid": not bad,
                "problems": [{"location": p.location, "message": p.message} for p in bad],
            }
        )
    return rows, found.problems


def list_command(
    sources: list[str] = typer.Argument(..., help=SOURCES_HELP, metavar="SOURCE..."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    account_id: str | None = typer.Option(
        None, "--account-id", help="Account of legacy archives (they do not record it)."
    ),
    taken_at: str | None = typer.Option(
        None, "--taken-at", help="Time of legacy archives whose folder name lacks one (ISO 8601)."
    ),
) -> None:
    """List the snapshots in SOURCE...: id, time, format, accounts, regions, files, errors and
    whether every file checks out. Exit 3 if anything was unreadable or invalid."""
    rows, problems = snapshot_rows(sources, account_id, taken_at)
    if as_json:
        print_json(
            {
                "snapshots": rows,
                "problems": [{"location": p.location, "message": p.message} for p in problems],
            }
        )
    else:
        shown = [
            {
                "snapshot": r["snapshot_id"],
                "taken at": r["taken_at"],
                "format": r["source"],
                "accounts": ",".join(r["accounts"]),
                "regions": ",".join(r["regions"]),
                "files": r["files"],
                "errors": r["errors"],
                "valid": "yes" if r["valid"] else "NO",
            }
            for r in rows
        ]
        print_table(
            ["snapshot", "taken at", "format", "accounts", "regions", "files", "errors", "valid"],
            shown,
        )
        for r in rows:
            for p in r["problems"]:
                err.print(
                    f"invalid: {p['location']}: {p['message']}", highlight=False, markup=False
                )
        for p in problems:
            err.print(f"skipped: {p}", highlight=False, markup=False)
    if not rows and problems:
        raise typer.Exit(int(ExitCode.FAILED))
    if problems or not all(r["valid"] for r in rows):
        raise typer.Exit(int(ExitCode.PARTIAL))


def verify_command(
    sources: list[str] = typer.Argument(..., help=SOURCES_HELP, metavar="SOURCE..."),
    account_id: str | None = typer.Option(None, "--account-id", help="Account of legacy archives."),
    taken_at: str | None = typer.Option(None, "--taken-at", help="Time of legacy archives."),
) -> None:
    """Read every file of every snapshot in SOURCE... and check its checksum and JSON.
    Prints each bad file or unreadable snapshot and why. Exit 3 if there is any and some
    snapshots are sound, 1 if none is."""
    from bulkgraph.extract.verify import verify

    found = _describe(sources, account_id, taken_at)
    bad = list(found.problems)
    sound = 0
    for snap in found.snapshots:
        problems = verify(snap)
        bad.extend(problems)
        sound += not problems
        status = "ok" if not problems else f"{len(problems)} bad file(s)"
        err.print(
            f"{snap.info.snapshot_id} ({snap.info.location}): {status}",
            highlight=False,
            markup=False,
        )
    for p in bad:
        out.print(f"{p.location}: {p.message}", highlight=False, markup=False, soft_wrap=True)
    if bad:
        # one unreadable snapshot among sound ones is named, and does not hide them
        raise typer.Exit(int(ExitCode.PARTIAL if sound else ExitCode.FAILED))


def collect_command(
    out_dir: Path | None = typer.Option(
        None, "--out", help="Folder to write <snapshot_id>/ into (not with --resume)."
    ),
    profile: str | None = typer.Option(None, "--profile", help="AWS profile to start from."),
    organization_role: str | None = typer.Option(
        None,
        "--organization-role",
        help="Collect every active account of the organization (organizations:ListAccounts, "
        "from the management account or a delegated administrator) through this role NAME "
        "in each.",
    ),
    external_id: str | None = typer.Option(
        None, "--external-id", help="External id of every AssumeRole (give it again on --resume)."
    ),
    role_arn: list[str] = typer.Option(
        [],
        "--role-arn",
        help="Role to assume, one per account: ARN or ARN,external-id. Repeatable. "
        "None (and no --organization-role) = the credentials' own account.",
    ),
    accounts: list[str] = typer.Option(
        [], "--accounts", help="Only these account ids (comma-separated, repeatable)."
    ),
    exclude_accounts: list[str] = typer.Option(
        [], "--exclude-accounts", help="Not these account ids (comma-separated, repeatable)."
    ),
    regions: str = typer.Option(
        "all", "--regions", help="'all' (every region enabled for the account) or r1,r2,..."
    ),
    snapshot_id: str | None = typer.Option(
        None, "--snapshot-id", help="Default: the UTC start time, YYYYMMDDTHHMMSSZ."
    ),
    resume: Path | None = typer.Option(
        None,
        "--resume",
        help="Finish the interrupted collection in this snapshot folder: only what has no "
        "data file yet is collected, then the manifest is written. Its accounts, regions and "
        "id are the folder's own.",
    ),
    pack: bool = typer.Option(False, "--pack", help="Also write <snapshot_id>.tar.gz."),
    upload: str | None = typer.Option(
        None, "--upload", help="Put the .tar.gz under s3://bucket/prefix/ and verify it (packs)."
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=1,
        max=64,
        help="Account/region pairs collected at once (default: BULKGRAPH_COLLECT_WORKERS, 8).",
    ),
    read_timeout: float | None = typer.Option(
        None,
        "--read-timeout",
        min=1,
        help="Seconds to wait for one AWS response (default: BULKGRAPH_COLLECT_READ_TIMEOUT, 120).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Collect a snapshot of the estate with boto3 (read-only Describe calls): one account,
    the accounts of --role-arn, or a whole organization (--organization-role).

    Exit 0: complete. 3: written, but some calls failed or some accounts could not be reached
    (listed in the manifest's errors). 1: nothing usable collected. An interrupted run leaves
    a folder without manifest.json: finish it with --resume."""
    from bulkgraph.extract.collect import collect
    from bulkgraph.extract.organization import parse_accounts

    if resume is not None:
        given = [
            name
            for name, value in (
                ("--out", out_dir),
                ("--organization-role", organization_role),
                ("--accounts", accounts),
                ("--exclude-accounts", exclude_accounts),
                ("--snapshot-id", snapshot_id),
                ("--regions", None if regions == "all" else regions),
            )
            if value
        ]
        if given:
            raise BulkgraphError(
                f"--resume takes the accounts, regions and id from the folder: "
                f"do not give {', '.join(given)}",
                ExitCode.USAGE,
            )
    elif out_dir is None:
        raise BulkgraphError("collect: give --out FOLDER (or --resume FOLDER)", ExitCode.USAGE)

    result = collect(
        out_dir,
        profile=profile,
        regions=regions,
        role_arns=role_arn,
        organization_role=organization_role,
        external_id=external_id,
        accounts=parse_accounts(accounts, "--accounts"),
        exclude_accounts=parse_accounts(exclude_accounts, "--exclude-accounts"),
        snapshot_id=snapshot_id,
        resume=resume,
        pack=pack,
        upload=upload,
        max_workers=workers,
        read_timeout=read_timeout,
        progress=show_progress(),
    )
    summary = {
        "snapshot_id": result.snapshot_id,
        "folder": str(result.folder) if result.manifest else None,
        "archive": str(result.archive) if result.archive else None,
        "uploaded": result.uploaded,
        "resumed": result.resumed,
        "files": result.files,
        "accounts": result.accounts,
        "per_account": {a: s.__dict__ for a, s in result.per_account.items()},
        "errors": [e.__dict__ for e in result.errors],
        "exit_code": int(result.exit_code),
    }
    # on stderr with --json too: whoever keeps only the log of a partial run learns what failed
    for e in result.errors:
        err.print(
            f"error: {e.account_id}/{e.region} {e.operation}: {e.error_code} {e.message}",
            highlight=False,
            markup=False,
        )
    if not result.manifest:
        err.print("nothing collected", highlight=False)
    if as_json:
        print_json(summary)
    elif result.manifest:
        print_table(
            ["account", "regions", "files", "errors", "reached"],
            [
                {
                    "account": a,
                    "regions": s.regions,
                    "files": s.files,
                    "errors": s.errors,
                    "reached": "yes" if s.reached else "NO",
                }
                for a, s in result.per_account.items()
            ],
        )
        where = result.uploaded or result.archive or result.folder
        out.print(
            f"snapshot {result.snapshot_id}: {len(result.per_account)} account(s), "
            f"{result.files} files, {len(result.errors)} errors -> {where}",
            highlight=False,
        )
    if result.exit_code != ExitCode.OK:
        raise typer.Exit(int(result.exit_code))


def from_config_command(
    sources: list[str] = typer.Argument(
        ...,
        help="Folders or s3://bucket/prefix/ URIs holding AWS Config files, at any depth "
        "above AWSLogs/.",
        metavar="SOURCE...",
    ),
    out_dir: Path = typer.Option(..., "--out", help="Folder to write <snapshot_id>/ into."),
    every: str = typer.Option("1d", "--every", help="Time between snapshots: 30m, 6h, 1d, 1w."),
    since: str | None = typer.Option(
        None, "--since", help="First time (ISO 8601, UTC by default). Default: the first file's."
    ),
    until: str | None = typer.Option(
        None, "--until", help="Last time (ISO 8601). Default: the last file's."
    ),
    accounts: str | None = typer.Option(None, "--accounts", help="Only these accounts: a,b,..."),
    regions: str | None = typer.Option(None, "--regions", help="Only these regions: r1,r2,..."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Build snapshots from AWS Config snapshot and history files: one per time step, the
    state of every recorded resource as of that time (docs/aws-config.md).

    Exit 0: done. 3: done, but some Config files could not be read (named, and skipped).
    1: nothing written."""
    from bulkgraph.cli.common import progress_bar
    from bulkgraph.extract.awsconfig.build import from_config, parse_every, parse_when

    def _list(value: str | None) -> list[str]:
        return [v.strip() for v in (value or "").split(",") if v.strip()]

    with progress_bar("reading AWS Config files") as progress:
        result = from_config(
            sources,
            out_dir,
            every=parse_every(every),
            since=parse_when(since, "--since") if since else None,
            until=parse_when(until, "--until") if until else None,
            accounts=_list(accounts),
            regions=_list(regions),
            progress=progress,
        )
    for p in result.problems:
        err.print(f"skipped: {p}", highlight=False, markup=False)
    if as_json:
        print_json(
            {
                "out": str(result.out_dir),
                "config_files": result.files,
                "written": result.written,
                "skipped_existing": result.skipped,
                "problems": [
                    {"location": p.location, "message": p.message} for p in result.problems
                ],
                "exit_code": int(result.exit_code),
            }
        )
    else:
        out.print(
            f"{len(result.written)} snapshots written, {len(result.skipped)} existed already, "
            f"from {result.files} Config files -> {result.out_dir}",
            highlight=False,
        )
    if result.exit_code != ExitCode.OK:
        raise typer.Exit(int(result.exit_code))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("collect")(collect_command)
    group = add_group(app, "snapshots", help="Inspect and check snapshot archives.")
    group.command("list")(list_command)
    group.command("verify")(verify_command)
    group.command("from-config")(from_config_command)
