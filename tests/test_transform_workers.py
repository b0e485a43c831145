"""The transform's worker processes start with their share of the machine (workers.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from transform_fixtures import load

from bulkgraph.transform import run, workers

NAMES = ("POLARS_MAX_THREADS", "_RJEM_MALLOC_CONF", "GLIBC_TUNABLES", "POLARS_ENGINE_AFFINITY")


def _seen() -> dict[str, object]:
    """What a worker runs with: its environment and the size of polars' thread pool."""
    import polars as pl

    seen: dict[str, object] = {name: os.environ.get(name) for name in NAMES}
    seen["threads"] = pl.thread_pool_size()
    return seen


def _in_worker(pool_size: int) -> dict[str, object]:
    with ProcessPoolExecutor(pool_size, mp_context=workers.context(pool_size)) as pool:
        return pool.submit(_seen).result()


def test_one_polars_thread_each_when_the_workers_fill_the_cores() -> None:
    assert workers.worker_env(2, cores=2)["POLARS_MAX_THREADS"] == "1"
    assert workers.worker_env(1, cores=8)["POLARS_MAX_THREADS"] == "8"
    assert workers.worker_env(3, cores=8)["POLARS_MAX_THREADS"] == "2"
    assert workers.worker_env(16, cores=2)["POLARS_MAX_THREADS"] == "1"


def test_polars_default_allocator_options_are_the_ones_taken_off() -> None:
    """The child's polars puts its own jemalloc options first; workers.py takes the copy its
    parent's polars left off, or it would come after ours and undo them."""
    env = {k: v for k, v in os.environ.items() if k not in ("_RJEM_MALLOC_CONF", "POLARS_THP")}
    code = "import os, polars; print(os.environ['_RJEM_MALLOC_CONF'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == workers.POLARS_JEMALLOC_DEFAULT, out.stderr


def test_a_worker_starts_with_the_settings_and_the_parent_keeps_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("POLARS_MAX_THREADS", raising=False)
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    monkeypatch.delenv("POLARS_ENGINE_AFFINITY", raising=False)
    # as this process's polars left it when imported
    monkeypatch.setenv("_RJEM_MALLOC_CONF", workers.POLARS_JEMALLOC_DEFAULT)
    size = 2
    expected = workers.worker_env(size)
    seen = _in_worker(size)
    assert seen["POLARS_MAX_THREADS"] == expected["POLARS_MAX_THREADS"]
    assert seen["threads"] == int(expected["POLARS_MAX_THREADS"])
    assert seen["GLIBC_TUNABLES"] == workers.GLIBC_TUNABLES
    assert seen["POLARS_ENGINE_AFFINITY"] == workers.POLARS_ENGINE == "in-memory"
    # the child's polars put its defaults first; ours come last, so they hold
    conf = f"{workers.POLARS_JEMALLOC_DEFAULT},{workers.JEMALLOC_CONF}"
    assert seen["_RJEM_MALLOC_CONF"] == conf
    # only the child's environment had them
    assert "POLARS_MAX_THREADS" not in os.environ and "GLIBC_TUNABLES" not in os.environ
    assert "POLARS_ENGINE_AFFINITY" not in os.environ
    assert os.environ["_RJEM_MALLOC_CONF"] == workers.POLARS_JEMALLOC_DEFAULT


def test_a_setting_the_user_made_is_left_as_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLARS_MAX_THREADS", "3")
    monkeypatch.setenv("POLARS_ENGINE_AFFINITY", "streaming")
    # the user's dirty_decay_ms:1000, after polars' import put its defaults before it
    monkeypatch.setenv(
        "_RJEM_MALLOC_CONF", workers.POLARS_JEMALLOC_DEFAULT + ",dirty_decay_ms:1000"
    )
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    seen = _in_worker(2)
    assert seen["POLARS_MAX_THREADS"] == "3"
    assert seen["threads"] == 3
    # jemalloc takes the last value of an option: the user's
    conf = f"{workers.POLARS_JEMALLOC_DEFAULT},{workers.JEMALLOC_CONF},dirty_decay_ms:1000"
    assert seen["_RJEM_MALLOC_CONF"] == conf
    assert seen["GLIBC_TUNABLES"] == workers.GLIBC_TUNABLES
    assert seen["POLARS_ENGINE_AFFINITY"] == "streaming"
    assert os.environ["POLARS_MAX_THREADS"] == "3"


