"""The memory of `snapshots from-config` over one large AWS Config snapshot file (issue 19).

AWS delivers a large account's configuration snapshot as one gzipped JSON line of more than
a gigabyte. This stage writes such a file (streamed, never held whole), of a chosen size:
instances and security groups (what the adapters keep) and S3 buckets (a type nobody
adapts, read and dropped), then runs `from_config` over it in a fresh process and samples
that process's peak resident memory. Reading is a stream (one item at a time); what grows
with the file is the state: each adapted resource's record as compact JSON text.

    scripts/bench --aws-config-mb 1024      # a stage of the whole benchmark
    python -m bench.configfile --mb 1024    # this stage alone (beside the checkout)
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.memory import PeakSampler
from bulkgraph.extract.awsconfig.keys import snapshot_key

MB = 1024 * 1024
ACCOUNT = "123456789012"
REGION = "us-east-1"
AT = datetime(2026, 11, 1, tzinfo=UTC)
STEP = AT + timedelta(days=1)

_RUN = """
import sys, time
from datetime import datetime
from pathlib import Path
from bulkgraph.extract.awsconfig.build import from_config
t = datetime.fromisoformat(sys.argv[3])
start = time.monotonic()
result = from_config([sys.argv[1]], Path(sys.argv[2]), since=t, until=t)
print(time.monotonic() - start, len(result.written), len(result.problems))
"""


def _item(n: int, rtype: str, configuration: dict[str, Any]) -> dict[str, Any]:
    return {
        "configurationItemVersion": "1.3",
        "configurationItemCaptureTime": "2026-10-31T10:00:00.000Z",
        "configurationStateId": 1000 + n,
        "awsAccountId": ACCOUNT,
        "configurationItemStatus": "OK",
        "resourceType": rtype,
        "resourceId": str(configuration.get("instanceId") or configuration.get("groupId") or n),
        "ARN": f"arn:aws:bench:{REGION}:{ACCOUNT}:{n}",
        "awsRegion": REGION,
        "tags": {"Name": f"r{n}", "team": f"t{n % 40}"},
        "relationships": [],
        "configuration": configuration,
    }


def _resource(n: int) -> dict[str, Any]:
    kind = n % 4
    if kind in (0, 1):
        return _item(
            n,
            "AWS::EC2::Instance",
            {
                "instanceId": f"i-{n:017x}",
                "instanceType": "m5.large",
                "state": {"code": 16, "name": "running"},
                "privateIpAddress": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}",
                "vpcId": "vpc-bench",
                "subnetId": f"subnet-{n % 64}",
                "launchTime": "2026-10-01T08:00:00.000Z",
                "securityGroups": [{"groupName": "web", "groupId": f"sg-{n % 500:08x}"}],
                "networkInterfaces": [
                    {
                        "networkInterfaceId": f"eni-{n:017x}",
                        "privateIpAddresses": [{"privateIpAddress": "10.0.0.1", "primary": True}],
                    }
                ],
                "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeId": "vol-1"}}],
                "tags": [{"key": "Name", "value": f"r{n}"}, {"key": "team", "value": "x"}],
            },
        )
    if kind == 2:
        return _item(
            n,
            "AWS::EC2::SecurityGroup",
            {
                "groupId": f"sg-{n:08x}",
                "groupName": f"g{n}",
                "vpcId": "vpc-bench",
                "ipPermissions": [
                    {
                        "ipProtocol": "tcp",
                        "fromPort": p,
                        "toPort": p,
                        "ipRanges": ["10.0.0.0/8"],
                        "ipv4Ranges": [{"cidrIp": "10.0.0.0/8"}],
                    }
                    for p in (22, 80, 443, 5432)
                ],
            },
        )
    # a type no adapter reads: parsed, and dropped
    return _item(n, "AWS::S3::Bucket", {"name": f"bucket-{n}", "policy": "x" * 1500})


def write_large_snapshot(root: Path, target_bytes: int) -> tuple[Path, int, int]:
    """A Config snapshot file of about `target_bytes` of JSON, one line, gzipped, written as
    a stream; (path, items, uncompressed bytes)."""
    path = root / snapshot_key(ACCOUNT, REGION, AT, "bench")
    path.parent.mkdir(parents=True, exist_ok=True)
    written = n = 0
    with gzip.open(path, "wb", compresslevel=1) as out:
        head = b'{"fileVersion":"1.0","configSnapshotId":"bench","configurationItems":['
        out.write(head)
        written += len(head)
        while written < target_bytes:
            text = (b"," if n else b"") + json.dumps(_resource(n), separators=(",", ":")).encode()
            out.write(text)
            written += len(text)
            n += 1
        out.write(b"]}")
    return path, n, written + 2


def _baseline_rss() -> int:
    """The resident memory of a process that has imported what the stage imports."""
    code = "import bulkgraph.extract.awsconfig.build, time; time.sleep(1.0)"
    proc = subprocess.Popen([sys.executable, "-c", code])
    with PeakSampler(proc.pid, interval=0.05) as sampler:
        proc.wait()
    return sampler.peak


def measure(workdir: Path, target_mb: float) -> dict[str, Any]:
    """Write the file, then run `from_config` over it in a fresh process: its peak RSS."""
    config = workdir / "aws-config"
    t0 = time.monotonic()
    path, items, raw_bytes = write_large_snapshot(config, int(target_mb * MB))
    generate_seconds = time.monotonic() - t0
    out = workdir / "aws-config-snapshots"
    proc = subprocess.Popen(
        [sys.executable, "-c", _RUN, str(config), str(out), STEP.isoformat()],
        stdout=subprocess.PIPE,
        text=True,
    )
    with PeakSampler(proc.pid, interval=0.05) as sampler:
        stdout, _ = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"from_config failed (exit {proc.returncode})")
    seconds, written, problems = stdout.split()
    snapshot = out / STEP.strftime("%Y%m%dT%H%M%SZ")
    return {
        "file_uncompressed_bytes": raw_bytes,
        "file_gzip_bytes": path.stat().st_size,
        "items": items,
        "generate_seconds": generate_seconds,
        "seconds": float(seconds),
        "snapshots_written": int(written),
        "problems": int(problems),
        "peak_rss_bytes": sampler.peak,
        "baseline_rss_bytes": _baseline_rss(),
        "archive_bytes": sum(p.stat().st_size for p in snapshot.rglob("*") if p.is_file()),
    }


def summary(r: dict[str, Any]) -> str:
    return (
        f"AWS Config snapshot file: {r['file_uncompressed_bytes'] / MB:,.0f} MB of JSON "
        f"({r['file_gzip_bytes'] / MB:,.0f} MB gzipped, {r['items']:,} items) read in "
        f"{r['seconds']:.1f} s; peak RSS {r['peak_rss_bytes'] / MB:,.0f} MB "
        f"(an idle process {r['baseline_rss_bytes'] / MB:,.0f} MB)"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.configfile", description=__doc__.splitlines()[0])
    p.add_argument("--mb", type=float, default=256, help="JSON size of the file (256)")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/bulkgraph-bench-config"))
    p.add_argument("--json", action="store_true", help="print the results JSON")
    args = p.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    result = measure(args.workdir, args.mb)
    print(json.dumps(result, indent=1) if args.json else summary(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
