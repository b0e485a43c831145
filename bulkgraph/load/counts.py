"""What a database holds, per label and per relationship type, to check a load against."""

from __future__ import annotations

from dataclasses import dataclass, field

import neo4j

from bulkgraph.db import run_query


@dataclass(frozen=True)
class CountMismatch:
    kind: str  # "label" or "type"
    name: str
    expected: int
    found: int

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: expected {self.expected}, found {self.found}"


@dataclass
class GraphCounts:
    labels: dict[str, int] = field(default_factory=dict)
    types: dict[str, int] = field(default_factory=dict)

    @property
    def nodes(self) -> int:
        return sum(self.labels.values())

    @property
    def relationships(self) -> int:
        return sum(self.types.values())


def graph_counts(driver: neo4j.Driver, database: str) -> GraphCounts:
    """Counts from Neo4j's count store: instant, whatever the size of the graph. One
    statement for every label and type (a UNION of count-store lookups): on a server just
    started, planning ~40 small statements one by one took seconds of every rebuild."""
    labels = [
        str(r["label"])
        for r in run_query(
            "CALL db.labels() YIELD label RETURN label", driver=driver, database=database
        )
    ]
    types = [
        str(r["t"])
        for r in run_query(
            "CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType AS t",
            driver=driver,
            database=database,
        )
    ]
    # each branch returns its position in labels + types (names need no quoting as values),
    # after the count: `RETURN 3 AS i, count(n)` would group by i, and a label without nodes
    # (its token outlives them) would give no row at all
    branches = [
        f"MATCH (n:`{_quote(label)}`) WITH count(n) AS c RETURN {i} AS i, c"
        for i, label in enumerate(labels)
    ] + [
        f"MATCH ()-[r:`{_quote(rel_type)}`]->() WITH count(r) AS c RETURN {len(labels) + i} AS i, c"
        for i, rel_type in enumerate(types)
    ]
    found = (
        {
            int(r["i"]): int(r["c"])
            for r in run_query(" UNION ALL ".join(branches), driver=driver, database=database)
        }
        if branches
        else {}
    )
    return GraphCounts(
        labels={label: found[i] for i, label in enumerate(labels)},
        types={rel_type: found[len(labels) + i] for i, rel_type in enumerate(types)},
    )


def compare(
    found: GraphCounts, labels: dict[str, int], types: dict[str, int]
) -> list[CountMismatch]:
    """Every label and type whose count differs from what was expected (zeros included)."""
    out: list[CountMismatch] = []
    for kind, expected, actual in (("label", labels, found.labels), ("type", types, found.types)):
        for name in sorted(set(expected) | set(actual)):
            want, got = expected.get(name, 0), actual.get(name, 0)
            if want != got:
                out.append(CountMismatch(kind, name, want, got))
    return out


def _quote(name: str) -> str:
    """Escape a name read back from the database for use inside backticks."""
    return name.replace("`", "``")
