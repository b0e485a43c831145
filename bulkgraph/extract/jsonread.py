"""Reading one input file of a snapshot, with bounds: size, decompressed size, JSON depth.

Snapshots come from other machines and from S3, so one file must not be able to take the
transform's memory (a small gzip that expands to gigabytes), its stack (JSON nested deep
enough to exhaust recursion), or read a file outside its snapshot folder (a symlink). Every
refusal is an InputError naming the file; none quotes the file's content.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import stat
import zlib
from pathlib import Path
from typing import Any

from bulkgraph.errors import InputError

#: AWS responses nest about 12 levels (file, call, page, reservation, instance, interface,
#: address, association...) and the manifest 4: 100 leaves room, and stays far below the
#: recursion the parser and the transform can take.
MAX_JSON_DEPTH = 100

_CHUNK = 8 << 20  # read past the limit by at most this much
#: every byte that is not a bracket or a quote: deleted before the depth is measured
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_STRING = re.compile(rb'"[^"]*"')


def max_file_bytes() -> int:
    from bulkgraph.settings import get_settings

    return get_settings().bulkgraph_max_file_bytes


def _too_big(where: str, limit: int, what: str) -> InputError:
    return InputError(
        f"{where}: {what} more than {limit} bytes (BULKGRAPH_MAX_FILE_BYTES); refused"
    )


def inside(root: Path, path: Path, where: str) -> Path:
    """`path` resolved, or InputError if it (through a symlink) leaves `root`.

    The tar reader refuses links that lead out of an archive; this is the same rule for a
    snapshot folder on disk: a listed data file must not be a door to any file of the machine.
    """
    try:
        real = path.resolve(strict=True)
        base = root.resolve(strict=True)
    except FileNotFoundError:
        raise InputError(f"{where}: listed in the manifest but missing") from None
    except (OSError, RuntimeError) as exc:  # a symlink loop is a RuntimeError on 3.11
        raise InputError(f"{where}: cannot resolve its path ({type(exc).__name__})") from None
    if not real.is_relative_to(base):
        raise InputError(
            f"{where}: a symbolic link leading out of the snapshot folder; refused, not read"
        )
    return real


def read_bytes(path: Path, where: str, limit: int | None = None) -> bytes:
    """The bytes of a regular file of at most `limit` bytes (checked before reading)."""
    limit = max_file_bytes() if limit is None else limit
    try:
        # a fifo or device would block or never end: only regular files are opened
        if not stat.S_ISREG(path.stat().st_mode):
            raise InputError(f"{where}: not a regular file; refused")
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > limit:
                raise _too_big(where, limit, "file of")
            data = fh.read(limit + 1)
    except FileNotFoundError:
        raise InputError(f"{where}: listed in the manifest but missing") from None
    except OSError as exc:
        raise InputError(f"{where}: cannot read ({exc.strerror})") from None
    if len(data) > limit:  # grew while being read, or not a regular file
        raise _too_big(where, limit, "file of")
    return data


def gunzip(data: bytes, where: str, limit: int | None = None) -> bytearray:
    """`data` decompressed, stopping as soon as it passes `limit` bytes.

    Read a chunk at a time, so a gzip bomb costs at most `limit` bytes of memory, not what
    it would expand to.
    """
    limit = max_file_bytes() if limit is None else limit
    out = bytearray()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb") as gz:
            while chunk := gz.read(_CHUNK):
                out += chunk
                if len(out) > limit:
                    raise _too_big(where, limit, "expands to")
    except (OSError, EOFError, zlib.error):
        # gzip's own messages may quote the file's first bytes: say what, not what was read
        raise InputError(f"{where}: not a valid gzip file") from None
    return out


def nesting_depth_exceeds(data: bytes | bytearray, limit: int) -> bool:
    """True when the JSON text `data` nests arrays/objects deeper than `limit`.

    Done on bytes by C loops only (replace, translate, one regex), before the parser sees
    the text: escaped backslashes and quotes are removed, then everything but quotes and
    brackets, then what is left of strings; what remains is the bracket skeleton, which
    loses one level of leaves per round of removing empty pairs. Real files are about 12
    deep: about 12 rounds over a skeleton a few percent of the file's size.
    """
    text = bytes(data)
    if b"\\" in text:
        text = text.replace(b"\\\\", b"").replace(b'\\"', b"")
    # quotes alternate open/close: dropping any adjacent two empties or merges strings
    skeleton = text.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    skeleton = _STRING.sub(b"", skeleton).replace(b"{", b"[").replace(b"}", b"]")
    for done in range(limit):
        if not skeleton:
            return False
        if b"[" * (limit - done + 1) in skeleton:
            return True  # a run of openers deeper than what is left: no need to peel
        shorter = skeleton.replace(b"[]", b"")
        if len(shorter) == len(skeleton):
            return False  # unbalanced: the parser will say where
        skeleton = shorter
    return bool(skeleton)


def loads(data: bytes | bytearray, where: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON text, refusing nesting deeper than `max_depth`; InputError naming `where`."""
    if nesting_depth_exceeds(data, max_depth):
        raise InputError(f"{where}: JSON nested deeper than {max_depth} levels; refused")
    try:
        return json.loads(data)
    except UnicodeDecodeError as exc:
        raise InputError(f"{where}: not valid UTF-8 (at byte {exc.start})") from None
    except ValueError as exc:
        raise InputError(f"{where}: not valid JSON ({exc})") from None
    except RecursionError:  # cannot happen below MAX_JSON_DEPTH; a clear message if it does
        raise InputError(f"{where}: JSON nested too deep to read") from None


def load_file(
    path: Path, where: str, *, gz: bool = False, root: Path | None = None
) -> tuple[bytes, Any]:
    """(raw bytes as stored, parsed JSON) of one file, with every bound above applied."""
    if root is not None:
        path = inside(root, path, where)
    data = read_bytes(path, where)
    return data, loads(gunzip(data, where) if gz else data, where)
