"""Snapshot tar files: safe extraction into a cache, and packing a snapshot folder.

Archives come from other machines and from S3, so extraction refuses anything that could
write outside its target (absolute names, `..`, links leading out, devices) before tarfile's
own `data` filter gets a second look.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from bulkgraph.errors import InputError
from bulkgraph.extract.jsonread import max_file_bytes

TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar")


def is_tar_name(name: str) -> bool:
    return name.endswith(TAR_SUFFIXES)


def tar_stem(name: str) -> str:
    for suffix in TAR_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _escapes(name: str) -> bool:
    pure = PurePosixPath(name)
    return (
        pure.is_absolute()
        or ".." in pure.parts
        or name.startswith(("/", "\\"))
        or (len(name) > 1 and name[1] == ":")
    )


def check_members(tar: tarfile.TarFile, where: str) -> list[tarfile.TarInfo]:
    """Every member, or InputError naming the first one that could escape the target."""
    limit = max_file_bytes()
    members = tar.getmembers()
    for m in members:
        if m.size > limit:
            raise InputError(
                f"{where}: refusing member {m.name!r}: {m.size} bytes, more than "
                f"{limit} (BULKGRAPH_MAX_FILE_BYTES)"
            )
        if _escapes(m.name):
            raise InputError(f"{where}: refusing member {m.name!r}: path leaves the archive folder")
        if m.ischr() or m.isblk() or m.isfifo() or m.isdev():
            raise InputError(f"{where}: refusing member {m.name!r}: device or fifo")
        if m.issym() or m.islnk():
            target = m.linkname
            # a symlink's target is relative to the folder holding it; a hard link's to the top
            base = PurePosixPath(m.name).parent if m.issym() else PurePosixPath()
            joined = base / target
            if _escapes(target) or ".." in _normalise(joined).parts:
                raise InputError(
                    f"{where}: refusing member {m.name!r}: link to {target!r} leaves the archive"
                )
        elif not (m.isfile() or m.isdir()):
            raise InputError(f"{where}: refusing member {m.name!r}: unsupported member type")
    return members


def _normalise(path: PurePosixPath) -> PurePosixPath:
    parts: list[str] = []
    for part in path.parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not parts or parts[-1] == "..":
                parts.append("..")
            else:
                parts.pop()
        else:
            parts.append(part)
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def extract(tar_path: Path, cache_dir: Path, location: str | None = None) -> Path:
    """Extract `tar_path` under `cache_dir` (once per content) and return the snapshot folder.

    The archive must hold one top-level folder; that folder is returned. A second call with
    an archive of the same sha256 re-uses the earlier extraction.
    """
    where = location or str(tar_path)
    try:
        digest = sha256_file(tar_path)
    except OSError as exc:
        raise InputError(f"{where}: cannot read ({exc.strerror})") from None
    target = cache_dir / "extracted" / digest[:32]
    if not target.is_dir():
        cache_dir.mkdir(parents=True, exist_ok=True)
        (cache_dir / "extracted").mkdir(exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=cache_dir / "extracted"))
        try:
            try:
                with tarfile.open(tar_path, "r:*") as tar:
                    members = check_members(tar, where)
                    tar.extractall(tmp, members=members, filter="data")
            except (tarfile.TarError, EOFError, OSError) as exc:
                raise InputError(f"{where}: not a readable tar archive ({exc})") from None
            try:
                os.replace(tmp, target)
            except OSError:
                if not target.is_dir():  # another process won the race: fine
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    tops = [p for p in target.iterdir() if not p.name.startswith(".")]
    if len(tops) != 1 or not tops[0].is_dir():
        raise InputError(
            f"{where}: expected exactly one top-level folder, found "
            f"{sorted(p.name for p in tops) or 'none'}"
        )
    return tops[0]


def _reset(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # same bytes for the same content: no owner, no time
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    info.mode = 0o755 if info.isdir() else 0o644
    return info


def pack(folder: Path, dest: Path) -> Path:
    """Write `folder` as `dest` (`.tar.gz`), atomically, with `folder.name` as its one top."""
    import gzip

    tmp = dest.with_name(f".{dest.name}.tmp")
    with (
        tmp.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        tar.add(folder, arcname=folder.name, recursive=False, filter=_reset)
        for path in sorted(folder.rglob("*")):
            tar.add(
                path,
                arcname=f"{folder.name}/{path.relative_to(folder).as_posix()}",
                recursive=False,
                filter=_reset,
            )
    os.replace(tmp, dest)
    return dest
