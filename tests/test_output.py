"""The one output path of the CLI: each value type reads the same in JSON, JSONL, table, CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from enum import StrEnum
from pathlib import Path
from typing import Any

import neo4j.graph
import neo4j.time
import pytest

from bulkgraph.cli.output import (
    OutputFormat,
    cell_text,
    csv_text,
    emit,
    json_text,
    jsonl_text,
    print_table,
)


class Colour(StrEnum):
    red = "red"


#: (value, its JSON value, its table/CSV text)
VALUES: list[tuple[Any, Any, str]] = [
    (None, None, ""),
    (True, True, "true"),
    (3, 3, "3"),
    (1.5, 1.5, "1.5"),
    (float("inf"), "inf", "inf"),
    ("a, b", "a, b", "a, b"),
    (["sg-1", "sg-2"], ["sg-1", "sg-2"], '["sg-1", "sg-2"]'),
    (("x", None), ["x", None], '["x", null]'),
    ({"k": "é", "n": 1}, {"k": "é", "n": 1}, '{"k": "é", "n": 1}'),
    (
        dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "2024-01-02T03:04:05+00:00",
        "2024-01-02T03:04:05+00:00",
    ),
    (dt.date(2024, 1, 2), "2024-01-02", "2024-01-02"),
    (
        neo4j.time.DateTime(2024, 5, 1, 12, 30, 0, 500_000_000, tzinfo=dt.UTC),
        "2024-05-01T12:30:00.500000000+00:00",
        "2024-05-01T12:30:00.500000000+00:00",
    ),
    (neo4j.time.Date(2024, 5, 1), "2024-05-01", "2024-05-01"),
    (neo4j.time.Duration(days=1, hours=2), "P1DT2H", "P1DT2H"),
    ([neo4j.time.Date(2024, 5, 1)], ["2024-05-01"], '["2024-05-01"]'),
    (Path("/tmp/x"), "/tmp/x", "/tmp/x"),
    (Colour.red, "red", "red"),
]


@pytest.mark.parametrize(("value", "as_json", "text"), VALUES)
def test_one_formatting_of_each_value_in_every_format(value: Any, as_json: Any, text: str) -> None:
    row = {"v": value}
    assert json.loads(json_text(row)) == {"v": as_json}
    assert json.loads(jsonl_text([row])) == {"v": as_json}
    assert cell_text(value) == text
    assert list(csv.reader(io.StringIO(csv_text(["v"], [row])))) == [["v"], [text]]


def test_graph_values_of_the_driver() -> None:
    graph = neo4j.graph.Graph()
    node = neo4j.graph.Node(graph, "4:x:1", 1, ["Vpc", "Resource"], {"id": "vpc-1"})
    # a relationship's class is made per type at run time (its module is `abc`)
    contains = graph.relationship_type("CONTAINS")(graph, "5:x:2", 2, {"port": 80})
    assert json.loads(json_text([node, contains])) == [
        {"_labels": ["Resource", "Vpc"], "id": "vpc-1"},
        {"_type": "CONTAINS", "port": 80},
    ]
    assert cell_text(contains) == '{"_type": "CONTAINS", "port": 80}'


def test_a_datetime_is_iso_8601_in_json_not_python_str() -> None:
    # the summaries' JSON used json.dumps(default=str): "2024-01-02 03:04:05+00:00"
    when = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert json.loads(json_text({"at": when})) == {"at": "2024-01-02T03:04:05+00:00"}


def test_table_cells_are_the_csv_cells_and_never_markup(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [{"name": "[bold]x[/bold]", "groups": ["sg-1", "sg-2"], "gone": None}]
    print_table(["name", "groups", "gone"], rows, title="t")
    shown = capsys.readouterr().out
    assert "[bold]x[/bold]" in shown
    assert '["sg-1", "sg-2"]' in shown
    assert "gone" in shown


def test_emit_formats(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [{"i": 1, "s": "v1"}, {"i": 2, "s": "v2", "extra": True}]
    emit(OutputFormat.csv, rows)
    assert capsys.readouterr().out == "i,s,extra\n1,v1,\n2,v2,true\n"
    emit(OutputFormat.csv, rows, ["s", "i"])
    assert capsys.readouterr().out == "s,i\nv1,1\nv2,2\n"
    emit(OutputFormat.jsonl, rows)
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == rows
    emit(OutputFormat.json, rows, doc={"rows": rows})
    assert json.loads(capsys.readouterr().out) == {"rows": rows}
    emit(None, rows)  # not a terminal: JSON
    assert json.loads(capsys.readouterr().out) == rows
    emit(OutputFormat.table, [])
    captured = capsys.readouterr()
    assert captured.out == "" and "(no rows)" in captured.err
