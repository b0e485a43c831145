"""Start, stop and inspect the server of an instance.

The server JVM (CommunityEntryPoint) is started detached, with the command line Neo4j's own
launcher builds (see `launch.py`), and its pid goes to `run/neo4j.pid`. "Is it running" and
"stop it" are about that JVM, found as `pids.py` describes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bulkgraph.errors import BulkgraphError
from bulkgraph.server import launch
from bulkgraph.server.config import bolt_port, bolt_uri, free_port, port_is_free, set_bolt_port
from bulkgraph.server.home import DEFAULT_DATABASE, Neo4jHome, resolve_home
from bulkgraph.server.install import ensure_installation
from bulkgraph.server.pids import alive, open_paths, server_pid, servers_within

log = logging.getLogger(__name__)

_LOG_TAIL_LINES = 30
_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class ServerStatus:
    home: str
    installed: bool
    managed: bool
    running: bool
    pid: int | None
    version: str | None
    bolt_uri: str | None
    #: every server JVM running in the home, the live one and any inside it (the staging
    #: instance of a rebuild): see `RunningServer`
    servers: list[dict[str, object]] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class RunningServer:
    #: "live" (the home itself), "staging" (a rebuild's), or "other" (a home inside the home)
    role: str
    home: str
    pid: int
    bolt_uri: str | None
    #: the store folder the server holds open (its current name: a rename shows)
    store: str | None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def running_servers(home: Neo4jHome) -> list[RunningServer]:
    """The server JVMs of `home` and of every instance inside it, live one first."""
    found = []
    for root, pid in sorted(servers_within(home.root).items()):
        inner = Neo4jHome(root)
        role = "live" if root == home.root.resolve() else inner.read_metadata().get("role")
        port = bolt_port(inner.conf_file)
        found.append(
            RunningServer(
                role=role or "other",
                home=str(root),
                pid=pid,
                bolt_uri=bolt_uri(port) if port else None,
                store=_held_store(pid, root),
            )
        )
    return sorted(found, key=lambda s: s.role != "live")


def _held_store(pid: int, root: Path) -> str | None:
    for path in open_paths(pid):
        if not path.is_relative_to(root):
            continue
        parts = path.parts
        if "databases" in parts:
            at = parts.index("databases")
            # a file inside a database's folder (not databases/store_lock), not `system`'s
            if at + 2 < len(parts) and parts[at + 1] != "system":
                return str(Path(*parts[: at + 2]))
    return None


# -- status / start / stop -------------------------------------------------------------------


def status(home: Neo4jHome | Path | str | None = None) -> ServerStatus:
    home = home if isinstance(home, Neo4jHome) else resolve_home(home)
    port = bolt_port(home.conf_file)
    pid = server_pid(home) if home.is_installed else None
    return ServerStatus(
        home=str(home.root),
        installed=home.is_installed,
        managed=home.is_managed,
        running=pid is not None,
        pid=pid,
        version=home.read_metadata().get("version") or _version_from_lib(home),
        bolt_uri=bolt_uri(port) if port else None,
        servers=[s.to_dict() for s in running_servers(home)] if home.root.is_dir() else [],
    )


def _version_from_lib(home: Neo4jHome) -> str | None:
    jars = sorted(home.lib.glob("neo4j-kernel-*.jar")) if home.lib.is_dir() else []
    return jars[0].stem.removeprefix("neo4j-kernel-") if jars else None


def log_tail(home: Neo4jHome, lines: int = _LOG_TAIL_LINES) -> str:
    """The end of the server's log, and of its JVM output when that has something."""
    tails = []
    for path in (home.user_log, home.debug_log):
        tail = _tail(path, lines)
        if tail:
            tails.append(tail)
            break
    out = _tail(home.server_out, lines)
    if out:
        tails.append(out)
    return "\n".join(tails) if tails else f"(no log in {home.logs})"


def _tail(path: Path, lines: int) -> str | None:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    if not text.strip():
        return None
    return f"--- last lines of {path} ---\n" + "\n".join(text.splitlines()[-lines:])