def test_the_transform_pool_is_made_of_these_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[int] = []

    def context(size: int) -> workers.WorkerContext:
        made.append(size)
        return workers.context(size)

    monkeypatch.setattr(run, "workers_context", context)
    snaps: list[Any] = [  # fixtures, duck-typed as Snapshot
        load("s1.json", snapshot_id=sid, taken_at=f"2026-01-0{n}T00:00:00+00:00", checksum=sid)
        for n, sid in ((1, "s1"), (2, "s2"))
    ]
    result = run.transform(snaps, tmp_path, workers=2)
    assert sorted(result.transformed) == ["s1", "s2"] and not result.failed
    assert made == [2]


def _fresh(code: str, env_conf: str | None) -> str:
    left_out = ("_RJEM_MALLOC_CONF", "POLARS_THP", "POLARS_ENGINE_AFFINITY")
    env = {k: v for k, v in os.environ.items() if k not in left_out}
    if env_conf is not None:
        env["_RJEM_MALLOC_CONF"] = env_conf
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.parametrize(
    ("user", "after"),
    [
        (None, ""),
        ("dirty_decay_ms:1000", ",dirty_decay_ms:1000"),
        # the same text as polars' defaults, given by the user: kept, so it wins
        (workers.POLARS_JEMALLOC_DEFAULT, f",{workers.POLARS_JEMALLOC_DEFAULT}"),
    ],
)
def test_the_command_keeps_memory_in_its_own_polars_too(user: str | None, after: str) -> None:
    """`bulkgraph` sets the option before any command imports polars, which reads it once."""
    conf = f"{workers.POLARS_JEMALLOC_DEFAULT},{workers.JEMALLOC_CONF}{after}"
    assert _after_the_command("os.environ['_RJEM_MALLOC_CONF']", user) == conf


def test_the_command_runs_polars_on_the_in_memory_engine() -> None:
    engine = "polars.Config.state(env_only=True).get('POLARS_ENGINE_AFFINITY')"
    assert _after_the_command(engine, None) == workers.POLARS_ENGINE


def _after_the_command(printed: str, env_conf: str | None) -> str:
    """The Python expression `printed` in a fresh process, once `bulkgraph --help` has run
    and polars is imported."""
    code = (
        "import os, sys\n"
        "sys.argv = ['bulkgraph', '--help']\n"
        "from bulkgraph.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "import polars\n"
        f"print({printed})"
    )
    return _fresh(code, env_conf).splitlines()[-1]


def test_too_late_once_polars_is_imported() -> None:
    code = (
        "import os, polars\n"
        "from bulkgraph.transform.workers import prepare_polars\n"
        "prepare_polars()\n"
        "print(os.environ['_RJEM_MALLOC_CONF'])"
    )
    assert _fresh(code, None) == workers.POLARS_JEMALLOC_DEFAULT


def test_a_worker_of_such_a_command_gets_the_options_once() -> None:
    found = f"{workers.POLARS_JEMALLOC_DEFAULT},{workers.JEMALLOC_CONF},dirty_decay_ms:1000"
    assert (
        workers._jemalloc_conf(workers.JEMALLOC_CONF, found)
        == f"{workers.JEMALLOC_CONF},dirty_decay_ms:1000"
    )
    parent = f"{workers.POLARS_JEMALLOC_DEFAULT},{workers.JEMALLOC_CONF}"
    assert workers._jemalloc_conf(workers.JEMALLOC_CONF, parent) == workers.JEMALLOC_CONF
