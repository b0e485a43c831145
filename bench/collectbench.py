"""The collection stage of the benchmark: `bulkgraph collect` of one region of N instances
from a moto server on a loopback port, in a subprocess, as a user runs it; the figure is
seconds per 1,000 instances.

Against moto the time is mostly moto's (it renders every page in Python), so the figure is
an upper bound of what bulkgraph itself spends, and a regression check of it (a collector
that stops paginating, or calls per instance, shows at once); AWS answers large pages
faster.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"

#: what moto's RunInstances handler passes its backend, for an instance with no options
_RUN_DEFAULTS: dict[str, Any] = dict(
    instance_type="m5.large", is_instance_type_default=False, placement=None,
    placement_hostid=None, subnet_id=None, key_name=None, security_group_ids=[], nics=[],
    private_ip=None, associate_public_ip=None, tags={}, ebs_optimized=False,
    disable_api_stop=False, instance_market_options={}, instance_initiated_shutdown_behavior=None,
    launch_template={}, hibernation_options={}, iam_instance_profile_name=None,
    iam_instance_profile_arn=None, monitoring_state="disabled", ipv6_address_count=None,
    metadata_options={}, client_token="ABCDE",
)  # fmt: skip


def launch_many(account: str, region: str, count: int) -> None:
    """`count` instances of one reservation each (as an auto scaling group launches them),
    straight into the backend of a moto server running in this process.

    Through the API, 10,000 RunInstances calls take many minutes; and moto looks an instance
    up by copying every reservation, which makes each launch slower than the last (quadratic):
    while launching, the lookup starts from the newest reservation instead.
    """
    from moto.ec2.exceptions import InvalidInstanceIdError
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.instances import InstanceBackend

    def newest_first(self: Any, instance_id: str) -> Any:
        for reservation in reversed(self.reservations.values()):
            for instance in reservation.instances:
                if instance.id == instance_id:
                    return instance
        raise InvalidInstanceIdError(instance_id)

    backend = ec2_backends[account][region]
    original = InstanceBackend.get_instance
    InstanceBackend.get_instance = newest_first  # type: ignore[method-assign]
    try:
        for _ in range(count):
            backend.run_instances("ami-12345678", 1, None, [], region_name=region, **_RUN_DEFAULTS)
    finally:
        InstanceBackend.get_instance = original  # type: ignore[method-assign]


def _env(workdir: Path, endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BULKGRAPH_"))}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_ENDPOINT_URL=endpoint,
        AWS_CONFIG_FILE=str(workdir / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(workdir / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        BULKGRAPH_CACHE_DIR=str(workdir / "cache"),
    )
    return env


def collection_rate(instances: int, workdir: Path) -> dict[str, Any]:
    """Launch `instances` into a fresh moto server and time `bulkgraph collect` of them."""
    from moto.server import ThreadedMotoServer

    saved = {k: os.environ.get(k) for k in ("MOTO_EC2_LOAD_DEFAULT_AMIS", "AWS_ACCESS_KEY_ID")}
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"  # thousands of AMIs slow every launch
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
        started = time.monotonic()
        launch_many(ACCOUNT, REGION, instances)
        launch_seconds = time.monotonic() - started
        workdir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        res = subprocess.run(
            [sys.executable, "-m", "bulkgraph", "-q", "collect", "--out", str(workdir / "out"),
             "--regions", REGION, "--snapshot-id", "bench-collect"],
            cwd=workdir, env=_env(workdir, endpoint), capture_output=True, text=True,
        )  # fmt: skip
        seconds = time.monotonic() - started
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if res.returncode != 0:
        raise RuntimeError(f"bulkgraph collect exited {res.returncode}: {res.stderr[-2000:]}")
    return {
        "instances": instances,
        "region": REGION,
        "launch_seconds": launch_seconds,
        "seconds": seconds,
        "seconds_per_1000_instances": seconds * 1000 / instances,
        "instances_per_second": instances / seconds if seconds else 0.0,
    }