def start(home: Neo4jHome | Path | str | None = None, *, timeout: float = 180.0) -> ServerStatus:
    """Start the server in the background and wait until Bolt answers a query.

    Already running: nothing to do. A managed instance whose Bolt port was taken meanwhile
    moves to a free one. Raises BulkgraphError with the log tail if the server does not come up.
    """
    home = home if isinstance(home, Neo4jHome) else resolve_home(home)
    if not home.is_installed:
        raise BulkgraphError(f"no Neo4j installed at {home.root}: run `bulkgraph neo4j install`")
    _ensure_lib(home)
    if server_pid(home) is not None:
        return status(home)

    port = bolt_port(home.conf_file)
    if port is None:
        raise BulkgraphError(f"{home.conf_file} sets no server.bolt.listen_address port")
    if not port_is_free(port):
        if not home.is_managed:
            raise BulkgraphError(f"Bolt port {port} of {home.root} is taken by another process")
        new_port = free_port()
        log.info("Bolt port %d is taken; %s moves to %d", port, home.root, new_port)
        set_bolt_port(home.conf_file, new_port)
        port = new_port
    home.pid_file.unlink(missing_ok=True)

    deadline = time.monotonic() + timeout
    spawned = launch.spawn(home)
    try:
        _wait_for_bolt(home, bolt_uri(port), deadline)
    except _ExitedWhileStarting as exc:
        if spawned.archive is None:
            raise BulkgraphError(str(exc)) from None
        # a class archive the JVM cannot map kills it before it logs anything: retry without
        launch.drop_archive(spawned.archive)
        launch.after_stop(home, clean=False)
        launch.spawn(home)
        try:
            _wait_for_bolt(home, bolt_uri(port), deadline)
        except _ExitedWhileStarting as again:
            raise BulkgraphError(str(again)) from None
    return status(home)


def _ensure_lib(home: Neo4jHome) -> None:
    """Re-fetch the jars of a managed home whose cached installation was deleted."""
    if home.lib.is_dir() or not home.is_managed:
        return
    version = home.read_metadata().get("version")
    if version:
        ensure_installation(version)
    if not home.lib.is_dir():
        raise BulkgraphError(f"{home.lib} points to missing jars: run `bulkgraph neo4j install`")


class _ExitedWhileStarting(Exception):
    pass


def _wait_for_bolt(home: Neo4jHome, uri: str, deadline: float) -> None:
    """Poll until the server answers a query; the server must stay alive meanwhile."""
    import neo4j
    from neo4j.exceptions import AuthError, DriverError, Neo4jError

    password = home.read_password()
    auth = ("neo4j", password) if password else None
    last_error = "no answer"
    while time.monotonic() < deadline:
        if server_pid(home) is None:
            raise _ExitedWhileStarting(
                f"Neo4j at {home.root} exited while starting\n{log_tail(home)}"
            )
        if not _port_open(uri):
            time.sleep(_POLL_SECONDS)
            continue
        try:
            # no retries inside the driver: its back-off (1, 2, 4, 8 s...) would overshoot
            # the moment the server is up by seconds; this loop polls instead
            with neo4j.GraphDatabase.driver(
                uri, auth=auth, connection_timeout=5, max_transaction_retry_time=0
            ) as driver:
                if auth is None:
                    driver.verify_connectivity()
                else:
                    driver.execute_query("RETURN 1", database_=DEFAULT_DATABASE)
            return
        except AuthError as exc:
            if auth is None:  # no password known: an auth challenge still proves Bolt is up
                return
            raise BulkgraphError(
                f"Neo4j at {home.root} is up but refuses the password in {home.password_file}"
            ) from exc
        except (DriverError, Neo4jError, OSError) as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        time.sleep(_POLL_SECONDS)
    _kill_server(home)
    raise BulkgraphError(
        f"Neo4j at {home.root} did not answer on {uri} in time ({last_error}); stopped it\n"
        f"{log_tail(home)}"
    )


def _port_open(uri: str) -> bool:
    host, _, port = uri.rpartition("//")[2].rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return False
    return True


def stop(home: Neo4jHome | Path | str | None = None, *, timeout: float = 90.0) -> ServerStatus:
    """Stop the server: SIGTERM, wait up to `timeout`, then SIGKILL. No JVM is left behind."""
    home = home if isinstance(home, Neo4jHome) else resolve_home(home)
    _kill_server(home, timeout=timeout)
    return status(home)


def _kill_server(home: Neo4jHome, timeout: float = 90.0) -> None:
    pid = server_pid(home)
    clean = False
    if pid is not None:
        _signal(pid, signal.SIGTERM)
        clean = _wait_gone(pid, timeout)
        if not clean:
            log.warning("Neo4j (pid %d) ignored SIGTERM for %.0fs: killing it", pid, timeout)
            _signal(pid, signal.SIGKILL)
            if not _wait_gone(pid, 30.0):
                raise BulkgraphError(f"Neo4j (pid {pid}) at {home.root} survives SIGKILL")
    home.pid_file.unlink(missing_ok=True)
    launch.after_stop(home, clean=clean)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.2)
    return not alive(pid)


@contextlib.contextmanager
def stopped(home: Neo4jHome | Path | str | None = None) -> Iterator[Neo4jHome]:
    """Stop the server for the block (e.g. a bulk import), then start it again if it ran.

    The restart happens even if the block raises, so a failed import leaves the server as it
    found it (with whatever the store then holds).
    """
    home = home if isinstance(home, Neo4jHome) else resolve_home(home)
    was_running = server_pid(home) is not None
    if was_running:
        stop(home)
    try:
        yield home
    finally:
        if was_running:
            start(home)
