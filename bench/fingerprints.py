"""What an incremental transform could skip (issue #20): per night, the CPU to fingerprint
every record of a snapshot, and how many records are new or changed since the night before.

    PYTHONPATH=. python -m bench.fingerprints SNAPSHOT_DIR [SNAPSHOT_DIR ...] [--json]

SNAPSHOT_DIRs are native snapshot folders (`gen-estate` output, or archives unpacked), taken in
the order given. A record is an element of a list in a response page (a reservation of
DescribeInstances, a security group, a role ...). Its fingerprint is a hash of its JSON bytes
as the archive holds them: msgspec hands each element over as raw bytes (`msgspec.Raw`)
without building Python objects, where the transform's full parse of a 10k-instance night
builds millions. The same record written alike on two nights has the same fingerprint; a
record written with its keys in another order would count as changed (a collector writes
them in the API's order).

Information for the design of the versions layout's from-nothing build, not a stage of
`scripts/bench`: docs/benchmarks.md ("A year of nights") has the figures and why.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import msgspec

from bulkgraph.errors import InputError
from bulkgraph.extract import jsonread
from bulkgraph.extract.native import MANIFEST as MANIFEST_NAME
from bulkgraph.extract.native import NativeSnapshot
from bulkgraph.transform.run import cyclic_gc_paused


class _Call(msgspec.Struct):
    pages: list[dict[str, msgspec.Raw]] = []


class _Response(msgspec.Struct):
    calls: list[_Call] = []


_RESPONSE = msgspec.json.Decoder(_Response)
_LIST = msgspec.json.Decoder(list[msgspec.Raw])

#: (data file, fingerprint, size in bytes) -> how many records of the file have it (two
#: records can be the same bytes: a multiset)
Fingerprints = Counter[tuple[str, bytes, int]]


@dataclass(frozen=True)
class Night:
    snapshot: str
    cpu_seconds: float
    records: int
    record_bytes: int
    #: None for the first night given (nothing to compare with)
    new_or_changed: int | None = None
    new_or_changed_bytes: int | None = None
    gone_or_changed: int | None = None


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def records(data: bytes) -> Iterator[bytes]:
    """The JSON bytes of each list element of each page of one data file's text."""
    for call in _RESPONSE.decode(data).calls:
        for page in call.pages:
            for raw in page.values():
                text = bytes(raw)
                if text[:1] == b"[":
                    yield from (bytes(r) for r in _LIST.decode(text))


def fingerprints(folder: Path) -> Fingerprints:
    """Every record of the snapshot folder's data files (those its manifest lists), read as
    the transform reads them (`NativeSnapshot`, `jsonread`), minus the parse and the checksum.
    InputError naming the file for a folder that is not a snapshot or a file that cannot be
    read."""
    snapshot = NativeSnapshot(folder)
    found: Fingerprints = Counter()
    for f in snapshot.files:
        where = f"{snapshot.location}/{f.path}"
        data = jsonread.read_bytes(jsonread.inside(folder, folder / f.path, where), where)
        text = bytes(jsonread.gunzip(data, where)) if f.path.endswith(".gz") else data
        for record in records(text):
            digest = hashlib.blake2b(record, digest_size=16).digest()
            found[(f.path, digest, len(record))] += 1
    return found


def _bytes(found: Fingerprints) -> int:
    return sum(size * n for (_, _, size), n in found.items())


def compare(folders: list[Path]) -> list[Night]:
    """A `Night` per folder, in the order given; the collector is off while one is read, as
    in the transform's workers (its passes over millions of new objects cost more than the
    reading itself)."""
    nights: list[Night] = []
    previous: Fingerprints | None = None
    for folder in folders:
        with cyclic_gc_paused():
            t0 = _cpu()
            current = fingerprints(folder)
            took = _cpu() - t0
        new = None if previous is None else current - previous
        nights.append(
            Night(
                folder.name,
                round(took, 3),
                current.total(),
                _bytes(current),
                new_or_changed=None if new is None else new.total(),
                new_or_changed_bytes=None if new is None else _bytes(new),
                gone_or_changed=None if previous is None else (previous - current).total(),
            )
        )
        previous = current
    return nights


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="snapshot folders, in time order")
    parser.add_argument("--json", action="store_true", help="one JSON line per night")
    args = parser.parse_args(argv)
    for folder in args.folders:
        if not (folder / MANIFEST_NAME).is_file():
            parser.error(f"{folder}: no {MANIFEST_NAME}: not a native snapshot folder")
    try:
        nights = compare(args.folders)
    except InputError as exc:
        parser.exit(2, f"error: {exc}\n")
    for night in nights:
        if args.json:
            print(json.dumps(asdict(night)), flush=True)
            continue
        line = f"{night.snapshot}: {night.records} records, {night.cpu_seconds:.2f} CPU s"
        if night.new_or_changed is not None:
            share = 100 * night.new_or_changed / max(night.records, 1)
            line += f", {night.new_or_changed} new or changed ({share:.1f} %)"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
