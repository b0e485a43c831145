"""The transform's worker processes: spawned, each told how to use its share of the machine.

A worker maps one snapshot after another, each a few hundred MB of short-lived records and
frames. Left to their defaults, polars starts a thread per core in every worker (the workers
already fill the cores: the threads only contend), jemalloc (which polars links) hands freed
pages back to the system half a second after they are freed, so the next snapshot faults
them in again, and glibc's malloc (which Python's large objects use) maps and unmaps each
large block on its own: ~100,000 page faults and ~0.4 s of system time a night of a
10,000-instance estate. jemalloc keeping its pages, glibc's trim and mmap thresholds raised
(within a snapshot: `run._release_memory` still trims glibc's heap between snapshots, so
that a worker's peak does not creep up) and one polars thread per worker took ~13 % off the
CPU of a night, for ~15 % more peak memory per worker (measured: docs/benchmarks.md).

The settings are the libraries' own environment variables, read when a process starts, so
they go into the worker's environment at spawn; one the user has set is left as set. The
`bulkgraph` command keeps jemalloc's pages in its own process too (`prepare_polars`): the
versions pass there walks night after night the same way (~1 M page faults fewer and ~12 %
less wall time over 48 nights).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.context import SpawnContext, SpawnProcess
from typing import Any

#: never give dirty pages back: the next snapshot needs as many
JEMALLOC_CONF = "dirty_decay_ms:-1,muzzy_decay_ms:-1"
#: while a snapshot is mapped, no trimming of the heap and no mmap (and munmap) of each
#: large block; between snapshots `run._release_memory` trims it all the same
GLIBC_TUNABLES = "glibc.malloc.trim_threshold=1073741824:glibc.malloc.mmap_threshold=1073741824"
#: the engine polars runs a query on: its default since polars 2 (streaming) hands each
#: query to threads of its own and costs ~0.2 ms more per query than the in-memory engine,
#: and a night makes thousands of small ones (~12 % of a worker's CPU: docs/benchmarks.md)
POLARS_ENGINE = "in-memory"


def processes(workers: int | None) -> int:
    """How many processes `--workers` asks for: the number given, else one per core."""
    return workers or os.cpu_count() or 1


def worker_env(workers: int, cores: int | None = None) -> dict[str, str]:
    """The environment a worker adds to its parent's, for `workers` sharing `cores`."""
    cores = cores or os.cpu_count() or 1
    return {
        "POLARS_MAX_THREADS": str(max(1, cores // max(1, workers))),
        # polars' jemalloc is built with the `_rjem_` prefix
        "_RJEM_MALLOC_CONF": JEMALLOC_CONF,
        "GLIBC_TUNABLES": GLIBC_TUNABLES,
        "POLARS_ENGINE_AFFINITY": POLARS_ENGINE,
    }


#: what polars' own `__init__` puts first in `_RJEM_MALLOC_CONF` (polars 1.x), before any
#: value found there: jemalloc takes the last value of each option
POLARS_JEMALLOC_DEFAULT = "dirty_decay_ms:500,muzzy_decay_ms:1000"
POLARS_JEMALLOC_THP = ",thp:always,metadata_thp:always"


def _jemalloc_conf(ours: str, found: str | None) -> str:
    """The child's `_RJEM_MALLOC_CONF`: ours, then what the user set. This process imported
    polars, which rewrote the variable as its defaults then the value it found (ours, from
    `prepare_polars`, then the user's); the child's polars will put its defaults first again,
    so they are taken off here, or they would come after ours and undo it."""
    user = (found or "").removeprefix(POLARS_JEMALLOC_DEFAULT).removeprefix(POLARS_JEMALLOC_THP)
    return _ours_first(ours, user.removeprefix(","))


def _ours_first(ours: str, found: str) -> str:
    """Our options, then the user's (jemalloc takes the last value of each), once."""
    user = found.removeprefix(ours).removeprefix(",")
    return f"{ours},{user}" if user else ours


def prepare_polars() -> None:
    """This process's polars, when imported after this, keeps the pages it has (the
    sequential end of the transform, the versions pass, works through one snapshot after
    another as a worker does) and runs its queries on `POLARS_ENGINE`, unless the user set
    either. Before polars is imported only: it reads the variables once, when it loads. The
    `bulkgraph` command calls it first; a program that imports bulkgraph as a library
    chooses for itself."""
    if "polars" not in sys.modules:
        os.environ.setdefault("POLARS_ENGINE_AFFINITY", POLARS_ENGINE)
        # the user's value as given: polars has not put its defaults before it yet
        os.environ["_RJEM_MALLOC_CONF"] = _ours_first(
            JEMALLOC_CONF, os.environ.get("_RJEM_MALLOC_CONF", "")
        )


@contextmanager
def _environ(extra: dict[str, str]) -> Iterator[None]:
    """`extra` in this process's environment while a child starts: a variable the user set
    is left as set (the jemalloc options are added before the user's)."""
    before = {name: os.environ.get(name) for name in extra}
    for name, value in extra.items():
        if name == "_RJEM_MALLOC_CONF":
            os.environ[name] = _jemalloc_conf(value, before[name])
        elif before[name] is None:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, old in before.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


class _WorkerProcess(SpawnProcess):
    _extra_env: dict[str, str]  # set by WorkerContext.Process

    @staticmethod
    def _Popen(process_obj: Any) -> Any:
        # the spawned interpreter inherits the environment as it is when it starts
        with _environ(process_obj._extra_env):
            return SpawnProcess._Popen(process_obj)


class WorkerContext(SpawnContext):
    """A spawn context (never fork: forking a process whose polars thread pool runs can
    deadlock) whose processes start with `worker_env`."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__()
        self.env = env

    def Process(self, *args: Any, **kwargs: Any) -> _WorkerProcess:  # type: ignore[override]
        process = _WorkerProcess(*args, **kwargs)
        process._extra_env = self.env
        return process


def context(workers: int) -> WorkerContext:
    """The context of a pool of `workers` transform workers."""
    return WorkerContext(worker_env(workers))
