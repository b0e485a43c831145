"""Read the plain `.cypher` files of `bulkgraph/cypher/` and run them statement by statement."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import bulkgraph

#: The post-load files live inside the package (the repository's `cypher/` links here).
CYPHER_DIR = Path(bulkgraph.__file__).parent / "cypher"


def post_load_files(directory: Path = CYPHER_DIR) -> list[Path]:
    """The numbered post-load files, in the order they are applied (by name)."""
    return sorted(p for p in directory.glob("*.cypher") if p.name[:1].isdigit())


def split_statements(text: str) -> Iterator[str]:
    """Split a Cypher file into statements.

    A statement ends with `;` at the end of a line. Comment lines (`//`) are dropped. This is
    deliberately simpler than a Cypher parser: our files never put `;` at a line end inside a
    string, and a person running them by hand in cypher-shell reads them the same way.
    """
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.lstrip().startswith("//") or not line:
            continue
        if line.endswith(";"):
            lines.append(line[:-1])
            statement = "\n".join(lines).strip()
            if statement:
                yield statement
            lines = []
        else:
            lines.append(line)
    rest = "\n".join(lines).strip()
    if rest:
        yield rest
