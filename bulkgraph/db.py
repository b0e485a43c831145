"""Talking to Neo4j: which server, a driver, queries, and Neo4j values as JSON.

The connection comes from the settings: NEO4J_URI / NEO4J_USERNAME / NEO4J_PASSWORD /
NEO4J_DATABASE for your own Neo4j; without NEO4J_URI, the managed instance (NEO4J_HOME or
the default one in the cache), whose Bolt port and password are read from its home.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import neo4j
import neo4j.graph
import neo4j.spatial
import neo4j.time
from neo4j.exceptions import AuthError, DriverError, Neo4jError, ServiceUnavailable

from bulkgraph import jsonable
from bulkgraph.errors import BulkgraphError, ExitCode
from bulkgraph.server.config import bolt_port, bolt_uri
from bulkgraph.server.home import Neo4jHome, resolve_home
from bulkgraph.settings import Settings, get_settings

#: Cypher errors that mean "your query is wrong" rather than "something failed".
_USAGE_CODES = (
    "Neo.ClientError.Statement.SyntaxError",
    "Neo.ClientError.Statement.ParameterMissing",
    "Neo.ClientError.Statement.ArgumentError",
    "Neo.ClientError.Statement.TypeError",
)


class QueryError(BulkgraphError):
    """Neo4j rejected a query; `code` is Neo4j's status code (e.g. Neo.ClientError...)."""

    def __init__(self, message: str, code: str | None, exit_code: ExitCode) -> None:
        super().__init__(message, exit_code)
        self.code = code


@dataclass(frozen=True)
class Connection:
    """Where and as whom to connect. The password never shows in repr()."""

    uri: str
    username: str
    password: str | None = field(repr=False)
    database: str
    #: the managed instance behind `uri`, None for your own Neo4j (NEO4J_URI)
    home: Neo4jHome | None = None

    @property
    def auth(self) -> tuple[str, str] | None:
        return (self.username, self.password) if self.password is not None else None


def resolve_connection(settings: Settings | None = None) -> Connection:
    """The Neo4j to talk to, from the settings (see the module docstring)."""
    settings = settings or get_settings()
    secret = settings.neo4j_password.get_secret_value() if settings.neo4j_password else None
    if settings.neo4j_uri:
        return Connection(
            uri=settings.neo4j_uri,
            username=settings.neo4j_username,
            password=secret,
            database=settings.neo4j_database,
        )
    home = resolve_home(None, settings)
    if bolt_port(home.conf_file) is None:
        raise BulkgraphError(
            f"no Neo4j configured: no managed instance at {home.root} "
            "(run `bulkgraph neo4j install` and `bulkgraph neo4j start`) and NEO4J_URI is unset"
        )
    return home_connection(home, settings.neo4j_database, fallback_password=secret)


def home_connection(
    home: Neo4jHome, database: str = "neo4j", *, fallback_password: str | None = None
) -> Connection:
    """The connection to a managed instance: its Bolt port and stored password."""
    port = bolt_port(home.conf_file)
    if port is None:
        raise BulkgraphError(f"{home.conf_file}: no Bolt port configured")
    return Connection(
        uri=bolt_uri(port),
        username="neo4j",
        password=home.read_password() or fallback_password,
        database=database,
        home=home,
    )


@contextmanager
def open_driver(connection: Connection | None = None) -> Iterator[neo4j.Driver]:
    """A connected driver (connectivity and credentials checked), closed on exit."""
    conn = connection or resolve_connection()
    driver = neo4j.GraphDatabase.driver(conn.uri, auth=conn.auth)
    try:
        try:
            driver.verify_connectivity()
        except AuthError as exc:
            raise BulkgraphError(
                f"Neo4j at {conn.uri} refused user {conn.username!r}: check the password"
                + (f" in {conn.home.password_file}" if conn.home else " (NEO4J_PASSWORD)")
            ) from exc
        except (ServiceUnavailable, DriverError, OSError) as exc:
            hint = (
                " Is it running? `bulkgraph neo4j start`"
                if conn.home
                else " Check NEO4J_URI and that the server runs."
            )
            raise BulkgraphError(f"cannot reach Neo4j at {conn.uri}.{hint}") from exc
        yield driver
    finally:
        driver.close()


