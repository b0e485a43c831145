"""The two graph layouts, and how a database says which one it holds.

- `snapshots`: every snapshot is a full copy of the estate (graph-model.md as written): a
  resource seen on 90 nights is 90 nodes, each with `snapshot_id`, linked by NEXT_VERSION.
- `versions`: history by change (docs/versions-layout.md): one node per *version* of a
  resource (a maximal run of snapshots in which its properties are the same) and one
  relationship per maximal run in which it holds, each with `valid_from` / `valid_to`.

The layout is chosen when the graph is built (`transform`/`rebuild --layout`, recorded in the
CSV folder's manifest; `import` follows the manifest) and recorded in the database on every
`Snapshot` node as the property `layout` (absent = `snapshots`, so databases built before
the versions layout existed read as what they are). Every command that asks the graph reads
it from there with `recorded_layout`.
"""

from __future__ import annotations

from enum import StrEnum

import neo4j

from bulkgraph.errors import InputError


class Layout(StrEnum):
    snapshots = "snapshots"
    versions = "versions"


DEFAULT_LAYOUT = Layout.snapshots

#: the Snapshot node property that records the layout
LAYOUT_PROPERTY = "layout"


def parse_layout(text: str) -> Layout:
    try:
        return Layout(text)
    except ValueError:
        raise InputError(
            f"unknown graph layout {text!r}: one of {', '.join(x.value for x in Layout)}"
        ) from None


def recorded_layout(driver: neo4j.Driver, database: str | None = None) -> Layout:
    """The layout of the graph in `database`: what its Snapshot nodes record.

    A database with no Snapshot node, or whose Snapshot nodes do not say, is `snapshots`.
    """
    records, _, _ = driver.execute_query(
        f"MATCH (s:Snapshot) WHERE s.{LAYOUT_PROPERTY} IS NOT NULL "
        f"RETURN DISTINCT s.{LAYOUT_PROPERTY} AS layout LIMIT 2",
        database_=database,
        routing_=neo4j.RoutingControl.READ,
    )
    found = {str(r["layout"]) for r in records}
    if len(found) > 1:
        raise InputError(f"the database mixes graph layouts {sorted(found)}: rebuild it")
    return parse_layout(found.pop()) if found else DEFAULT_LAYOUT
