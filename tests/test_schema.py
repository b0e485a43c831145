"""The generated files match the declaration; LOAD CSV statements have the agreed shape."""

from __future__ import annotations

from pathlib import Path

from bulkgraph.transform.docs import CYPHER_FILE, DOC_FILE, markdown, write_docs
from bulkgraph.transform.schema import (
    NODES,
    load_csv_statement,
    node_schema,
    rel_schema,
    schema_cypher,
)

ROOT = Path(__file__).resolve().parent.parent


def test_committed_cypher_is_generated() -> None:
    assert (ROOT / CYPHER_FILE).read_text(encoding="utf-8") == schema_cypher()


def test_committed_docs_are_generated() -> None:
    assert (ROOT / DOC_FILE).read_text(encoding="utf-8") == markdown()
    assert write_docs(ROOT, check=True) == []


def test_uid_constraint_for_every_label_and_indexes() -> None:
    text = schema_cypher()
    for node in NODES:
        assert f"FOR (n:`{node.label}`) REQUIRE n.uid IS UNIQUE;" in text
        assert f"FOR (n:`{node.label}`) ON (n.`snapshot_id`);" in text
    assert "FOR (n:`Tag`) ON (n.`name`, n.`value`);" in text
    assert "FOR (n:`IPRange`) ON (n.`cidr`);" in text
    assert "FOR (n:`Snapshot`) ON (n.`taken_at`);" in text
    assert "FOR (n:`Instance`) ON (n.`private_ip`);" in text


def test_resource_key_is_indexed_where_versions_are_looked_up() -> None:
    # the version links of `bulkgraph load` look resources up by resource_key
    # (temporal_cypher.py); an unversioned label's index would only cost a population
    text = schema_cypher()
    for node in NODES:
        indexed = f"FOR (n:`{node.label}`) ON (n.`resource_key`);" in text
        assert indexed == node.versioned, node.label
    assert {n.label for n in NODES if not n.versioned} == {"Snapshot", "Tag"}


def test_headers() -> None:
    assert node_schema("Instance").header.startswith(
        "uid:ID,snapshot_id,resource_key,fingerprint,stub:boolean,id,aws_hostname"
    )
    assert "launch_time:datetime" in node_schema("Instance").header
    # Snapshot's key is a system column: not repeated
    assert node_schema("Snapshot").header == (
        "uid:ID,snapshot_id,resource_key,fingerprint,stub:boolean,taken_at:datetime,source,"
        "unknown:string[],unknown_labels:string[]"
    )
    rel = rel_schema("ALLOWED", "IPRange", "SecurityGroup")
    assert rel.header == (
        ":START_ID,:END_ID,protocol,fromPort:int,toPort:int,direction,description"
    )


def test_load_csv_statements() -> None:
    node = load_csv_statement(node_schema("RDSInstance"))
    # the file is a parameter: one statement text, planned once, for every part
    assert node.startswith("LOAD CSV FROM $url AS row\nCALL (row) {")
    assert "MERGE (n:`RDSInstance` {uid: row[0]})" in node
    assert "toInteger(row[" in node and "toBoolean(row[" in node
    assert node.endswith("} IN TRANSACTIONS OF $batch ROWS")
    rel = load_csv_statement(rel_schema("ALLOWED", "IPRange", "SecurityGroup"))
    assert "MATCH (a:`IPRange` {uid: row[0]})" in rel
    assert "MATCH (b:`SecurityGroup` {uid: row[1]})" in rel
    assert "toInteger(row[3]) AS v1" in rel
    plain = load_csv_statement(rel_schema("BELONGS_TO", "Subnet", "VPC"))
    assert "MERGE (a)-[:`BELONGS_TO`]->(b)" in plain


def test_versions_indexes_look_up_versions_by_key_and_time() -> None:
    from bulkgraph.transform.docs import VERSIONS_CYPHER_FILE
    from bulkgraph.transform.schema import versions_schema_cypher

    text = versions_schema_cypher()
    assert (ROOT / VERSIONS_CYPHER_FILE).read_text(encoding="utf-8") == text
    for node in NODES:
        composite = f"FOR (n:`{node.label}`) ON (n.`resource_key`, n.`valid_from`);"
        assert (composite in text) is node.versioned
    assert "FOR (n:`IPAddress`) ON (n.`ip`);" in text
    # nothing 00-schema.cypher creates already, nothing dropped
    assert "DROP" not in text and not set(text.splitlines()) & set(schema_cypher().splitlines()[4:])
