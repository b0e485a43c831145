"""The as-of rewrite: a snapshot-scoped pack query, made to ask the versions layout.

In the snapshots layout a query keeps to one snapshot by matching `{snapshot_id:
$snapshot_id}` on the nodes it starts from (their relationships never leave the snapshot).
The versions layout has no `snapshot_id` on versions: an element (node or relationship)
holds at time T when `valid_from <= T < valid_to` (docs/versions-layout.md, "Asking as of
T"), and a query at snapshot S asks with T = `S.taken_at`. `as_of_text` turns the first
kind of text into the second:

- every node and relationship pattern, wherever it stands (MATCH and OPTIONAL MATCH,
  pattern comprehensions, EXISTS / COUNT / COLLECT subqueries, quantified path patterns,
  pattern predicates) gets the as-of predicate as an inline `WHERE`; an anonymous element
  gets a generated variable (`_asof1`, ...) to hang it on; except a node pattern next to
  a relationship pattern (not quantified, not NEXT): a relationship's run lies within its
  ends' versions, so its predicate is theirs too (checking them again cost internet-
  reachable a third of its time, issue #20);
- `snapshot_id: $snapshot_id` is dropped from property maps, and a read `x.snapshot_id`
  becomes `$snapshot_id` (every element the query sees belongs to that snapshot);
- a `Snapshot` node keeps its match: Snapshot nodes exist in both layouts;
- a bare pattern predicate `WHERE (a)-->(b)` becomes `EXISTS { ... }` (a pattern
  expression may not introduce the variables the predicate needs);
- the node a MATCH anchored on `snapshot_id` stays the plan's start: `USING SCAN`, and a
  `WITH *` barrier before a following MATCH, unless the clause can seek an index
  (`_Rewriter.start_here` says why and when).

What the rewrite cannot carry over raises `AsOfError` naming the query file: variable-length
relationships (`*`), `shortestPath()`, relationships of a Snapshot node other than NEXT
(there is no `(Snapshot)-[:CONTAINS]->(n)` in the versions layout), NEXT_VERSION (it links
snapshots, not versions, in a snapshot-scoped question), a parameter as a property map,
`snapshot_id` compared with anything but `$snapshot_id`, `RETURN *` (the generated variables
would show), writes, and anything the tokenizer or the pattern parser does not understand.

Queries the rewrite cannot serve (pair-scoped ones: two times in one query) ship a
versions-layout text of their own, `queries/versions/<name>.cypher` (pack.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import neo4j

from bulkgraph.errors import BulkgraphError
from bulkgraph.query.pack import Query, Scope

#: the parameter that carries T, the `taken_at` of the snapshot asked about
AS_OF = "as_of"
#: the pair queries' two times (their versions-layout texts use them)
OLD_AS_OF, NEW_AS_OF = "old_as_of", "new_as_of"
#: properties a version or a relationship has in the versions layout and not in the
#: snapshots layout
INTERVAL_PROPERTIES = frozenset({"valid_from", "valid_to", "first_snapshot_id", "last_snapshot_id"})

_GENERATED = "_asof"


class AsOfError(BulkgraphError):
    """A pack query the as-of rewrite cannot carry over to the versions layout."""


def holds(var: str, param: str = AS_OF) -> str:
    """The Cypher predicate: element `var` holds at time `$param` (contract: "Asking as of
    T"; elements without `valid_from`, Snapshot and Tag, always hold).

    `coalesce(x.p <= T, true)` is `x.p IS NULL OR x.p <= T` for a datetime `p`, but reads
    `p` once where the `IS NULL OR` form reads it twice: every element a query touches
    pays this, and in internet-reachable the reads were a fifth of its db hits (issue #20;
    docs/versions-layout.md)."""
    return (
        f"coalesce({var}.valid_from <= ${param}, true)"
        f" AND coalesce(${param} < {var}.valid_to, true)"
    )


# -- tokens ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # name, quoted (a `backticked` name), string, number, param, punct
    text: str
    start: int
    end: int

    def word(self) -> str:
        """The upper-cased text of a plain name ('' for anything else): for keywords."""
        return self.text.upper() if self.kind == "name" else ""


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<quoted>`(?:[^`]|``)*`)
  | (?P<param>\$(?:[A-Za-z_][A-Za-z0-9_]*|`(?:[^`]|``)*`|[0-9]+))
  | (?P<number>(?:0x[0-9A-Fa-f]+|[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?))
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>\.\.|<=|>=|<>|=~|::|\+=|!=|[^\s])
    """,
    re.VERBOSE | re.DOTALL,
)
_OPEN, _CLOSE = "([{", ")]}"


