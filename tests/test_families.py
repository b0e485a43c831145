"""The family declarations: every declared source path occurs in the fixtures, the
declarations agree with what the families read and write, and mistakes fail loudly."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from transform_fixtures import NATIVE, load

from bulkgraph.extract.sources import discover
from bulkgraph.transform import schema
from bulkgraph.transform.declare import DynamicProps, NodeSchema, Prop, RelSchema, rel
from bulkgraph.transform.families import FAMILIES, base
from bulkgraph.transform.families.ec2_instances import INSTANCE
from bulkgraph.transform.families.vpcs import VPC
from bulkgraph.transform.family import Graph, Read, sourced
from bulkgraph.transform.records import values_at

ROOT = Path(__file__).resolve().parent.parent


def _fixture_records() -> dict[str, list[Any]]:
    """operation -> every record of its responses in tests/fixtures/native and samples/."""
    snapshots: list[Any] = [load(p.name) for p in sorted(NATIVE.glob("*.json"))]
    snapshots += discover([str(ROOT / "samples")], account_id="123456789012").snapshots
    records: dict[str, list[Any]] = defaultdict(list)
    for snap in snapshots:
        for resp in snap.responses():
            family = FAMILIES.get(resp.operation)
            if family is None or family.read.pick is None:
                continue
            for page in resp.pages():
                if isinstance(page, dict):
                    records[resp.operation] += list(family.read.pick(page))
    return records


RECORDS = _fixture_records()


def _elements(records: list[Any], name: str) -> list[Any]:
    """The elements of list field `name` (a dotted path for a list inside an object)."""
    found = values_at(f"$.{name}", records)
    return [e for value in found if isinstance(value, list) for e in value]


def missing_sources(spec: Read, records: list[Any], where: str = "") -> Iterator[str]:
    """Declared paths of `spec` (and of its lists and nested records) that no record holds.
    Paths `$._...` are put into the record by the family itself."""
    for prop in spec.fields:
        path = prop.source
        if path is None or path.startswith("$._"):
            continue
        if all(v is None for v in values_at(path, records)):
            yield f"{where}{path}"
    for name, paths in spec.lists.items():
        elements = _elements(records, name)
        for path in paths.values():
            if not elements or all(v is None for v in values_at(path, elements)):
                yield f"{where}{name}[].{path.removeprefix('$.') or '$'}"
    # lists of records read the same way (ingress and egress rules) count together
    names: dict[int, list[str]] = defaultdict(list)
    for name, nested in spec.nested.items():
        names[id(nested)].append(name)
    for group in names.values():
        elements = [e for name in group for e in _elements(records, name)]
        yield from missing_sources(spec.nested[group[0]], elements, f"{where}{'|'.join(group)}[].")


@pytest.mark.parametrize("operation", sorted(FAMILIES))
def test_every_declared_source_occurs_in_the_fixtures(operation: str) -> None:
    records = RECORDS[operation]
    assert records, f"no {operation} records in the fixtures"
    assert list(missing_sources(FAMILIES[operation].read, records)) == []


def test_a_mistyped_source_is_found() -> None:
    family = FAMILIES["ec2:DescribeVpcs"]
    typo = Read(
        (*family.read.fields, Prop("cidr", source="$.CidrBlok")),
        family.read.pick,
        {"Tags": {"Key": "$.Key", "Value": "$.Valeu"}},
    )
    assert list(missing_sources(typo, RECORDS["ec2:DescribeVpcs"])) == [
        "$.CidrBlok",
        "Tags[].Valeu",
    ]


def test_what_a_family_declares_it_reads_and_is_in_the_schema() -> None:
    labels: dict[str, str] = {n.label: "base" for n in base.NODES}
    for op, family in FAMILIES.items():
        reads = [family.read, *family.read.nested.values()]
        read = {p.name: p.source for spec in reads for p in spec.fields}
        # every property with a source is read by the family's own Read, from that path
        decls: list[NodeSchema | RelSchema] = [*family.nodes, *family.rels]
        for decl in decls:
            for prop in sourced(decl):
                assert read.get(prop.name) == prop.source, (op, prop.name)
        for node in family.nodes:
            assert labels.setdefault(node.label, op) == op, f"{node.label} declared twice"
            assert schema.NODE_BY_LABEL[node.label] is node
        for r in family.rels:
            assert schema.REL_BY_GROUP[r.group] is r
    assert set(labels) == set(schema.NODE_BY_LABEL)
    # every relationship's ends are keyed as their labels declare
    for r in schema.RELS:
        assert len(r.start_cols) == len(schema.NODE_BY_LABEL[r.start].keys), r.group
        assert len(r.end_cols) == len(schema.NODE_BY_LABEL[r.end].keys), r.group


def test_a_family_frame_without_a_declared_column_fails() -> None:
    """A column the family forgot (or misspelt) must not become an all-null property."""
    g = Graph("s")
    frame = pl.DataFrame({"id": ["vpc-1"], "cidr": ["10.0.0.0/16"], "account_id": ["1"]})
    with pytest.raises(ValueError, match=r"VPC nodes without column.*region, is_default, state"):
        g.put(VPC, frame)
    full = frame.with_columns(
        region=pl.lit("r"), is_default=pl.lit(False), state=pl.lit("x"), cidrs=pl.lit(None)
    )
    g.put(VPC, full.with_columns(extra=pl.lit(1)))
    assert g.nodes["VPC"][0].columns == [
        "id",
        "cidr",
        "account_id",
        "region",
        "is_default",
        "state",
        "cidrs",
    ]


def test_relationship_ends_follow_the_declared_keys() -> None:
    two = NodeSchema("Two", keys=(Prop("a"), Prop("b")))
    r = rel("LINKS", INSTANCE, two, end_cols={"b": "col_b", "a": "col_a"})
    assert (r.start_cols, r.end_cols) == (("id",), ("col_a", "col_b"))
    g = Graph("s")
    g.link(r, pl.DataFrame({"id": ["i-1"], "col_b": ["B"], "col_a": ["A"]}))
    frame = g.rels[("LINKS", "Instance", "Two")][0]
    assert frame.to_dicts() == [{"start_key0": "i-1", "end_key0": "A", "end_key1": "B"}]
    with pytest.raises(ValueError, match=r"Two is keyed by a, b, the columns given are for a"):
        rel("LINKS", INSTANCE, two, end_cols={"a": "x"})


def test_graph_model_doc_shows_sources_and_descriptions() -> None:
    text = (ROOT / "docs" / "graph-model.md").read_text(encoding="utf-8")
    assert "| `aws_hostname` | string | `$.PrivateDnsName` | private DNS name |" in text
    assert "| `ALLOWED` | `protocol` | string | `$.IpProtocol` | `-1` = all |" in text


def test_dynamic_properties_are_declared_and_widen_the_schema() -> None:
    peered = schema.REL_BY_GROUP["PEERED_TO__VPC__VPC"]
    assert peered.dynamic is not None and peered.dynamic.by == "id"
    # keys that read the same get numbered columns, in key order
    columns = peered.dynamic.columns(["aws:owner", "aws_owner", "Name"])
    assert columns == {
        "Name": "tag_Name",
        "aws:owner": "tag_aws_owner",
        "aws_owner": "tag_aws_owner_2",
    }
    wide = peered.widened(columns.values())
    assert wide.header == ":START_ID,:END_ID,id,status,tag_Name,tag_aws_owner,tag_aws_owner_2"
    # `bulkgraph load` reads the columns a group was written with from its header
    assert peered.as_written(wide.header.split(",")) == wide
    plain = schema.REL_BY_GROUP["BELONGS_TO__Subnet__VPC"]
    assert plain.as_written(plain.header.split(",")) is plain
    with pytest.raises(ValueError, match="matched by tag, not a property"):
        rel("X", VPC, VPC, dynamic=DynamicProps("tag_", by="tag"))


def test_a_label_declared_twice_or_an_undeclared_end_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vpcs = FAMILIES["ec2:DescribeVpcs"]
    again = NodeSchema("VPC", keys=(Prop("id"),))
    twice = replace(vpcs, operation="ec2:Other", nodes=(again,), rels=())
    monkeypatch.setattr(schema, "FAMILIES", {**FAMILIES, "ec2:Other": twice})
    with pytest.raises(ValueError, match=r"label VPC declared twice \(again by ec2:Other\)"):
        schema._collect()
    ghost = NodeSchema("Ghost", keys=(Prop("id"),))
    dangling = replace(vpcs, operation="ec2:Other", nodes=(), rels=(rel("SEES", VPC, ghost),))
    monkeypatch.setattr(schema, "FAMILIES", {**FAMILIES, "ec2:Other": dangling})
    with pytest.raises(ValueError, match="SEES__VPC__Ghost: label Ghost is not declared"):
        schema._collect()
