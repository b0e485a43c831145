"""Finding snapshots in SOURCE arguments: folders, tar files, S3 prefixes, legacy archives.

`discover()` never drops input silently: whatever it cannot read becomes a `Problem`, and
the readable snapshots come back ordered by time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from bulkgraph.console import log
from bulkgraph.errors import BulkgraphError, InputError
from bulkgraph.extract import archive, s3
from bulkgraph.extract.legacy import LegacySnapshot, is_legacy_folder
from bulkgraph.extract.model import Problem, Snapshot, SnapshotInfo, unreadable
from bulkgraph.extract.native import MANIFEST, NativeSnapshot
from bulkgraph.extract.resume import incomplete_problems, is_in_progress

if TYPE_CHECKING:
    from bulkgraph.settings import Settings


@dataclass
class DiscoverResult:
    snapshots: list[Snapshot] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class _Options:
    cache_dir: Path
    account_id: str | None
    taken_at: datetime | None
    s3_endpoint_url: str | None


def snapshot_cache_dir(settings: Settings) -> Path:
    """Where tar snapshots are extracted and S3 ones downloaded, under the cache folder."""
    return settings.bulkgraph_cache_dir / "snapshots"


def default_cache_dir() -> Path:
    from bulkgraph.settings import get_settings

    return snapshot_cache_dir(get_settings())


def _open_folder(folder: Path, opts: _Options, location: str | None = None) -> Snapshot:
    if (folder / MANIFEST).is_file():
        return NativeSnapshot(folder, location)
    if is_legacy_folder(folder):
        return LegacySnapshot(
            folder, account_id=opts.account_id, taken_at=opts.taken_at, location=location
        )
    raise InputError(
        f"{location or folder}: neither a bulkgraph snapshot (no manifest.json) "
        "nor an aws_neo4j_map archive (no *_data.json)"
    )


def _open_tar(path: Path, opts: _Options, location: str | None = None) -> Snapshot:
    where = location or str(path)
    top = archive.extract(path, opts.cache_dir, where)
    return _open_folder(top, opts, f"{where}!{top.name}")


@dataclass(frozen=True)
class Candidate:
    """Something that should open as one snapshot, found without opening it: a snapshot
    folder, a tar file, or an archive in S3 (not downloaded yet). Opened by `open_candidate`,
    here or on another machine that sees the same path or bucket (transform/cluster.py)."""

    location: str  # what messages and the manifest name: the path as given, or the s3 URI
    path: str = ""  # a folder or tar file, absolute ("" for an S3 archive)
    archive: s3.S3Archive | None = None


def open_candidate(
    candidate: Candidate,
    *,
    cache_dir: Path | None = None,
    account_id: str | None = None,
    taken_at: datetime | None = None,
    s3_endpoint_url: str | None = None,
) -> Snapshot:
    """The snapshot `candidate` holds (an S3 archive is downloaded into `cache_dir` first);
    InputError when it does not hold one."""
    opts = _Options(cache_dir or default_cache_dir(), account_id, taken_at, s3_endpoint_url)
    return _open(candidate, opts)


def _open(candidate: Candidate, opts: _Options) -> Snapshot:
    if candidate.archive is not None:
        d = s3.fetch_archive(candidate.archive, opts.cache_dir, endpoint_url=opts.s3_endpoint_url)
        return _open_tar(d.path, opts, d.uri)
    path = Path(candidate.path)
    if path.is_file():
        return _open_tar(path, opts, candidate.location)
    return _open_folder(path, opts, candidate.location)


def _looks_like_partial_snapshot(folder: Path) -> bool:
    return any(folder.glob("*/*/*/*.json*"))


Found = Candidate | Problem


def find(sources: list[str], *, s3_endpoint_url: str | None = None) -> list[Found]:
    """What `sources` hold, in order, without opening anything: each a `Candidate`, or a
    `Problem` for what holds no snapshot at all. S3 prefixes are listed, not downloaded."""
    found: list[Found] = []
    for source in sources:
        _scan(source, s3_endpoint_url, found)
    return found


def _local(location: str) -> Candidate:
    # absolute: a Dask worker opens it from a working folder of its own
    return Candidate(location, str(Path(location).absolute()))


def _scan(source: str, s3_endpoint_url: str | None, found: list[Found]) -> None:
    if source.startswith("s3://"):
        try:
            objects = s3.list_archives(source, endpoint_url=s3_endpoint_url)
        except BulkgraphError as exc:
            found.append(Problem(source, strip_location(str(exc), source)))
            return
        if not objects:
            found.append(Problem(source, "no .tar.gz/.tar snapshot archives under it"))
        found.extend(Candidate(obj.uri, archive=obj) for obj in objects)
        return

    path = Path(source)
    if not path.exists():
        found.append(Problem(source, "does not exist"))
        return
    if path.is_file():
        if archive.is_tar_name(path.name):
            found.append(_local(source))
        else:
            found.append(Problem(source, "not a snapshot folder or .tar.gz/.tar file"))
        return
    if (path / MANIFEST).is_file() or is_legacy_folder(path):
        found.append(_local(source))
        return
    if is_in_progress(path):
        found.extend(incomplete_problems(path, source))
        return
    before = len(found)
    for child in sorted(path.iterdir()):
        if child.name.startswith("."):
            continue
        if child.is_dir():
            if (child / MANIFEST).is_file() or is_legacy_folder(child):
                found.append(_local(str(child)))
            elif is_in_progress(child):
                found.extend(incomplete_problems(child))
            elif _looks_like_partial_snapshot(child):
                found.append(
                    Problem(str(child), "data files but no manifest.json (incomplete collection?)")
                )
            else:
                log.debug("%s: not a snapshot, ignored", child)
        elif child.is_file() and archive.is_tar_name(child.name):
            found.append(_local(str(child)))
    if len(found) == before:
        found.append(Problem(source, "no snapshots found in this folder"))


def strip_location(message: str, location: str) -> str:
    """Messages already start with the location; don't say it twice."""
    for prefix in (f"{location}: ", f"{location}/"):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def discover(
    sources: list[str],
    *,
    cache_dir: Path | None = None,
    account_id: str | None = None,
    taken_at: datetime | None = None,
    s3_endpoint_url: str | None = None,
) -> DiscoverResult:
    """All snapshots in `sources`, ordered by taken_at then id; unreadable ones as problems.

    A snapshot found twice (e.g. as a folder and as its tar) is kept once; two different
    snapshots claiming the same id are a problem, and only the first is kept.
    `account_id`/`taken_at` apply to legacy archives, which do not record them.
    """
    opts = _Options(cache_dir or default_cache_dir(), account_id, taken_at, s3_endpoint_url)
    result = DiscoverResult()
    for item in find(sources, s3_endpoint_url=s3_endpoint_url):
        if isinstance(item, Problem):
            result.problems.append(item)
            continue
        try:
            result.snapshots.append(_open(item, opts))
        except BulkgraphError as exc:  # not a snapshot, or an S3 download that failed
            result.problems.append(Problem(item.location, strip_location(str(exc), item.location)))
        except Exception as exc:  # one unreadable snapshot must not stop the others
            log.debug("%s: unexpected error", item.location, exc_info=True)
            result.problems.append(Problem(item.location, unreadable(exc)))
    result.snapshots = once_each(result.snapshots, result.problems)
    return result


class _HasInfo(Protocol):
    @property
    def info(self) -> SnapshotInfo: ...


_T = TypeVar("_T", bound=_HasInfo)


def once_each(snapshots: list[_T], problems: list[Problem]) -> list[_T]:
    """`snapshots` ordered by taken_at then id, each id once: a snapshot found twice (e.g. as
    a folder and as its tar) is kept once; of two different snapshots claiming one id only
    the first is kept, and the other becomes a problem."""
    unique: dict[str, _T] = {}
    for snap in snapshots:
        info = snap.info
        first = unique.get(info.snapshot_id)
        if first is None:
            unique[info.snapshot_id] = snap
        elif first.info.checksum == info.checksum:
            log.debug("%s: same snapshot as %s, skipped", info.location, first.info.location)
        else:
            problems.append(
                Problem(
                    info.location,
                    f"snapshot id {info.snapshot_id!r} already used by a different snapshot "
                    f"at {first.info.location}; skipped",
                )
            )
    return sorted(unique.values(), key=lambda s: (s.info.taken_at, s.info.snapshot_id))
