"""The transform on a Dask cluster (transform/cluster.py, transform/shared.py).

A `LocalCluster` of two worker processes against a moto S3 server on a loopback port: the
CSV folder must be byte for byte what a local run writes, from snapshots in S3 with the
shared location in S3, and from a shared folder with a worker killed in the middle of
publishing a snapshot (its task runs again elsewhere; nothing lost, nothing twice).
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from bulkgraph.cli import app
from bulkgraph.errors import BulkgraphError, ExitCode
from bulkgraph.extract.model import Problem
from bulkgraph.extract.sources import Candidate, discover, find
from bulkgraph.pausepoint import PAUSE_AT, PAUSE_DIR
from bulkgraph.transform.cluster import Outcome, TaskOptions, snapshot_task, transform_on_cluster
from bulkgraph.transform.run import TransformResult, transform
from bulkgraph.transform.shared import PUBLISHED

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
ARCHIVES = sorted(SAMPLES.glob("*.tar.gz"))
LEGACY_ACCOUNT = "123456789012"  # the account samples/' legacy archive is read as


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (relative path -> bytes)."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def assert_same_folder(got: Path, want: Path) -> None:
    a, b = files_of(got), files_of(want)
    assert sorted(a) == sorted(b)
    different = [rel for rel in a if a[rel] != b[rel]]
    assert different == []


def local_run(sources: list[str], out: Path, cache: Path) -> TransformResult:
    found = discover(sources, cache_dir=cache, account_id=LEGACY_ACCOUNT)
    assert found.problems == []
    return transform(found.snapshots, out, workers=1)


@pytest.mark.slow  # transforms a snapshot twice
def test_a_task_publishes_once_and_reuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The task alone (no cluster): it publishes all files then `published.json`; a second
    run reuses the publication; a prefix whose publication never completed is redone."""
    monkeypatch.setenv("BULKGRAPH_CACHE_DIR", str(tmp_path / "cache"))
    from bulkgraph.settings import get_settings

    get_settings.cache_clear()
    candidate = Candidate(str(ARCHIVES[0]), str(ARCHIVES[0]))
    opts = TaskOptions(str(tmp_path / "shared"))
    first = snapshot_task(candidate, opts)
    assert isinstance(first, Outcome) and first.published is not None and not first.reused
    prefix = Path(first.published.prefix)
    assert (prefix / PUBLISHED).is_file()
    published = sorted(p.relative_to(prefix).as_posix() for p in prefix.rglob("*") if p.is_file())
    assert published == sorted([*first.published.files, PUBLISHED])  # no temporary names left
    assert first.published.files[-1].endswith("/result.json")

    again = snapshot_task(candidate, opts)
    assert isinstance(again, Outcome) and again.reused

    # killed between its files and their publication: not reused, published anew
    (prefix / PUBLISHED).unlink()
    redone = snapshot_task(candidate, opts)
    assert isinstance(redone, Outcome) and not redone.reused and (prefix / PUBLISHED).is_file()

    broken = snapshot_task(Candidate(str(tmp_path / "nothing.tar.gz"), ""), opts)
    assert isinstance(broken, Problem)
    # the extraction went with each task: nothing piles up in the worker's cache
    assert not (tmp_path / "cache").exists()
    get_settings.cache_clear()


def test_cli_rejects_mixed_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("BULKGRAPH_DASK_SCHEDULER", "BULKGRAPH_DASK_SHARED"):
        monkeypatch.delenv(key, raising=False)
    runner = CliRunner()
    src = str(ARCHIVES[0])
    out = str(tmp_path / "out")
    cases = [
        (["--scheduler", "tcp://127.0.0.1:1", "--workers", "2"], "--workers"),
        (["--shared", str(tmp_path)], "--scheduler"),
        (["--scheduler", "tcp://127.0.0.1:1"], "BULKGRAPH_DASK_SHARED"),
    ]
    for options, says in cases:
        result = runner.invoke(app, ["transform", src, "--out", out, *options])
        # CliRunner bypasses run_main, which turns this into the message and exit code 2
        assert isinstance(result.exception, BulkgraphError), result.output
        assert result.exception.exit_code == ExitCode.USAGE
        assert says in str(result.exception)


# --- on a cluster ----------------------------------------------------------------------------


