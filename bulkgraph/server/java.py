"""The JVM side: find Java, and build the launcher command lines Neo4j's scripts would run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import lru_cache

from bulkgraph.errors import BulkgraphError
from bulkgraph.server.home import Neo4jHome

#: What `bin/neo4j` runs; it forks the server JVM (org.neo4j.server.CommunityEntryPoint).
SERVER_LAUNCHER = "org.neo4j.server.startup.Neo4jCommand"
#: What `bin/neo4j-admin` runs; it forks org.neo4j.cli.AdminTool.
ADMIN_LAUNCHER = "org.neo4j.server.startup.Neo4jAdminCommand"
#: The class of the JVM that ADMIN_LAUNCHER forks.
ADMIN_MAIN = "org.neo4j.cli.AdminTool"
#: The class of the server JVM itself, to recognise it among processes.
SERVER_MAIN = "org.neo4j.server.CommunityEntryPoint"

MIN_JAVA = 17


@lru_cache(maxsize=1)
def java_executable() -> str:
    """`java` from PATH, checked to be Java 17 or newer."""
    java = shutil.which("java")
    if java is None:
        raise BulkgraphError(
            f"java not found on PATH: Neo4j 5.26 needs Java {MIN_JAVA} or newer "
            "(e.g. apt-get install openjdk-17-jre-headless)"
        )
    proc = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', proc.stderr + proc.stdout)
    if match is None:
        raise BulkgraphError(f"{java} -version: cannot read the Java version")
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8" style
        major = int(match.group(2))
    if major < MIN_JAVA:
        raise BulkgraphError(f"{java} is Java {major}: Neo4j 5.26 needs Java {MIN_JAVA} or newer")
    return java


def launcher_env(home: Neo4jHome) -> dict[str, str]:
    """Environment for Neo4j's launchers."""
    env = dict(os.environ)
    env["NEO4J_HOME"] = str(home.root)
    env["NEO4J_CONF"] = str(home.conf_dir)
    # JAVA_OPTS would replace every JVM option of the server, the --add-opens ones included
    env.pop("JAVA_OPTS", None)
    return env


def launcher_command(home: Neo4jHome, main_class: str, args: list[str]) -> list[str]:
    return [java_executable(), "-cp", f"{home.lib}{os.sep}*", main_class, *args]
