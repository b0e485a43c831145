"""Finding the JVMs of an instance among the machine's processes (Linux /proc).

"Is it running" and "stop it" are about the server JVM (CommunityEntryPoint), recognised by
its main class and `--home-dir=` argument, so a recycled pid is never mistaken for (or
killed as) our server. The same scan finds every server inside a home (the staging instance
of a rebuild lives in a folder of the live home), neo4j-admin runs of a home, and which
store folder a running server holds open.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from bulkgraph.server.home import Neo4jHome
from bulkgraph.server.java import ADMIN_MAIN, SERVER_MAIN

_PROC = Path("/proc")


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


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _server_home_dir(args: list[str]) -> Path | None:
    """The `--home-dir` of a server JVM's command line; None for any other process."""
    if SERVER_MAIN not in args:
        return None
    for arg in args:
        if arg.startswith("--home-dir="):
            return Path(arg.partition("=")[2]).resolve()
    return None


def is_server_of(pid: int, home: Neo4jHome) -> bool:
    args = _cmdline(pid)
    if args is None:  # no /proc (not Linux): trust the pid file
        return not _PROC.is_dir() and alive(pid)
    return _server_home_dir(args) == home.root.resolve()


def _read_pid_file(home: Neo4jHome) -> int | None:
    try:
        return int(home.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def _pids() -> Iterator[int]:
    if _PROC.is_dir():
        for entry in _PROC.iterdir():
            if entry.name.isdigit():
                yield int(entry.name)


def server_pid(home: Neo4jHome) -> int | None:
    """The pid of the live server JVM of `home`, or None.

    Looks beyond the pid file (on Linux), so a server whose pid file was lost is still found.
    """
    pid = _read_pid_file(home)
    if pid is not None and is_server_of(pid, home) and alive(pid):
        return pid
    for candidate in _pids():
        if is_server_of(candidate, home) and alive(candidate):
            return candidate
    return None


def servers_within(root: Path) -> dict[Path, int]:
    """Every running server JVM whose home is `root` or a folder inside it: home -> pid."""
    top = root.resolve()
    found: dict[Path, int] = {}
    for pid in _pids():
        args = _cmdline(pid)
        home_dir = _server_home_dir(args) if args else None
        if home_dir is not None and home_dir.is_relative_to(top) and alive(pid):
            found[home_dir] = pid
    return found


def admin_pids(home: Neo4jHome) -> list[int]:
    """The running neo4j-admin JVMs of `home` (told apart by their NEO4J_HOME)."""
    wanted = f"NEO4J_HOME={home.root}".encode()
    found = []
    for pid in _pids():
        args = _cmdline(pid)
        if not args or ADMIN_MAIN not in args:
            continue
        try:
            environ = (_PROC / str(pid) / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if wanted in environ and alive(pid):
            found.append(pid)
    return found


def open_paths(pid: int) -> list[Path]:
    """The files a process holds open, by their current names (a rename shows here)."""
    fd_dir = _PROC / str(pid) / "fd"
    paths = []
    try:
        entries = list(fd_dir.iterdir())
    except OSError:
        return []
    for entry in entries:
        try:
            target = os.readlink(entry)
        except OSError:
            continue
        if target.startswith("/"):
            paths.append(Path(target.removesuffix(" (deleted)")))
    return paths