def _query_error(exc: Neo4jError) -> QueryError:
    code = exc.code
    exit_code = ExitCode.USAGE if code in _USAGE_CODES else ExitCode.FAILED
    return QueryError(f"Neo4j: {exc.message or exc} ({code})", code, exit_code)


def run_query(
    query: str,
    params: Mapping[str, Any] | None = None,
    *,
    driver: neo4j.Driver | None = None,
    database: str | None = None,
) -> list[dict[str, Any]]:
    """Run one query in a managed transaction and return its rows.

    Values stay Neo4j/Python values (Node, DateTime, ...): `to_jsonable` converts them.
    Without `driver`, one is opened from the settings for this call. Errors from Neo4j raise
    QueryError. `CALL {...} IN TRANSACTIONS` needs `run_autocommit` instead.
    """
    if driver is None:
        conn = resolve_connection()
        with open_driver(conn) as own:
            return run_query(query, params, driver=own, database=database or conn.database)
    try:
        records, _, _ = driver.execute_query(
            query,
            dict(params or {}),
            database_=database or get_settings().neo4j_database,
        )
    except Neo4jError as exc:
        raise _query_error(exc) from exc
    return [dict(record.items()) for record in records]


def run_autocommit(
    query: str,
    params: Mapping[str, Any] | None = None,
    *,
    driver: neo4j.Driver | None = None,
    database: str | None = None,
) -> list[dict[str, Any]]:
    """Run a query in an auto-commit transaction (`session.run`) and return its rows.

    Needed for `CALL {...} IN TRANSACTIONS` (and `LOAD CSV` in batches), which Neo4j refuses
    inside the managed transactions `run_query` uses.
    """
    if driver is None:
        conn = resolve_connection()
        with open_driver(conn) as own:
            return run_autocommit(query, params, driver=own, database=database or conn.database)
    try:
        with driver.session(database=database or get_settings().neo4j_database) as session:
            result = session.run(query, dict(params or {}))
            rows = [dict(record.items()) for record in result]
            result.consume()
    except Neo4jError as exc:
        raise _query_error(exc) from exc
    return rows


def to_jsonable(value: Any) -> Any:
    """A Neo4j (or any) value as JSON-ready Python: `bulkgraph.jsonable.to_jsonable`."""
    return jsonable.to_jsonable(value)


def neo4j_to_jsonable(value: Any) -> Any:
    """A value of the driver's own types as JSON-ready Python (`to_jsonable` asks here).

    Temporal values become ISO 8601 strings; a node becomes its properties plus `_labels`
    (sorted), a relationship its properties plus `_type`, a path `{"nodes", "relationships"}`;
    points `{"srid", "x", "y"[, "z"]}`.
    """
    if isinstance(value, neo4j.time.DateTime | neo4j.time.Date | neo4j.time.Time):
        return value.iso_format()
    if isinstance(value, neo4j.time.Duration):
        return value.iso_format()
    if isinstance(value, neo4j.graph.Node):
        return {"_labels": sorted(value.labels), **_props(value)}
    if isinstance(value, neo4j.graph.Relationship):
        return {"_type": value.type, **_props(value)}
    if isinstance(value, neo4j.graph.Path):
        return {
            "nodes": [to_jsonable(n) for n in value.nodes],
            "relationships": [to_jsonable(r) for r in value.relationships],
        }
    if isinstance(value, neo4j.spatial.Point):
        point: dict[str, Any] = {"srid": value.srid}
        point.update(zip(("x", "y", "z"), (float(c) for c in value), strict=False))
        return point
    return str(value)


def _props(entity: neo4j.graph.Entity) -> dict[str, Any]:
    return {key: to_jsonable(val) for key, val in entity.items()}


def rows_to_jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: to_jsonable(val) for key, val in row.items()} for row in rows]


def driver(settings: Settings | None = None) -> AbstractContextManager[neo4j.Driver]:
    """`open_driver()` for the configured Neo4j: `with db.driver() as drv: ...`."""
    return open_driver(resolve_connection(settings))


def database(settings: Settings | None = None) -> str:
    """The database to read and write (NEO4J_DATABASE, default `neo4j`)."""
    return (settings or get_settings()).neo4j_database
