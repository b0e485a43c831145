"""Starting the server JVM directly, and its class-data-sharing archive, on the real thing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import neo4j
import pytest

from bulkgraph import server
from bulkgraph.server import launch
from bulkgraph.server.config import bolt_port
from bulkgraph.server.home import Neo4jHome
from bulkgraph.server.java import ADMIN_LAUNCHER, launcher_command, launcher_env
from bulkgraph.settings import Settings

SMALL = Settings(_env_file=None, bulkgraph_heap="256m", bulkgraph_pagecache="64m")  # type: ignore[call-arg]

#: every test installs and starts a server of its own
pytestmark = pytest.mark.neo4j


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Neo4jHome]:
    installed = server.install(tmp_path / "home", settings=SMALL)
    yield installed
    server.stop(installed)


@pytest.fixture
def private_home(tmp_path: Path) -> Iterator[Neo4jHome]:
    """A home whose installation (and so its class archives) is this test's alone: the
    archive tests break and remove the archive, which servers of other test sessions on the
    machine (pytest-xdist workers) map and rewrite."""
    shared = server.install(tmp_path / "probe", settings=SMALL).lib.resolve()
    cache = tmp_path / "cache"
    lib = cache / "neo4j" / shared.parent.name / "lib"
    lib.mkdir(parents=True)
    for jar in shared.iterdir():  # links to the cached jars: no Maven run
        (lib / jar.name).symlink_to(jar)
    installed = server.install(
        tmp_path / "home", settings=SMALL.model_copy(update={"bulkgraph_cache_dir": cache})
    )
    assert installed.lib.resolve() == lib
    yield installed
    server.stop(installed)


def _jvm_options(pid: int) -> list[str]:
    args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return [arg.decode() for arg in args if arg.startswith(b"-XX:")]


def _mapped_archives(pid: int) -> set[str]:
    """The class archives the JVM `pid` has mapped: what it uses, not what it was told."""
    maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {line.split()[-1] for line in maps if line.endswith(".jsa")}


def _answers(home: Neo4jHome) -> bool:
    uri = f"bolt://127.0.0.1:{bolt_port(home.conf_file)}"
    with neo4j.GraphDatabase.driver(uri, auth=("neo4j", home.read_password() or "")) as driver:
        return bool(driver.execute_query("RETURN 1 AS one").records[0]["one"] == 1)


def _replace(archive: Path, data: bytes) -> None:
    # never write into an archive in place: running servers map it (a new inode is safe)
    tmp = archive.with_name(archive.name + ".test")
    tmp.write_bytes(data)
    os.replace(tmp, archive)


def test_the_command_line_is_the_launchers_and_follows_the_config(home: Neo4jHome) -> None:
    command = launch.server_command(home)
    assert "org.neo4j.server.CommunityEntryPoint" in command
    assert f"--home-dir={home.root.resolve()}" in command
    assert "--console-mode" not in command  # what `neo4j start` runs, not `neo4j console`
    assert "-Xmx262144k" in command  # the 256m heap of the config
    # a changed config is asked for again, not served from the cache
    conf = home.conf_file.read_text().replace(
        "server.memory.heap.max_size=256m", "server.memory.heap.max_size=300m"
    )
    home.conf_file.write_text(conf)
    assert "-Xmx307200k" in launch.server_command(home)


def test_a_new_home_reuses_the_command_line_another_home_got(
    home: Neo4jHome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = launch.server_command(home)
    other = server.install(tmp_path / "other", settings=SMALL)  # same config but the port

    def no_launcher(_: Neo4jHome) -> list[str]:
        raise AssertionError("asked the launcher again")

    monkeypatch.setattr(launch, "_ask_launcher", no_launcher)
    second = launch.server_command(other)
    assert f"--home-dir={other.root}" in second
    assert second == [arg.replace(str(home.root), str(other.root)) for arg in first]


def test_the_admin_command_line_is_the_one_neo4j_admin_runs(home: Neo4jHome) -> None:
    args = ["--verbose", "database", "info", "neo4j"]
    proc = subprocess.run(
        launcher_command(home, ADMIN_LAUNCHER, args),
        env=launcher_env(home),
        capture_output=True,
        text=True,
        check=False,
    )
    said = [
        line.partition(": ")[2]
        for line in proc.stdout.splitlines()
        if line.startswith("Executing command line: ")
    ]
    assert said, proc.stdout + proc.stderr
    assert launch.admin_command(home, args) == said[0].split(" ")
    # and it works: the same command run directly
    direct = server.run_admin(["server", "memory-recommendation"], home, on_line=None)
    assert "server.memory.heap.max_size=" in direct.tail


def test_the_class_archive_is_written_once_outlives_its_home_and_is_rewritten_when_broken(
    private_home: Neo4jHome, tmp_path: Path
) -> None:
    """One archive's life, in the order a machine lives it (one scenario, not three tests:
    a server start that writes the archive costs ~15 s here)."""
    archive = launch.class_archive(private_home)
    assert archive is not None
    archive.unlink(missing_ok=True)  # as on a machine where no server ran yet

    # the first server writes it at exit
    first = server.start(private_home)
    assert first.pid is not None
    writes = [o for o in _jvm_options(first.pid) if o.startswith("-XX:ArchiveClassesAtExit=")]
    assert len(writes) == 1
    assert _answers(private_home)
    server.stop(private_home)
    assert archive.is_file()  # written at exit, checked, then published
    assert not private_home.archive_dump_file.exists()
    assert not Path(writes[0].partition("=")[2]).exists()  # its pending file was published

    # A staging home writes the archive and is deleted after the swap; a test's home is
    # deleted with its tmp_path. Every later server of the installation must still map it.
    cache = private_home.lib.resolve().parent.parent.parent
    shutil.rmtree(private_home.root)
    other = server.install(
        tmp_path / "other", settings=SMALL.model_copy(update={"bulkgraph_cache_dir": cache})
    )
    assert launch.class_archive(other) == archive
    try:
        second = server.start(other)
        assert second.pid is not None
        assert f"-XX:SharedArchiveFile={archive}" in _jvm_options(second.pid)
        assert str(archive) in _mapped_archives(second.pid)
        assert _answers(other)
        server.stop(other)

        good = archive.read_bytes()
        _replace(archive, good[: len(good) // 10])  # truncated: the JVM dies of SIGBUS mapping it
        started = server.start(other)
        assert started.pid is not None
        assert _answers(other)
        # the retry ran without the broken archive, and writes a new one at exit
        assert any(o.startswith("-XX:ArchiveClassesAtExit=") for o in _jvm_options(started.pid))
        assert not archive.exists()
        server.stop(other)
        assert archive.stat().st_size > len(good) // 10
        again = server.start(other)
        assert again.pid is not None
        assert f"-XX:SharedArchiveFile={archive}" in _jvm_options(again.pid)
        assert str(archive) in _mapped_archives(again.pid)
    finally:
        server.stop(other)


def _pending_dump(home: Neo4jHome, folder: Path, data: bytes) -> tuple[Path, Path]:
    """What a server started to write an archive leaves: the file and the note about it."""
    pending, archive = folder / "server-x.1234.tmp", folder / "server-x.jsa"
    pending.write_bytes(data)
    home.archive_dump_file.write_text(
        json.dumps({"pending": str(pending), "archive": str(archive)})
    )
    return pending, archive


def test_an_archive_from_an_unclean_stop_is_thrown_away(tmp_path: Path) -> None:
    home = Neo4jHome(tmp_path / "home")
    home.make_dirs()
    pending, archive = _pending_dump(home, tmp_path, b"half an archive")
    launch.after_stop(home, clean=False)
    assert not pending.exists() and not archive.exists()
    assert not home.archive_dump_file.exists()


def test_an_archive_that_does_not_map_is_not_published(tmp_path: Path, home: Neo4jHome) -> None:
    # a clean stop, but the file is not an archive the JVM maps (a dump cut short)
    pending, archive = _pending_dump(home, tmp_path, b"not an archive")
    launch.after_stop(home, clean=True)
    assert not pending.exists() and not archive.exists()


def test_a_home_with_its_own_jars_gets_no_archive(tmp_path: Path) -> None:
    home = Neo4jHome(tmp_path / "byhand")
    home.make_dirs()
    home.lib.mkdir()  # a Neo4j set up by hand: never write next to its jars
    assert launch.class_archive(home) is None


def test_pending_archives_left_by_a_killed_server_are_swept(tmp_path: Path) -> None:
    stale, fresh, kept = (
        tmp_path / "server-a.1.tmp",
        tmp_path / "server-a.2.tmp",
        tmp_path / "x.jsa",
    )
    for path in (stale, fresh, kept):
        path.write_bytes(b"x")
    now = time.time()
    os.utime(stale, (now - launch.STALE_PENDING_SECONDS - 60,) * 2)
    os.utime(kept, (now - 10 * launch.STALE_PENDING_SECONDS,) * 2)
    assert launch.sweep_stale_pending(tmp_path, now) == [stale]
    # one being written right now (a server exiting) stays, and so does every archive
    assert sorted(p.name for p in tmp_path.iterdir()) == ["server-a.2.tmp", "x.jsa"]


# -- the importer's class archive -----------------------------------------------------------


def _import_args(tmp_path: Path) -> list[str]:
    nodes = tmp_path / "things.csv"
    nodes.write_text("id:ID,name\na,first\nb,second\n", encoding="utf-8")
    return [
        "database",
        "import",
        "full",
        "neo4j",
        "--overwrite-destination=true",
        f"--nodes=Thing={nodes}",
    ]


def _admin_jvm_archives(archive: Path) -> set[str]:
    """The class archives the running neo4j-admin JVM told to map `archive` has mapped
    (empty if no such JVM runs)."""
    with_archive = f"-XX:SharedArchiveFile={archive}".encode()
    for proc in Path("/proc").iterdir():
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
            if with_archive in args and launch.ADMIN_MAIN.encode() in args:
                return _mapped_archives(int(proc.name))
        except (OSError, ValueError):
            continue
    return set()


def test_the_first_import_writes_the_importer_archive_and_later_imports_map_it(
    private_home: Neo4jHome, tmp_path: Path
) -> None:
    archive = launch.class_archive(private_home, "import")
    assert archive is not None and archive != launch.class_archive(private_home)
    assert not archive.exists()
    args = _import_args(tmp_path)
    how = launch.admin_launch(private_home, args)
    assert how is not None and how.pending is not None and how.mapped is None
    # other admin commands load other classes: no archive for them
    other = launch.admin_launch(private_home, ["server", "memory-recommendation"])
    assert other is not None and other.pending is None and other.mapped is None

    first = server.run_admin(args, private_home, on_line=None)
    assert "IMPORT DONE" in first.tail
    # writing the archive prints nothing into the importer's output
    assert "[cds]" not in first.tail
    assert archive.is_file()  # written as the importer exited, checked, published
    assert not list(archive.parent.glob("*.tmp"))

    seen: list[set[str]] = []

    def look(line: str) -> None:
        if not seen:  # the JVM is up once it prints: what did it map?
            seen.append(_admin_jvm_archives(archive))

    second = server.run_admin(args, private_home, on_line=look)
    assert "IMPORT DONE" in second.tail
    assert seen and str(archive) in seen[0]


def test_an_importer_archive_that_does_not_map_is_dropped_and_the_import_still_runs(
    private_home: Neo4jHome, tmp_path: Path
) -> None:
    archive = launch.class_archive(private_home, "import")
    assert archive is not None
    archive.parent.mkdir(parents=True, exist_ok=True)
    _replace(archive, b"not a class archive")  # what a JVM or disk problem could leave
    args = _import_args(tmp_path)
    how = launch.admin_launch(private_home, args)
    assert how is not None and how.mapped == archive

    done = server.run_admin(args, private_home, on_line=None)
    assert done.returncode == 0 and "IMPORT DONE" in done.tail
    assert not archive.exists()  # dropped; the run after it wrote none
    # a failed import with a good archive is the import's failure, and keeps the archive
    server.run_admin(args, private_home, on_line=None)
    assert archive.is_file()
    bad = [*args[:-1], f"--nodes=Thing={tmp_path / 'missing.csv'}"]
    failed = server.run_admin(bad, private_home, check=False, on_line=None)
    assert failed.returncode != 0
    assert archive.is_file()
