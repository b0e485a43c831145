"""Several of the report's read queries in flight at once, their answers in order.

The report asks one question per snapshot (or night) of the window, and on a long history
these dominate its time: each runs single-threaded in the server, so keeping a few in flight
lets the server use its cores while Python reads the answers. At most `workers` are in flight
and answers are handed out in the order asked, so a caller can fold them one by one (memory
of a few answers, not of the whole history) and gets what a plain loop would give.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: read queries in flight at once: one per core (the server runs each on one), at most 4
WORKERS = max(1, min(4, os.cpu_count() or 1))


def ordered(fn: Callable[[T], R], items: Iterable[T], workers: int = WORKERS) -> Iterator[R]:
    """`fn(item)` for each item, `workers` at a time, yielded in the items' order. The first
    error is raised where its answer would have been (the calls after it are cancelled)."""
    if workers <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="report-read") as pool:
        pending: deque[Future[R]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) >= workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
