"""A throw-away Neo4j instance next to the live one, for building a new store safely.

The bulk rebuild imports into this staging instance, starts it, runs the post-load Cypher
and checks the counts there, while the live instance keeps serving the previous graph. Only
a store that passed all of that is swapped in (see `swap.py`). The staging instance lives
inside the live home (same file system, so the swap is a rename) and shares its jars.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from bulkgraph.errors import BulkgraphError
from bulkgraph.server import Neo4jHome, stop
from bulkgraph.server.config import free_port, render_conf
from bulkgraph.server.install import ensure_password, write_private_file
from bulkgraph.server.pids import admin_pids, alive, servers_within
from bulkgraph.settings import Settings, get_settings

log = logging.getLogger(__name__)

STAGING_DIR = "bulkgraph-staging"


def staging_home(live: Neo4jHome) -> Neo4jHome:
    return Neo4jHome(live.root / STAGING_DIR)


def prepare_staging(live: Neo4jHome, settings: Settings | None = None) -> Neo4jHome:
    """A fresh, empty staging instance using the live home's jars; any old one is removed."""
    settings = settings or get_settings()
    if not live.lib.is_dir():
        raise BulkgraphError(f"{live.lib}: no Neo4j jars; run `bulkgraph neo4j install`")
    staging = staging_home(live)
    discard_staging(live)
    staging.make_dirs()
    staging.lib.symlink_to(live.lib.resolve(), target_is_directory=True)
    staging.conf_file.write_text(
        render_conf(
            staging,
            bolt_port=free_port(),
            heap=settings.bulkgraph_heap,
            pagecache=settings.bulkgraph_pagecache,
            jvm=settings.bulkgraph_jvm_options,
        ),
        encoding="utf-8",
    )
    version = live.read_metadata().get("version", "")
    staging.metadata_file.write_text(
        json.dumps({"version": version, "role": "staging", "live": str(live.root)}) + "\n",
        encoding="utf-8",
    )
    if not _share_credentials(live, staging):
        ensure_password(staging)
    return staging


def _share_credentials(live: Neo4jHome, staging: Neo4jHome) -> bool:
    """Give staging the live instance's password: its hashed initial credentials and our
    0600 copy. Setting a new one runs `neo4j-admin` (a JVM start in every rebuild);
    the staging instance is the live one's own scratch space, so one password serves both.
    False when the live home has no such pair (e.g. a NEO4J_HOME set up by hand)."""
    if not (live.password_file.is_file() and live.auth_file.is_file()):
        return False
    staging.auth_file.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(live.auth_file, staging.auth_file)
    write_private_file(staging.password_file, live.password_file.read_bytes())
    return True


@dataclass
class Discarded:
    #: pids of the staging server(s) and neo4j-admin runs that were stopped
    stopped: list[int] = field(default_factory=list)
    #: the staging folder was there and is gone
    removed: bool = False


def discard_staging(live: Neo4jHome) -> Discarded:
    """Stop and remove the staging instance, if there is one (also a killed run's): its
    server, a neo4j-admin still importing into it, then its folder."""
    staging = staging_home(live)
    done = Discarded()
    # by command line, not by pid file: also a server whose folder is half-removed
    for root, pid in servers_within(staging.root).items():
        stop(Neo4jHome(root))
        done.stopped.append(pid)
    for pid in admin_pids(staging):
        # an import into a folder about to be deleted: nothing in it to save
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        done.stopped.append(pid)
    if staging.root.exists():
        shutil.rmtree(staging.root, ignore_errors=False, onerror=_ignore_missing)
        done.removed = True
    return done


def _ignore_missing(func: object, path: str, exc_info: object) -> None:
    if Path(path).exists():
        raise BulkgraphError(f"cannot remove {path} of the staging instance")
