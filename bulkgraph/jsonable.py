"""Any value bulkgraph prints, as JSON-ready Python: the one formatting of each value type.

Every output (JSON, JSON lines, tables, CSV) goes through `to_jsonable`, so a datetime, a
list, a null or a Neo4j value reads the same in all of them. It imports neither the driver
nor anything heavy: values of the driver's own types (temporal, graph, spatial) are handed
to `bulkgraph.db`, which exists whenever such a value does.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from datetime import date, time
from enum import Enum
from pathlib import PurePath
from typing import Any


def to_jsonable(value: Any) -> Any:
    """A value as JSON-ready Python (None, bool, int, float, str, list, dict).

    Datetimes, dates and times become ISO 8601 strings (Neo4j's own temporal types their
    `iso_format()`, with nanoseconds); paths and enums their text; bytes base64; non-finite
    floats strings; tuples and sets lists; mapping keys strings. Anything else: `str()`.
    """
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if _from_the_driver(value):
        from bulkgraph.db import neo4j_to_jsonable

        return neo4j_to_jsonable(value)
    if isinstance(value, date | time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    return str(value)


def _from_the_driver(value: Any) -> bool:
    """Whether the value is of a driver type, without importing the driver. By the classes it
    derives from: a relationship's class is made per type at run time, in module `abc`."""
    return any(cls.__module__.partition(".")[0] == "neo4j" for cls in type(value).__mro__)
