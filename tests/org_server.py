"""An AWS Organization on a moto server, for collecting it the way a user does (issue 23).

- `moto_server()`: a moto server on a loopback port, reset, with fake credentials in the
  environment while it is built.
- `build_organization(endpoint, members, with_role)`: an organization whose management
  account is moto's default one, `members` member accounts, the collection role created in
  the accounts of `with_role`, and in every account a small estate (moto's default VPC per
  region plus `instances` instances in each region).
- `RoleCheckingProxy`: forwards every request to the server and records what was called;
  an AssumeRole of a role that does not exist in its account gets the 403 AccessDenied STS
  itself sends (moto lets any role be assumed, AWS does not).
- `bulkgraph(...)`: the real CLI in a subprocess against an endpoint.
"""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest
from moto.server import ThreadedMotoServer

from bench.collectbench import launch_many  # noqa: F401  (the tests' too)

MANAGEMENT = "123456789012"  # moto's default account: the organization's management account
ROLE = "bulkgraph-read"
REGIONS = ("us-east-1", "eu-west-1")

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")
_NOT_FORWARDED = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


@contextmanager
def moto_server(**env: str) -> Iterator[str]:
    """A reset moto server on 127.0.0.1; yields its endpoint. `env`: moto settings."""
    with pytest.MonkeyPatch.context() as mp:
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            mp.delenv(key, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        for key, value in env.items():
            mp.setenv(key, value)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            endpoint = f"http://{host}:{port}"
            # the server shares moto's in-process backends: start from nothing
            urllib.request.urlopen(
                urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
            )
            yield endpoint
        finally:
            server.stop()


@dataclass
class Organization:
    endpoint: str
    accounts: list[str]  # management first, then the members in creation order
    with_role: set[str]
    instances: dict[str, dict[str, list[str]]] = field(default_factory=dict)


def _session(endpoint: str, account: str | None) -> Any:
    """A session in `account` (None: the management account's own credentials)."""
    if account is None or account == MANAGEMENT:
        return boto3.session.Session(region_name="us-east-1")
    sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1")
    # moto: any role's credentials act in the role's account
    creds = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
        RoleSessionName="test-setup",
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name="us-east-1",
    )


def build_organization(
    endpoint: str, members: int, without_role: int = 0, instances: int = 2
) -> Organization:
    """Management account + `members` accounts; the last `without_role` members lack ROLE."""
    org = boto3.client("organizations", endpoint_url=endpoint, region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    for n in range(members):
        org.create_account(AccountName=f"member-{n}", Email=f"member-{n}@example.com")
    listed = [a["Id"] for a in org.list_accounts()["Accounts"]]
    accounts = [MANAGEMENT] + [a for a in listed if a != MANAGEMENT]
    assert len(accounts) == members + 1
    with_role = set(accounts[: len(accounts) - without_role])
    result = Organization(endpoint, accounts, with_role)
    for account in accounts:
        session = _session(endpoint, account)
        if account in with_role:
            session.client("iam", endpoint_url=endpoint).create_role(
                RoleName=ROLE, AssumeRolePolicyDocument='{"Version": "2012-10-17"}'
            )
        result.instances[account] = {}
        for region in REGIONS:
            ec2 = session.client("ec2", endpoint_url=endpoint, region_name=region)
            ids = [
                i["InstanceId"]
                for i in ec2.run_instances(
                    ImageId="ami-12345678", MinCount=instances, MaxCount=instances
                )["Instances"]
            ]
            result.instances[account][region] = ids
    return result


# --- the proxy --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    service: str  # the signing name: ec2, sts, organizations, elasticloadbalancing, ...
    action: str
    region: str
    role_arn: str | None = None  # AssumeRole's


class RoleCheckingProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        host, _, port = upstream.removeprefix("http://").partition(":")
        self.upstream = (host, int(port))
        self.calls: list[Call] = []
        self.lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def actions(self) -> set[str]:
        """`service:Action` of every call, in IAM's words."""
        with self.lock:
            return {f"{c.service}:{c.action}" for c in self.calls}

    def count(self, service: str, action: str) -> int:
        with self.lock:
            return sum(1 for c in self.calls if (c.service, c.action) == (service, action))

    def clear(self) -> None:
        with self.lock:
            self.calls.clear()


def role_exists(arn: str) -> bool:
    """Does the role exist in its account of the moto server (same process)?"""
    from moto.iam.models import iam_backends

    account, name = arn.split(":")[4], arn.rsplit("/", 1)[-1]
    backend = iam_backends[account]["aws"]
    return any(role.name == name for role in backend.roles.values())


def _action(handler: BaseHTTPRequestHandler, body: bytes) -> tuple[str, dict[str, list[str]]]:
    target = handler.headers.get("X-Amz-Target")
    if target:  # JSON protocol: organizations
        return target.rsplit(".", 1)[-1], {}
    form = parse_qs(body.decode("utf-8", "replace"))
    if "Action" in form:  # query protocol: ec2, sts, iam, rds, elbv2
        return form["Action"][0], form
    if "/functions" in handler.path:  # lambda's REST API
        return "ListFunctions", {}
    return f"{handler.command} {handler.path}", {}


class _Handler(BaseHTTPRequestHandler):
    server: RoleCheckingProxy

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        match = _SCOPE.search(self.headers.get("Authorization", ""))
        region, service = match.groups() if match else ("", "")
        action, form = _action(self, body)
        arn = form.get("RoleArn", [None])[0]
        with self.server.lock:
            self.server.calls.append(Call(service, action, region, arn))
        if action == "AssumeRole" and arn and not role_exists(arn):
            message = (
                f"User: arn:aws:iam::{MANAGEMENT}:user/collector is not authorized to perform: "
                f"sts:AssumeRole on resource: {arn}"
            )
            payload = (
                '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                f"<Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{message}"
                "</Message></Error><RequestId>test-proxy</RequestId></ErrorResponse>"
            ).encode()
            self.send_response(403)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _NOT_FORWARDED}
        conn = http.client.HTTPConnection(*self.server.upstream, timeout=600)
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
        pass


@contextmanager
def role_checking_proxy(upstream: str) -> Iterator[RoleCheckingProxy]:
    proxy = RoleCheckingProxy(upstream)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join(timeout=10)


# --- the CLI ----------------------------------------------------------------------------------


def cli_env(tmp_path: Path, endpoint: str) -> dict[str, str]:
    """The environment of a CLI run against a moto server: fake credentials (moto's default
    account, the management account of an organization), the endpoint, nothing from this host."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BULKGRAPH_"))}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        BULKGRAPH_CACHE_DIR=str(tmp_path / "cache"),
    )
    return env


def bulkgraph(
    tmp_path: Path, endpoint: str, *args: str, timeout: float | None = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bulkgraph", *args],
        cwd=tmp_path,
        env=cli_env(tmp_path, endpoint),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_bulkgraph(tmp_path: Path, endpoint: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bulkgraph", *args],
        cwd=tmp_path,
        env=cli_env(tmp_path, endpoint),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
