"""The Cypher of `bulkgraph load` into a database in the versions layout.

docs/versions-layout.md ("Appending"): one snapshot S at a time, from its per-snapshot part
files (the same files the snapshots layout loads). For each node row the resource's latest
version is extended, or closed and followed by a new one; current versions S does not see,
where S knows their label, are closed; relationships the same way between the versions
current after S's nodes are in. Every statement is generated from the schema: labels, types
and property names are ours; values come from the files or as parameters:

- `$url`, `$batch`: the part file and rows per transaction (as `load_csv_statement`);
- `$sid`, `$taken_at`: S's id and `taken_at` (the DateTime Neo4j holds on its Snapshot);
- `$cut`: `size($sid) + 1`, so that `substring(uid, $cut)` is the resource_key of a
  snapshots-layout uid `<sid>|<resource_key>` (stub rows carry no resource_key of their own);
- `$unknown`: label -> `[{account, region}]`, S's `unknown_labels` (`*` kept as `*`).
"""

from __future__ import annotations

from bulkgraph.transform.declare import NodeSchema, Prop, RelSchema
from bulkgraph.transform.schema import NODE_BY_LABEL, SNAPSHOT_RELS
from bulkgraph.transform.types import kind

#: what a version or a relationship holds besides the properties it was seen with
INTERVAL = ("valid_from", "valid_to", "first_snapshot_id", "last_snapshot_id")
#: node columns that are not compared: identity and per-snapshot bookkeeping
NOT_COMPARED = ("uid", "snapshot_id", "fingerprint", "resource_key")
#: a node's own properties that are not a version's (the snapshot it belongs to, the hash
#: that covers relationships too)
NOT_KEPT = ("snapshot_id", "fingerprint")
SNAPSHOT = "Snapshot"


def is_version_label(schema: NodeSchema) -> bool:
    """Versions of resources; the others but Snapshot are values shared across time (Tag)."""
    return schema.versioned and schema.label != SNAPSHOT


def is_value_label(schema: NodeSchema) -> bool:
    return not schema.versioned and schema.label != SNAPSHOT


def is_version_rel(schema: RelSchema) -> bool:
    """Relationships the versions layout keeps: not the Snapshot's CONTAINS (one per node
    per night again), nor the temporal ones (computed, not loaded)."""
    return SNAPSHOT not in (schema.start, schema.end)


#: the declared relationships (the temporal ones are not in SNAPSHOT_RELS)
VERSION_RELS: tuple[RelSchema, ...] = tuple(r for r in SNAPSHOT_RELS if is_version_rel(r))


def _cell(index: int, prop: Prop) -> str:
    return kind(prop.type).cypher.format(f"row[{index}]")


def _compared(schema: NodeSchema) -> list[tuple[int, Prop]]:
    return [(i, p) for i, p in enumerate(schema.columns) if p.name not in NOT_COMPARED]


def _same(var: str, names: list[str], values: list[str], ignored: tuple[str, ...]) -> str:
    """`var` holds exactly these values: each equal (or both absent), and no other property
    (one a later schema or a dynamic column no longer written would leave)."""
    if not names:
        return f"size([k IN keys({var}) WHERE NOT k IN {list(ignored)!r}]) = 0"
    each = [
        f"coalesce({var}.`{n}` = {v}, {var}.`{n}` IS NULL AND {v} IS NULL)"
        for n, v in zip(names, values, strict=True)
    ]
    count = (
        f"size([k IN keys({var}) WHERE NOT k IN {list(ignored)!r}]) = "
        f"size([x IN [{', '.join(values)}] WHERE x IS NOT NULL])"
    )
    return "(" + "\n       AND ".join([*each, count]) + ")"


def _place(var: str, schema: NodeSchema) -> tuple[str, str]:
    """Cypher for the account and the region of node `var` (null: it names none, and any
    account or region of S that does not know its label concerns it). As the pack's
    snapshot-diff query: its own properties, else those of its ARN; a Region is in itself,
    an Account in every region."""
    names = {p.name for p in schema.columns}
    arn = "arn" in names

    def part(i: int) -> str:
        return (
            f"CASE split({var}.arn, ':')[{i}] WHEN '' THEN null ELSE split({var}.arn, ':')[{i}] END"
        )

    account = "null"
    if "account_id" in names:
        account = f"coalesce({var}.account_id, {part(4)})" if arn else f"{var}.account_id"
    elif arn:
        account = part(4)
    region = "null"
    if schema.label == "Region":
        region = f"{var}.name"
    elif "region" in names:
        region = f"coalesce({var}.region, {part(3)})" if arn else f"{var}.region"
    elif arn and schema.label != "Account":
        region = part(3)
    return account, region


