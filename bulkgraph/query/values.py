"""Neo4j result values to plain JSON-able Python values."""

from __future__ import annotations

import datetime as dt
from typing import Any

from neo4j.graph import Node, Path, Relationship
from neo4j.spatial import Point
from neo4j.time import Date, DateTime, Duration, Time


def to_jsonable(value: Any) -> Any:
    """Nodes become their properties (plus `_labels`), relationships their properties (plus
    `_type`), temporal values ISO 8601 text; lists and maps are converted deeply."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, DateTime | Date | Time):
        return value.iso_format()
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Duration):
        return value.iso_format()
    if isinstance(value, Node):
        props = {k: to_jsonable(v) for k, v in sorted(value.items())}
        return {"_labels": sorted(value.labels), **props}
    if isinstance(value, Relationship):
        props = {k: to_jsonable(v) for k, v in sorted(value.items())}
        return {"_type": value.type, **props}
    if isinstance(value, Path):
        return [to_jsonable(n) for n in value.nodes]
    if isinstance(value, Point):
        return {"srid": value.srid, "coordinates": list(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return value.hex()
    return str(value)