def tokenize(text: str, source: str = "<query>") -> list[Token]:
    """The significant tokens of a Cypher text (no spaces, no comments)."""
    out: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:  # pragma: no cover - the last branch takes any char
            raise AsOfError(f"{source}: cannot read the Cypher at {_where(text, pos)}")
        kind = m.lastgroup or ""
        if (kind == "punct" and m.group() in ("'", '"', "`")) or (
            kind != "comment" and text.startswith("/*", pos)
        ):
            raise AsOfError(f"{source}: unterminated quote or comment at {_where(text, pos)}")
        if kind not in ("space", "comment"):
            out.append(Token(kind, m.group(), m.start(), m.end()))
        pos = m.end()
    return out


def _where(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line}, column {col}"


# -- the rewrite ----------------------------------------------------------------------------

_WRITES = {"CREATE", "MERGE", "SET", "DELETE", "DETACH", "REMOVE", "FOREACH", "LOAD"}
_SUBQUERY_WORDS = {"EXISTS", "COUNT", "COLLECT"}
_SELECTOR_WORDS = {"ANY", "ALL", "SHORTEST", "PATH", "PATHS", "GROUP", "GROUPS"}


@dataclass(frozen=True)
class _Edit:
    start: int
    end: int
    text: str
    late: bool = False  # after the other edits at the same place (a clause's hint, a barrier)


@dataclass(frozen=True)
class _Node:
    """A node pattern of a MATCH clause, as the start-point rule (`_Rewriter.start_here`)
    needs it: where the snapshots-layout text anchored it, and what an index could seek."""

    var: str
    label: str  # its one label, when the label expression is just `:Label`
    anchored: bool  # it had `snapshot_id: $snapshot_id`, which the rewrite dropped
    keeps_map: bool  # its property map has other entries (equalities the planner may seek)
    where: tuple[int, int] | None  # its inline WHERE's tokens


#: words that begin a clause: where a MATCH clause's WHERE ends
_CLAUSE_WORDS = {
    "MATCH", "OPTIONAL", "WITH", "RETURN", "UNWIND", "CALL", "UNION", "ORDER", "SKIP",
    "LIMIT", "FINISH", "USE",
} | _WRITES  # fmt: skip
#: comparisons an index can answer when one side is `node.property`: a seek, not a scan
_SEEK_OPS = {"=", "<", ">", "<=", ">="}


