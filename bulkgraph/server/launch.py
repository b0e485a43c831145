"""Start the server JVM directly, with a class-data-sharing archive when one can be used.

Neo4j's launcher (`neo4j start`) is a JVM of its own: it reads the config, builds the server's
command line, forks the server and waits a while before it exits; run directly, and with a
class archive, the server answers its first query in about half the time (figures in
docs/benchmarks.md, "Measurements behind the design").

So the launcher is asked once for the command line (`console --dry-run`), and asked again
whenever something it depends on changes (the config, the JVM, the jars). The answer is kept
per installation with the home's path left open, so a new home (the staging instance of
every rebuild) reuses it. `neo4j-admin` gets the same treatment: its launcher runs AdminTool
with the server's JVM options, so that command line is derived from the server's (one JVM
start less per call).

And the server's classes are mapped from an archive (AppCDS) instead of being loaded from
200 jars at every start. Java 17 can only write that archive when a JVM exits
(`-XX:ArchiveClassesAtExit`), so the first server started on an installation writes it when
it stops (that stop takes longer, once per installation and JVM build); every later
start of any home of that installation (the live one, staging, a test's) maps it.

The archive records the jars' paths as the JVM that wrote it saw them, and a JVM maps it only
if those paths still exist. So every server of an installation gets its class path through
the installation's own `lib` folder, not through its home's `lib` link: a home's link dies
with the home (every staging home of a rebuild, every test's), and an archive written through
one became unusable for all. A JVM told to map an archive it cannot use goes on without it,
silently, unless it runs with `-Xshare:on`; so servers do, and one that exits at once is
started again without the archive, which is dropped and written anew at the next stop.

A truncated archive crashes the JVM (SIGBUS, checked on 17.0.15), so an archive is written
under a temporary name, published by a rename only after a clean stop and a `-Xshare:on`
check, and dropped if a server started with it dies during start-up.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bulkgraph.errors import BulkgraphError
from bulkgraph.server.home import Installation, Neo4jHome
from bulkgraph.server.java import (
    ADMIN_MAIN,
    SERVER_LAUNCHER,
    SERVER_MAIN,
    java_executable,
    launcher_command,
    launcher_env,
)

log = logging.getLogger(__name__)

_DRY_RUN_TIMEOUT = 120.0
#: start "$@" in the background with its output appended to the log, print its pid, exit
_DAEMON_SH = 'exec "$@" >> "$BULKGRAPH_SERVER_OUT" 2>&1 < /dev/null &\necho $!\n'
_CHECK_TIMEOUT = 60.0


# -- the command line ---------------------------------------------------------------------


_HOME = "<<NEO4J_HOME>>"
# the Bolt port is all that tells two managed configs apart, and it is not on the command line
_PORT_RE = re.compile(r"^(server\.bolt\.\w+_address=.*:)\d+\s*$", re.MULTILINE)


def _command_key(home: Neo4jHome) -> str:
    """What the launcher's answer depends on besides the home's path: the config, the JVM,
    the jars."""
    conf = home.conf_file.read_text(encoding="utf-8", errors="replace")
    conf = _PORT_RE.sub(r"\1<port>", conf.replace(str(home.root), _HOME))
    parts = [conf, java_executable(), str(home.lib.resolve()), os.environ.get("JAVA_HOME", "")]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _installation(home: Neo4jHome) -> Installation | None:
    """The installation whose jars `home`'s `lib` links to; None for a home with jars of its
    own (a Neo4j set up by hand)."""
    if not home.lib.is_symlink():
        return None
    lib = home.lib.resolve()
    return Installation(root=lib.parent, version=lib.parent.name)


def _command_store(home: Neo4jHome) -> Path:
    """One file per installation, so that a new home (the staging one of every rebuild)
    finds the answer another home got; a home with jars of its own keeps its own."""
    installation = _installation(home)
    return home.server_command_file if installation is None else installation.launch_commands


def server_command(home: Neo4jHome) -> list[str]:
    """The command line `neo4j start` would run for `home` (cached; see the module doc)."""
    key = _command_key(home)
    store = _command_store(home)
    try:
        templates = json.loads(store.read_text(encoding="utf-8"))
        if not isinstance(templates, dict):
            templates = {}
    except (OSError, ValueError):
        templates = {}
    template = templates.get(key)
    if isinstance(template, list):
        return [str(arg).replace(_HOME, str(home.root)) for arg in template]
    command = _ask_launcher(home)
    # the home's path as a whole path element: "/srv/h" must not match in "/srv/hx/java"
    root = re.compile(rf"(?<![^=:]){re.escape(str(home.root))}(?=[/:]|$)")
    template = [root.sub(_HOME, arg) for arg in command]
    if f"--home-dir={_HOME}" in template:  # else the home's path is not where we expect
        templates[key] = template
        store.parent.mkdir(parents=True, exist_ok=True)
        tmp = store.with_name(f"{store.name}.{secrets.token_hex(4)}.tmp")
        tmp.write_text(json.dumps(templates, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, store)  # concurrent writers: the last wins, nothing is half-written
    return command


def admin_command(home: Neo4jHome, args: list[str]) -> list[str] | None:
    """The command line `neo4j-admin ARGS` would run, or None where it may differ.

    The admin launcher (a JVM of its own, started for every neo4j-admin call) runs AdminTool
    with the server's JVM options but no initial heap; tests compare this with its own
    `--verbose` output. Only for homes on a bulkgraph installation (configs we write), and
    not when HEAP_SIZE or a command-specific `neo4j-admin*.conf` would change the options.
    """
    if not home.lib.is_symlink() or os.environ.get("HEAP_SIZE"):
        return None
    if any(home.conf_dir.glob("neo4j-admin*.conf")):
        return None
    command = server_command(home)
    main = command.index(SERVER_MAIN)
    jvm = [arg for arg in command[1:main] if not arg.startswith("-Xms")]
    return [command[0], *jvm, ADMIN_MAIN, *args]


def _ask_launcher(home: Neo4jHome) -> list[str]:
    proc = subprocess.run(
        launcher_command(home, SERVER_LAUNCHER, ["console", "--dry-run"]),
        env=launcher_env(home),
        cwd=home.root,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=_DRY_RUN_TIMEOUT,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        raise BulkgraphError(
            f"Neo4j's launcher could not build the server command for {home.root} "
            f"(exit {proc.returncode}):\n{(proc.stdout + proc.stderr).strip()}"
        )
    args = shlex.split(lines[-1])
    # The printed line is not quoted for a shell: a path with a space would split wrongly.
    # Accept it only if it names exactly this home and the server's main class.
    home_arg = f"--home-dir={home.root.resolve()}"
    if SERVER_MAIN not in args or home_arg not in args:
        raise BulkgraphError(
            f"unexpected server command from Neo4j's launcher for {home.root} "
            f"(is there a space in the path?): {lines[-1]}"
        )
    return [arg for arg in args if arg != "--console-mode"]


# -- the class archive --------------------------------------------------------------------


def class_archive(home: Neo4jHome, kind: str = "server") -> Path | None:
    """Where the class archive of `kind` (`server`, or `import`: `neo4j-admin database
    import`) of `home`'s installation and this JVM lives, or None.

    None for a home whose jars are not a bulkgraph installation (its `lib` is not a link to
    one: never write into a Neo4j set up by hand) and for a JVM without the base CDS archive
    that a dynamic archive extends.
    """
    installation = _installation(home)
    if installation is None:
        return None
    jvm_dir = Path(java_executable()).resolve().parent.parent / "lib" / "server"
    libjvm = jvm_dir / "libjvm.so"
    if not libjvm.is_file() or not (jvm_dir / "classes.jsa").is_file():
        return None
    stat = libjvm.stat()
    build = hashlib.sha256(f"{libjvm}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()
    return installation.class_archives / f"{kind}-{build[:16]}.jsa"


def _new_pending(archive: Path) -> Path:
    """A fresh name for a JVM to write `archive` under (published by a rename once it is
    checked); stale ones of killed JVMs are swept on the way."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_pending(archive.parent)
    return archive.with_name(f"{archive.stem}.{secrets.token_hex(4)}.tmp")


