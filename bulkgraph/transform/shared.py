"""Where Dask workers put each snapshot's files for the coordinator: a shared location.

A folder every worker and the coordinator see (NFS, a mounted volume: `/shared/bulkgraph`)
or an S3 prefix (`s3://bucket/prefix/`, through boto3 and its usual configuration). One
snapshot's files go under `<root>/<snapshot_id>/<checksum>/`, laid out as in the CSV folder
(`nodes/<Label>/<snapshot_id>.csv`, `state/<snapshot_id>/...`: `csvfolder.py`), so that two
different snapshots claiming one id never write to the same place.

Publishing is write-then-publish: every file first, each one whole (a temporary name renamed
into place in a folder; an S3 object appears whole or not at all), then `published.json`,
which names the files and holds the snapshot's result. Only a published prefix is read: a
task killed half way leaves files no one reads, and its retry writes the same bytes over them
(the transform of a snapshot is a pure function of it).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bulkgraph.csvfolder import State
from bulkgraph.errors import BulkgraphError
from bulkgraph.extract.model import SnapshotInfo
from bulkgraph.extract.s3 import parse_s3_uri, s3_client
from bulkgraph.pausepoint import pause_point
from bulkgraph.transform.snapshot import SnapshotResult

PUBLISHED = "published.json"


@dataclass(frozen=True)
class Published:
    """What a prefix holds once published: its files (relative to the CSV folder, the
    snapshot's `State.RESULT` last) and the snapshot's result."""

    prefix: str
    files: list[str]
    result: SnapshotResult


class SharedStore:
    """The shared location at `url`: a folder path, or an `s3://bucket/prefix/`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.s3 = parse_s3_uri(url) if url.startswith("s3://") else None
        self.root = self.s3.uri().rstrip("/") if self.s3 else str(Path(url).resolve())

    def prefix(self, info: SnapshotInfo) -> str:
        return f"{self.root}/{info.snapshot_id}/{info.checksum or 'no-checksum'}"

    def published(self, prefix: str) -> Published | None:
        """The prefix's publication, or None when it was never completed."""
        text = self._read(f"{prefix}/{PUBLISHED}")
        if text is None:
            return None
        try:
            data = json.loads(text)
            return Published(prefix, list(data["files"]), SnapshotResult.from_json(data["result"]))
        except (ValueError, TypeError, KeyError):
            return None

    def publish(self, prefix: str, folder: Path, result: SnapshotResult) -> Published:
        """Put every file under `folder` (one snapshot's transform) under `prefix`, then
        publish them."""
        files = done_last(
            sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()),
            result.snapshot_id,
        )
        for n, rel in enumerate(files):
            self._put(folder / rel, f"{prefix}/{rel}")
            if n == 0:
                pause_point("dask_publish")  # a test kills the worker here: half published
        text = json.dumps({"files": files, "result": asdict(result)}, sort_keys=True, indent=1)
        marker = folder.parent / f".{folder.name}.{PUBLISHED}"
        marker.write_text(text, encoding="utf-8")
        try:
            self._put(marker, f"{prefix}/{PUBLISHED}")
        finally:
            marker.unlink(missing_ok=True)
        return Published(prefix, files, result)

    def fetch(self, published: Published, out_dir: Path) -> None:
        """Copy a publication's files into the CSV folder `out_dir`, each whole, the
        snapshot's result last (there it marks the snapshot done: `transform/run.py`)."""
        for rel in published.files:
            dest = out_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
            try:
                self._get(f"{published.prefix}/{rel}", tmp)
                os.replace(tmp, dest)
            finally:
                tmp.unlink(missing_ok=True)

    def _put(self, local: Path, remote: str) -> None:
        if self.s3 is None:
            Path(remote).parent.mkdir(parents=True, exist_ok=True)
            tmp = f"{remote}.{uuid.uuid4().hex}.part"
            shutil.copyfile(local, tmp)
            os.replace(tmp, remote)
            return
        # an object appears whole when its upload completes (multipart ones too)
        bucket, key = self._object(remote)
        try:
            self._client().upload_file(str(local), bucket, key)
        except _s3_errors() as exc:
            raise BulkgraphError(f"{remote}: cannot upload: {exc}") from None

    def _get(self, remote: str, local: Path) -> None:
        errors: tuple[type[Exception], ...] = (OSError, *_s3_errors())
        try:
            if self.s3 is None:
                shutil.copyfile(remote, local)
            else:
                self._client().download_file(*self._object(remote), str(local))
        except errors as exc:
            raise BulkgraphError(f"{remote}: published, but cannot be read: {exc}") from None

    def _read(self, remote: str) -> str | None:
        """The text at `remote`, or None where there is none."""
        if self.s3 is None:
            try:
                return Path(remote).read_text(encoding="utf-8")
            except FileNotFoundError:
                return None
        from botocore.exceptions import ClientError

        bucket, key = self._object(remote)
        try:
            body = self._client().get_object(Bucket=bucket, Key=key)["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise BulkgraphError(f"{remote}: cannot read: {exc}") from None
        return str(body.read().decode("utf-8"))

    def _object(self, remote: str) -> tuple[str, str]:
        loc = parse_s3_uri(remote)
        return loc.bucket, loc.prefix.rstrip("/")

    def _client(self) -> Any:
        if self._s3_client is None:
            self._s3_client = s3_client()
        return self._s3_client

    _s3_client: Any = None


def _s3_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def done_last(files: list[str], snapshot_id: str) -> list[str]:
    """`files` with the snapshot's `State.RESULT` moved to the end: whoever copies them in
    this order leaves the snapshot marked done only once everything else is there."""
    result = (State.dir(Path(), snapshot_id) / State.RESULT).as_posix()
    return [f for f in files if f != result] + ([result] if result in files else [])
