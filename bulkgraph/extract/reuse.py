"""Records the night before parsed, taken again when tonight's text is the same.

Between two nightly snapshots of an estate most records of a data file are the same text
(~98 % in the bench's estate). A data file is cut into its records without parsing them
(msgspec gives each as `Raw`, its bytes); a record whose bytes the same file of the previous
snapshot read in this process had is the object parsed then, and only the others are
parsed. What a file gives is equal to what parsing it whole gives, so a snapshot's
transform stays a function of that snapshot alone: this is a cache, and its hits also tell
the transform's own cache (transform/tablecache.py) which records it has mapped before,
by the objects' identity.

The parsed objects are shared: between nights and between two equal records of a file.
Nothing in the transform changes a parsed record (tests/test_reuse.py checks that the
output is the same with and without this cache).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import msgspec

_Scalar = str | int | float | bool | None
#: a data file in one scan: the records (each list of a page) cut out as their bytes, any
#: other value parsed; a list anywhere else does not fit, and the file is parsed whole
_Page = dict[str, list[msgspec.Raw] | dict[str, Any] | _Scalar]
_Call = dict[str, list[_Page] | dict[str, Any] | _Scalar]
_FILE = msgspec.json.Decoder(dict[str, list[_Call] | dict[str, Any] | _Scalar])
_VALUE = msgspec.json.Decoder()


@dataclass
class ReuseStats:
    """How many records the data files held, and how many of them had to be parsed."""

    records: int = 0
    parsed: int = 0


#: data file name (its path inside the snapshot) -> record text -> parsed record
_last: dict[str, dict[bytes, Any]] = {}
_enabled = True
stats = ReuseStats()


def enabled() -> bool:
    return _enabled


def clear() -> None:
    """Forget every record kept (the next snapshot is parsed whole)."""
    _last.clear()


@contextmanager
def disabled() -> Iterator[None]:
    """Parse every file whole while inside (for the test that the cache changes nothing)."""
    global _enabled
    was, _enabled = _enabled, False
    clear()
    try:
        yield
    finally:
        _enabled = was
        clear()


def parse_data_file(data: bytes | bytearray, name: str) -> Any:
    """A data file `{..., "calls": [{..., "pages": [{..., "<List>": [record, ...]}]}]}`
    parsed, its records taken from the same file of the previous snapshot where their text
    is the same. msgspec.DecodeError when the file is not of that shape or when msgspec
    refuses any of it: the caller then parses it whole, which decides what it is."""
    earlier = _last.get(name, {})
    now: dict[bytes, Any] = {}

    def records(items: list[msgspec.Raw]) -> list[Any]:
        out = []
        for item in items:
            text = bytes(item)
            record = now.get(text, _MISSING)
            if record is _MISSING:
                record = earlier.get(text, _MISSING)
                if record is _MISSING:
                    record = _VALUE.decode(text)
                    stats.parsed += 1
                now[text] = record
            out.append(record)
        stats.records += len(out)
        return out

    doc = _FILE.decode(data)
    for calls in doc.values():
        for call in calls if isinstance(calls, list) else ():
            for pages in call.values():
                for page in pages if isinstance(pages, list) else ():
                    for key, items in page.items():
                        if isinstance(items, list):
                            page[key] = records(items)
    _last[name] = now
    return doc


_MISSING: Any = object()