def _archive_options(home: Neo4jHome) -> list[str]:
    """Map the archive if there is one, else have this server write it when it exits."""
    home.archive_dump_file.unlink(missing_ok=True)
    archive = class_archive(home)
    if archive is None:
        return []
    if archive.is_file():
        return ["-Xshare:on", f"-XX:SharedArchiveFile={archive}"]
    pending = _new_pending(archive)
    home.run_dir.mkdir(parents=True, exist_ok=True)
    home.archive_dump_file.write_text(
        json.dumps({"pending": str(pending), "archive": str(archive)}) + "\n", encoding="utf-8"
    )
    return [f"-XX:ArchiveClassesAtExit={pending}"]


#: a JVM writes its pending archive as it exits and the stop publishes or removes it within
#: seconds: one older than this was left by a process killed in between
STALE_PENDING_SECONDS = 15 * 60


def sweep_stale_pending(folder: Path, now: float | None = None) -> list[Path]:
    """Remove pending archives (`*.tmp`) that a killed JVM or stop left behind: they are never
    published, and would otherwise stay in the shared cache for good."""
    now = time.time() if now is None else now
    removed = []
    for stale in folder.glob("*.tmp"):
        with contextlib.suppress(OSError):
            if now - stale.stat().st_mtime > STALE_PENDING_SECONDS:
                stale.unlink()
                removed.append(stale)
    return removed


