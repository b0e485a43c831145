"""Snapshots in S3: `s3://bucket/prefix/` holding `<snapshot_id>.tar.gz` files.

Downloads land in a local cache and are re-used while the object's size and ETag are
unchanged. boto3's usual credential chain applies; `endpoint_url` (or the AWS_ENDPOINT_URL
environment variable boto3 reads itself) points it at another S3, e.g. a moto server.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulkgraph.errors import BulkgraphError, InputError
from bulkgraph.extract.archive import is_tar_name, sha256_file


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # "" or ending in "/"

    def uri(self, key: str | None = None) -> str:
        return f"s3://{self.bucket}/{key if key is not None else self.prefix}"


def parse_s3_uri(uri: str) -> S3Location:
    if not uri.startswith("s3://"):
        raise InputError(f"{uri}: not an s3:// URI")
    rest = uri[len("s3://") :]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise InputError(f"{uri}: no bucket name")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return S3Location(bucket, prefix)


def s3_client(endpoint_url: str | None = None) -> Any:
    import boto3

    return boto3.session.Session().client("s3", endpoint_url=endpoint_url)


@dataclass(frozen=True)
class Downloaded:
    uri: str
    path: Path
    reused: bool


def _client_error(exc: Exception, what: str) -> BulkgraphError:
    return BulkgraphError(f"{what}: {exc}")


@dataclass(frozen=True)
class S3Archive:
    """One tar archive under a prefix, as listed: enough to fetch it later, anywhere."""

    bucket: str
    key: str
    size: int
    etag: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def list_archives(uri: str, *, endpoint_url: str | None = None) -> list[S3Archive]:
    """Every tar archive under the prefix, by key, without downloading any."""
    from botocore.exceptions import BotoCoreError, ClientError

    loc = parse_s3_uri(uri)
    client = s3_client(endpoint_url)
    try:
        paginator = client.get_paginator("list_objects_v2")
        objects = [
            obj
            for page in paginator.paginate(Bucket=loc.bucket, Prefix=loc.prefix)
            for obj in page.get("Contents", [])
            if is_tar_name(obj["Key"])
        ]
    except (BotoCoreError, ClientError) as exc:
        raise _client_error(exc, f"{uri}: cannot list") from None
    return [
        S3Archive(loc.bucket, o["Key"], o["Size"], o.get("ETag", ""))
        for o in sorted(objects, key=lambda o: o["Key"])
    ]


def fetch_archive(
    obj: S3Archive, cache_dir: Path, *, endpoint_url: str | None = None, client: Any = None
) -> Downloaded:
    """`obj` downloaded under `cache_dir`, or re-used while its size and ETag are unchanged."""
    from botocore.exceptions import BotoCoreError, ClientError

    local = cache_dir / "s3" / obj.bucket / obj.key
    meta_path = local.with_name(local.name + ".s3meta.json")
    wanted: dict[str, object] = {"size": obj.size, "etag": obj.etag}
    if local.is_file() and meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError:
            meta = {}
        if (
            meta.get("size") == wanted["size"]
            and meta.get("etag") == wanted["etag"]
            and local.stat().st_size == wanted["size"]
        ):
            return Downloaded(obj.uri, local, reused=True)
    local.parent.mkdir(parents=True, exist_ok=True)
    # a name of this process's own: two workers of one machine may fetch the same archive
    tmp = local.with_name(f".{local.name}.{os.getpid()}.part")
    try:
        (client or s3_client(endpoint_url)).download_file(obj.bucket, obj.key, str(tmp))
    except (BotoCoreError, ClientError) as exc:
        tmp.unlink(missing_ok=True)
        raise _client_error(exc, f"{obj.uri}: cannot download") from None
    os.replace(tmp, local)
    wanted["sha256"] = sha256_file(local)
    meta_tmp = meta_path.with_name(f".{meta_path.name}.{os.getpid()}.part")
    meta_tmp.write_text(json.dumps(wanted))
    os.replace(meta_tmp, meta_path)
    return Downloaded(obj.uri, local, reused=False)


def fetch_prefix(uri: str, cache_dir: Path, *, endpoint_url: str | None = None) -> list[Downloaded]:
    """Every tar archive under the prefix, downloaded (or re-used) under `cache_dir`."""
    client = s3_client(endpoint_url)
    return [
        fetch_archive(obj, cache_dir, client=client)
        for obj in list_archives(uri, endpoint_url=endpoint_url)
    ]


def upload_verified(path: Path, prefix_uri: str, *, endpoint_url: str | None = None) -> str:
    """Put `path` under the prefix, then read back what landed: size and sha256 must match."""
    from botocore.exceptions import BotoCoreError, ClientError

    loc = parse_s3_uri(prefix_uri)
    key = loc.prefix + path.name
    uri = loc.uri(key)
    client = s3_client(endpoint_url)
    digest = sha256_file(path)
    size = path.stat().st_size
    try:
        client.upload_file(str(path), loc.bucket, key, ExtraArgs={"Metadata": {"sha256": digest}})
        head = client.head_object(Bucket=loc.bucket, Key=key)
        if head["ContentLength"] != size:
            raise BulkgraphError(
                f"{uri}: upload landed with {head['ContentLength']} bytes, expected {size}"
            )
        body = client.get_object(Bucket=loc.bucket, Key=key)["Body"]
        h = hashlib.sha256()
        for chunk in iter(lambda: body.read(1 << 20), b""):
            h.update(chunk)
    except (BotoCoreError, ClientError) as exc:
        raise _client_error(exc, f"{uri}: upload failed") from None
    if h.hexdigest() != digest:
        raise BulkgraphError(f"{uri}: uploaded object's sha256 differs from {path}")
    return uri
