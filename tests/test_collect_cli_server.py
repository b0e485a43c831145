"""`bulkgraph collect` as a user runs it: the real command in a subprocess, against a moto
server on a loopback port (issue 3's "done means").

1. A full collection of the estate exits 0, and `snapshots verify` / `snapshots list` accept it.
2. Through a loopback proxy that answers every eu-west-1 call the way AWS does when IAM says
   no (HTTP 403, the service's own error shape), the collection exits 3, the manifest records
   each failed operation with its error code, us-east-1 is complete, and the snapshot still
   verifies: failed calls are recorded unknowns, not corruption.

No real AWS: fake credentials, AWS_ENDPOINT_URL on loopback, no shared config files.
"""

from __future__ import annotations

import gzip
import http.client
import json
import re
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from estate import ACCOUNT_ID, Estate, build_estate
from moto.server import ThreadedMotoServer
from org_server import cli_env

from bulkgraph.extract.operations import GLOBAL_REGION, PerItem, Scope
from bulkgraph.extract.operations import OPERATIONS as REGISTRY
from bulkgraph.extract.permissions import iam_action

REGIONS = "us-east-1,eu-west-1"
DENIED = "eu-west-1"

#: every operation of one region (IAM's is global: signed for us-east-1, collected once);
#: those called per item are not called when the operations listing their items failed
OPERATIONS = tuple(sorted(op.name for op in REGISTRY if op.scope is Scope.REGIONAL))
CALLED_PER_ITEM = {op.name for op in REGISTRY if isinstance(op.calls, PerItem)}
GLOBAL_FILES = {op.path(ACCOUNT_ID, GLOBAL_REGION) for op in REGISTRY if op.scope is Scope.GLOBAL}

#: `Credential=<key>/<date>/<region>/<service>/aws4_request` in a SigV4 Authorization header
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")

#: hop-by-hop headers and the ones the proxy recomputes for the body it sends on
_NOT_FORWARDED = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


