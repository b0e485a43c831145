"""Snapshot archives from AWS Config files: one `bulkgraph-snapshot/1` snapshot per time step.

For each step `t` (every `every` from `since` to `until`, on a grid anchored at midnight
UTC) every account and region is folded to `t` (`fold.py`) and written through the one
snapshot writer: each operation an adapter covers gets its data file, built from the
resources that exist at `t`; what Config cannot tell is a `manifest.errors` entry, so that
the family is *unknown* in that snapshot, never empty:

- `NotInAwsConfig`: Config records no such resource (ELBv2 target groups, their targets
  and health);
- `BeforeFirstConfigFile`: `t` is before the first Config file of the account and region;
- `NotRecorded`: Config has told nothing of the type for the account and region up to `t`
  (the recorder does not record it, or no such resource has existed yet), or the state
  holds a resource of it as `ResourceNotRecorded`;
- `UnreadableConfigFile`: a history file of the type could not be read (named in the
  result), so its changes from then until the next snapshot file are missing.

The snapshot id is `t` as `YYYYMMDDTHHMMSSZ`, `taken_at` and `completed_at` are `t`: the
same files give byte-identical archives, and a snapshot that exists already is skipped.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bulkgraph import __version__
from bulkgraph.console import log
from bulkgraph.errors import BulkgraphError, ExitCode
from bulkgraph.extract import operations as ops
from bulkgraph.extract.awsconfig.adapters import BY_OPERATION, LOAD_BALANCER, ROLE, Held, calls
from bulkgraph.extract.awsconfig.files import discover, read_items
from bulkgraph.extract.awsconfig.fold import RegionState
from bulkgraph.extract.awsconfig.keys import ConfigFile
from bulkgraph.extract.awsconfig.store import Store
from bulkgraph.extract.model import CollectionError, Problem
from bulkgraph.extract.native import MANIFEST
from bulkgraph.extract.operations import GLOBAL_REGION, OPERATIONS, Operation, Scope
from bulkgraph.extract.writer import SnapshotWriter

COLLECTOR = "aws-config"

NOT_IN_AWS_CONFIG = "NotInAwsConfig"
BEFORE_FIRST_CONFIG_FILE = "BeforeFirstConfigFile"
NOT_RECORDED = "NotRecorded"
UNREADABLE_CONFIG_FILE = "UnreadableConfigFile"

#: what each error code means, for messages and docs
ERROR_CODES = {
    NOT_IN_AWS_CONFIG: "AWS Config records no such resource",
    BEFORE_FIRST_CONFIG_FILE: "the time is before the first Config file of the account and region",
    NOT_RECORDED: "Config has told nothing of this resource type here up to this time "
    "(not recorded, or none has existed yet), or holds a resource of it as ResourceNotRecorded",
    UNREADABLE_CONFIG_FILE: "a history file of this resource type could not be read",
}

#: operations called per load balancer: unknown when the load balancers are
_PER_LOAD_BALANCER = (ops.DESCRIBE_LISTENERS.name, ops.DESCRIBE_TAGS.name)

Progress = Callable[[str, int, int], None]

_EVERY = re.compile(r"(\d+)\s*([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_every(text: str) -> timedelta:
    """`30m`, `6h`, `1d`, `1w`."""
    m = _EVERY.fullmatch(text.strip().lower())
    if m is None or int(m[1]) == 0:
        raise BulkgraphError(
            f"--every {text!r}: expected a number and a unit (m, h, d, w), e.g. 1d or 6h",
            ExitCode.USAGE,
        )
    return timedelta(**{_UNITS[m[2]]: int(m[1])})


def parse_when(text: str, option: str) -> datetime:
    """An ISO 8601 date or time; UTC unless it says otherwise."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BulkgraphError(
            f"{option} {text!r}: not an ISO 8601 date or time", ExitCode.USAGE
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def steps(since: datetime, until: datetime, every: timedelta) -> list[datetime]:
    """The grid points (multiples of `every` from midnight UTC, 1970-01-01) in [since, until]."""
    k = -((_EPOCH - since) // every)  # ceiling of (since - epoch) / every
    out = []
    t = _EPOCH + k * every
    while t <= until:
        out.append(t)
        t += every
    return out


@dataclass
class ConfigResult:
    out_dir: Path
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # snapshots that existed already
    problems: list[Problem] = field(default_factory=list)
    files: int = 0  # Config files found (after the filters)

    @property
    def exit_code(self) -> ExitCode:
        if not self.written and not self.skipped:
            return ExitCode.FAILED
        return ExitCode.PARTIAL if self.problems else ExitCode.OK


def _error(
    account: str, region: str, op: Operation, code: str, detail: str = ""
) -> CollectionError:
    message = ERROR_CODES[code] + (f": {detail}" if detail else "")
    return CollectionError(account, region, op.name, code, message)


class _Account:
    """The regions of one account, and the snapshot content they give at a time."""

    def __init__(self, account_id: str, regions: dict[str, RegionState]) -> None:
        self.account_id = account_id
        self.regions = regions

    def write(self, writer: SnapshotWriter, t: datetime) -> list[CollectionError]:
        """Write this account's data files at `t`; its errors."""
        errors: list[CollectionError] = []
        for region, state in sorted(self.regions.items()):
            if state.first_time is None or t < state.first_time:
                errors.extend(
                    _error(self.account_id, region, op, BEFORE_FIRST_CONFIG_FILE)
                    for op in OPERATIONS
                    if op.scope is Scope.REGIONAL
                )
                continue
            self._region(writer, region, state, t, errors)
        self._global(writer, t, errors)
        return errors

    def _region(
        self,
        writer: SnapshotWriter,
        region: str,
        state: RegionState,
        t: datetime,
        errors: list[CollectionError],
    ) -> None:
        load_balancers = list(state.current(LOAD_BALANCER))
        failed: dict[str, CollectionError] = {}
        for op in OPERATIONS:
            if op.scope is not Scope.REGIONAL:
                continue
            adapter = BY_OPERATION.get(op.name)
            lb_error = failed.get(ops.DESCRIBE_LOAD_BALANCERS.name)
            if op.name in _PER_LOAD_BALANCER and lb_error is not None:
                # called per load balancer: unknown with them
                failed[op.name] = _error(
                    self.account_id, region, op, lb_error.error_code, "load balancers unknown"
                )
                continue
            if op.name == ops.DESCRIBE_TAGS.name:
                writer.write_stream(
                    op, self.account_id, region, calls(op, iter(()), load_balancers)
                )
                continue
            if adapter is None:
                failed[op.name] = _error(self.account_id, region, op, NOT_IN_AWS_CONFIG)
                continue
            problem = _unknown(state, adapter.resource_type, t)
            if problem is not None:
                failed[op.name] = _error(self.account_id, region, op, *problem)
                continue
            by_lb = op.name == ops.DESCRIBE_LISTENERS.name
            held = state.current(adapter.resource_type, by_load_balancer=by_lb)
            writer.write_stream(op, self.account_id, region, calls(op, held, load_balancers))
        errors.extend(failed.values())

    def _global(self, writer: SnapshotWriter, t: datetime, errors: list[CollectionError]) -> None:
        """IAM roles: Config records global resources in one region (awsRegion `global`);
        they go to the account's `global` folder whichever region's files held them."""
        op = ops.GET_ACCOUNT_AUTHORIZATION_DETAILS
        started = [
            s for s in self.regions.values() if s.first_time is not None and t >= s.first_time
        ]
        knowing = [s for s in started if _unknown(s, ROLE, t) is None]
        if not knowing:
            code = NOT_RECORDED if started else BEFORE_FIRST_CONFIG_FILE
            if any(ROLE in s.broken for s in started):
                code = UNREADABLE_CONFIG_FILE
            errors.append(_error(self.account_id, GLOBAL_REGION, op, code))
            return
        latest: dict[str, Held] = {}
        for state in knowing:
            for held in state.current(ROLE):
                have = latest.get(held.resource_id)
                if have is None or held.order > have.order:
                    latest[held.resource_id] = held
        roles = sorted(latest.values(), key=lambda h: (h.sort_key, h.resource_id))
        writer.write_stream(op, self.account_id, GLOBAL_REGION, calls(op, iter(roles), []))


def _unknown(state: RegionState, resource_type: str, t: datetime) -> tuple[str, str] | None:
    """(error code, detail) when the state cannot tell the type at `t`; None when it can."""
    broken = state.broken.get(resource_type)
    if broken is not None and broken.since <= t:
        return UNREADABLE_CONFIG_FILE, broken.location
    since = state.known_since.get(resource_type)
    if since is None or since > t:
        return NOT_RECORDED, resource_type
    if state.any_unrecorded(resource_type):
        return NOT_RECORDED, f"{resource_type} items with status ResourceNotRecorded"
    return None


def _write(out_dir: Path, t: datetime, accounts: list[_Account]) -> Path:
    sid = t.strftime("%Y%m%dT%H%M%SZ")
    folder = out_dir / sid
    if folder.exists():  # a run that died before its manifest: start the folder afresh
        shutil.rmtree(folder)
    writer = SnapshotWriter(out_dir, sid, t, collector={"name": COLLECTOR, "version": __version__})
    errors: list[CollectionError] = []
    for account in accounts:
        errors.extend(account.write(writer, t))
    regions = {a.account_id: sorted(a.regions) for a in accounts}
    return writer.finish(regions, errors, t)


def from_config(
    sources: Sequence[str],
    out_dir: Path,
    *,
    every: timedelta = timedelta(days=1),
    since: datetime | None = None,
    until: datetime | None = None,
    accounts: Sequence[str] = (),
    regions: Sequence[str] = (),
    endpoint_url: str | None = None,
    progress: Progress | None = None,
) -> ConfigResult:
    """Write a snapshot per time step from the AWS Config files under `sources` (local
    folders or `s3://bucket/prefix/`, any depth above `AWSLogs/`) into `out_dir`."""
    found = discover(list(sources), endpoint_url)
    result = ConfigResult(out_dir, problems=list(found.problems))
    wanted = [
        f
        for f in found.files
        if (not accounts or f.account_id in accounts) and (not regions or f.region in regions)
    ]
    result.files = len(wanted)
    if not wanted:
        where = ", ".join(sources)
        raise BulkgraphError(
            f"no AWS Config files under {where} (for the accounts and regions asked)"
        )
    start = since or min(f.start for f in wanted)
    end = until or max(f.end for f in wanted)
    times = steps(start, end, every)
    if not times:
        raise BulkgraphError(
            f"no time step of {every} between {start.isoformat()} and {end.isoformat()}",
            ExitCode.USAGE,
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    # the state on disk, in the temporary folder (TMPDIR): as large as the estate's records
    with tempfile.TemporaryDirectory(prefix="bulkgraph-awsconfig-") as tmp:
        store = Store(Path(tmp) / "state.sqlite")
        try:
            _fold(wanted, store, times, out_dir, result, endpoint_url, progress)
        finally:
            store.close()
    for p in result.problems:
        log.warning("skipped %s", p)
    return result


def _fold(
    wanted: list[ConfigFile],
    store: Store,
    times: list[datetime],
    out_dir: Path,
    result: ConfigResult,
    endpoint_url: str | None,
    progress: Progress | None,
) -> None:
    states: dict[tuple[str, str], RegionState] = {}
    for f in wanted:
        key = (f.account_id, f.region)
        states.setdefault(key, RegionState(f.account_id, f.region, store)).add(f)
    by_account: dict[str, dict[str, RegionState]] = {}
    for (account, region), state in sorted(states.items()):
        state.prepare()
        by_account.setdefault(account, {})[region] = state
    all_accounts = [_Account(a, r) for a, r in sorted(by_account.items())]

    def read(file: ConfigFile) -> Any:
        return read_items(file, endpoint_url)

    for n, t in enumerate(times):
        sid = t.strftime("%Y%m%dT%H%M%SZ")
        if progress:
            progress(f"folding Config files to {sid}", n, len(times))
        for state in states.values():
            result.problems.extend(state.advance(t, read))
        if (out_dir / sid / MANIFEST).exists():
            result.skipped.append(sid)
            continue
        _write(out_dir, t, all_accounts)
        result.written.append(sid)
        log.info("wrote snapshot %s", sid)