def _knows(label: str, account: str, region: str) -> str:
    """S knows `label` at (account, region): no `unknown_labels` entry covers it."""
    return (
        f"NOT any(u IN $unknown['{label}'] WHERE (u.account = '*' OR {account} IS NULL "
        f"OR u.account = {account}) AND (u.region = '*' OR {region} IS NULL "
        f"OR u.region = {region}))"
    )


def _has_place(schema: NodeSchema) -> bool:
    return _place("n", schema) != ("null", "null")


def version_nodes_statement(schema: NodeSchema) -> str:
    """S's rows of a versioned label: extend the resource's current version when S saw it
    the same, else close it (if current) and open a new one linked by NEXT_VERSION.

    The version compared is the resource's latest, current or not: a resource that vanished
    and came back gets a new version whose NEXT_VERSION says whether it changed meanwhile.
    A row whose latest version S already saw (`last_snapshot_id = $sid`) is done: a load of
    S that was killed and is run again does nothing twice.
    """
    compared = _compared(schema)
    names = [p.name for _, p in compared]
    values = [f"v{k}" for k in range(len(compared))]
    cells = ", ".join(f"{_cell(i, p)} AS v{k}" for k, (i, p) in enumerate(compared))
    carried = ", ".join(values)
    same = _same("p", names, values, ("uid", "resource_key", *INTERVAL))
    sets = "".join(f",\n      n.`{n}` = {v}" for n, v in zip(names, values, strict=True))
    label = schema.label
    return f"""LOAD CSV FROM $url AS row
CALL (row) {{
  WITH row[0] AS uid, substring(row[0], $cut) AS key, {cells}
  CALL (key) {{
    OPTIONAL MATCH (p:`{label}` {{resource_key: key}})
    RETURN p ORDER BY p.valid_from DESC, p.first_snapshot_id DESC LIMIT 1
  }}
  WITH uid, key, {carried}, p, p IS NOT NULL AND {same} AS same
  WHERE p IS NULL OR p.last_snapshot_id <> $sid
  WITH uid, key, {carried}, p, same, same AND p.valid_to IS NULL AS extend
  FOREACH (_ IN CASE WHEN extend THEN [1] ELSE [] END | SET p.last_snapshot_id = $sid)
  WITH uid, key, {carried}, p, same, extend WHERE NOT extend
  FOREACH (_ IN CASE WHEN p IS NOT NULL AND p.valid_to IS NULL THEN [1] ELSE [] END |
    SET p.valid_to = $taken_at)
  MERGE (n:`{label}` {{uid: uid}})
  SET n.resource_key = key,
      n.valid_from = $taken_at,
      n.first_snapshot_id = $sid,
      n.last_snapshot_id = $sid{sets}
  FOREACH (_ IN CASE WHEN p IS NULL THEN [] ELSE [1] END |
    MERGE (p)-[r:NEXT_VERSION]->(n) SET r.changed = NOT same)
}} IN TRANSACTIONS OF $batch ROWS"""


def value_nodes_statement(schema: NodeSchema) -> str:
    """S's rows of a value label (Tag): one node per value, `uid` = its resource_key, made
    the first time a snapshot holds it and shared by every later one."""
    kept = [(i, p) for i, p in enumerate(schema.columns) if p.name not in (*NOT_COMPARED,)]
    sets = "".join(f", n.`{p.name}` = {_cell(i, p)}" for i, p in kept)
    return f"""LOAD CSV FROM $url AS row
CALL (row) {{
  WITH row, substring(row[0], $cut) AS key
  MERGE (n:`{schema.label}` {{uid: key}})
  ON CREATE SET n.resource_key = key{sets}
}} IN TRANSACTIONS OF $batch ROWS"""


