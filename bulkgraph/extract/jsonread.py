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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from bulkgraph.errors import InputError
from bulkgraph.extract import reuse

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
    return _parse(data, where)


#: msgspec's untyped decoder: the same values as `json.loads` for any text both accept, in
#: about 60 % of its CPU (docs/benchmarks.md); it accepts less (NaN, lone surrogates, a BOM)
_DECODER = msgspec.json.Decoder()


def _parse(data: bytes | bytearray, where: str) -> Any:
    """Parse JSON text already known to nest no deeper than the limit.

    msgspec first; what it refuses goes to `json.loads`, which decides, so that what is
    accepted, the values read and the error named are those of `json.loads` alone."""
    try:
        return _DECODER.decode(data)
    except msgspec.DecodeError:
        pass
    try:
        return json.loads(data)
    except UnicodeDecodeError as exc:
        raise InputError(f"{where}: not valid UTF-8 (at byte {exc.start})") from None
    except ValueError as exc:
        raise InputError(f"{where}: not valid JSON ({exc})") from None
    except RecursionError:  # cannot happen below MAX_JSON_DEPTH; a clear message if it does
        raise InputError(f"{where}: JSON nested too deep to read") from None


#: a string, or one structural character: what `deep_records` walks
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},:]')
#: how deep a data file's records sit: file {calls [call {pages [page {List [record
RECORD_DEPTH = 7


@dataclass(frozen=True)
class Cut:
    """A record of a data file left out because it nests too deep: where it was
    (`calls[call].pages[page].<key>[index]`) and the byte span it took."""

    call: int
    page: int
    key: str
    index: int
    start: int
    end: int

    @property
    def locator(self) -> str:
        return f"calls[{self.call}].pages[{self.page}].{self.key}[{self.index}]"


def deep_records(data: bytes | bytearray, limit: int) -> list[Cut] | None:
    """The records of a data file (`calls[].pages[].<List>[]`) that nest deeper than
    `limit`, in file order; None when something else than a record does (the file is then
    refused whole).

    A tokenizer loop in Python: slow beside `nesting_depth_exceeds`, so it only runs on a
    file already found too deep, to reject the record and keep the rest of the file.
    """
    stack: list[list[Any]] = []  # [opener, start offset, index (array) or key (object), deep]
    cuts: list[Cut] = []
    last_string = b""
    for m in _TOKEN.finditer(data):
        tok = m.group()
        if tok[0] == 0x22:  # a string: the key of what follows if a colon comes next
            last_string = tok
        elif tok in (b"[", b"{"):
            stack.append([tok, m.start(), 0 if tok == b"[" else None, False])
            if len(stack) > limit:
                if len(stack) <= RECORD_DEPTH or not _is_record_path(stack):
                    return None
                stack[RECORD_DEPTH - 1][3] = True
        elif tok in (b"]", b"}"):
            if not stack:
                return None
            _, start, _, deep = stack.pop()
            if deep and len(stack) == RECORD_DEPTH - 1:
                call, page, key, index = stack[1][2], stack[3][2], stack[4][2], stack[5][2]
                cuts.append(Cut(call, page, key, index, start, m.end()))
        elif tok == b":" and stack and stack[-1][0] == b"{":
            stack[-1][2] = last_string[1:-1].decode("utf-8", "replace")
        elif tok == b"," and stack and stack[-1][0] == b"[":
            stack[-1][2] += 1
    return cuts


def _is_record_path(stack: list[list[Any]]) -> bool:
    """file {"calls": [ {"pages": [ { "<List>": [ record"""
    openers = b"".join(entry[0] for entry in stack[: RECORD_DEPTH - 1])
    return (
        openers == b"{[{[{["
        and stack[0][2] == "calls"
        and stack[2][2] == "pages"
        and isinstance(stack[4][2], str)
    )


def loads_records(
    data: bytes | bytearray,
    where: str,
    max_depth: int = MAX_JSON_DEPTH,
    *,
    reuse_as: str | None = None,
) -> tuple[Any, list[Cut]]:
    """Parse a data file like `loads`, except that a record nested too deep is left out and
    returned as a `Cut` (the transform rejects it, naming the file and the record) instead of
    the whole file being refused. `reuse_as`: the file's name across snapshots, under which
    its records are kept for the next snapshot's same file (extract/reuse.py)."""
    if not nesting_depth_exceeds(data, max_depth):  # a tenth of reading a file, measured once
        if reuse_as is not None and reuse.enabled():
            try:
                return reuse.parse_data_file(data, reuse_as), []
            except msgspec.DecodeError:
                pass  # parsed whole below, which decides what the file is
        return _parse(data, where), []
    cuts = deep_records(data, max_depth)
    refused = InputError(f"{where}: JSON nested deeper than {max_depth} levels; refused")
    if not cuts:
        raise refused
    kept = bytearray()
    at = 0
    for cut in cuts:  # each record becomes null, then is taken out of its list
        kept += data[at : cut.start] + b"null"
        at = cut.end
    kept += data[at:]
    doc = loads(kept, where, max_depth)
    for cut in reversed(cuts):
        try:
            records = doc["calls"][cut.call]["pages"][cut.page][cut.key]
            if records[cut.index] is not None:
                raise refused  # a duplicate key hid the list the scan saw
            del records[cut.index]
        except (KeyError, IndexError, TypeError):
            raise refused from None
    return doc, cuts


def load_file(
    path: Path, where: str, *, gz: bool = False, root: Path | None = None
) -> tuple[bytes, Any]:
    """(raw bytes as stored, parsed JSON) of one file, with every bound above applied."""
    if root is not None:
        path = inside(root, path, where)
    data = read_bytes(path, where)
    return data, loads(gunzip(data, where) if gz else data, where)
