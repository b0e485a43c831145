"""Finding snapshots in SOURCE arguments: folders, tar files, S3 prefixes, legacy archives.

`discover()` never drops input silently: whatever it cannot read becomes a `Problem`, and
the readable snapshots come back ordered by time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from bulkgraph.console import log
from bulkgraph.errors import BulkgraphError, InputError
from bulkgraph.extract import archive, s3
from bulkgraph.extract.legacy import LegacySnapshot, is_legacy_folder
from bulkgraph.extract.model import Problem, Snapshot, unreadable
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


def _looks_like_partial_snapshot(folder: Path) -> bool:
    return any(folder.glob("*/*/*/*.json*"))


def _scan(source: str, opts: _Options, result: DiscoverResult) -> None:
    def attempt(location: str, open_it: Callable[[], Snapshot]) -> None:
        try:
            result.snapshots.append(open_it())
        except InputError as exc:
            result.problems.append(Problem(location, _strip(str(exc), location)))
        except Exception as exc:  # one unreadable snapshot must not stop the others
            log.debug("%s: unexpected error", location, exc_info=True)
            result.problems.append(Problem(location, unreadable(exc)))

    if source.startswith("s3://"):
        try:
            downloads = s3.fetch_prefix(source, opts.cache_dir, endpoint_url=opts.s3_endpoint_url)
        except BulkgraphError as exc:
            result.problems.append(Problem(source, _strip(str(exc), source)))
            return
        if not downloads:
            result.problems.append(Problem(source, "no .tar.gz/.tar snapshot archives under it"))
        for d in downloads:
            attempt(d.uri, partial(_open_tar, d.path, opts, d.uri))
        return

    path = Path(source)
    if not path.exists():
        result.problems.append(Problem(source, "does not exist"))
        return
    if path.is_file():
        if archive.is_tar_name(path.name):
            attempt(source, lambda: _open_tar(path, opts))
        else:
            result.problems.append(Problem(source, "not a snapshot folder or .tar.gz/.tar file"))
        return
    if (path / MANIFEST).is_file() or is_legacy_folder(path):
        attempt(source, lambda: _open_folder(path, opts))
        return
    if is_in_progress(path):
        result.problems.extend(incomplete_problems(path, source))
        return
    before = len(result.snapshots) + len(result.problems)
    for child in sorted(path.iterdir()):
        if child.name.startswith("."):
            continue
        if child.is_dir():
            if (child / MANIFEST).is_file() or is_legacy_folder(child):
                attempt(str(child), partial(_open_folder, child, opts))
            elif is_in_progress(child):
                result.problems.extend(incomplete_problems(child))
            elif _looks_like_partial_snapshot(child):
                result.problems.append(
                    Problem(str(child), "data files but no manifest.json (incomplete collection?)")
                )
            else:
                log.debug("%s: not a snapshot, ignored", child)
        elif child.is_file() and archive.is_tar_name(child.name):
            attempt(str(child), partial(_open_tar, child, opts))
    if len(result.snapshots) + len(result.problems) == before:
        result.problems.append(Problem(source, "no snapshots found in this folder"))


def _strip(message: str, location: str) -> str:
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
    for source in sources:
        _scan(source, opts, result)
    unique: dict[str, Snapshot] = {}
    for snap in result.snapshots:
        info = snap.info
        first = unique.get(info.snapshot_id)
        if first is None:
            unique[info.snapshot_id] = snap
        elif first.info.checksum == info.checksum:
            log.debug("%s: same snapshot as %s, skipped", info.location, first.info.location)
        else:
            result.problems.append(
                Problem(
                    info.location,
                    f"snapshot id {info.snapshot_id!r} already used by a different snapshot "
                    f"at {first.info.location}; skipped",
                )
            )
    result.snapshots = sorted(unique.values(), key=lambda s: (s.info.taken_at, s.info.snapshot_id))
    return result
