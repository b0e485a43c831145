"""`bulkgraph snapshots from-config` as a user runs it (issue 19): the real command in a
subprocess, reading the scenario's Config files from S3 on a moto server at a loopback
port, under a prefix and an organisation id above `AWSLogs/`."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from config_scenario import D1, D3, IDS, write_scenario
from moto.server import ThreadedMotoServer
from org_server import cli_env

from bulkgraph.errors import ExitCode
from bulkgraph.extract.awsconfig.build import from_config

pytestmark = pytest.mark.slow

BUCKET = "org-config"
PREFIX = "config"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"))
        yield url
    finally:
        server.stop()


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _without_messages(manifest: Path) -> dict[str, object]:
    doc = json.loads(manifest.read_text())
    for error in doc["errors"]:
        error.pop("message")
    return dict(doc)


def test_from_config_reads_an_s3_bucket(endpoint: str, tmp_path: Path) -> None:
    local = tmp_path / "local"
    scenario = write_scenario(local)
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=BUCKET)
    for path in sorted(local.rglob("*.json.gz")):
        s3.upload_file(str(path), BUCKET, f"{PREFIX}/{path.relative_to(local).as_posix()}")
    corrupt_key = f"{PREFIX}/{scenario.corrupt.relative_to(local).as_posix()}"

    def run(out: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "bulkgraph",
                "snapshots",
                "from-config",
                f"s3://{BUCKET}/{PREFIX}/",
                "--out",
                str(out),
                "--since",
                D1.date().isoformat(),
                "--until",
                D3.isoformat(),
                "--json",
            ],
            cwd=tmp_path,
            env=cli_env(tmp_path, endpoint),
            capture_output=True,
            text=True,
            timeout=300,
        )

    proc = run(tmp_path / "out")
    assert proc.returncode == ExitCode.PARTIAL, proc.stderr
    assert "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["written"] == IDS
    assert [p["location"] for p in doc["problems"]] == [f"s3://{BUCKET}/{corrupt_key}"]
    assert f"s3://{BUCKET}/{corrupt_key}" in proc.stderr  # named on stderr too
    # the same archives as from the local copy of the bucket (but for the messages that
    # name the unreadable file by where it was read)
    from_config([str(local)], tmp_path / "from-local", since=D1, until=D3)
    s3_side, local_side = _digests(tmp_path / "out"), _digests(tmp_path / "from-local")
    assert s3_side.keys() == local_side.keys()
    for name, digest in s3_side.items():
        if name.endswith("manifest.json"):
            assert _without_messages(tmp_path / "out" / name) == _without_messages(
                tmp_path / "from-local" / name
            )
        else:
            assert digest == local_side[name], name
    # again: every snapshot exists already, nothing is rewritten
    again = run(tmp_path / "out")
    assert again.returncode == ExitCode.PARTIAL, again.stderr
    assert json.loads(again.stdout)["skipped_existing"] == IDS


def test_a_bad_every_is_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "bulkgraph", "snapshots", "from-config", str(tmp_path)),
            *("--out", str(tmp_path / "out"), "--every", "daily"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    assert "--every 'daily'" in proc.stderr