@pytest.fixture
def moto_s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server whose bucket `snaps` holds samples/' archives under `nightly/`, and an
    empty bucket `work`. The environment points boto3 and s3fs at it, here and in the
    worker processes started after."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    # nothing of this test in the real cache
    monkeypatch.setenv("BULKGRAPH_CACHE_DIR", str(tmp_path / "worker-cache"))
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="snaps")
    s3.create_bucket(Bucket="work")
    for path in ARCHIVES:
        s3.upload_file(str(path), "snaps", f"nightly/{path.name}")
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture
def cluster_of_two() -> Iterator[str]:
    """A LocalCluster of two single-threaded worker processes; its scheduler's address.
    Started after the fixtures before it set the environment its workers inherit."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        memory_limit="1GiB",
        dashboard_address=None,
    ) as cluster:
        yield cluster.scheduler_address


@pytest.mark.slow
def test_s3_in_s3_out_is_byte_identical(tmp_path: Path, moto_s3: str, cluster_of_two: str) -> None:
    sources = ["s3://snaps/nightly/"]
    want = tmp_path / "local"
    local_run(sources, want, tmp_path / "local-cache")

    got = tmp_path / "dask"
    result, problems = transform_on_cluster(
        sources, got, scheduler=cluster_of_two, shared="s3://work/shared/"
    )
    assert problems == []
    assert result.failed == {}
    assert sorted(result.transformed) == sorted(p.name.removesuffix(".tar.gz") for p in ARCHIVES)
    assert_same_folder(got, want)
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket="work")["Contents"]]
    assert sum(k.endswith(PUBLISHED) for k in keys) == len(ARCHIVES)

    # again, into a new folder: every snapshot comes from its publication, the same bytes
    again = tmp_path / "dask-again"
    result, problems = transform_on_cluster(
        sources, again, scheduler=cluster_of_two, shared="s3://work/shared/"
    )
    assert problems == [] and result.transformed == []
    assert len(result.reused) == len(ARCHIVES)
    assert_same_folder(again, want)

    # `rebuild --scheduler` transforms on the cluster too, then imports (no Neo4j here)
    res = CliRunner().invoke(
        app,
        [
            "rebuild",
            *sources,
            "--workdir",
            str(tmp_path / "work"),
            "--neo4j-home",
            str(tmp_path / "no-neo4j"),
            "--scheduler",
            cluster_of_two,
            "--shared",
            "s3://work/rebuild/",
        ],
    )
    assert isinstance(res.exception, BulkgraphError), res.output
    assert "no Neo4j installed" in str(res.exception)
    assert_same_folder(tmp_path / "work" / "csv", want)
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket="work")["Contents"]]
    assert sum(k.startswith("rebuild/") and k.endswith(PUBLISHED) for k in keys) == len(ARCHIVES)


@pytest.fixture
def pause_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The first worker to publish a file pauses there (pausepoint.py), once."""
    folder = tmp_path / "pause"
    monkeypatch.setenv(PAUSE_AT, "dask_publish")
    monkeypatch.setenv(PAUSE_DIR, str(folder))
    return folder


@pytest.mark.slow
def test_a_worker_killed_mid_task_loses_and_duplicates_nothing(
    tmp_path: Path, moto_s3: str, pause_dir: Path, cluster_of_two: str
) -> None:
    # a shared folder in, a shared folder out: samples/ (tar archives and a legacy folder)
    src = tmp_path / "samples"
    shutil.copytree(SAMPLES, src)
    sources = [str(src)]
    got = tmp_path / "dask"
    outcome: dict[str, BaseException] = {}
    answer: list[tuple[TransformResult, list[Problem]]] = []

    def run() -> None:
        try:
            answer.append(
                transform_on_cluster(
                    sources,
                    got,
                    scheduler=cluster_of_two,
                    shared=str(tmp_path / "shared"),
                    account_id=LEGACY_ACCOUNT,
                )
            )
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    marker = pause_dir / "dask_publish"
    deadline = time.monotonic() + 120
    while not marker.is_file():
        assert time.monotonic() < deadline, "no worker reached the pause point"
        assert thread.is_alive(), outcome
        time.sleep(0.1)
    pid = int(marker.read_text())
    assert pid != os.getpid()
    os.kill(pid, signal.SIGKILL)  # the worker process, in the middle of publishing

    thread.join(timeout=240)
    assert not thread.is_alive(), "the transform did not finish after the worker was killed"
    assert "error" not in outcome, outcome
    result, problems = answer[0]
    assert problems == []
    assert result.failed == {}
    assert len(result.transformed) == len(ARCHIVES) + 1  # and the legacy archive

    want = tmp_path / "local"
    local_run(sources, want, tmp_path / "local-cache")
    assert_same_folder(got, want)
    shared_files = [p.name for p in (tmp_path / "shared").rglob("*") if p.is_file()]
    assert shared_files.count(PUBLISHED) == len(ARCHIVES) + 1
    # the killed task's half-written copy was replaced, not kept beside: no temporary names
    assert not [n for n in shared_files if n.endswith(".part")]
    # it did pause, so it was killed (the retry passed the point)
    assert (pause_dir / ".dask_publish.claimed").is_file()


def test_find_lists_without_opening(tmp_path: Path) -> None:
    """`find` names candidates and problems in order, opening nothing (no cache written)."""
    (tmp_path / "empty").mkdir()
    found = find([str(SAMPLES), str(tmp_path / "missing"), str(tmp_path / "empty")])
    candidates = [f for f in found if isinstance(f, Candidate)]
    assert [Path(c.path).name for c in candidates] == sorted(
        p.name for p in SAMPLES.iterdir() if not p.name.startswith(".")
    )
    assert [f for f in found if isinstance(f, Problem)] == [
        Problem(str(tmp_path / "missing"), "does not exist"),
        Problem(str(tmp_path / "empty"), "no snapshots found in this folder"),
    ]


def test_a_pause_point_pauses_once_per_folder(tmp_path: Path) -> None:
    """The process that retries a killed worker's task passes the point it was killed at
    (the workers share the variables): a second process, here, must not sleep there."""
    import subprocess
    import sys

    env = {**os.environ, PAUSE_AT: "here", PAUSE_DIR: str(tmp_path)}
    code = "from bulkgraph.pausepoint import pause_point; pause_point('here'); print('passed')"
    first = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "here").is_file():
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.05)
        second = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
        assert second.stdout == "passed\n"
    finally:
        first.kill()
        first.wait()
    assert first.returncode == -signal.SIGKILL
