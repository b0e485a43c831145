"""Collecting a snapshot from AWS with boto3: the registry's read-only operations
(`extract/operations.py`) per account and region, and its global ones once per account.

A failing call never stops the run: it is recorded in the manifest's `errors` (that
account/region/operation is then *unknown*), and the exit code says the snapshot is partial.
Regions run concurrently in a small thread pool; botocore's adaptive retry mode absorbs
throttling.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bulkgraph.console import err, log
from bulkgraph.errors import BulkgraphError, ExitCode
from bulkgraph.extract import archive, s3
from bulkgraph.extract.model import SNAPSHOT_ID_RULE, CollectionError, is_valid_snapshot_id
from bulkgraph.extract.operations import GLOBAL_REGION, OPERATIONS, Operation, PerItem, Scope
from bulkgraph.extract.writer import SnapshotWriter

#: keys boto3 pages carry that are about the transport, not the estate
_DROP_KEYS = frozenset({"ResponseMetadata", "NextToken", "Marker", "NextMarker"})

SessionFactory = Callable[..., Any]  # boto3.Session(**kwargs) or a stand-in


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
class CollectResult:
    snapshot_id: str
    folder: Path
    manifest: Path | None = None
    files: int = 0
    errors: list[CollectionError] = field(default_factory=list)
    accounts: dict[str, list[str]] = field(default_factory=dict)
    archive: Path | None = None
    uploaded: str | None = None

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
    ) -> None:
        from botocore.config import Config

        self.account = account
        self.region = region
        self.operations = list(operations)
        self.errors: list[CollectionError] = []
        self.results: dict[str, list[dict[str, Any]]] = {}
        config = Config(retries={"mode": "adaptive", "max_attempts": 10})
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
            pages = client.get_paginator(operation.paginator).paginate(**request)
            return [clean_page(p) for p in pages]
        return [clean_page(getattr(client, _method(operation))(**request))]

    def run(self) -> None:
        for operation in self.operations:
            if isinstance(operation.calls, PerItem):
                self._per_item(operation, operation.calls)
                continue
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


def _resolve_regions(session: Any, regions: Sequence[str] | str) -> list[str]:
    if isinstance(regions, str):
        if regions != "all":
            return [r.strip() for r in regions.split(",") if r.strip()]
        client = session.client("ec2", region_name=session.region_name or "us-east-1")
        # without AllRegions, DescribeRegions lists the regions enabled for the account
        return sorted(r["RegionName"] for r in client.describe_regions()["Regions"])
    return list(regions)


def _targets(
    session_factory: SessionFactory,
    profile: str | None,
    role_arns: Sequence[RoleSpec],
    errors: list[CollectionError],
) -> list[tuple[str, Any]]:
    """(account id, session) for each account to collect."""
    base = session_factory(profile_name=profile) if profile else session_factory()
    if not role_arns:
        try:
            account = base.client("sts").get_caller_identity()["Account"]
        except Exception as exc:
            raise BulkgraphError(f"no usable AWS credentials: {exc}") from None
        return [(account, base)]
    sts = base.client("sts")
    out = []
    for role in role_arns:
        kwargs: dict[str, Any] = {"RoleArn": role.arn, "RoleSessionName": "bulkgraph-collect"}
        if role.external_id:
            kwargs["ExternalId"] = role.external_id
        try:
            creds = sts.assume_role(**kwargs)["Credentials"]
        except Exception as exc:
            errors.append(_error(role.account_id, "*", "sts:AssumeRole", exc))
            continue
        session = session_factory(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=base.region_name,
        )
        out.append((role.account_id, session))
    return out


def collect(
    out_dir: Path,
    *,
    session_factory: SessionFactory | None = None,
    profile: str | None = None,
    regions: Sequence[str] | str = "all",
    role_arns: Sequence[RoleSpec | str] = (),
    snapshot_id: str | None = None,
    pack: bool = False,
    upload: str | None = None,
    s3_endpoint_url: str | None = None,
    max_workers: int = 4,
    progress: bool = False,
    now: Callable[[], datetime] | None = None,
    operations: Sequence[Operation] = OPERATIONS,
) -> CollectResult:
    """Collect one snapshot into `out_dir/<snapshot_id>/`; optionally pack and upload it.

    `regions`: "all" (the regions enabled for each account), "r1,r2", or a list.
    `role_arns`: assume each role (one account each); none = the caller's own account.
    `session_factory(**boto3.Session kwargs)` makes sessions (tests add event hooks there).
    `operations`: the registry's, in its order; tests may give a subset.
    """
    import boto3

    clock = now or (lambda: datetime.now(UTC))
    factory: SessionFactory = session_factory or boto3.Session
    taken_at = clock().replace(microsecond=0)
    sid = snapshot_id or taken_at.strftime("%Y%m%dT%H%M%SZ")
    if not is_valid_snapshot_id(sid):
        raise BulkgraphError(f"invalid snapshot id {sid!r}: {SNAPSHOT_ID_RULE}", ExitCode.USAGE)
    roles = [parse_role(r) if isinstance(r, str) else r for r in role_arns]
    errors: list[CollectionError] = []
    targets = _targets(factory, profile, roles, errors)
    writer = SnapshotWriter(out_dir, sid, taken_at)
    result = CollectResult(snapshot_id=sid, folder=writer.folder)

    regional = [op for op in operations if op.scope is Scope.REGIONAL]
    global_ = [op for op in operations if op.scope is Scope.GLOBAL]
    work: list[tuple[str, str, Any, list[Operation]]] = []
    for account, session in targets:
        if global_:
            work.append((account, GLOBAL_REGION, session, global_))
        try:
            names = _resolve_regions(session, regions)
        except Exception as exc:
            errors.append(_error(account, "*", "ec2:DescribeRegions", exc))
            continue
        result.accounts[account] = names
        work.extend((account, r, session, regional) for r in names)

    lock = threading.Lock()

    def run_one(account: str, region: str, session: Any, ops: list[Operation]) -> _Job:
        job = _Job(account, region, session, lock, ops)
        job.run()
        by_name = {op.name: op for op in ops}
        for name, calls in job.results.items():
            writer.write(by_name[name], account, region, calls)
        return job

    with (
        _progress(progress, len(work)) as advance,
        ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool,
    ):
        futures = {pool.submit(run_one, *w): w for w in work}
        for future in as_completed(futures):
            account, region, _, _ = futures[future]
            try:
                errors.extend(future.result().errors)
            except Exception as exc:  # e.g. a client that could not be created
                errors.append(_error(account, region, "*", exc))
            advance(f"{account}/{region}")

    result.errors = sorted(errors, key=lambda e: (e.account_id, e.region, e.operation))
    result.files = writer.file_count
    if result.files == 0:
        log.error("nothing collected: no call succeeded (%d errors)", len(errors))
        if writer.folder.is_dir() and not any(writer.folder.iterdir()):
            writer.folder.rmdir()
        return result
    result.manifest = writer.finish(result.accounts, result.errors, clock())
    if pack or upload:
        result.archive = archive.pack(writer.folder, out_dir / f"{sid}.tar.gz")
    if upload and result.archive is not None:
        result.uploaded = s3.upload_verified(result.archive, upload, endpoint_url=s3_endpoint_url)
    return result


class _progress:
    """A rich progress bar on a terminal; a no-op when piped or quiet."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled = enabled
        self.total = total
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> Callable[[str], None]:
        if self.enabled:
            from rich.progress import Progress

            self._progress = Progress(console=err, transient=True)
            self._progress.start()
            self._task = self._progress.add_task("collecting", total=self.total)
        return self.advance

    def advance(self, label: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=1, description=f"collected {label}")

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
