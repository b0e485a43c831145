"""The as-of rewrite (bulkgraph/query/asof.py): each construct on text, the errors for what it
cannot carry over, and every query of the pack accepted by the real Neo4j once rewritten."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import neo4j
import pytest

from bulkgraph.errors import BulkgraphError
from bulkgraph.query import load_pack
from bulkgraph.query.asof import AsOfError, as_of_text, holds, tokenize, versions_text
from bulkgraph.query.pack import Scope, parse_query, with_versions_text


def rw(text: str) -> str:
    return as_of_text(text, "t.cypher")


def w(var: str) -> str:
    """The inline WHERE the rewrite gives an element."""
    return f" WHERE {holds(var)}"


def test_holds_is_the_contracts_predicate() -> None:
    assert holds("x") == (
        "(x.valid_from IS NULL OR x.valid_from <= $as_of)"
        " AND (x.valid_to IS NULL OR $as_of < x.valid_to)"
    )


def test_snapshot_id_constraint_goes_and_the_node_gets_the_predicate() -> None:
    # (the start-point hint: test_the_anchored_node_is_where_the_planner_starts)
    assert rw("MATCH (i:Instance {snapshot_id: $snapshot_id}) RETURN i.id") == (
        f"MATCH (i:Instance{w('i')}) USING SCAN i:Instance RETURN i.id"
    )
    # first, last and middle of a map; a backticked key
    assert rw("MATCH (i:I {snapshot_id: $snapshot_id, ip: $ip}) RETURN i") == (
        f"MATCH (i:I {{ip: $ip}}{w('i')}) RETURN i"
    )
    assert rw("MATCH (i:I {private_ip:$ip, snapshot_id: $snapshot_id}) RETURN i") == (
        f"MATCH (i:I {{private_ip:$ip}}{w('i')}) RETURN i"
    )
    assert rw("MATCH (i:I {a: 1, `snapshot_id`: $snapshot_id, b: 2}) RETURN i") == (
        f"MATCH (i:I {{a: 1, b: 2}}{w('i')}) RETURN i"
    )


def test_anonymous_elements_get_a_variable_and_relationships_the_predicate() -> None:
    assert rw("MATCH (a)-[:R {k: 'v'}]->(:B) RETURN a") == (
        f"MATCH (a{w('a')})-[_asof1:R {{k: 'v'}}{w('_asof1')}]->(_asof2:B{w('_asof2')}) RETURN a"
    )
    assert rw("MATCH (a)<-[r:R|S]-(b) RETURN r") == (
        f"MATCH (a{w('a')})<-[r:R|S{w('r')}]-(b{w('b')}) RETURN r"
    )
    assert rw("MATCH (a)-[]-(b) RETURN a") == (
        f"MATCH (a{w('a')})-[_asof1{w('_asof1')}]-(b{w('b')}) RETURN a"
    )


def test_abbreviated_relationships_are_spelled_out() -> None:
    assert rw("MATCH (a)-->(b)<--(c)--(d) RETURN a") == (
        f"MATCH (a{w('a')})-[_asof1{w('_asof1')}]->(b{w('b')})"
        f"<-[_asof2{w('_asof2')}]-(c{w('c')})-[_asof3{w('_asof3')}]-(d{w('d')}) RETURN a"
    )


def test_an_inline_where_is_kept_beside_the_predicate() -> None:
    assert rw("MATCH (a:A WHERE a.x = 1)-[r WHERE r.y > 2]->(b) RETURN a") == (
        f"MATCH (a:A WHERE {holds('a')} AND ( a.x = 1))"
        f"-[r WHERE {holds('r')} AND ( r.y > 2)]->(b{w('b')}) RETURN a"
    )


def test_pattern_comprehensions_subqueries_and_predicates() -> None:
    out = rw("MATCH (i:I) RETURN [(i)-[:T]->(t:Tag {name: 'Name'}) WHERE t.v > 0 | t.value][0]")
    assert out == (
        f"MATCH (i:I{w('i')}) RETURN [(i{w('i')})-[_asof1:T{w('_asof1')}]->"
        f"(t:Tag {{name: 'Name'}}{w('t')}) WHERE t.v > 0 | t.value][0]"
    )
    out = rw("MATCH (i) RETURN [p = (i)-->() | p] AS ps")
    assert out.count("WHERE") == 4 and "[p = (i WHERE" in out
    out = rw("MATCH (i) WHERE EXISTS { MATCH (i)-[:B]->(:G) } RETURN i")
    assert out == (
        f"MATCH (i{w('i')}) WHERE EXISTS {{ MATCH (i{w('i')})-[_asof1:B{w('_asof1')}]->"
        f"(_asof2:G{w('_asof2')}) }} RETURN i"
    )
    out = rw("MATCH (i) RETURN COUNT { (i)-->(x) WHERE x.a = 1 } AS n")
    assert out == (
        f"MATCH (i{w('i')}) RETURN COUNT {{ (i{w('i')})-[_asof1{w('_asof1')}]->(x{w('x')})"
        " WHERE x.a = 1 } AS n"
    )
    out = rw("MATCH (i) RETURN COLLECT { MATCH (i)-[:B]->(g) RETURN g.id AS x ORDER BY x } AS g")
    assert out.count(" WHERE (") == 4  # i outside, i, the relationship and g inside
    # a bare pattern predicate may not introduce variables: it becomes EXISTS { }
    assert rw("MATCH (i) WHERE NOT (i)-[:B]->(:G) RETURN i") == (
        f"MATCH (i{w('i')}) WHERE NOT EXISTS {{ (i{w('i')})-[_asof1:B{w('_asof1')}]->"
        f"(_asof2:G{w('_asof2')}) }} RETURN i"
    )


def test_quantified_paths_get_the_predicate_inside() -> None:
    out = rw("MATCH p = ANY SHORTEST (s)-[:A {d: 'i'}]->{1,8}(g:G) RETURN p")
    assert out == (
        f"MATCH p = ANY SHORTEST (s{w('s')})-[_asof1:A {{d: 'i'}}{w('_asof1')}]->{{1,8}}"
        f"(g:G{w('g')}) RETURN p"
    )
    out = rw("MATCH (a)(()-[:C]->(:L)){0,3}()-[c:C]->(i) RETURN a")
    assert out == (
        f"MATCH (a{w('a')})((_asof1{w('_asof1')})-[_asof2:C{w('_asof2')}]->"
        f"(_asof3:L{w('_asof3')})){{0,3}}(_asof4{w('_asof4')})-[c:C{w('c')}]->(i{w('i')}) RETURN a"
    )
    out = rw("MATCH (a)((x)-->(y) WHERE x.k = y.k)+(b) RETURN a")
    assert "WHERE x.k = y.k)+(b WHERE" in out


def test_the_snapshot_node_keeps_its_match_and_snapshot_id_reads_become_the_parameter() -> None:
    text = (
        "MATCH (s:Snapshot {snapshot_id: $snapshot_id})\n"
        "MATCH (i:Instance {snapshot_id: $snapshot_id}) WHERE i.snapshot_id = $snapshot_id\n"
        "RETURN s.snapshot_id AS snapshot_id, s.taken_at AS t, i.`snapshot_id` AS x"
    )
    assert rw(text) == (
        "MATCH (s:Snapshot {snapshot_id: $snapshot_id})\n"
        f"MATCH (i:Instance{w('i')}) WHERE $snapshot_id = $snapshot_id\n"
        "RETURN $snapshot_id AS snapshot_id, s.taken_at AS t, $snapshot_id AS x"
    )
    # NEXT between snapshots is no resource: it is left alone
    assert rw("MATCH (s:Snapshot)-[:NEXT]->(n:Snapshot) RETURN n") == (
        "MATCH (s:Snapshot)-[:NEXT]->(n:Snapshot) RETURN n"
    )


def test_strings_comments_and_backticks_are_not_cypher() -> None:
    text = (
        "// MATCH (x)-->(y) {snapshot_id: $snapshot_id}\n"
        "/* (a)-[:R]->(b) */\n"
        "MATCH (`my var`:`A B`) WHERE `my var`.name = '(a)-->(b) x.snapshot_id'\n"
        'RETURN "MATCH (q)" AS s, {snapshot_id: 1} AS m'
    )
    assert rw(text) == (
        "// MATCH (x)-->(y) {snapshot_id: $snapshot_id}\n"
        "/* (a)-[:R]->(b) */\n"
        f"MATCH (`my var`:`A B`{w('`my var`')}) WHERE `my var`.name = '(a)-->(b) x.snapshot_id'\n"
        'RETURN "MATCH (q)" AS s, {snapshot_id: 1} AS m'
    )
    kinds = [t.kind for t in tokenize("RETURN 'it''s' + \"a\\\"b\" + `x``y`")]
    assert kinds == ["name", "string", "string", "punct", "string", "punct", "quoted"]


def test_expressions_that_look_like_patterns_are_left_alone() -> None:
    text = (
        "MATCH (n:N) WITH n, size(n.xs) - 2 AS k, (n.a) < -1 AS low, [(1 + 2), 3] AS l\n"
        "CALL (n) { RETURN n.x AS x }\n"
        "RETURN [x IN range(0, k) WHERE x > 0 | x] AS xs, n {.*, y: 1} AS m"
    )
    out = rw(text)
    assert out == text.replace("MATCH (n:N)", f"MATCH (n:N{w('n')})")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("MATCH (a)-[:R*1..3]->(b) RETURN b", r"variable-length relationship"),
        (
            "MATCH (s:Snapshot {snapshot_id: $snapshot_id})-[:CONTAINS]->(n) RETURN n",
            r"\(Snapshot\)-\[:CONTAINS\]",
        ),
        ("MATCH (n)<-[:CONTAINS]-(s:Snapshot) RETURN n", r"of a Snapshot node"),
        ("MATCH (s:Snapshot) MATCH (s)-->(n) RETURN n", r"any type\) of a Snapshot node"),
        ("MATCH p = shortestPath((a)-[:R*]->(b)) RETURN p", r"shortestPath"),
        ("MATCH (n:N {snapshot_id: $old_snapshot_id}) RETURN n", r"something else"),
        ("MATCH (n:N $props) RETURN n", r"parameter as the property map"),
        ("MATCH (n:N) RETURN *", r"RETURN \*"),
        ("MATCH (n:N) CREATE (m:M)", r"CREATE writes"),
        ("MATCH (o)-[:NEXT_VERSION]->(n) RETURN n", r"NEXT_VERSION"),
        ("MATCH (n) RETURN head(collect(n)).snapshot_id", r"not a variable"),
        ("MATCH (n) WHERE n.x = 'open RETURN n", r"unterminated"),
        ("MATCH (n WHERE n.x = 1 RETURN n", r"unclosed"),
        ("MATCH (n)(m) RETURN n", r"cannot follow a node pattern"),
        ("MATCH (_asof1) RETURN _asof1", r"_asof"),
        ("MATCH (n) WHERE n.t < $as_of RETURN n", r"\$as_of"),
    ],
)
def test_what_cannot_be_carried_over_is_an_error_naming_the_file(text: str, message: str) -> None:
    with pytest.raises(AsOfError, match=message) as err:
        as_of_text(text, "cypher/queries/x.cypher")
    assert str(err.value).startswith("cypher/queries/x.cypher: ")


def test_a_pair_query_needs_its_own_versions_text() -> None:
    pair = parse_query(
        "// name: p\n// description: d\n// scope: pair\n"
        "MATCH (a {snapshot_id: $old_snapshot_id}), (b {snapshot_id: $new_snapshot_id}) RETURN a",
        "cypher/queries/p.cypher",
    )
    with pytest.raises(AsOfError, match=r"queries/versions/p.cypher"):
        versions_text(pair)
    own = with_versions_text(
        pair,
        "// comment\nMATCH (a) WHERE a.valid_from <= $old_as_of AND $old_snapshot_id IS NOT NULL"
        " AND $new_snapshot_id IS NOT NULL RETURN a;\n",
        "v/p.cypher",
    )
    assert versions_text(own).startswith("MATCH (a) WHERE a.valid_from <= $old_as_of")
    with pytest.raises(BulkgraphError, match=r"v/p.cypher: uses undeclared parameter\(s\) x"):
        with_versions_text(pair, "RETURN $x, $old_snapshot_id, $new_snapshot_id", "v/p.cypher")
    with pytest.raises(BulkgraphError, match=r"never uses: new_snapshot_id"):
        with_versions_text(pair, "RETURN $old_snapshot_id", "v/p.cypher")


def test_every_versions_text_of_the_pack_belongs_to_a_query() -> None:
    pack = load_pack()
    folder = Path(__file__).resolve().parents[1] / "bulkgraph" / "cypher" / "queries" / "versions"
    for file in folder.glob("*.cypher"):
        assert pack[file.stem].versions_text is not None
    # the pair query is served by its own text, every snapshot query by the rewrite
    for query in pack.values():
        assert query.scope is not Scope.pair or query.versions_text is not None, query.name
        text = versions_text(query)
        if query.scope is Scope.snapshot and query.versions_text is None:
            assert "$as_of" in text, query.name


def test_every_query_of_the_pack_rewritten_is_accepted_by_neo4j(neo4j_server: Any) -> None:
    """EXPLAIN of each query's versions-layout text: a query the rewrite breaks (or that it
    refuses) fails here, including queries added to the pack later."""
    driver = neo4j_server.driver()
    failed = {}
    for query in load_pack().values():
        try:
            driver.execute_query(
                "EXPLAIN " + versions_text(query),
                database_="neo4j",
                routing_=neo4j.RoutingControl.READ,
            )
        except (AsOfError, neo4j.exceptions.Neo4jError) as exc:
            failed[query.name] = str(exc)
    assert failed == {}
