"""S3 end to end against a moto server on a loopback port: collect --pack --upload, then list
the S3 prefix together with a native folder, a tar.gz and a legacy archive."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from test_extract_native import make_snapshot
from typer.testing import CliRunner

from bulkgraph.cli import app
from bulkgraph.errors import ExitCode
from bulkgraph.extract import archive, s3
from bulkgraph.extract.collect import collect
from bulkgraph.extract.operations import OPERATIONS
from bulkgraph.extract.sources import discover

LEGACY = Path(__file__).parent / "fixtures" / "legacy" / "archive_20240315_103000"


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # boto3 reads AWS_ENDPOINT_URL itself: every client, the collector's too, uses the server
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.mark.slow  # collects, packs and uploads to a moto server
def test_collect_upload_then_list_everything(
    tmp_path: Path, moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    boto3.client("s3").create_bucket(Bucket="snaps")
    result = collect(
        tmp_path / "out",
        regions="us-east-1",
        snapshot_id="s3-run",
        pack=True,
        upload="s3://snaps/prod/",
    )
    assert result.exit_code == ExitCode.OK, result.errors
    assert result.uploaded == "s3://snaps/prod/s3-run.tar.gz"
    head = boto3.client("s3").head_object(Bucket="snaps", Key="prod/s3-run.tar.gz")
    assert head["ContentLength"] == result.archive.stat().st_size  # type: ignore[union-attr]
    assert head["Metadata"]["sha256"] == archive.sha256_file(result.archive)  # type: ignore[arg-type]

    # download once, re-use after
    cache = tmp_path / "cache"
    first = s3.fetch_prefix("s3://snaps/prod/", cache)
    second = s3.fetch_prefix("s3://snaps/prod/", cache)
    assert [(d.uri, d.reused) for d in first] == [("s3://snaps/prod/s3-run.tar.gz", False)]
    assert [(d.uri, d.reused) for d in second] == [("s3://snaps/prod/s3-run.tar.gz", True)]

    native = make_snapshot(tmp_path / "local", "native-1")
    packed = archive.pack(make_snapshot(tmp_path / "topack", "packed-1"), tmp_path / "p.tar.gz")
    legacy = tmp_path / "legacy" / LEGACY.name
    shutil.copytree(LEGACY, legacy)

    found = discover(
        ["s3://snaps/prod/", str(native), str(packed), str(legacy)],
        cache_dir=cache,
        account_id="123456789012",
    )
    assert found.problems == []
    ids = [s.info.snapshot_id for s in found.snapshots]
    # ordered by time: legacy 2024, the two test snapshots 2026-01-02 (then by id), collected now
    assert ids[:3] == ["archive_20240315_103000", "native-1", "packed-1"]
    assert ids[3] == "s3-run"

    monkeypatch.setenv("BULKGRAPH_CACHE_DIR", str(tmp_path / "cli-cache"))
    from bulkgraph.settings import get_settings

    get_settings.cache_clear()
    try:
        res = CliRunner().invoke(
            app,
            [
                "snapshots", "list", "--json", "--account-id", "123456789012",
                "s3://snaps/prod/", str(native), str(packed), str(legacy),
            ],
        )  # fmt: skip
    finally:
        get_settings.cache_clear()
    assert res.exit_code == 0, res.output
    listed = json.loads(res.stdout)
    rows = {r["snapshot_id"]: r for r in listed["snapshots"]}
    assert set(rows) == {"archive_20240315_103000", "native-1", "packed-1", "s3-run"}
    assert all(r["valid"] for r in rows.values())
    assert rows["archive_20240315_103000"]["source"] == "aws_neo4j_map"
    assert rows["archive_20240315_103000"]["accounts"] == ["123456789012"]
    assert rows["s3-run"]["location"].startswith("s3://snaps/prod/s3-run.tar.gz")
    # one region's operations, and the account's global one (IAM)
    assert rows["s3-run"]["files"] == sum(len(op.regions(["us-east-1"])) for op in OPERATIONS)
    assert listed["problems"] == []


def test_missing_bucket_is_a_problem(tmp_path: Path, moto_server: str) -> None:
    found = discover(["s3://no-such-bucket/x/"], cache_dir=tmp_path)
    assert found.snapshots == []
    assert "cannot list" in found.problems[0].message
