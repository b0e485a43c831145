"""Start, stop and inspect the server of an instance.

The server JVM (CommunityEntryPoint) is started detached, with the command line Neo4j's own
launcher builds (see `launch.py`), and its pid goes to `run/neo4j.pid`. "Is it running" and
"stop it" are about that JVM, which we recognise by its main class and `--home-dir=`
argument, so a recycled pid is never mistaken for (or killed as) our server.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from bulkgraph.errors import BulkgraphError
from bulkgraph.server import launch
from bulkgraph.server.config import bolt_port, bolt_uri, free_port, port_is_free, set_bolt_port
from bulkgraph.server.home import DEFAULT_DATABASE, Neo4jHome, resolve_home
from bulkgraph.server.java import SERVER_MAIN

log = logging.getLogger(__name__)

_PROC = Path("/proc")
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

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


# -- finding the server JVM ----------------------------------------------------------------


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _is_zombie(pid: int) -> bool:
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_server_of(pid: int, home: Neo4jHome) -> bool:
    args = _cmdline(pid)
    if args is None:  # no /proc (not Linux): trust the pid file
        return not _PROC.is_dir() and _alive(pid)
    if SERVER_MAIN not in args:
        return False
    target = home.root.resolve()
    for arg in args:
        if arg.startswith("--home-dir="):
            return Path(arg.partition("=")[2]).resolve() == target
    return False


def _read_pid_file(home: Neo4jHome) -> int | None:
    try:
        return int(home.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def server_pid(home: Neo4jHome) -> int | None:
    """The pid of the live server JVM of `home`, or None.

    Looks beyond the pid file (on Linux), so a server whose pid file was lost is still found.
    """
    pid = _read_pid_file(home)
    if pid is not None and _is_server_of(pid, home) and _alive(pid):
        return pid
    if _PROC.is_dir():
        for entry in _PROC.iterdir():
            if entry.name.isdigit():
                candidate = int(entry.name)
                if _is_server_of(candidate, home) and _alive(candidate):
                    return candidate
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
    from bulkgraph.server.install import ensure_installation

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
        if not _alive(pid):
            return True
        time.sleep(0.2)
    return not _alive(pid)


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