@dataclass(frozen=True)
class Spawned:
    pid: int
    #: the class archive the JVM maps, if any
    archive: Path | None


def installation_class_path(home: Neo4jHome) -> str:
    """`home`'s jars as the class path names them for the class archive: through the
    installation's folder, which outlives the home (see the module doc)."""
    installation = _installation(home)
    return f"{home.lib if installation is None else installation.lib}{os.sep}*"


def _with_installation_jars(home: Neo4jHome, command: list[str]) -> list[str]:
    """`command` with the home's `lib/*` entry of its class path replaced by the
    installation's (the config folder, also on it, stays the home's own)."""
    if _installation(home) is None or "-cp" not in command:
        return command
    at = command.index("-cp") + 1
    ours = {f"{home.lib}{os.sep}*", f"{home.root.resolve() / 'lib'}{os.sep}*"}
    entries = [
        installation_class_path(home) if e in ours else e for e in command[at].split(os.pathsep)
    ]
    return [*command[:at], os.pathsep.join(entries), *command[at + 1 :]]


@dataclass(frozen=True)
class AdminLaunch:
    """How to run one neo4j-admin command: its command line, and the import class archive
    it maps (`mapped`) or writes as it exits (`pending`, published as `archive`)."""

    command: list[str]
    mapped: Path | None = None
    pending: Path | None = None
    archive: Path | None = None


def _is_import(args: list[str]) -> bool:
    return args[:2] == ["database", "import"]


def admin_launch(home: Neo4jHome, args: list[str], *, archive: bool = True) -> AdminLaunch | None:
    """`admin_command` as it is run: its jars named through the installation (as a server's
    are), and for `database import` the import class archive mapped if there is one, else
    written when the importer exits (the importer loads ~2 s of classes for any input; a
    sample graph imports in ~6 s with the archive against ~8 s without,
    docs/benchmarks.md). Other admin commands load other classes and run without one.
    `archive=False`: never an archive (the run after one could not be mapped)."""
    command = admin_command(home, args)
    if command is None:
        return None
    command = _with_installation_jars(home, command)
    where = class_archive(home, "import") if archive and _is_import(args) else None
    if where is None:
        return AdminLaunch(command)
    # without it the JVM writing the archive prints a warning per class it leaves out (of
    # signed jars, of old class files) into the importer's output, which the user reads
    quiet = "-Xlog:cds*=off"
    if where.is_file():
        return AdminLaunch(
            [command[0], quiet, "-Xshare:on", f"-XX:SharedArchiveFile={where}", *command[1:]],
            mapped=where,
        )
    pending = _new_pending(where)
    return AdminLaunch(
        [command[0], quiet, f"-XX:ArchiveClassesAtExit={pending}", *command[1:]],
        pending=pending,
        archive=where,
    )


