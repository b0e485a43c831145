"""Install Neo4j: the jars once per version (Maven), then an instance that links to them.

Both steps are idempotent: a second `install` finds the jars and the instance in place and
only rewrites the instance's config (and not even that while its server runs).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bulkgraph.errors import BulkgraphError
from bulkgraph.server.admin import set_initial_password
from bulkgraph.server.config import bolt_port, free_port, render_conf
from bulkgraph.server.home import Installation, Neo4jHome, installation_for, resolve_home
from bulkgraph.server.java import java_executable
from bulkgraph.server.pids import server_pid
from bulkgraph.settings import Settings, get_settings

log = logging.getLogger(__name__)

# `neo4j` pulls the kernel, Cypher, Bolt and the server; Neo4j's own packaging also lists
# the import tool, which `neo4j-admin database import` needs.
_POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>bulkgraph.local</groupId>
  <artifactId>neo4j-community-lib</artifactId>
  <version>{version}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.neo4j</groupId>
      <artifactId>neo4j</artifactId>
      <version>{version}</version>
    </dependency>
    <dependency>
      <groupId>org.neo4j</groupId>
      <artifactId>neo4j-import-tool</artifactId>
      <version>{version}</version>
    </dependency>
  </dependencies>
</project>
"""


@contextmanager
def _locked(lock_file: Path) -> Iterator[None]:
    """An exclusive lock across processes: parallel test sessions may install at once."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_installation(version: str, settings: Settings | None = None) -> Installation:
    """The jars of Neo4j `version` in the cache, fetched with Maven the first time."""
    inst = installation_for(version, settings)
    if inst.is_complete:
        return inst
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BulkgraphError(
            "mvn not found on PATH: bulkgraph assembles Neo4j from Maven Central with Maven "
            "(e.g. apt-get install maven)"
        )
    with _locked(inst.lock_file):
        if inst.is_complete:  # another process finished while we waited
            return inst
        inst.root.mkdir(parents=True, exist_ok=True)
        inst.pom.write_text(_POM.format(version=version), encoding="utf-8")
        staging = Path(tempfile.mkdtemp(prefix="lib-", dir=inst.root))
        log.info("fetching Neo4j %s from Maven Central into %s", version, inst.root)
        proc = subprocess.run(
            [
                mvn,
                "-B",
                "-q",
                "-f",
                str(inst.pom),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={staging}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0 or not any(staging.glob("neo4j-*.jar")):
            shutil.rmtree(staging, ignore_errors=True)
            output = (proc.stdout + proc.stderr).strip()[-3000:]
            raise BulkgraphError(
                f"Maven could not fetch Neo4j {version} (pom: {inst.pom}; exit "
                f"{proc.returncode}). Is the version right and Maven Central reachable?\n{output}"
            )
        if inst.lib.exists():  # a partial leftover: lib/ only ever appears complete
            shutil.rmtree(inst.lib)
        staging.rename(inst.lib)
    return inst


def install(
    home: Path | str | None = None,
    version: str | None = None,
    settings: Settings | None = None,
) -> Neo4jHome:
    """Install (or refresh) a managed Neo4j instance and return its paths.

    `home` defaults to NEO4J_HOME or the managed instance in the cache; `version` to
    BULKGRAPH_NEO4J_VERSION. Memory comes from BULKGRAPH_HEAP / BULKGRAPH_PAGECACHE. The
    first install generates a random password, sets it before the first start and keeps it
    in the home (mode 0600). The config is rewritten each time (keeping the Bolt port),
    unless the server runs: then install changes nothing.
    """
    settings = settings or get_settings()
    version = version or settings.bulkgraph_neo4j_version
    target = resolve_home(home, settings)
    java_executable()  # fail early and clearly, before a long download
    if target.conf_file.exists() and not target.is_managed:
        raise BulkgraphError(
            f"{target.root} holds a Neo4j that bulkgraph did not install; "
            "choose another --home (bulkgraph only manages homes it created)"
        )
    if _running_as_installed(target, version):
        return target  # idempotent: nothing to change under a live server
    inst = ensure_installation(version, settings)

    target.make_dirs()
    if target.lib.is_symlink() and target.lib.resolve() != inst.lib.resolve():
        target.lib.unlink()  # another version, or a cache that moved
    if not target.lib.is_symlink():
        target.lib.symlink_to(inst.lib, target_is_directory=True)

    port = bolt_port(target.conf_file) or free_port()
    target.conf_file.write_text(
        render_conf(
            target,
            bolt_port=port,
            heap=settings.bulkgraph_heap,
            pagecache=settings.bulkgraph_pagecache,
            jvm=settings.bulkgraph_jvm_options,
        ),
        encoding="utf-8",
    )
    target.metadata_file.write_text(
        json.dumps({"version": version, "installation": str(inst.root)}, indent=2) + "\n",
        encoding="utf-8",
    )
    ensure_password(target)
    return target


def _running_as_installed(home: Neo4jHome, version: str) -> bool:
    """True if `home` runs, installed with `version`; its config is then left as it is.

    Raises if it runs another version: switching needs the server stopped.
    """
    pid = server_pid(home)
    if pid is None:
        return False
    installed = home.read_metadata().get("version")
    if installed != version or not home.password_file.exists():
        raise BulkgraphError(
            f"Neo4j {installed} at {home.root} is running (pid {pid}): stop it before "
            f"installing {version} (`bulkgraph neo4j stop`)"
        )
    log.info("Neo4j %s at %s is running: left as it is", version, home.root)
    return True


def write_private_file(path: Path, data: bytes) -> None:
    """Create `path` (it must not exist) with mode 0600 from the start: a password file is
    never world-readable, even for a moment."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def ensure_password(home: Neo4jHome) -> None:
    """Give a new instance a random password (mode 0600 file), set before its first start."""
    if home.password_file.exists():
        return
    if home.auth_file.exists():
        raise BulkgraphError(
            f"{home.password_file} is missing but {home.auth_file} exists: the password "
            f"cannot be recovered. Remove {home.root} and install again"
        )
    password = secrets.token_urlsafe(24)
    write_private_file(home.password_file, (password + "\n").encode("utf-8"))
    try:
        set_initial_password(home, password)
    except BaseException:
        home.password_file.unlink(missing_ok=True)
        raise