def bulkgraph(tmp_path: Path, endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    # cwd tmp_path: no .env of the checkout is read
    return subprocess.run(
        [sys.executable, "-m", "bulkgraph", *args],
        cwd=tmp_path,
        env=cli_env(tmp_path, endpoint),
        capture_output=True,
        text=True,
        timeout=300,
    )


@dataclass
class MotoEstate:
    endpoint: str
    estate: Estate


#: a moto server with a whole estate, collected through the CLI
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def moto_estate() -> Iterator[MotoEstate]:
    """A moto server on 127.0.0.1 (ephemeral port) holding the test estate; read-only after."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        # the server shares moto's in-process backends: start from nothing
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
        with pytest.MonkeyPatch.context() as mp:
            for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
                mp.delenv(key, raising=False)
            mp.setenv("AWS_ACCESS_KEY_ID", "testing")
            mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
            mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
            estate = build_estate(endpoint_url=endpoint)
        yield MotoEstate(endpoint, estate)
    finally:
        server.stop()


# --- a loopback proxy that plays IAM saying no -----------------------------------------------


@dataclass
class Denial:
    region: str
    service: str
    action: str


class DenyingProxy(ThreadingHTTPServer):
    """Forwards requests to `upstream`, except those signed for `denied_region`: those get the
    403 AWS itself sends when IAM denies the call."""

    daemon_threads = True

    def __init__(self, upstream: str, denied_region: str) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        host, _, port = upstream.removeprefix("http://").partition(":")
        self.upstream = (host, int(port))
        self.denied_region = denied_region
        self.denied: list[Denial] = []
        self.forwarded: list[tuple[str, str]] = []  # (region, service)
        self.lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


def _denial_body(service: str, action: str, region: str) -> tuple[bytes, str]:
    """The error document AWS returns for a denied call of `service` (403 in both shapes)."""
    who = f"arn:aws:iam::{ACCOUNT_ID}:user/collector"
    if service == "ec2":  # the EC2 query API has its own error shape
        code = "UnauthorizedOperation"
        message = f"You are not authorized to perform this operation. ({action} in {region})"
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>"
            "</Error></Errors><RequestID>0b7a1f5e-test-proxy</RequestID></Response>"
        )
    elif service == "lambda":  # REST-JSON: the error type in a header, a JSON body
        code = "AccessDeniedException"
        message = (
            f"User: {who} is not authorized to perform: lambda:{action} on resource: "
            f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:* because no identity-based "
            "policy allows the lambda:{action} action"
        )
        return json.dumps({"Message": message}).encode(), code
    else:  # rds, elbv2: the AWS query protocol
        code = "AccessDenied"
        message = (
            f"User: {who} is not authorized to perform: {service}:{action} in {region} "
            "with an explicit deny"
        )
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error>"
            "<RequestId>0b7a1f5e-test-proxy</RequestId></ErrorResponse>"
        )
    return body.encode(), code


class _ProxyHandler(BaseHTTPRequestHandler):
    server: DenyingProxy

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        match = _SCOPE.search(self.headers.get("Authorization", ""))
        region, service = match.groups() if match else ("", "")
        if region == self.server.denied_region:
            form = parse_qs(body.decode("utf-8", "replace"))
            action = form.get("Action", ["?"])[0]
            if service == "lambda" and self.path.startswith("/2015-03-31/functions"):
                action = "ListFunctions"  # REST: the path says it, not the body
            with self.server.lock:
                self.server.denied.append(Denial(region, service, action))
            payload, code = _denial_body(service, action, region)
            self.send_response(403)
            if service == "lambda":
                self.send_header("Content-Type", "application/json")
                self.send_header("x-amzn-ErrorType", code)
            else:
                self.send_header("Content-Type", "text/xml;charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        with self.server.lock:
            self.server.forwarded.append((region, service))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _NOT_FORWARDED}
        conn = http.client.HTTPConnection(*self.server.upstream, timeout=60)
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            self.send_response(resp.status, resp.reason)
            for key, value in resp.getheaders():
                if key.lower() not in _NOT_FORWARDED:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        finally:
            conn.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean


@pytest.fixture
def denying_proxy(moto_estate: MotoEstate) -> Iterator[DenyingProxy]:
    proxy = DenyingProxy(moto_estate.endpoint, DENIED)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join(timeout=10)


# --- helpers over the written snapshot --------------------------------------------------------


def read_data(folder: Path, region: str, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        gzip.decompress((folder / ACCOUNT_ID / region / f"{name}.json.gz").read_bytes())
    )
    return doc


def instance_ids(folder: Path, region: str) -> set[str]:
    doc = read_data(folder, region, "ec2/DescribeInstances")
    return {
        i["InstanceId"]
        for call in doc["calls"]
        for page in call["pages"]
        for r in page["Reservations"]
        for i in r["Instances"]
    }


def data_files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*.json.gz")}


def expected_files(region: str) -> set[str]:
    return {f"{ACCOUNT_ID}/{region}/{op.replace(':', '/')}.json.gz" for op in OPERATIONS}


#: data files of a whole collection of REGIONS: each region's, and the global ones once
ALL_FILES = len(OPERATIONS) * 2 + len(GLOBAL_FILES)


# --- the tests --------------------------------------------------------------------------------


def test_collect_verify_list_through_the_cli(tmp_path: Path, moto_estate: MotoEstate) -> None:
    endpoint, estate = moto_estate.endpoint, moto_estate.estate
    out = tmp_path / "out"
    res = bulkgraph(
        tmp_path, endpoint, "collect", "--out", str(out), "--regions", REGIONS,
        "--snapshot-id", "srv-1", "--json",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["exit_code"] == 0
    assert summary["errors"] == []
    assert summary["files"] == ALL_FILES
    assert summary["accounts"] == {ACCOUNT_ID: ["us-east-1", "eu-west-1"]}
    folder = out / "srv-1"
    assert summary["folder"] == str(folder)
    assert data_files(folder) == (
        expected_files("us-east-1") | expected_files("eu-west-1") | GLOBAL_FILES
    )

    # the files hold the server's estate, region by region
    for region, ids in estate.regions.items():
        assert instance_ids(folder, region) == set(ids.instances.values())
        rds = read_data(folder, region, "rds/DescribeDBInstances")
        assert sorted(
            d["DBInstanceIdentifier"] for d in rds["calls"][0]["pages"][0]["DBInstances"]
        ) == sorted(ids.db_instances)
        health = read_data(folder, region, "elbv2/DescribeTargetHealth")
        assert {c["request"]["TargetGroupArn"] for c in health["calls"]} == set(
            ids.target_groups.values()
        )

    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format"] == "bulkgraph-snapshot/1"
    assert manifest["errors"] == []
    assert manifest["accounts"] == [
        {"account_id": ACCOUNT_ID, "regions": ["eu-west-1", "us-east-1"]}
    ]

    res = bulkgraph(tmp_path, endpoint, "snapshots", "verify", str(folder))
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip() == ""  # no bad file
    assert "srv-1" in res.stderr and ": ok" in res.stderr

    res = bulkgraph(tmp_path, endpoint, "snapshots", "list", str(out), "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    listed = json.loads(res.stdout)
    assert listed["problems"] == []
    (row,) = listed["snapshots"]
    assert row["snapshot_id"] == "srv-1"
    assert row["valid"] is True and row["problems"] == []
    assert row["regions"] == ["eu-west-1", "us-east-1"]
    assert row["accounts"] == [ACCOUNT_ID]
    assert (row["files"], row["errors"]) == (ALL_FILES, 0)


def test_denied_region_exits_3_and_is_recorded(
    tmp_path: Path, moto_estate: MotoEstate, denying_proxy: DenyingProxy
) -> None:
    estate = moto_estate.estate
    out = tmp_path / "out"
    res = bulkgraph(
        tmp_path, denying_proxy.endpoint, "collect", "--out", str(out), "--regions", REGIONS,
        "--snapshot-id", "srv-denied", "--json",
    )  # fmt: skip
    assert res.returncode == 3, res.stdout + res.stderr

    # the proxy really sat in the path: it denied eu-west-1 and passed us-east-1 through
    denied_calls = {(d.service, d.action) for d in denying_proxy.denied}
    # every regional operation called once (IAM names elbv2's actions elasticloadbalancing,
    # as SigV4 signs them), except those called per item: their items are unknown
    assert denied_calls == {
        tuple(iam_action(op).split(":"))
        for op in REGISTRY
        if op.scope is Scope.REGIONAL and op.name not in CALLED_PER_ITEM
    }
    assert ("elasticloadbalancing", "DescribeLoadBalancers") in denied_calls
    assert {d.region for d in denying_proxy.denied} == {DENIED}
    assert len(denying_proxy.denied) == len(denied_calls)  # a denial is final: no retries
    assert ("us-east-1", "ec2") in denying_proxy.forwarded
    assert all(region != DENIED for region, _ in denying_proxy.forwarded)

    folder = out / "srv-denied"
    manifest = json.loads((folder / "manifest.json").read_text())
    got = {(e["account_id"], e["region"], e["operation"]): e for e in manifest["errors"]}
    assert set(got) == {(ACCOUNT_ID, DENIED, op) for op in OPERATIONS}
    codes = {op: e["error_code"] for (_, _, op), e in got.items()}
    by_service = {"ec2": "UnauthorizedOperation", "lambda": "AccessDeniedException"}
    assert codes == {
        # never called: the target groups and load balancers they need are unknown
        op: "NotCalled"
        if op in CALLED_PER_ITEM
        else by_service.get(op.split(":")[0], "AccessDenied")
        for op in OPERATIONS
    }
    assert codes["elbv2:DescribeTargetHealth"] == "NotCalled"
    assert codes["rds:DescribeDBInstances"] == "AccessDenied"
    rds_error = got[(ACCOUNT_ID, DENIED, "rds:DescribeDBInstances")]
    assert "not authorized to perform: rds:DescribeDBInstances in eu-west-1" in rds_error["message"]
    assert len(manifest["errors"]) == len(got)  # each failure recorded once

    # us-east-1 and the account's IAM are complete, eu-west-1 has no files at all (unknown,
    # not empty)
    assert data_files(folder) == expected_files("us-east-1") | GLOBAL_FILES
    assert sorted(f["region"] for f in manifest["files"]) == sorted(
        ["us-east-1"] * len(OPERATIONS) + [GLOBAL_REGION] * len(GLOBAL_FILES)
    )
    assert instance_ids(folder, "us-east-1") == set(estate.regions["us-east-1"].instances.values())
    # the regions asked for are still the snapshot's regions
    assert manifest["accounts"] == [
        {"account_id": ACCOUNT_ID, "regions": ["eu-west-1", "us-east-1"]}
    ]

    summary = json.loads(res.stdout)
    assert summary["exit_code"] == 3
    assert summary["files"] == len(OPERATIONS) + len(GLOBAL_FILES)
    assert len(summary["errors"]) == len(OPERATIONS)
    # a cron job that only keeps stderr still learns what failed
    assert "eu-west-1" in res.stderr
    assert "rds:DescribeDBInstances" in res.stderr and "AccessDenied" in res.stderr
    assert "ec2:DescribeInstances" in res.stderr and "UnauthorizedOperation" in res.stderr

    res = bulkgraph(tmp_path, denying_proxy.endpoint, "snapshots", "verify", str(folder))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "srv-denied" in res.stderr and ": ok" in res.stderr

    res = bulkgraph(tmp_path, denying_proxy.endpoint, "snapshots", "list", str(out), "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    (row,) = json.loads(res.stdout)["snapshots"]
    assert row["valid"] is True
    assert (row["files"], row["errors"]) == (len(OPERATIONS) + len(GLOBAL_FILES), len(OPERATIONS))
