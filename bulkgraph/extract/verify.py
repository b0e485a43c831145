"""Checking a snapshot end to end: every checksum, every file's gzip and JSON, and that each
file's calls are made the way the registry says its operation is called."""

from __future__ import annotations

import json

from bulkgraph.errors import InputError
from bulkgraph.extract.legacy import LegacySnapshot
from bulkgraph.extract.model import ApiResponse, Problem, Snapshot, unreadable
from bulkgraph.extract.native import NativeSnapshot
from bulkgraph.extract.operations import BY_NAME, PerItem


def verify(snapshot: Snapshot) -> list[Problem]:
    """Every problem found reading the whole snapshot; an empty list means it is sound.

    Unlike `responses()`, which stops at the first bad file, this reads on and reports each.
    An error no reader foresaw is a problem of the snapshot too, not a traceback.
    """
    try:
        return _verify(snapshot)
    except Exception as exc:
        return [Problem(snapshot.info.location, unreadable(exc))]


def _verify(snapshot: Snapshot) -> list[Problem]:
    problems: list[Problem] = []
    if isinstance(snapshot, NativeSnapshot):
        for f in snapshot.files:
            try:
                response = snapshot.read_file(f)
            except InputError as exc:
                problems.append(_problem(str(exc), f"{snapshot.location}/{f.path}"))
                continue
            message = call_problem(response)
            if message:
                problems.append(Problem(response.path, message))
        return problems
    if isinstance(snapshot, LegacySnapshot):
        # every file's JSON, and every record converted
        try:
            for _ in snapshot.responses():
                pass
        except InputError as exc:
            problems.append(_problem(str(exc), snapshot.location))
        except (AttributeError, TypeError, ValueError) as exc:
            problems.append(Problem(snapshot.location, f"unexpected record shape ({exc})"))
        return problems
    try:
        for _ in snapshot.responses():
            pass
    except InputError as exc:
        problems.append(_problem(str(exc), snapshot.info.location))
    return problems


def call_problem(response: ApiResponse) -> str | None:
    """What is wrong with the calls a data file holds, given how its operation is called:
    exactly one call for an operation called once, every request naming its item for one
    called per item, every request with the parameters the operation always sends. None
    when nothing is."""
    op = BY_NAME.get(response.operation)
    if op is None:
        return None
    calls = response.calls
    # parameters every call sends (IAM's Filter): a call without them asked something else
    unlike = [
        n
        for n, c in enumerate(calls)
        if any((c.get("request") or {}).get(k) != v for k, v in op.request.items())
    ]
    if unlike:
        sent = ", ".join(f"{k}={json.dumps(v)}" for k, v in op.request.items())
        return f"{op.name} is called with {sent}, but calls[{unlike[0]}] was not"
    if not isinstance(op.calls, PerItem):
        if len(calls) != 1:
            return f"{op.name} is called {op.describe()}, but the file holds {len(calls)} calls"
        return None
    key = op.calls.request_key
    unnamed = [n for n, c in enumerate(calls) if key not in (c.get("request") or {})]
    if unnamed:
        return (
            f"{op.name} is called {op.calls.describe()}, but request.{key} is missing in "
            f"calls[{unnamed[0]}]" + (f" and {len(unnamed) - 1} more" if len(unnamed) > 1 else "")
        )
    return None


def _problem(message: str, fallback: str) -> Problem:
    # InputError messages are "<where>: <what>"; keep them apart for tables and JSON
    where, sep, what = message.partition(": ")
    return Problem(where, what) if sep and what else Problem(fallback, message)