def after_admin(home: Neo4jHome, how: AdminLaunch, returncode: int) -> bool:
    """After an admin JVM exits: publish the archive it wrote if it ended well and the
    archive maps. Returns True when it failed because its archive could not be mapped
    (then the archive is dropped, and the command is to be run again without one)."""
    if how.pending is not None and how.archive is not None:
        _publish(how.pending, how.archive, home, ended_well=returncode == 0)
    if how.mapped is not None and returncode != 0 and not _maps(how.mapped, home):
        drop_archive(how.mapped, "neo4j-admin")
        return True
    return False


def spawn(home: Neo4jHome) -> Spawned:
    """Start the server JVM of `home` in the background (detached)."""
    command = _with_installation_jars(home, server_command(home))
    options = _archive_options(home)
    home.logs.mkdir(parents=True, exist_ok=True)
    # Through a shell that exits at once, as the launcher did: the server is not our child,
    # so it never lingers as our zombie and is not counted in our process tree (the bench
    # measures the importer's memory there)
    proc = subprocess.run(
        ["/bin/sh", "-c", _DAEMON_SH, "bulkgraph-neo4j", command[0], *options, *command[1:]],
        env={**launcher_env(home), "BULKGRAPH_SERVER_OUT": str(home.server_out)},
        cwd=home.root,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        start_new_session=True,  # like the launcher's daemon: no terminal signals
    )
    if proc.returncode != 0 or not proc.stdout.strip().isdigit():
        raise BulkgraphError(f"could not start the server of {home.root}: {proc.stderr.strip()}")
    pid = int(proc.stdout.strip())
    home.pid_file.write_text(f"{pid}\n", encoding="utf-8")
    mapped = [opt.partition("=")[2] for opt in options if opt.startswith("-XX:SharedArchiveFile=")]
    return Spawned(pid, Path(mapped[0]) if mapped else None)


def drop_archive(archive: Path, who: str = "the server") -> None:
    """Remove an archive a JVM could not start with; the next start writes a new one."""
    log.warning("%s did not start with the class archive %s: removing it", who, archive)
    archive.unlink(missing_ok=True)


def _publish(pending: Path, archive: Path, home: Neo4jHome, *, ended_well: bool) -> None:
    """`pending` becomes `archive` if its JVM ended well and it maps; else it goes."""
    if not pending.is_file():
        return
    if ended_well and _maps(pending, home):
        os.replace(pending, archive)
        log.info("wrote the class archive %s", archive)
    else:
        pending.unlink(missing_ok=True)


def after_stop(home: Neo4jHome, *, clean: bool) -> None:
    """Publish the archive the stopped server wrote, if it stopped cleanly and the archive
    maps; otherwise throw it away."""
    try:
        dump = json.loads(home.archive_dump_file.read_text(encoding="utf-8"))
        pending, archive = Path(dump["pending"]), Path(dump["archive"])
    except (OSError, ValueError, KeyError, TypeError):
        return
    finally:
        home.archive_dump_file.unlink(missing_ok=True)
    _publish(pending, archive, home, ended_well=clean)


def _maps(archive: Path, home: Neo4jHome) -> bool:
    """Does a JVM start with `archive` required (-Xshare:on fails instead of going on)?"""
    with contextlib.suppress(subprocess.TimeoutExpired, OSError):
        proc = subprocess.run(
            [
                java_executable(),
                "-Xshare:on",
                f"-XX:SharedArchiveFile={archive}",
                "-cp",
                installation_class_path(home),
                "-version",
            ],
            capture_output=True,
            timeout=_CHECK_TIMEOUT,
            check=False,
        )
        return proc.returncode == 0
    return False
