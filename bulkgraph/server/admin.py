"""Run `neo4j-admin` of an instance, streaming its output.

Facts (checked on 5.26.30): in `neo4j-admin database import full`, put the database name
right after `full` (`database import full neo4j --nodes=...`), or `--nodes` takes it as a
file; the server must be stopped; a database that already exists (the server created
`neo4j` at its first start) needs `--overwrite-destination`; the importer takes 90% of the
machine's memory off-heap unless `--max-off-heap-memory` caps it.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bulkgraph.errors import BulkgraphError
from bulkgraph.server import launch
from bulkgraph.server.home import Neo4jHome, resolve_home
from bulkgraph.server.java import ADMIN_LAUNCHER, launcher_command, launcher_env

_TAIL_LINES = 40


@dataclass(frozen=True)
class AdminResult:
    returncode: int
    #: the last lines of the combined stdout/stderr
    tail: str
    #: CPU seconds (user + system) of neo4j-admin and the JVM it runs the command in. Unlike
    #: wall time it hardly moves when the host lends the CPU to others (steal)
    cpu_seconds: float = 0.0


def _stderr_line(line: str) -> None:
    sys.stderr.write(line)
    sys.stderr.flush()


def run_admin(
    args: Sequence[str],
    home: Neo4jHome | None = None,
    *,
    check: bool = True,
    on_line: Callable[[str], None] | None = _stderr_line,
    cwd: str | os.PathLike[str] | None = None,
) -> AdminResult:
    """Run `neo4j-admin ARGS` for `home` (default: the resolved instance).

    Each output line (stdout and stderr together, newline kept) goes to `on_line` as it
    comes (default: written to stderr; None = silent). Relative file arguments resolve
    against `cwd` (default: the current directory). With `check`, a non-zero exit raises
    BulkgraphError quoting the end of the output.
    """
    home = home or resolve_home()
    if not home.is_installed:
        raise BulkgraphError(f"no Neo4j installed at {home.root}: run `bulkgraph neo4j install`")
    how = launch.admin_launch(home, list(args))
    result = _run(
        how.command if how else launcher_command(home, ADMIN_LAUNCHER, list(args)),
        home,
        cwd,
        on_line,
    )
    if how is not None and launch.after_admin(home, how, result.returncode):
        # a JVM that cannot map its archive exits before doing anything: run it again
        how = launch.admin_launch(home, list(args), archive=False)
        assert how is not None
        result = _run(how.command, home, cwd, on_line)
    if check and result.returncode != 0:
        what = " ".join(args[:3])
        raise BulkgraphError(
            f"neo4j-admin {what} failed (exit {result.returncode}) for {home.root}:\n{result.tail}"
        )
    return result


def _run(
    cmd: list[str],
    home: Neo4jHome,
    cwd: str | os.PathLike[str] | None,
    on_line: Callable[[str], None] | None,
) -> AdminResult:
    tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
    with subprocess.Popen(
        cmd,
        env=launcher_env(home),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line)
            if on_line is not None:
                on_line(line)
        # wait4 rather than wait: the resource usage of this child alone (and of the JVM it
        # waited for), which getrusage(RUSAGE_CHILDREN) would mix with any other child's
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = returncode = os.waitstatus_to_exitcode(status)
    return AdminResult(
        returncode=returncode, tail="".join(tail), cpu_seconds=usage.ru_utime + usage.ru_stime
    )


def set_initial_password(home: Neo4jHome, password: str) -> None:
    """`neo4j-admin dbms set-initial-password`, keeping the password off command lines.

    The password goes through a picocli @argument-file (mode 0600, deleted right after), so
    it shows neither in `ps` nor in any output.
    """
    fd, path = tempfile.mkstemp(prefix=".args-", dir=home.root)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:  # mkstemp creates it 0600
            # "--" ends the options: a password starting with "-" (token_urlsafe gives one in
            # 64) would otherwise be read as an unknown option
            fh.write(f"dbms\nset-initial-password\n--\n{password}\n")
        result = run_admin([f"@{path}"], home, check=False, on_line=None)
    finally:
        os.unlink(path)
    if result.returncode != 0:
        tail = result.tail.replace(password, "********")  # in case an error echoes arguments
        raise BulkgraphError(
            f"neo4j-admin dbms set-initial-password failed for {home.root}:\n{tail}"
        )