def close_nodes_statement(schema: NodeSchema) -> str:
    """Close the current versions of a label that S did not see, where S knows the label."""
    account, region = _place("c", schema)
    return f"""MATCH (c:`{schema.label}`)
WHERE c.valid_to IS NULL AND c.last_snapshot_id <> $sid
WITH c, {account} AS account, {region} AS region
WHERE {_knows(schema.label, "account", "region")}
CALL (c) {{
  SET c.valid_to = $taken_at
}} IN TRANSACTIONS OF $batch ROWS"""


def _end(var: str, schema: NodeSchema, key: str) -> str:
    if is_value_label(schema):
        return f"MATCH ({var}:`{schema.label}` {{uid: {key}}})"
    return (
        f"MATCH ({var}:`{schema.label}` {{resource_key: {key}}}) "
        f"WHERE {var}.last_snapshot_id = $sid"
    )


def version_rels_statement(schema: RelSchema) -> str:
    """S's rows of a relationship group (`schema` as the part files were written, dynamic
    columns included): between the versions S saw of its ends, extend the current
    relationship with the same properties, else create one."""
    start, end = NODE_BY_LABEL[schema.start], NODE_BY_LABEL[schema.end]
    names = [p.name for p in schema.props]
    values = [f"v{k}" for k in range(len(names))]
    cells = "".join(f", {_cell(k + 2, p)} AS v{k}" for k, p in enumerate(schema.props))
    carried = "".join(f", {v}" for v in values)
    same = _same("old", names, values, INTERVAL)
    sets = "".join(f", r.`{n}` = {v}" for n, v in zip(names, values, strict=True))
    return f"""LOAD CSV FROM $url AS row
CALL (row) {{
  WITH substring(row[0], $cut) AS skey, substring(row[1], $cut) AS ekey{cells}
  {_end("a", start, "skey")}
  {_end("b", end, "ekey")}
  OPTIONAL MATCH (a)-[old:`{schema.type}`]->(b)
  WHERE old.valid_to IS NULL AND {same}
  WITH a, b{carried}, head(collect(old)) AS old
  FOREACH (_ IN CASE WHEN old IS NULL THEN [] ELSE [1] END | SET old.last_snapshot_id = $sid)
  FOREACH (_ IN CASE WHEN old IS NULL THEN [1] ELSE [] END |
    CREATE (a)-[r:`{schema.type}`]->(b)
    SET r.valid_from = $taken_at, r.first_snapshot_id = $sid, r.last_snapshot_id = $sid{sets})
}} IN TRANSACTIONS OF $batch ROWS"""


def close_rels_statement(schema: RelSchema) -> str:
    """Close the current relationships of a group that S does not hold: those whose start or
    end version is no longer current (a relationship never outlives its ends), and the
    others where S knows both ends' labels.

    An end whose label names no place (a Tag, an IPRange, an IPAddress) is a value the other
    end's records give: the relationship is known where that other end's label is. Its own
    label's entries would say more than that: a snapshot without network ACLs does not know
    IPRange (the ACLs' ranges), yet knows every rule of the security groups it has.
    """
    start, end = NODE_BY_LABEL[schema.start], NODE_BY_LABEL[schema.end]
    sa, sr = _place("a", start)
    ea, er = _place("b", end)
    checks = [
        _knows(node.label, account, region)
        for node, account, region in ((start, "sa", "sr"), (end, "ea", "er"))
        if _has_place(node)
    ] or [_knows(start.label, "sa", "sr"), _knows(end.label, "ea", "er")]
    return f"""MATCH (a:`{start.label}`)-[r:`{schema.type}`]->(b:`{end.label}`)
WHERE r.valid_to IS NULL AND r.last_snapshot_id <> $sid
WITH a, r, b, {sa} AS sa, {sr} AS sr, {ea} AS ea, {er} AS er
WHERE a.valid_to IS NOT NULL OR b.valid_to IS NOT NULL
   OR ({" AND ".join(checks)})
CALL (r) {{
  SET r.valid_to = $taken_at
}} IN TRANSACTIONS OF $batch ROWS"""


NEXT_STATEMENT = """MATCH (s:Snapshot {snapshot_id: $sid})
MATCH (p:Snapshot {snapshot_id: $prev})
MERGE (p)-[:NEXT]->(s)"""
