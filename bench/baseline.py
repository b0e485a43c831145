"""The transactional baseline: the same graph loaded through the driver, Cartography style.

What bulkgraph replaces: batches of `UNWIND $rows AS row MERGE (n:Label {uid: row.uid}) SET
n += row.props`, 10,000 rows per transaction, with the uniqueness constraints in place first,
and relationships MERGEd after MATCHing both ends by label and uid. The rows come from the
very CSV files the bulk path imports (found through the manifest), with each cell converted
to the type its header declares, so both paths build the same graph and the comparison is per
record. Reading and converting the files is timed apart from the database work.

Relationship groups that carry properties (ALLOWED, CONTAINS to targets, PEERED_TO, ...)
are CREATEd rather than MERGEd: parallel relationships there differ only by their properties,
some of them null, which MERGE cannot match on. CREATE is cheaper than MERGE, so this favours
the baseline; the database is empty when it starts, so the graph is the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import neo4j
import polars as pl

from bulkgraph.csvfolder import FileGroup, Manifest, read_manifest
from bulkgraph.db import run_autocommit, run_query
from bulkgraph.errors import BulkgraphError
from bulkgraph.transform.schema import index_statements

DEFAULT_BATCH = 10_000

#: the ID columns of neo4j-admin headers, and the row keys they become
_ID_FIELDS = {"uid:ID": "uid", ":START_ID": "start", ":END_ID": "end"}


@dataclass
class BaselineResult:
    snapshots: list[str]
    batch: int
    nodes: int = 0  # rows sent
    relationships: int = 0
    transactions: int = 0
    #: seconds: constraints, read (CSV -> typed rows, client side), nodes, relationships (db)
    seconds: dict[str, float] = field(default_factory=dict)
    #: what the database holds afterwards
    found_nodes: int = 0
    found_relationships: int = 0
    #: per snapshot, in load order: snapshot id, records sent, seconds (read + database)
    per_snapshot: list[dict[str, Any]] = field(default_factory=list)

    @property
    def records(self) -> int:
        return self.nodes + self.relationships

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())

    @property
    def records_per_second(self) -> float:
        return self.records / self.total_seconds if self.total_seconds else 0.0

    @property
    def warm_records_per_second(self) -> float | None:
        """The rate after the first snapshot: what the transactional path sustains.

        The first snapshot pays a freshly started server's warm-up (JIT, query plans, page
        cache; docs/benchmarks.md has the figures). Averaged over a few snapshots that
        warm-up would make the baseline look far slower per record than it is on a server
        that stays up. None with one snapshot (no warm rate)."""
        later = self.per_snapshot[1:]
        seconds = sum(s["seconds"] for s in later)
        if not later or not seconds:
            return None
        return sum(s["records"] for s in later) / seconds

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["records"] = self.records
        data["total_seconds"] = self.total_seconds
        data["records_per_second"] = self.records_per_second
        data["warm_records_per_second"] = self.warm_records_per_second
        return data


def parse_field(header_field: str) -> tuple[str, str]:
    """`name:type` of a neo4j-admin header -> (name, type); plain names are strings."""
    if header_field in _ID_FIELDS:
        return _ID_FIELDS[header_field], "string"
    name, sep, type_ = header_field.rpartition(":")
    if not sep:
        return header_field, "string"
    return name, type_


def _convert(col: str, type_: str) -> pl.Expr:
    c = pl.col(col)
    if type_ == "string":
        # the CSV dialect doubles backslashes (csvfmt.py); doubled quotes polars undoes itself
        return c.str.replace_all("\\\\", "\\", literal=True)
    if type_ in ("int", "long"):
        return c.cast(pl.Int64)
    if type_ == "float":
        return c.cast(pl.Float64)
    if type_ == "boolean":
        return pl.when(c.is_null()).then(None).otherwise(c == "true")
    if type_ == "datetime":
        return c.str.to_datetime(time_zone="UTC")
    if type_ == "string[]":
        return c.str.replace_all("\\\\", "\\", literal=True).str.split(";")
    raise BulkgraphError(f"unknown property type {type_!r} in a CSV header")


def read_part(path: Path, header_fields: list[str]) -> pl.DataFrame:
    """One part file (no header line) as a typed frame named after the header."""
    fields = [parse_field(f) for f in header_fields]
    df = pl.read_csv(
        path,
        has_header=False,
        new_columns=[name for name, _ in fields],
        infer_schema=False,
        quote_char='"',
    )
    try:
        return df.with_columns(_convert(name, t).alias(name) for name, t in fields)
    except pl.exceptions.InvalidOperationError:
        # an unusual datetime offset: parse those columns one value at a time
        exprs = [
            pl.col(n).map_elements(datetime.fromisoformat, return_dtype=pl.Datetime("us", "UTC"))
            if t == "datetime"
            else _convert(n, t).alias(n)
            for n, t in fields
        ]
        return df.with_columns(exprs)


def _rows(df: pl.DataFrame, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """`{key: .., props: {non-null columns}}` per row, as the UNWIND statements expect."""
    out = []
    for rec in df.iter_rows(named=True):
        row: dict[str, Any] = {k: rec.pop(k) for k in keys}
        row["props"] = {k: v for k, v in rec.items() if v is not None}
        out.append(row)
    return out


def node_statement(label: str) -> str:
    return f"UNWIND $rows AS row MERGE (n:`{label}` {{uid: row.uid}}) SET n += row.props"


def rel_statement(group: FileGroup, has_props: bool) -> str:
    head = (
        f"UNWIND $rows AS row MATCH (a:`{group.start}` {{uid: row.start}}) "
        f"MATCH (b:`{group.end}` {{uid: row.end}}) "
    )
    if has_props:
        return head + f"CREATE (a)-[r:`{group.type}`]->(b) SET r += row.props"
    return head + f"MERGE (a)-[:`{group.type}`]->(b)"


def _batches(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def _write(tx: neo4j.ManagedTransaction, statement: str, rows: list[dict[str, Any]]) -> None:
    tx.run(statement, rows=rows).consume()


def _parts_of(group: FileGroup, snapshot_id: str) -> list[str]:
    return [p for p in group.parts if Path(p).name.startswith(f"{snapshot_id}.")]


def apply_constraints(driver: neo4j.Driver, database: str) -> None:
    """The uniqueness constraints on uid (not the other indexes), before any data."""
    for statement in index_statements():
        if statement.startswith("CREATE CONSTRAINT"):
            run_autocommit(statement.rstrip(";"), driver=driver, database=database)
    run_autocommit("CALL db.awaitIndexes(600)", driver=driver, database=database)


def graph_totals(driver: neo4j.Driver, database: str) -> tuple[int, int]:
    rows = run_query(
        "CALL () { MATCH (n) RETURN count(n) AS nodes } "
        "CALL () { MATCH ()-[r]->() RETURN count(r) AS rels } RETURN nodes, rels",
        driver=driver,
        database=database,
    )
    return int(rows[0]["nodes"]), int(rows[0]["rels"])


def expected_counts(manifest: Manifest, snapshot_ids: list[str]) -> tuple[int, int]:
    """Rows of the part files of `snapshot_ids`: what the baseline should load."""
    wanted = set(snapshot_ids)
    nodes = rels = 0
    for group in manifest.groups:
        for part, rows in group.rows.items():
            if Path(part).name.split(".", 1)[0] in wanted:
                if group.kind == "nodes":
                    nodes += rows
                else:
                    rels += rows
    return nodes, rels


def load_transactional(
    csv_dir: Path,
    driver: neo4j.Driver,
    database: str = "neo4j",
    *,
    snapshots: int | None = None,
    batch: int = DEFAULT_BATCH,
    on_progress: Callable[[str], None] | None = None,
) -> BaselineResult:
    """Load the first `snapshots` snapshots of `csv_dir` (all when None) into an EMPTY
    database, one snapshot after the other (as daily Cartography runs would), each one's
    nodes label by label, then its relationships."""
    manifest = read_manifest(csv_dir)
    ordered = sorted(manifest.snapshots, key=lambda s: (s.taken_at, s.snapshot_id))
    chosen = [s.snapshot_id for s in ordered[: snapshots or len(ordered)]]
    if graph_totals(driver, database)[0]:
        raise BulkgraphError(f"the baseline needs an empty database; {database!r} holds nodes")
    result = BaselineResult(snapshots=chosen, batch=batch)
    secs = dict.fromkeys(("constraints", "read", "nodes", "relationships"), 0.0)

    t0 = time.monotonic()
    apply_constraints(driver, database)
    secs["constraints"] = time.monotonic() - t0

    def send(statement: str, rows: list[dict[str, Any]], phase: str) -> None:
        t0 = time.monotonic()
        with driver.session(database=database) as session:
            for chunk in _batches(rows, batch):
                session.execute_write(_write, statement, chunk)
                result.transactions += 1
        secs[phase] += time.monotonic() - t0

    node_groups = [g for g in manifest.groups if g.kind == "nodes"]
    rel_groups = [g for g in manifest.groups if g.kind == "relationships"]
    for sid in chosen:
        started, records_before = time.monotonic(), result.records
        for group in [*node_groups, *rel_groups]:
            is_node = group.kind == "nodes"
            keys = ("uid",) if is_node else ("start", "end")
            for part in _parts_of(group, sid):
                t0 = time.monotonic()
                rows = _rows(read_part(csv_dir / part, group.header_fields), keys)
                secs["read"] += time.monotonic() - t0
                if is_node:
                    assert group.label is not None
                    send(node_statement(group.label), rows, "nodes")
                    result.nodes += len(rows)
                else:
                    has_props = len(group.header_fields) > 2
                    send(rel_statement(group, has_props), rows, "relationships")
                    result.relationships += len(rows)
        seconds = time.monotonic() - started
        records = result.records - records_before
        result.per_snapshot.append({"snapshot": sid, "records": records, "seconds": seconds})
        if on_progress:
            on_progress(
                f"baseline: {sid} loaded, {records} records in {seconds:.1f}s "
                f"({result.records} records so far)"
            )
    result.seconds = secs
    result.found_nodes, result.found_relationships = graph_totals(driver, database)
    return result
