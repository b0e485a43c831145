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
    """Counts from Neo4j's count store: instant, whatever the size of the graph."""
    counts = GraphCounts()
    labels = run_query(
        "CALL db.labels() YIELD label RETURN label", driver=driver, database=database
    )
    for row in labels:
        label = row["label"]
        found = run_query(
            f"MATCH (n:`{_quote(label)}`) RETURN count(n) AS c", driver=driver, database=database
        )
        counts.labels[label] = int(found[0]["c"])
    types = run_query(
        "CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType AS t",
        driver=driver,
        database=database,
    )
    for row in types:
        rel_type = row["t"]
        found = run_query(
            f"MATCH ()-[r:`{_quote(rel_type)}`]->() RETURN count(r) AS c",
            driver=driver,
            database=database,
        )
        counts.types[rel_type] = int(found[0]["c"])
    return counts


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
