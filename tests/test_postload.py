"""The post-load statements (bulkgraph/load/postload.py): grouped by the label they name, so
that those of one label run in file order on one session and the groups side by side."""

from __future__ import annotations

import re
from typing import Any

import pytest
from conftest import ManagedNeo4j

from bulkgraph.layout import Layout
from bulkgraph.load.cypher_files import CYPHER_DIR, post_load_files, split_statements
from bulkgraph.load.postload import VERSIONS_SUBDIR, apply_post_load, statement_groups

STATEMENTS = [
    statement
    for path in post_load_files(CYPHER_DIR) + post_load_files(CYPHER_DIR / VERSIONS_SUBDIR)
    for statement in split_statements(path.read_text(encoding="utf-8"))
]
_NAME = re.compile(r"CREATE (?:CONSTRAINT|INDEX) (\w+) IF NOT EXISTS")


def _label(statement: str) -> str:
    found = re.search(r"FOR \(n:`(\w+)`\)", statement)
    assert found, statement
    return found.group(1)


def test_every_statement_is_in_the_group_of_its_label_in_file_order() -> None:
    alone, groups = statement_groups(STATEMENTS)
    # every statement of ours names its label the way the grouping reads it
    assert alone == []
    assert sorted(s for g in groups for s in g) == sorted(STATEMENTS)
    labels = [{_label(s) for s in group} for group in groups]
    assert all(len(names) == 1 for names in labels)
    assert len({next(iter(names)) for names in labels}) == len(groups)  # one group per label
    for group in groups:
        assert group == [s for s in STATEMENTS if _label(s) == _label(group[0])]


def test_statements_without_a_token_run_alone_and_types_group_apart() -> None:
    rel = "CREATE INDEX r_at IF NOT EXISTS FOR ()-[r:`ALLOWED`]-() ON (r.`valid_from`)"
    other = "CALL db.awaitIndexes(5)"
    alone, groups = statement_groups([other, STATEMENTS[0], rel, STATEMENTS[1]])
    assert alone == [other]
    assert [rel] in groups


@pytest.mark.neo4j
def test_the_post_load_creates_every_constraint_and_index_on_parallel_sessions(
    empty_db: ManagedNeo4j,
) -> None:
    empty_db.run("CREATE (:Instance {uid: 'a'}), (:Instance {uid: 'b'}), (:Tag {uid: 't'})")
    applied = apply_post_load(empty_db.driver(), "neo4j", layout=Layout.versions, sessions=8)
    assert applied == ["00-schema.cypher", "10-versions.cypher"]
    names = {_NAME.match(s).group(1) for s in STATEMENTS}  # type: ignore[union-attr]
    rows: list[dict[str, Any]] = empty_db.run(
        "SHOW INDEXES YIELD name, type, state WHERE type <> 'LOOKUP' RETURN name, state"
    )
    # a constraint's backing index has the constraint's name
    assert {r["name"] for r in rows} == names
    assert {r["state"] for r in rows} == {"ONLINE"}
    # idempotent: again, nothing changes and nothing fails
    apply_post_load(empty_db.driver(), "neo4j", layout=Layout.versions, sessions=8)
    assert len(empty_db.run("SHOW INDEXES YIELD type WHERE type <> 'LOOKUP' RETURN 1")) == len(
        names
    )
