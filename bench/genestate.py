"""Generate a synthetic estate as a series of native snapshots, for benchmarks and tests.

`generate()` builds the estate once from the seed, then for each snapshot applies the churn
and writes the folder. With `jobs > 1` each worker process replays the same (cheap) churn
steps from the seed and writes every `jobs`-th snapshot, so the output does not depend on
the number of workers.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from queue import Empty
from typing import Any

from bench.estate import Estate, StepChanges, account_ids
from bulkgraph import __version__
from bulkgraph.errors import BulkgraphError, ExitCode
from bulkgraph.extract.writer import SnapshotWriter

DEFAULT_START = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
DEFAULT_REGIONS = ("us-east-1", "eu-west-1")
REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class EstateSpec:
    """Everything the output depends on."""

    instances: int
    snapshots: int
    churn: float = 0.02
    seed: int = 0
    start: datetime = DEFAULT_START
    interval: timedelta = timedelta(days=1)
    accounts: int = 1
    regions: tuple[str, ...] = DEFAULT_REGIONS
    compresslevel: int = 6

    def validate(self) -> None:
        problems = []
        if self.instances < 0:
            problems.append("--instances must be 0 or more")
        if self.snapshots < 1:
            problems.append("--snapshots must be 1 or more")
        if not 0 <= self.churn <= 1:
            problems.append("--churn must be between 0 and 1")
        if self.interval <= timedelta(0):
            problems.append("--interval must be positive")
        if self.accounts < 1:
            problems.append("--accounts must be 1 or more")
        if not self.regions or not all(REGION_RE.fullmatch(r) for r in self.regions):
            problems.append(f"--regions: expected names like us-east-1: {','.join(self.regions)}")
        if len(set(self.regions)) != len(self.regions):
            problems.append("--regions lists a region twice")
        if not 1 <= self.compresslevel <= 9:
            problems.append("compresslevel must be 1..9")
        if self.start.tzinfo is None:
            problems.append("--start needs a time zone (e.g. 2026-01-01T02:00:00Z)")
        if problems:
            raise BulkgraphError("; ".join(problems), ExitCode.USAGE)


@dataclass
class SnapshotSummary:
    index: int
    snapshot_id: str
    folder: str
    taken_at: str
    counts: dict[str, int]
    changes: dict[str, Any]
    files: int
    bytes: int
    seconds: float = 0.0

    def line(self) -> str:
        c = self.counts
        ch = self.changes
        churn = (
            f"(+{ch['launched']} -{ch['terminated']} ~{ch['modified'].get('instances', 0)})"
            if self.index
            else ""
        )
        return (
            f"{self.snapshot_id}  instances {c['instances']} {churn}".rstrip()
            + f"  terminated {c['terminated']}  sg {c['security_groups']}  rds {c['rds']}"
            f"  lb {c['load_balancers']}  tg {c['target_groups']}  vpc {c['vpcs']}"
            f"  subnet {c['subnets']}  pcx {c['peerings']}  eni {c['network_interfaces']}"
            f"  rtb {c['route_tables']}  acl {c['network_acls']}  nat {c['nat_gateways']}"
            f"  listener {c['listeners']}  lambda {c['functions']}  role {c['roles']}"
            f"  changed {ch['total']}"
            f"  {self.files} files {self.bytes / 1e6:.1f} MB  {self.seconds:.2f}s"
        )


def snapshot_id_for(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def generate(
    out: Path,
    spec: EstateSpec,
    *,
    jobs: int = 1,
    force: bool = False,
    on_snapshot: Callable[[SnapshotSummary], None] | None = None,
) -> list[SnapshotSummary]:
    """Write `spec.snapshots` snapshot folders under `out`; return one summary each, in order."""
    spec.validate()
    ids = [snapshot_id_for(spec.start + k * spec.interval) for k in range(spec.snapshots)]
    if len(set(ids)) != len(ids):
        raise BulkgraphError("--interval is below one second: snapshot ids would repeat")
    if not force:
        for snapshot_id in ids:
            if (out / snapshot_id).exists():
                raise BulkgraphError(f"{out / snapshot_id} already exists (use --force)")
    out.mkdir(parents=True, exist_ok=True)
    jobs = max(1, min(jobs, spec.snapshots))
    if jobs == 1:
        summaries = []
        for summary in _produce(out, spec, 0, 1, force):
            summaries.append(summary)
            if on_snapshot:
                on_snapshot(summary)
        return summaries
    return _generate_parallel(out, spec, jobs, force, on_snapshot)


def _generate_parallel(
    out: Path,
    spec: EstateSpec,
    jobs: int,
    force: bool,
    on_snapshot: Callable[[SnapshotSummary], None] | None,
) -> list[SnapshotSummary]:
    context = multiprocessing.get_context("fork")
    queue: Any = context.Queue()
    workers = [
        context.Process(target=_worker, args=(out, spec, j, jobs, force, queue), daemon=True)
        for j in range(jobs)
    ]
    for worker in workers:
        worker.start()
    done: dict[int, SnapshotSummary] = {}
    summaries: list[SnapshotSummary] = []
    finished = 0
    try:
        while finished < jobs:
            try:
                message = queue.get(timeout=2)
            except Empty:
                if not any(worker.is_alive() for worker in workers) and queue.empty():
                    codes = [worker.exitcode for worker in workers]
                    raise BulkgraphError(f"gen-estate worker died (exit codes {codes})") from None
                continue
            if message[0] == "error":
                raise BulkgraphError(message[1])
            if message[0] == "done":
                finished += 1
                continue
            summary = SnapshotSummary(**message[1])
            done[summary.index] = summary
            # Report in snapshot order whatever order the workers finish in.
            while len(summaries) in done:
                summaries.append(done.pop(len(summaries)))
                if on_snapshot:
                    on_snapshot(summaries[-1])
    finally:
        for worker in workers:
            if worker.is_alive() and len(summaries) < spec.snapshots:
                worker.terminate()
            worker.join()
    return summaries


def _worker(out: Path, spec: EstateSpec, offset: int, stride: int, force: bool, queue: Any) -> None:
    try:
        for summary in _produce(out, spec, offset, stride, force):
            queue.put(("snapshot", asdict(summary)))
        queue.put(("done", None))
    except Exception as exc:  # reported by the parent, which owns the terminal
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def _produce(
    out: Path, spec: EstateSpec, offset: int, stride: int, force: bool
) -> Iterator[SnapshotSummary]:
    """Replay every churn step; write the snapshots `offset, offset + stride, ...`."""
    started = time.perf_counter()
    estate = Estate(
        seed=spec.seed,
        instances=spec.instances,
        accounts=account_ids(spec.accounts),
        regions=spec.regions,
        churn=spec.churn,
        start=spec.start,
    )
    changes = StepChanges()
    for index in range(spec.snapshots):
        taken_at = spec.start + index * spec.interval
        if index:
            changes = estate.advance(taken_at - spec.interval, taken_at)
        if index % stride != offset:
            continue
        snapshot_id = snapshot_id_for(taken_at)
        counts = estate.counts()
        if force:
            shutil.rmtree(out / snapshot_id, ignore_errors=True)
        writer = SnapshotWriter(
            out,
            snapshot_id,
            taken_at,
            collector={
                "name": "bulkgraph-gen-estate",
                "version": __version__,
                "seed": spec.seed,
                "instances": spec.instances,
                "churn": spec.churn,
            },
            compresslevel=spec.compresslevel,
        )
        written = [
            writer.write(operation, account, region, calls)
            for account, region, operation, calls in estate.responses()
        ]
        regions: dict[str, list[str]] = {}
        for cell in estate.cells:
            regions.setdefault(cell.account, []).append(cell.region)
        # A pretend collection time that grows with the estate, like a real run.
        writer.finish(regions, [], taken_at + timedelta(seconds=30 + spec.instances // 50))
        now = time.perf_counter()
        yield SnapshotSummary(
            index=index,
            snapshot_id=snapshot_id,
            folder=str(writer.folder),
            taken_at=taken_at.isoformat(),
            counts=counts,
            changes={
                "launched": changes.launched,
                "terminated": changes.terminated,
                "removed": changes.removed,
                "modified": dict(changes.modified),
                "total": changes.total(),
            },
            files=len(written),
            bytes=sum(entry["bytes"] for entry in written),
            seconds=round(now - started, 3),
        )
        started = now


# --------------------------------------------------------------------------- command line


def parse_interval(text: str) -> timedelta:
    """`1d`, `12h`, `90m`, `1d12h`, `30s`, `2w`."""
    parts = re.findall(r"(\d+)([smhdw])", text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise BulkgraphError(
            f"--interval {text!r}: expected a duration like 1d, 12h, 90m or 1d12h", ExitCode.USAGE
        )
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in parts))


def parse_start(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BulkgraphError(
            f"--start {text!r}: expected ISO 8601 like 2026-01-01T02:00:00Z", ExitCode.USAGE
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gen-estate",
        description=(
            "Write a series of native bulkgraph-snapshot/1 folders of a synthetic AWS estate: "
            "N instances, N/5 security groups (~8 rules each), N/20 RDS instances, N/50 load "
            "balancers (3 target groups, 1-3 listeners, tags each), N/200 VPCs (4 subnets, an "
            "internet gateway, route tables, ACLs each; a NAT gateway in half), N/500 VPC "
            "peerings, N/25 Lambda functions, N/20 IAM roles with instance profiles, and the "
            "network interfaces of all these (snapshot format 1.1), spread evenly over "
            "accounts x regions, with the --churn fraction of resources changing between "
            "consecutive snapshots. The same arguments give byte-identical output."
        ),
    )
    parser.add_argument("--instances", type=int, required=True, help="live instances (N)")
    parser.add_argument("--snapshots", type=int, required=True, help="snapshots to write (M)")
    parser.add_argument(
        "--churn", type=float, default=0.02, help="fraction changing per snapshot (0.02)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write snapshots in")
    parser.add_argument(
        "--start", default="2026-01-01T02:00:00Z", help="taken_at of the first snapshot"
    )
    parser.add_argument("--interval", default="1d", help="time between snapshots: 1d, 6h, 90m")
    parser.add_argument("--accounts", type=int, default=1, help="number of accounts (1)")
    parser.add_argument(
        "--regions", default=",".join(DEFAULT_REGIONS), help="comma-separated region names"
    )
    parser.add_argument(
        "--compress-level", type=int, default=6, help="gzip level 1 (fast) .. 9 (small); 6"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=min(2, multiprocessing.cpu_count()),
        help="worker processes (output does not depend on it)",
    )
    parser.add_argument("--force", action="store_true", help="replace existing snapshot folders")
    parser.add_argument("--json", action="store_true", help="print one JSON object per snapshot")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        spec = EstateSpec(
            instances=args.instances,
            snapshots=args.snapshots,
            churn=args.churn,
            seed=args.seed,
            start=parse_start(args.start),
            interval=parse_interval(args.interval),
            accounts=args.accounts,
            regions=tuple(r.strip() for r in args.regions.split(",") if r.strip()),
            compresslevel=args.compress_level,
        )

        def show(summary: SnapshotSummary) -> None:
            print(json.dumps(asdict(summary)) if args.json else summary.line(), flush=True)

        began = time.perf_counter()
        summaries = generate(args.out, spec, jobs=args.jobs, force=args.force, on_snapshot=show)
    except BulkgraphError as exc:
        print(f"gen-estate: error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    total = sum(s.bytes for s in summaries)
    print(
        f"wrote {len(summaries)} snapshots to {args.out} ({total / 1e6:.1f} MB) "
        f"in {time.perf_counter() - began:.1f}s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
