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
    """Counts from Neo4j's count store, whatever the size of the graph: every label and
    relationship type the database has a token for, those without nodes or relationships
    left (as 0) included.

    One procedure call (`db.stats.retrieve('GRAPH COUNTS')`). A statement of one count-store
    lookup per label and type (a UNION of ~60) gave the same counts, but on a server just
    started its planning took 4-5 s of every rebuild's check (docs/benchmarks.md).
    """
    rows = run_query(
        "CALL db.stats.retrieve('GRAPH COUNTS') YIELD data "
        "RETURN data.nodes AS nodes, data.relationships AS relationships",
        driver=driver,
        database=database,
    )
    # the entries without a start or end label are the totals per label and per type; the
    # others break them down by the label at one end (and one entry has no label: all nodes)
    nodes = rows[0]["nodes"] if rows else []
    rels = rows[0]["relationships"] if rows else []
    return GraphCounts(
        labels={str(n["label"]): int(n["count"]) for n in nodes if "label" in n},
        types={
            str(r["relationshipType"]): int(r["count"])
            for r in rels
            if "relationshipType" in r and "startLabel" not in r and "endLabel" not in r
        },
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
