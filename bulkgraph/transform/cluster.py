"""The transform on a Dask cluster: one task per snapshot, the linking pass here.

The coordinator (this process) only lists what the sources hold (`sources.find`: S3 prefixes
are listed, not downloaded) and submits one task per archive or folder. Each task, on a
worker, opens its snapshot straight from its source (an S3 archive is downloaded; a path
must be one the workers see), transforms it in a scratch folder of its own, and publishes
the files to the shared location (`shared.py`). A snapshot already published there for the
same input and output layout is not transformed again.

Then the coordinator copies each published snapshot into the CSV folder on its own disk and
runs the same sequential end as a local transform (`run.finish`): links across snapshots,
headers, rejects, manifest. The folder is byte for byte what a local run writes.

A worker that dies mid-task loses nothing: the scheduler runs the task again elsewhere, and
the retry writes the same files (`shared.py`). Dask is imported only here, and only when a
scheduler is given.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bulkgraph.csvfolder import MANIFEST_NAME, State
from bulkgraph.errors import BulkgraphError, ExitCode
from bulkgraph.extract.model import Problem, SnapshotInfo, unreadable
from bulkgraph.extract.sources import (
    Candidate,
    find,
    once_each,
    open_candidate,
    strip_location,
)
from bulkgraph.layout import Layout
from bulkgraph.transform.run import (
    Progress,
    TransformResult,
    chosen_layout,
    done_result,
    finish,
    reusable,
    transform_one,
)
from bulkgraph.transform.shared import Published, SharedStore
from bulkgraph.transform.snapshot import SnapshotResult


@dataclass(frozen=True)
class TaskOptions:
    shared: str  # the shared location's URL (`shared.py`)
    force: bool = False
    account_id: str | None = None  # of legacy archives
    taken_at: datetime | None = None


@dataclass(frozen=True)
class Outcome:
    """A task's answer: the snapshot it opened, and its publication or why there is none."""

    info: SnapshotInfo
    published: Published | None = None
    reused: bool = False
    error: str = ""  # the transform failed


def snapshot_task(candidate: Candidate, opts: TaskOptions) -> Outcome | Problem:
    """Run on a worker: open, transform and publish one snapshot (see the module doc).
    Never raises for a bad snapshot: what cannot be opened is a Problem, a failed transform
    an Outcome with its error. The download, the extraction and the transform's own files
    live in a scratch folder that goes with the task: a worker's disk holds one snapshot
    per running task, whatever the number of snapshots it has done."""
    with tempfile.TemporaryDirectory(prefix="bulkgraph-task-") as scratch:
        return _in_scratch(candidate, opts, Path(scratch))


def _in_scratch(candidate: Candidate, opts: TaskOptions, scratch: Path) -> Outcome | Problem:
    try:
        snapshot = open_candidate(
            candidate,
            cache_dir=scratch / "cache",
            account_id=opts.account_id,
            taken_at=opts.taken_at,
        )
    except BulkgraphError as exc:
        return Problem(candidate.location, strip_location(str(exc), candidate.location))
    except Exception as exc:  # one unreadable snapshot must not stop the others
        return Problem(candidate.location, unreadable(exc))
    info = snapshot.info
    try:
        store = SharedStore(opts.shared)
        prefix = store.prefix(info)
        if not opts.force:
            found = store.published(prefix)
            if found is not None and reusable(found.result, info):
                return Outcome(info, found, reused=True)
        folder = scratch / "csv"
        result = transform_one(snapshot, folder)
        return Outcome(info, store.publish(prefix, folder, result))
    except Exception as exc:  # reported per snapshot, as a local transform does
        return Outcome(info, error=f"{type(exc).__name__}: {exc}")


def transform_on_cluster(
    sources: list[str],
    out_dir: Path,
    *,
    scheduler: str,
    shared: str | None,
    force: bool = False,
    account_id: str | None = None,
    progress: Progress | None = None,
    layout: Layout | None = None,
) -> tuple[TransformResult, list[Problem]]:
    """Transform the snapshots in `sources` on the Dask cluster at `scheduler` into the
    CSV folder `out_dir` (see the module doc). Returns the result and what was skipped:
    sources holding no snapshot, snapshots that cannot be opened, ids claimed twice."""
    if not shared:
        raise BulkgraphError(
            "a Dask scheduler needs a shared location for the workers' files: "
            "--shared or BULKGRAPH_DASK_SHARED (a path every worker sees, or an s3:// prefix)",
            ExitCode.USAGE,
        )
    store = SharedStore(shared)  # a bad URL fails here, not in every task
    found = find(sources)
    problems = [f for f in found if isinstance(f, Problem)]
    candidates = [f for f in found if isinstance(f, Candidate)]
    if not candidates:
        raise BulkgraphError(
            "no usable snapshots in "
            + ", ".join(sources)
            + "".join(f"\n  {p.location}: {p.message}" for p in problems)
        )
    # the store's root: a relative folder means the same folder to every worker
    opts = TaskOptions(store.root, force, account_id)
    answers = _run(candidates, opts, scheduler, progress)
    problems.extend(a for a in answers if isinstance(a, Problem))
    outcomes = once_each([a for a in answers if isinstance(a, Outcome)], problems)

    out_dir.mkdir(parents=True, exist_ok=True)
    result = TransformResult(out_dir, out_dir / MANIFEST_NAME, layout=chosen_layout(layout))
    results: dict[str, SnapshotResult] = {}
    for o in outcomes:
        sid = o.info.snapshot_id
        if o.published is None:
            result.failed[sid] = o.error
            continue
        if force or done_result(State.dir(out_dir, sid) / State.RESULT, o.info) is None:
            store.fetch(o.published, out_dir)
        results[sid] = o.published.result
        (result.reused if o.reused else result.transformed).append(sid)
    if progress:
        progress("linking snapshots", len(outcomes), len(outcomes))
    # the versions pass runs here, on this machine's cores
    finish([o.info for o in outcomes], results, result)
    return result, problems


def _run(
    candidates: list[Candidate], opts: TaskOptions, scheduler: str, progress: Progress | None
) -> list[Outcome | Problem]:
    """Every candidate's task on the cluster; answers in the candidates' order."""
    from distributed import Client, as_completed

    try:
        client = Client(scheduler, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise BulkgraphError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    with client:
        # pure=False: a task reads its input from outside the graph, so a later run over
        # the same sources must not be answered from an earlier run's results
        futures = client.map(snapshot_task, candidates, opts=opts, pure=False)
        index = {f.key: n for n, f in enumerate(futures)}
        answers: list[Outcome | Problem | None] = [None] * len(candidates)
        if progress:
            progress("transforming", 0, len(candidates))
        for done, future in enumerate(as_completed(futures, loop=client.loop), 1):
            n = index[future.key]
            try:
                answers[n] = future.result()
            except Exception as exc:  # the task itself died (KilledWorker, no bulkgraph there)
                answers[n] = Problem(
                    candidates[n].location,
                    f"its task failed on the cluster ({type(exc).__name__}: {exc})",
                )
            if progress:
                progress("transforming", done, len(candidates))
    return [a for a in answers if a is not None]