class _Rewriter:
    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.toks = tokenize(text, source)
        self.match = self._brackets()
        self.edits: list[_Edit] = []
        self.counter = 0
        # the node patterns of the MATCH clause being read (a stack: subqueries nest)
        self.frames: list[list[_Node]] = []
        # barriers waiting on the MATCH clause at their key: where each would go (`start_here`)
        self.barriers: dict[int, int] = {}
        names = {t.text for t in self.toks if t.kind == "name"}
        if any(n.startswith(_GENERATED) for n in names):
            self.fail(0, f"uses a name starting with {_GENERATED}, which the rewrite generates")
        reserved = {f"${p}" for p in (AS_OF, OLD_AS_OF, NEW_AS_OF)}
        if any(t.kind == "param" and t.text in reserved for t in self.toks):
            self.fail(0, f"uses ${AS_OF}, which the versions layout sets")
        # variables ever bound to a Snapshot node: `(s:Snapshot ...)`
        self.snapshot_vars = {
            self.toks[i + 1].text
            for i in range(len(self.toks) - 3)
            if self.toks[i].text == "("
            and self.toks[i + 1].kind in ("name", "quoted")
            and self.toks[i + 2].text == ":"
            and self.name(i + 3) == "Snapshot"
        }

    # errors and helpers

    def fail(self, i: int, problem: str) -> None:
        pos = self.toks[i].start if i < len(self.toks) else len(self.text)
        raise AsOfError(
            f"{self.source}: cannot ask this query as of a time in the versions layout: "
            f"{problem} ({_where(self.text, pos)})"
        )

    def tok(self, i: int) -> str:
        return self.toks[i].text if 0 <= i < len(self.toks) else ""

    def word(self, i: int) -> str:
        return self.toks[i].word() if 0 <= i < len(self.toks) else ""

    def name(self, i: int) -> str:
        """The name at i, backticks removed ('' if it is no name)."""
        if not 0 <= i < len(self.toks) or self.toks[i].kind not in ("name", "quoted"):
            return ""
        t = self.toks[i]
        return t.text[1:-1].replace("``", "`") if t.kind == "quoted" else t.text

    def expect(self, i: int, text: str) -> int:
        if self.tok(i) != text:
            found = repr(self.tok(i)) if i < len(self.toks) else "the end"
            self.fail(i, f"expected {text!r} in a pattern, found {found}")
        return i + 1

    def _brackets(self) -> dict[int, int]:
        match: dict[int, int] = {}
        stack: list[int] = []
        for i, t in enumerate(self.toks):
            if t.kind != "punct":
                continue
            if t.text in _OPEN:
                stack.append(i)
            elif t.text in _CLOSE:
                if not stack or _OPEN.index(self.toks[stack[-1]].text) != _CLOSE.index(t.text):
                    raise AsOfError(
                        f"{self.source}: unbalanced {t.text!r} at {_where(self.text, t.start)}"
                    )
                match[stack.pop()] = i
        if stack:
            t = self.toks[stack[-1]]
            raise AsOfError(f"{self.source}: unclosed {t.text!r} at {_where(self.text, t.start)}")
        return match

    def generated(self) -> str:
        self.counter += 1
        return f"{_GENERATED}{self.counter}"

    def insert(self, pos: int, text: str, late: bool = False) -> None:
        self.edits.append(_Edit(pos, pos, text, late))

    def replace(self, start: int, end: int, text: str) -> None:
        self.edits.append(_Edit(start, end, text))

    def result(self) -> str:
        out: list[str] = []
        pos = 0
        for e in sorted(self.edits, key=lambda e: (e.start, e.end, e.late)):
            if e.start < pos:  # pragma: no cover - a bug of the rewrite, not of the query
                raise AsOfError(f"{self.source}: overlapping edits at {_where(self.text, e.start)}")
            out.append(self.text[pos : e.start])
            out.append(e.text)
            pos = e.end
        out.append(self.text[pos:])
        return "".join(out)

    # expressions and clauses: a linear scan that hands patterns to the pattern parser

    def scan(self, i: int, end: int | None = None) -> int:
        """From token i to `end` (or to the bracket that closes one opened before i, or the
        end): rewrite what it holds; return where it stopped."""
        stop = len(self.toks) if end is None else end
        while i < stop:
            t = self.toks[i]
            w = t.word()
            if t.kind == "punct" and t.text in _CLOSE:
                return i
            if w and self.tok(i - 1) != "." and self.tok(i + 1) != ":":
                if w == "MATCH":
                    i = self.match_clause(i)
                    continue
                if w in _WRITES:
                    self.fail(i, f"{t.text} writes: a question only reads")
                if w in ("SHORTESTPATH", "ALLSHORTESTPATHS"):
                    self.fail(i, f"{t.text}() is not supported (use a quantified path pattern)")
                star = 2 if self.word(i + 1) == "DISTINCT" else 1
                if w == "RETURN" and self.tok(i + star) == "*":
                    self.fail(i, "RETURN * would return the variables the rewrite adds")
            if t.text == "." and self.name(i + 1) == "snapshot_id":
                self.snapshot_id_read(i)
                i += 2
                continue
            if t.text == "(":
                # patterns outside a MATCH clause: no start-point rule (a frame of their own)
                if self.tok(i - 1) == "{" and self.word(i - 2) in _SUBQUERY_WORDS:
                    i = self.outside_match(self.pattern_list, i)  # EXISTS { (a)-->(b) ... }
                    continue
                if self.tok(i - 1) == "[" and self.rel_start(self.match[i] + 1):
                    i = self.outside_match(self.chain, i)  # a pattern comprehension
                    continue
                if (
                    self.tok(i - 1) == "="
                    and self.name(i - 2)
                    and self.tok(i - 3) == "["
                    and self.rel_start(self.match[i] + 1)
                ):
                    i = self.outside_match(self.chain, i)  # [p = (a)-->(b) | ...]
                    continue
                if self.rel_start(self.match[i] + 1) and not self.is_call(i):
                    # a bare pattern predicate: only EXISTS {} may introduce variables
                    self.insert(self.toks[i].start, "EXISTS { ")
                    j = self.outside_match(self.chain, i)
                    self.insert(self.toks[j - 1].end, " }")
                    i = j
                    continue
            if t.kind == "punct" and t.text in _OPEN:
                self.scan(i + 1, self.match[i])
                i = self.match[i] + 1
                continue
            i += 1
        return i

    def outside_match(self, parse: Callable[[int], int], i: int) -> int:
        self.frames.append([])
        try:
            return parse(i)
        finally:
            self.frames.pop()

    def match_clause(self, i: int) -> int:
        """`[OPTIONAL] MATCH patterns [WHERE ...]` at the MATCH token i; returns the index
        after it."""
        optional = self.word(i - 1) == "OPTIONAL"
        self.frames.append([])
        try:
            j = self.pattern_list(i + 1)
        finally:
            nodes = self.frames.pop()
        end, where = j, None
        if self.word(j) == "WHERE":
            end = self.scan(j + 1, self.clause_end(j + 1))
            where = (j + 1, end)
        seeks = self.seeks(nodes, where)
        barrier = self.barriers.pop(i, None)  # this clause follows an anchored one
        if barrier is not None and not seeks:
            self.carry_barrier(barrier, end)
        if not optional and not seeks:
            self.start_here(i, nodes, j, end)
        return end

    def clause_end(self, i: int) -> int:
        """The index of the first token from i that begins a clause (or closes a bracket
        opened before i, or the end): where a WHERE ends."""
        while i < len(self.toks):
            t = self.toks[i]
            if t.kind == "punct" and t.text in _CLOSE:
                return i
            if (
                t.word() in _CLAUSE_WORDS
                and self.tok(i - 1) not in (".", ":")
                and self.tok(i + 1) != ":"
            ):
                return i
            i = self.match[i] + 1 if t.kind == "punct" and t.text in _OPEN else i + 1
        return i

    def seeks(self, nodes: list[_Node], where: tuple[int, int] | None) -> bool:
        """The clause gives one of its nodes a predicate an index could seek: an entry of a
        property map, or `n.p = x`, `x < n.p`, `n.p IN x`, `n.p STARTS WITH x` (as the
        planner reads it, in its WHERE or a node's inline WHERE). Subqueries and map
        literals (`{...}`) are left out: they do not seek this clause's nodes; so are
        relationships (the schema has no relationship index). Whether the property is
        indexed is not asked: where it is not, a hint is merely missed."""
        if any(n.keeps_map for n in nodes):
            return True
        names = {n.var for n in nodes if n.var}
        ranges = [n.where for n in nodes if n.where] + ([where] if where else [])
        for start, stop in ranges:
            k = start
            while k < stop:
                if self.tok(k) == "{":
                    k = self.match[k] + 1
                    continue
                if (
                    self.tok(k) in names
                    and self.tok(k - 1) != "."
                    and self.tok(k + 1) == "."
                    and self.name(k + 2)
                    and (
                        self.tok(k + 3) in _SEEK_OPS
                        or self.word(k + 3) == "IN"
                        or (self.word(k + 3) == "STARTS" and self.word(k + 4) == "WITH")
                        or self.tok(k - 1) in _SEEK_OPS
                    )
                ):
                    return True
                k += 1
        return False

    def start_here(self, match: int, nodes: list[_Node], pattern_end: int, end: int) -> None:
        """Give the planner back the start the snapshots-layout text was written for.

        There, a node matched with `{snapshot_id: $snapshot_id}` is an index seek that the
        planner rightly takes for a small, cheap start (a 1/N-th of its label). Here that
        seek is gone, and the planner misjudges the as-of predicates that replace it: it
        takes each `holds(...)` for a selective filter and multiplies them along a path, so
        a path of many elements looks nearly empty. It then starts from the far side, from
        a small label (every SecurityGroup version), expands, and filters the anchored
        node last (issue #20: instance-ingress at 1.4 s against 55 ms). An index does not
        help the anchor: `valid_from <= T` holds for nearly every version at a late T, and
        `(resource_key, valid_from)` needs the key. So the rewrite
        - hints `USING SCAN n:Label` on the anchored node, and
        - when the next clause is a MATCH (the planner would plan both together, and
          join), ends the clause with `WITH *, 0 AS _asofN`: a projection the planner
          cannot fold away, so the anchored clause is planned alone and the next MATCH
          expands from what it found, as the snapshots layout does.
        Only for a non-OPTIONAL MATCH whose first node pattern was anchored, is named, has
        one label and is new (its variable not seen before: a bound node is a better
        start), and only where no node of the clause has a predicate an index could seek
        (`seeks`): there the planner has a real start of its own (ip-owner's `{ip: $ip}`).
        A barrier is also dropped when a following MATCH has one (`match_clause`).
        """
        if not nodes or not nodes[0].anchored or not nodes[0].var or not nodes[0].label:
            return
        earlier = {t.text for t in self.toks[:match] if t.kind in ("name", "quoted")}
        if any(n.var in earlier for n in nodes if n.var):
            return
        anchor = nodes[0]
        hint = f" USING SCAN {anchor.var}:{anchor.label}"
        self.insert(self.toks[pattern_end - 1].end, hint, True)
        if self.word(end) == "MATCH":
            self.barriers[end] = self.toks[end - 1].end

    def carry_barrier(self, barrier: int, end: int) -> None:
        """A barrier waits until the MATCH clauses after the anchored one are read (any of
        them may seek an index: then there is none), then goes right after that one."""
        if self.word(end) == "MATCH":
            self.barriers[end] = barrier
        else:
            self.insert(barrier, f" WITH *, 0 AS {self.generated()}", True)

    def is_call(self, i: int) -> bool:
        """`(` opens a function's or CALL's arguments."""
        return bool(self.name(i - 1)) and self.word(i - 1) not in {
            "WHERE",
            "AND",
            "OR",
            "XOR",
            "NOT",
            "WHEN",
            "THEN",
            "ELSE",
            "RETURN",
            "WITH",
            "IN",
        }

    def snapshot_id_read(self, i: int) -> None:
        if not self.name(i - 1) or self.tok(i - 2) == ".":
            self.fail(i, "reads snapshot_id of something that is not a variable")
        self.replace(self.toks[i - 1].start, self.toks[i + 1].end, "$snapshot_id")

    def rel_start(self, i: int) -> bool:
        """Tokens at i begin a relationship pattern: `-[`, `--`, `->`, `<-[`, `<--`."""
        a, b = self.tok(i), self.tok(i + 1)
        if a == "-":
            return b in ("[", "-", ">")
        if a == "<":
            return b == "-" and self.tok(i + 2) in ("[", "-")
        return False

    # patterns

    def pattern_list(self, i: int) -> int:
        """Comma-separated paths after MATCH; returns the index after the last."""
        while True:
            i = self.path(i)
            if self.tok(i) != ",":
                return i
            i += 1

    def path(self, i: int) -> int:
        if self.name(i) and self.tok(i + 1) == "=":
            i += 2  # a path variable
        while self.word(i) in _SELECTOR_WORDS or self.tok(i).isdigit():
            i += 1  # ANY SHORTEST, SHORTEST 2 PATHS, ...
        if self.word(i) in ("SHORTESTPATH", "ALLSHORTESTPATHS"):
            self.fail(i, f"{self.tok(i)}() is not supported (use a quantified path pattern)")
        if self.tok(i) != "(":
            self.fail(i, f"expected a pattern, found {self.tok(i)!r}")
        return self.chain(i)

    def chain(self, i: int) -> int:
        """node (relationship node)*, with parenthesized (quantified) path patterns."""
        prev = ""  # node, rel, group
        snapshot_before = False
        pending_rel: tuple[int, list[str]] | None = None
        while True:
            if self.tok(i) == "(":
                if self.tok(i + 1) == "(":
                    i = self.group(i)
                    prev, snapshot_before = "group", False
                    pending_rel = None
                    continue
                if prev in ("", "rel", "group"):
                    # a relationship holds only while both its ends do (contract: a run
                    # lies within its ends' versions), so a node next to one needs no
                    # predicate of its own: half the as-of work of a path (issue #20)
                    implied = (
                        pending_rel is not None
                        and pending_rel[1] != ["NEXT"]
                        and not self.quantified_before(i)
                    ) or self.relationship_ahead(self.match[i] + 1)
                    i, is_snapshot = self.node(i, implied)
                    if pending_rel is not None and is_snapshot:
                        self.snapshot_rel(*pending_rel)
                    pending_rel = None
                    prev, snapshot_before = "node", is_snapshot
                    continue
                self.fail(i, "a node pattern cannot follow a node pattern")
            if prev in ("node", "group") and self.rel_start(i):
                start = i
                i, types = self.relationship(i)
                if snapshot_before:
                    self.snapshot_rel(start, types)
                pending_rel = (start, types)
                prev = "rel"
                continue
            break
        if prev == "rel":
            self.fail(i, "a relationship pattern must end at a node pattern")
        return i

    def relationship_ahead(self, i: int) -> bool:
        """Tokens at i begin a relationship pattern, not quantified, that gets the as-of
        predicate (any but NEXT, which links Snapshot nodes)."""
        if not self.rel_start(i):
            return False
        k = i + (2 if self.tok(i) == "<" else 1)
        if self.tok(k) != "[":  # `-->`: it gets a generated variable and the predicate
            return self.tok(k + 1 + (self.tok(k + 1) == ">")) == "("
        close = self.match[k]
        after = close + 2 + (self.tok(close + 2) == ">")  # past `]-` or `]->`
        if self.tok(after) != "(":
            return False  # quantified: {0,n} may match no relationship at all
        k += 1
        if self.name(k) and self.word(k) not in ("WHERE", "IS"):
            k += 1
        if self.tok(k) != ":" and self.word(k) != "IS":
            return True
        return self.label_expression(k, close)[1] != ["NEXT"]

    def quantified_before(self, i: int) -> bool:
        """The relationship pattern just before the node pattern at i has a quantifier
        (`]->{0,3}(`, `-->+(`): it may match no relationship, so it implies nothing."""
        return self.tok(i - 1) not in ("-", ">")

    def snapshot_rel(self, i: int, types: list[str]) -> None:
        if types != ["NEXT"]:
            shown = "|".join(types) or "any type"
            self.fail(
                i,
                f"a relationship ({shown}) of a Snapshot node: the versions layout has no "
                "(Snapshot)-[:CONTAINS]->(n); match the resources by their label instead",
            )

    def group(self, i: int) -> int:
        """`( path [WHERE ...] )` with an optional quantifier."""
        close = self.match[i]
        self.frames.append([])
        try:
            j = self.chain(i + 1)
            if self.word(j) == "WHERE":
                j = self.scan(j + 1, close)
        finally:
            inner = self.frames.pop()
        if self.frames:  # inside a group a node cannot be hinted; what it seeks counts
            self.frames[-1] += [replace(n, anchored=False) for n in inner]
        if j != close:
            self.fail(j, "cannot read this parenthesized path pattern")
        return self.quantifier(close + 1)

    def quantifier(self, i: int) -> int:
        if self.tok(i) in ("+", "*"):
            return i + 1
        if self.tok(i) == "{":
            inner = self.toks[i + 1 : self.match[i]]
            if not all(t.kind == "number" or t.text == "," for t in inner):
                self.fail(i, "cannot read this quantifier")
            return self.match[i] + 1
        return i

    def label_expression(self, i: int, close: int) -> tuple[int, list[str]]:
        """`:A|B`, `:A&B`, `IS A`, ... up to the properties, WHERE or the close."""
        names: list[str] = []
        depth = 0
        while i < close:
            t = self.toks[i]
            if depth == 0 and (t.text in ("{", "*") or t.kind == "param" or t.word() == "WHERE"):
                break
            if t.text == "(":
                depth += 1
            elif t.text == ")":
                depth -= 1
            elif self.name(i) and t.word() != "IS":
                names.append(self.name(i))
            elif t.text not in (":", "|", "&", "!", "%"):
                self.fail(i, f"cannot read the label expression at {t.text!r}")
            i += 1
        return i, names

    def element(
        self, open_: int, close: int, what: str, implied: bool = False
    ) -> tuple[str, list[str]]:
        """The inside of a node or relationship pattern: variable, labels or types,
        properties, WHERE. Adds the as-of predicate unless it is a Snapshot node or
        `implied` (a node next to a relationship that gets it)."""
        i = open_ + 1
        var = ""
        if self.name(i) and self.word(i) not in ("WHERE", "IS"):
            var = self.tok(i)
            i += 1
        names: list[str] = []
        label = ""  # the label's token when the expression is just `:Label`
        if self.tok(i) == ":" or self.word(i) == "IS":
            before = i
            i, names = self.label_expression(i, close)
            if i == before + 2 and self.tok(before) == ":":
                label = self.tok(before + 1)
        if self.tok(i) == "*":
            self.fail(i, "a variable-length relationship (*) is not supported")
        is_snapshot = what == "node" and ("Snapshot" in names or var in self.snapshot_vars)
        if self.toks[i].kind == "param":
            self.fail(i, "a parameter as the property map is not supported")
        dropped = kept = 0
        if self.tok(i) == "{":
            i, dropped, kept = self.properties(i, keep_snapshot_id=is_snapshot)
        where = -1
        if self.word(i) == "WHERE":
            where = i
            i = self.scan(i + 1, close)
        if i != close:
            self.fail(i, f"cannot read this {what} pattern at {self.tok(i)!r}")
        if what == "node" and self.frames:
            inline = (where + 1, close) if where >= 0 else None
            self.frames[-1].append(_Node(var, label, dropped > 0, kept > 0, inline))
        if is_snapshot or (what == "relationship" and names == ["NEXT"]):
            return var, names  # Snapshot nodes and the NEXT between them always hold
        if implied:
            return var, names
        if what == "relationship" and "NEXT_VERSION" in names:
            self.fail(open_, "NEXT_VERSION links snapshots: a question about one cannot use it")
        if not var:
            var = self.generated()
            self.insert(self.toks[open_].end, var)
        if where >= 0:
            self.insert(self.toks[where].end, f" {holds(var)} AND (")
            self.insert(self.toks[close].start, ")")
        else:
            self.insert(self.toks[close - 1].end, f" WHERE {holds(var)}")
        return var, names

    def properties(self, i: int, keep_snapshot_id: bool) -> tuple[int, int, int]:
        """A property map `{k: v, ...}` at i; drops `snapshot_id: $snapshot_id`. Returns
        the index after it and how many entries it dropped and kept."""
        close = self.match[i]
        entries: list[tuple[int, int]] = []  # key index, value end (exclusive)
        j = i + 1
        while j < close:
            if not self.name(j) or self.tok(j + 1) != ":":
                self.fail(j, "cannot read this property map")
            k = j + 2
            while k < close and self.tok(k) != ",":
                k = self.match[k] + 1 if self.tok(k) in _OPEN else k + 1
            self.scan(j + 2, k)
            entries.append((j, k))
            j = k + 1
        dropped = [e for e in entries if self.name(e[0]) == "snapshot_id"]
        if keep_snapshot_id or not dropped:
            return close + 1, 0, len(entries)
        counts = len(dropped), len(entries) - len(dropped)
        for key, value_end in dropped:
            if value_end != key + 3 or self.tok(key + 2) != "$snapshot_id":
                self.fail(key, "snapshot_id is matched with something else than $snapshot_id")
        if len(dropped) == len(entries):
            self.replace(self.toks[i - 1].end, self.toks[close].end, "")
            return close + 1, *counts
        for n, (key, value_end) in enumerate(entries):
            if (key, value_end) not in dropped:
                continue
            if n + 1 < len(entries):  # `snapshot_id: $x, ` up to the next key
                self.replace(self.toks[key].start, self.toks[entries[n + 1][0]].start, "")
            else:  # `, snapshot_id: $x` from the previous value's end
                self.replace(self.toks[entries[n - 1][1] - 1].end, self.toks[value_end - 1].end, "")
        return close + 1, *counts

    def node(self, i: int, implied: bool = False) -> tuple[int, bool]:
        close = self.match[i]
        var, names = self.element(i, close, "node", implied)
        return close + 1, "Snapshot" in names or var in self.snapshot_vars

    def relationship(self, i: int) -> tuple[int, list[str]]:
        start = i
        left = self.tok(i) == "<"
        i += 2 if left else 1  # past `<-` or `-`
        if self.tok(i) == "[":
            close = self.match[i]
            _, types = self.element(i, close, "relationship")
            i = self.expect(close + 1, "-")
            if self.tok(i) == ">":
                i += 1
        else:  # `--`, `-->`, `<--`: spell it out to hang the predicate on it
            i = self.expect(i, "-")
            right = self.tok(i) == ">"
            if right:
                i += 1
            var = self.generated()
            text = f"{'<' if left else ''}-[{var} WHERE {holds(var)}]-{'>' if right else ''}"
            self.replace(self.toks[start].start, self.toks[i - 1].end, text)
            types = []
        return self.quantifier(i), types


