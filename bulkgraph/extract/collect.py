"""Collecting a snapshot from AWS with boto3: the registry's read-only operations
(`extract/operations.py`) per account and region, and its global ones once per account.

A failing call never stops the run: it is recorded in the manifest's `errors` (that
account/region/operation is then *unknown*), and the exit code says the snapshot is partial.
Accounts x regions run in one bounded thread pool; botocore's adaptive retry mode absorbs
throttling, paginated calls ask for the largest page the API allows (the registry's
`page_size`), and a response may take `read_timeout` seconds. Data files are written as each
operation is done and the manifest last (`extract/resume.py`), so an interrupted collection
is never taken for a snapshot and can be finished with `collect --resume`.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bulkgraph.console import log
from bulkgraph.errors import BulkgraphError, ExitCode
from bulkgraph.extract import archive, organization, s3
from bulkgraph.extract import resume as resume_state
from bulkgraph.extract.model import SNAPSHOT_ID_RULE, CollectionError, is_valid_snapshot_id
from bulkgraph.extract.operations import GLOBAL_REGION, OPERATIONS, Operation, PerItem, Scope
from bulkgraph.extract.progress import CollectProgress
from bulkgraph.extract.writer import SnapshotWriter

#: keys boto3 pages carry that are about the transport, not the estate
_DROP_KEYS = frozenset({"ResponseMetadata", "NextToken", "Marker", "NextMarker"})

SessionFactory = Callable[..., Any]  # boto3.Session(**kwargs) or a stand-in
#: called as each operation of a job is done: (operation, its calls or None, its errors)
OnDone = Callable[[Operation, "list[dict[str, Any]] | None", "list[CollectionError]"], None]
#: seconds to wait for one response: botocore's 60 s is too short for the largest pages
DEFAULT_READ_TIMEOUT = 120.0


def _method(operation: Operation) -> str:
    from botocore import xform_name  # DescribeDBInstances -> describe_db_instances

    return str(xform_name(operation.action))


@dataclass(frozen=True)
class RoleSpec:
    arn: str
    external_id: str | None = None

    @property
    def account_id(self) -> str:
        parts = self.arn.split(":")
        return parts[4] if len(parts) > 4 and parts[4] else "unknown"


def parse_role(value: str) -> RoleSpec:
    """`ARN[,external-id]`."""
    arn, _, external = value.partition(",")
    arn = arn.strip()
    if not arn.startswith("arn:") or ":role/" not in arn:
        raise BulkgraphError(f"--role-arn {value!r}: expected arn:aws:iam::<account>:role/<name>")
    return RoleSpec(arn, external.strip() or None)


@dataclass
class AccountSummary:
    regions: int = 0
    files: int = 0
    errors: int = 0
    #: False: the account could not be reached (its role not assumed, its regions unknown)
    reached: bool = True


@dataclass
class CollectResult:
    snapshot_id: str
    folder: Path
    manifest: Path | None = None
    files: int = 0
    errors: list[CollectionError] = field(default_factory=list)
    accounts: dict[str, list[str]] = field(default_factory=dict)
    archive: Path | None = None
    uploaded: str | None = None
    #: account id -> what was collected there, for the summary
    per_account: dict[str, AccountSummary] = field(default_factory=dict)
    #: finished an interrupted collection (`resume`)
    resumed: bool = False

    @property
    def exit_code(self) -> ExitCode:
        if self.manifest is None:
            return ExitCode.FAILED
        return ExitCode.PARTIAL if self.errors else ExitCode.OK


def clean_page(value: Any, top: bool = True) -> Any:
    """A boto3 page as stored: no transport keys, timestamps as ISO 8601 strings."""
    if isinstance(value, dict):
        return {k: clean_page(v, False) for k, v in value.items() if not (top and k in _DROP_KEYS)}
    if isinstance(value, list):
        return [clean_page(v, False) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _error(account: str, region: str, operation: str, exc: BaseException) -> CollectionError:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        info = exc.response.get("Error", {})
        return CollectionError(
            account, region, operation, str(info.get("Code", "ClientError")), str(exc)
        )
    return CollectionError(account, region, operation, type(exc).__name__, str(exc))


class _Job:
    """Every operation of one scope in one account and region (`global`: once per account)."""

    def __init__(
        self,
        account: str,
        region: str,
        session: Any,
        lock: threading.Lock,
        operations: Sequence[Operation],
        *,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        on_done: OnDone | None = None,
    ) -> None:
        from botocore.config import Config

        self.account = account
        self.region = region
        self.operations = list(operations)
        self.errors: list[CollectionError] = []
        #: operation name -> its calls; a resumed job starts with those its items come from
        self.results: dict[str, list[dict[str, Any]]] = {}
        self.on_done = on_done
        config = Config(retries={"mode": "adaptive", "max_attempts": 10}, read_timeout=read_timeout)
        # a global service's client still needs a region to sign its requests with
        client_region = (session.region_name or "us-east-1") if region == GLOBAL_REGION else region
        self._clients: dict[str, Any] = {}
        with lock:  # creating clients from one session is not thread-safe
            for service in dict.fromkeys(op.service for op in self.operations):
                self._clients[service] = session.client(
                    service, region_name=client_region, config=config
                )

    def _call(self, operation: Operation, request: dict[str, Any]) -> list[dict[str, Any]]:
        client = self._clients[operation.service]
        request = {**operation.request, **request}
        if operation.paginator is not None:
            # the page size is how it is asked, not what it asks: not part of `request`
            paging = {"PageSize": operation.page_size} if operation.page_size else {}
            pages = client.get_paginator(operation.paginator).paginate(
                **request, PaginationConfig=paging
            )
            return [clean_page(p) for p in pages]
        return [clean_page(getattr(client, _method(operation))(**request))]

    def run(self) -> None:
        for operation in self.operations:
            before = len(self.errors)
            self._run_one(operation)
            if self.on_done is not None:  # its data file is written as soon as it is done
                self.on_done(operation, self.results.get(operation.name), self.errors[before:])

    def _run_one(self, operation: Operation) -> None:
        if isinstance(operation.calls, PerItem):
            self._per_item(operation, operation.calls)
            return
        try:
            self.results[operation.name] = [
                {"request": dict(operation.request), "pages": self._call(operation, {})}
            ]
        except Exception as exc:  # never abort the run: record and go on
            self.errors.append(_error(self.account, self.region, operation.name, exc))

    def _per_item(self, operation: Operation, calls: PerItem) -> None:
        items: list[str] = []
        for source in calls.sources:
            results = self.results.get(source.operation)
            if results is None:
                self.errors.append(
                    CollectionError(
                        self.account,
                        self.region,
                        operation.name,
                        "NotCalled",
                        f"{source.operation.split(':')[1]} failed",
                    )
                )
                return
            items.extend(
                item[source.item_field]
                for call in results
                for page in call["pages"]
                for item in page.get(source.list_key, [])
            )
        done: list[dict[str, Any]] = []
        requests = calls.requests(items)
        for request in requests:
            try:
                pages = self._call(operation, request)
            except Exception as exc:
                self.errors.append(_error(self.account, self.region, operation.name, exc))
                continue
            done.append({"request": {**operation.request, **request}, "pages": pages})
        # no file when every call failed: an empty one would read as "no items"
        if done or not requests:
            self.results[operation.name] = done


def _resolve_regions(
    session: Any, regions: Sequence[str] | str, lock: threading.Lock | None = None
) -> list[str]:
    if isinstance(regions, str):
        if regions != "all":
            return [r.strip() for r in regions.split(",") if r.strip()]
        with lock or threading.Lock():  # creating clients from one session is not thread-safe
            client = session.client("ec2", region_name=session.region_name or "us-east-1")
        # without AllRegions, DescribeRegions lists the regions enabled for the account
        return sorted(r["RegionName"] for r in client.describe_regions()["Regions"])
    return list(regions)


@dataclass
class _Account:
    """One account while it is collected: how to reach it and what it gave."""

    account_id: str
    role_arn: str | None
    session: Any = None
    regions: list[str] | None = None


def _plan_accounts(
    factory: SessionFactory,
    base: Any,
    role_arns: Sequence[RoleSpec],
    organization_role: str | None,
    include: Sequence[str],
    exclude: Sequence[str],
) -> dict[str, str | None]:
    """Account id -> the role that reaches it (None: the credentials' own account)."""
    if organization_role is not None and role_arns:
        raise BulkgraphError(
            "--organization-role and --role-arn: give one or the other", ExitCode.USAGE
        )
    if organization_role is not None:
        name = organization.check_role_name(organization_role)
        try:
            caller = base.client("sts").get_caller_identity()
            found = organization.organization_accounts(base)
        except Exception as exc:
            raise BulkgraphError(
                f"cannot list the organization's accounts (organizations:ListAccounts, from "
                f"the management account or a delegated administrator): {exc}"
            ) from None
        partition = organization.partition_of(str(caller.get("Arn", "")))
        chosen = organization.select(found, include, exclude)
        return {a: organization.role_arn(a, name, partition) for a in chosen}
    if role_arns:
        by_account = {r.account_id: r.arn for r in role_arns}
        chosen = organization.select(list(by_account), include, exclude)
        return {a: by_account[a] for a in chosen}
    try:
        account = base.client("sts").get_caller_identity()["Account"]
    except Exception as exc:
        raise BulkgraphError(f"no usable AWS credentials: {exc}") from None
    chosen = organization.select([account], include, exclude)
    return {a: None for a in chosen}


def collect(
    out_dir: Path | None,
    *,
    session_factory: SessionFactory | None = None,
    profile: str | None = None,
    regions: Sequence[str] | str = "all",
    role_arns: Sequence[RoleSpec | str] = (),
    organization_role: str | None = None,
    external_id: str | None = None,
    accounts: Sequence[str] = (),
    exclude_accounts: Sequence[str] = (),
    snapshot_id: str | None = None,
    resume: Path | None = None,
    pack: bool = False,
    upload: str | None = None,
    s3_endpoint_url: str | None = None,
    max_workers: int | None = None,
    read_timeout: float | None = None,
    progress: bool = False,
    now: Callable[[], datetime] | None = None,
    operations: Sequence[Operation] = OPERATIONS,
) -> CollectResult:
    """Collect one snapshot into `out_dir/<snapshot_id>/`; optionally pack and upload it.

    Accounts: the organization's (`organization_role`: the role's name in every member
    account), one per role of `role_arns`, else the credentials' own; narrowed by
    `accounts` / `exclude_accounts`. `external_id` goes with every AssumeRole (a role of
    `role_arns` may carry its own).
    `regions`: "all" (the regions enabled for each account), "r1,r2", or a list.
    `resume`: the folder of an interrupted collection: its plan says what to collect, and
    only what has no data file yet is collected (account, region and snapshot options are
    then not given).
    `max_workers`: account/region pairs at once; `read_timeout`: seconds per response
    (both default to the settings).
    `session_factory(**boto3.Session kwargs)` makes sessions (tests add event hooks there).
    `operations`: the registry's, in its order; tests may give a subset.
    """
    import boto3

    from bulkgraph.settings import get_settings

    settings = get_settings()
    workers = max(1, max_workers or settings.bulkgraph_collect_workers)
    timeout = read_timeout or settings.bulkgraph_collect_read_timeout
    clock = now or (lambda: datetime.now(UTC))
    factory: SessionFactory = session_factory or boto3.Session
    base = factory(profile_name=profile) if profile else factory()
    roles = [parse_role(r) if isinstance(r, str) else r for r in role_arns]

    if resume is not None:
        plan = resume_state.load_plan(resume)
        ops = plan.registry_operations(str(resume))
        folder_parent = resume.parent
        external_ids = {r.arn: r.external_id for r in roles}
    else:
        taken_at = clock().replace(microsecond=0)
        sid = snapshot_id or taken_at.strftime("%Y%m%dT%H%M%SZ")
        if not is_valid_snapshot_id(sid):
            raise BulkgraphError(f"invalid snapshot id {sid!r}: {SNAPSHOT_ID_RULE}", ExitCode.USAGE)
        if out_dir is None:
            raise BulkgraphError("collect: an output folder is required", ExitCode.USAGE)
        if (out_dir / sid).exists() and resume_state.is_in_progress(out_dir / sid):
            raise BulkgraphError(
                f"{out_dir / sid}: an interrupted collection of this id is there; finish it "
                f"with --resume {out_dir / sid}, or remove it",
                ExitCode.USAGE,
            )
        reach = _plan_accounts(factory, base, roles, organization_role, accounts, exclude_accounts)
        if not reach:
            raise BulkgraphError("no account to collect (all excluded?)", ExitCode.USAGE)
        plan = resume_state.Plan(
            snapshot_id=sid,
            taken_at=taken_at,
            regions=regions if isinstance(regions, str) else list(regions),
            operations=[op.name for op in operations],
            accounts={a: resume_state.AccountPlan(role_arn=arn) for a, arn in reach.items()},
        )
        ops = list(operations)
        folder_parent = out_dir
        external_ids = {r.arn: r.external_id for r in roles}

    writer = SnapshotWriter(folder_parent, plan.snapshot_id, plan.taken_at)
    folder = writer.folder
    if resume is None:
        resume_state.save_plan(folder, plan)
    else:
        resume_state.remove_leftovers(folder)
    result = CollectResult(snapshot_id=plan.snapshot_id, folder=folder, resumed=resume is not None)
    errors: list[CollectionError] = []
    plan_lock = threading.Lock()
    client_lock = threading.Lock()

    # 1. reach every account (AssumeRole) and list its regions, in the pool
    def open_account(account: str, entry: resume_state.AccountPlan) -> _Account:
        acc = _Account(account, entry.role_arn, regions=entry.regions)
        if entry.role_arn is None:
            acc.session = base
        else:
            try:
                with client_lock:
                    sts = base.client("sts")
                ext = external_ids.get(entry.role_arn) or external_id
                acc.session = organization.assumed_session(
                    factory, base, sts, entry.role_arn, ext, client_lock
                )
            except Exception as exc:
                errors.append(_error(account, "*", "sts:AssumeRole", exc))
                return acc
        if acc.regions is None:
            try:
                acc.regions = _resolve_regions(acc.session, plan.regions, client_lock)
            except Exception as exc:
                errors.append(_error(account, "*", "ec2:DescribeRegions", exc))
                return acc
            with plan_lock:
                entry.regions = acc.regions
                resume_state.save_plan(folder, plan)
        return acc

    with ThreadPoolExecutor(max_workers=workers) as pool:
        opened = list(pool.map(lambda kv: open_account(*kv), sorted(plan.accounts.items())))

    # 2. every account x region not done yet, one bounded pool, account by account
    kept = resume_state.journal_errors(folder) if resume is not None else {}
    regional = [op for op in ops if op.scope is Scope.REGIONAL]
    global_ = [op for op in ops if op.scope is Scope.GLOBAL]
    work: list[tuple[_Account, str, list[Operation]]] = []
    for acc in opened:
        if acc.regions is None:
            continue
        result.accounts[acc.account_id] = acc.regions
        places = [(GLOBAL_REGION, global_)] if global_ else []
        places += [(r, regional) for r in acc.regions]
        for region, scope_ops in places:
            pending = []
            for op in scope_ops:
                if resume_state.is_done(folder, acc.account_id, region, op):
                    writer.adopt(op, acc.account_id, region)
                    errors.extend(kept.get((acc.account_id, region, op.name), []))
                else:
                    pending.append(op)
            if pending and acc.session is not None:
                work.append((acc, region, pending))
            elif pending:  # reached before, not now: what it lacks stays unknown
                errors.extend(
                    CollectionError(acc.account_id, region, op.name, "NotCalled", "not reached")
                    for op in pending
                )

    journal = resume_state.Journal(folder)

    def run_one(acc: _Account, region: str, pending: list[Operation]) -> _Job:
        account = acc.account_id

        def done(op: Operation, calls: list[dict[str, Any]] | None, errs: list[Any]) -> None:
            journal.record(account, region, op.name, errs)  # before the file: see resume
            if calls is not None:
                writer.write(op, account, region, calls)

        job = _Job(
            account, region, acc.session, client_lock, pending, read_timeout=timeout, on_done=done
        )
        job.results.update(_sources_on_disk(folder, account, region, pending, ops))
        job.run()
        return job

    per_account = {
        acc.account_id: sum(1 for w in work if w[0] is acc) for acc in opened if acc.regions
    }
    try:
        with (
            CollectProgress(progress, per_account) as shown,
            ThreadPoolExecutor(max_workers=workers) as pool,
        ):
            futures = {pool.submit(run_one, *w): w for w in work}
            for future in as_completed(futures):
                acc, region, _ = futures[future]
                job_errors: list[CollectionError]
                try:
                    job_errors = future.result().errors
                except Exception as exc:  # e.g. a client that could not be created
                    job_errors = [_error(acc.account_id, region, "*", exc)]
                errors.extend(job_errors)
                shown.finished(acc.account_id, region, len(job_errors))
    finally:
        journal.close()

    result.errors = sorted(errors, key=lambda e: (e.account_id, e.region, e.operation))
    result.files = writer.file_count
    result.per_account = _per_account(result, writer.files, plan)
    if result.files == 0:
        log.error("nothing collected: no call succeeded (%d errors)", len(errors))
        if resume is None:  # nothing to resume from: leave no folder behind
            resume_state.finish(folder)
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        return result
    result.manifest = writer.finish(result.accounts, result.errors, clock())
    resume_state.finish(folder)
    if pack or upload:
        result.archive = archive.pack(folder, folder_parent / f"{plan.snapshot_id}.tar.gz")
    if upload and result.archive is not None:
        result.uploaded = s3.upload_verified(result.archive, upload, endpoint_url=s3_endpoint_url)
    return result


def _sources_on_disk(
    folder: Path, account: str, region: str, pending: list[Operation], ops: Sequence[Operation]
) -> dict[str, list[dict[str, Any]]]:
    """The calls of operations done in an earlier run whose items a pending operation is
    called for (DescribeTargetHealth of the target groups listed before the kill)."""
    wanted = {
        src.operation for op in pending if isinstance(op.calls, PerItem) for src in op.calls.sources
    } - {op.name for op in pending}
    found: dict[str, list[dict[str, Any]]] = {}
    for op in ops:
        path = folder / op.path(account, region)
        if op.name in wanted and path.is_file():
            found[op.name] = json.loads(gzip.decompress(path.read_bytes()))["calls"]
    return found


def _per_account(
    result: CollectResult, files: list[dict[str, Any]], plan: resume_state.Plan
) -> dict[str, AccountSummary]:
    summary = {a: AccountSummary(regions=len(e.regions or [])) for a, e in plan.accounts.items()}
    for f in files:
        summary[f["account_id"]].files += 1
    for e in result.errors:
        if e.account_id in summary:
            summary[e.account_id].errors += 1
    for a, s in summary.items():
        s.reached = plan.accounts[a].regions is not None
    return dict(sorted(summary.items()))
