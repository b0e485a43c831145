"""Post-load Cypher: the numbered files of `bulkgraph/cypher/`, then wait for the indexes.

The statements run on a few sessions at once. On a fresh import each uniqueness constraint
blocks until its backing index is populated and checked, one after the other: the 124
statements of the versions layout took 5.5-6.2 s on one session on the samples' graph (warm),
3.9-6.3 s on four (docs/benchmarks.md, "Post-load statements in parallel"; a loaded machine).
Two schema changes on the same label (or relationship
type) wait for each other's lock and can deadlock, so the statements are grouped by the token
they name: a group runs in file order on one session, groups run side by side.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import neo4j

from bulkgraph.db import QueryError, run_autocommit
from bulkgraph.layout import DEFAULT_LAYOUT, Layout
from bulkgraph.load.cypher_files import CYPHER_DIR, post_load_files, split_statements

#: the versions layout's own post-load files, under the post-load folder
VERSIONS_SUBDIR = "versions"

log = logging.getLogger(__name__)

#: How long to wait for indexes to come online before giving up (seconds).
INDEX_WAIT_SECONDS = 1800
#: Sessions the statements run on. In the (noisy) trial two, four and eight were within the
#: noise of each other and all faster than one; four, as a middle.
SESSIONS = 4
#: Tries of a statement that failed on a transient error (a lock timeout, a deadlock with
#: something else writing the schema). The statements are idempotent (`IF NOT EXISTS`).
TRIES = 3

#: `FOR (n:Label)` / `FOR ()-[r:TYPE]-()`: the one token a schema statement locks
_TOKEN = re.compile(r"\bFOR\s*(?:\(\s*\w+\s*:|\(\s*\)\s*-\s*\[\s*\w+\s*:)\s*(`[^`]+`|\w+)")


def statement_token(statement: str) -> str | None:
    """The label or relationship type a schema statement names, or None (not a schema
    statement of that form: it runs alone, before the others)."""
    found = _TOKEN.search(statement)
    return found.group(1).strip("`") if found else None


def statement_groups(statements: Iterable[str]) -> tuple[list[str], list[list[str]]]:
    """(statements that run alone first, in order; groups per token, each in order)."""
    alone: list[str] = []
    groups: dict[str, list[str]] = {}
    for statement in statements:
        token = statement_token(statement)
        if token is None:
            alone.append(statement)
        else:
            groups.setdefault(token, []).append(statement)
    return alone, list(groups.values())


def apply_post_load(
    driver: neo4j.Driver,
    database: str,
    directory: Path = CYPHER_DIR,
    layout: Layout = DEFAULT_LAYOUT,
    sessions: int = SESSIONS,
) -> list[str]:
    """Run every post-load statement, then wait for the indexes to be online. A graph in the
    versions layout gets the files of `directory/versions/` after the others.

    Statements that name the same label or type run in file order; the others, side by side
    on `sessions` sessions. Returns the names of the files applied. Statements are
    idempotent (`IF NOT EXISTS`), so applying them to a graph that already has them changes
    nothing.
    """
    files = post_load_files(directory)
    if layout is Layout.versions:
        files += post_load_files(directory / VERSIONS_SUBDIR)
    statements = [
        statement
        for path in files
        for statement in split_statements(path.read_text(encoding="utf-8"))
    ]
    alone, groups = statement_groups(statements)

    def run(group: list[str]) -> None:
        for statement in group:
            log.debug("post-load: %s", statement.splitlines()[0])
            for attempt in range(1, TRIES + 1):
                try:
                    run_autocommit(statement, driver=driver, database=database)
                    break
                except QueryError as exc:
                    if attempt == TRIES or not (exc.code or "").startswith("Neo.TransientError"):
                        raise
                    log.debug("post-load: transient error, again (%d)", attempt)

    run(alone)
    with ThreadPoolExecutor(max_workers=max(1, sessions)) as pool:
        # list(): the first error of any group is raised here
        list(pool.map(run, groups))
    run_autocommit(
        "CALL db.awaitIndexes($seconds)",
        {"seconds": INDEX_WAIT_SECONDS},
        driver=driver,
        database=database,
    )
    return [path.name for path in files]
