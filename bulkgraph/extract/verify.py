"""Checking a snapshot end to end: every checksum, every file's gzip and JSON."""

from __future__ import annotations

from bulkgraph.errors import InputError
from bulkgraph.extract.legacy import LegacySnapshot
from bulkgraph.extract.model import Problem, Snapshot, unreadable
from bulkgraph.extract.native import NativeSnapshot


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
                snapshot.read_file(f)
            except InputError as exc:
                problems.append(_problem(str(exc), f"{snapshot.location}/{f.path}"))
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


def _problem(message: str, fallback: str) -> Problem:
    # InputError messages are "<where>: <what>"; keep them apart for tables and JSON
    where, sep, what = message.partition(": ")
    return Problem(where, what) if sep and what else Problem(fallback, message)
