"""Post-load Cypher: the numbered files of `bulkgraph/cypher/`, then wait for the indexes."""

from __future__ import annotations

import logging
from pathlib import Path

import neo4j

from bulkgraph.db import run_autocommit
from bulkgraph.layout import DEFAULT_LAYOUT, Layout
from bulkgraph.load.cypher_files import CYPHER_DIR, post_load_files, split_statements

#: the versions layout's own post-load files, under the post-load folder
VERSIONS_SUBDIR = "versions"

log = logging.getLogger(__name__)

#: How long to wait for indexes to come online before giving up (seconds).
INDEX_WAIT_SECONDS = 1800


def apply_post_load(
    driver: neo4j.Driver,
    database: str,
    directory: Path = CYPHER_DIR,
    layout: Layout = DEFAULT_LAYOUT,
) -> list[str]:
    """Run every post-load statement in file order, then wait for the indexes to be online.
    A graph in the versions layout gets the files of `directory/versions/` after the others.

    Returns the names of the files applied. Statements are idempotent (`IF NOT EXISTS`), so
    applying them to a graph that already has them changes nothing.
    """
    applied: list[str] = []
    files = post_load_files(directory)
    if layout is Layout.versions:
        files += post_load_files(directory / VERSIONS_SUBDIR)
    for path in files:
        for statement in split_statements(path.read_text(encoding="utf-8")):
            log.debug("%s: %s", path.name, statement.splitlines()[0])
            run_autocommit(statement, driver=driver, database=database)
        applied.append(path.name)
    run_autocommit(
        "CALL db.awaitIndexes($seconds)",
        {"seconds": INDEX_WAIT_SECONDS},
        driver=driver,
        database=database,
    )
    return applied