def _rewrite(text: str, source: str) -> str:
    rewriter = _Rewriter(text, source)
    end = rewriter.scan(0)
    if end != len(rewriter.toks):  # pragma: no cover - _brackets rejects a stray closer
        rewriter.fail(end, f"unexpected {rewriter.tok(end)!r}")
    return rewriter.result()


@lru_cache(maxsize=256)
def as_of_text(text: str, source: str = "<query>") -> str:
    """The versions-layout text of a snapshot-scoped query's Cypher (`$as_of` = T)."""
    return _rewrite(text, source)


def versions_text(query: Query) -> str:
    """What to run for `query` on a versions-layout database: its own versions text
    (`queries/versions/<name>.cypher`) if it ships one, else the as-of rewrite of a
    snapshot-scoped query; a query that sees the whole database runs as it is."""
    if query.versions_text is not None:
        return query.versions_text
    if query.scope is Scope.snapshot:
        return as_of_text(query.text, query.source)
    if query.scope is Scope.pair:
        raise AsOfError(
            f"{query.source}: compares two snapshots and has no versions-layout text "
            f"(cypher/queries/versions/{query.name}.cypher): it cannot run on this database"
        )
    return query.text


# -- answers as the snapshots layout gives them ---------------------------------------------


def as_in_snapshot(value: Any, snapshot_id: str) -> Any:
    """A value of a versions-layout answer as the snapshots layout gives it at
    `snapshot_id`: a node or relationship loses its interval properties, and a node gets
    the `snapshot_id` and `uid` its copy in that snapshot has. Other values as they are.

    Nodes and relationships become plain dicts shaped as `bulkgraph.db.to_jsonable` shapes
    them (`_labels` / `_type` plus the properties)."""
    if isinstance(value, neo4j.graph.Node):
        props = {k: v for k, v in value.items() if k not in INTERVAL_PROPERTIES}
        if "Snapshot" not in value.labels:
            props["snapshot_id"] = snapshot_id
            # a version's uid is `<first snapshot>|<key>`, a Tag's its key
            uid = str(props.get("uid", ""))
            key = props.get("resource_key") or (
                uid if "Tag" in value.labels else uid.partition("|")[2]
            )
            if key:
                props["uid"] = f"{snapshot_id}|{key}"
        return {"_labels": sorted(value.labels), **props}
    if isinstance(value, neo4j.graph.Relationship):
        props = {k: v for k, v in value.items() if k not in INTERVAL_PROPERTIES}
        return {"_type": value.type, **props}
    if isinstance(value, neo4j.graph.Path):
        return {
            "nodes": [as_in_snapshot(n, snapshot_id) for n in value.nodes],
            "relationships": [as_in_snapshot(r, snapshot_id) for r in value.relationships],
        }
    if isinstance(value, list):
        return [as_in_snapshot(v, snapshot_id) for v in value]
    if isinstance(value, dict):
        return {k: as_in_snapshot(v, snapshot_id) for k, v in value.items()}
    return value
