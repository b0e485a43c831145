"""neo4j.conf for a managed instance: loopback only, Bolt on a free port, HTTP off."""

from __future__ import annotations

import re
import shlex
import socket
from pathlib import Path

from bulkgraph.errors import BulkgraphError
from bulkgraph.server.home import Neo4jHome

HOST = "127.0.0.1"

# Java 17: without the java.nio one the server dies at start with a LinkageError about
# DirectByteBuffer. `server.jvm.additional` is the only key Neo4j lets repeat.
_JVM_ADDITIONAL = (
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
)

_BOLT_RE = re.compile(r"^\s*server\.bolt\.listen_address\s*=\s*(\S*?):?(\d+)\s*$", re.MULTILINE)
_MEMORY_RE = re.compile(r"^\d+[kKmMgG]?$")


def jvm_options(text: str) -> list[str]:
    """BULKGRAPH_JVM_OPTIONS as a list of options; BulkgraphError for anything else."""
    try:
        options = shlex.split(text)
    except ValueError as exc:
        raise BulkgraphError(f"BULKGRAPH_JVM_OPTIONS={text!r}: {exc}") from exc
    for option in options:
        if not option.startswith("-"):
            raise BulkgraphError(
                f"BULKGRAPH_JVM_OPTIONS={text!r}: {option!r} is not a JVM option (-X..., -D...)"
            )
    return options


def render_conf(
    home: Neo4jHome, *, bolt_port: int, heap: str, pagecache: str, jvm: str = ""
) -> str:
    """The config of `home`; `jvm`: BULKGRAPH_JVM_OPTIONS, added after ours (neo4j-admin
    runs with the server's JVM options, so it gets them too)."""
    for name, value in (("heap", heap), ("pagecache", pagecache)):
        if not _MEMORY_RE.match(value):
            raise BulkgraphError(
                f"BULKGRAPH_{name.upper()}={value!r}: expected a size like 512m or 2g"
            )
    extra = jvm_options(jvm)
    lines = [
        "# Written by bulkgraph (`bulkgraph neo4j install`); rewritten on every install.",
        f"server.default_listen_address={HOST}",
        f"server.default_advertised_address={HOST}",
        f"server.bolt.listen_address={HOST}:{bolt_port}",
        f"server.bolt.advertised_address={HOST}:{bolt_port}",
        "server.http.enabled=false",
        "server.https.enabled=false",
        "dbms.usage_report.enabled=false",
        "dbms.security.auth_enabled=true",
        f"server.memory.heap.initial_size={heap}",
        f"server.memory.heap.max_size={heap}",
        f"server.memory.pagecache.size={pagecache}",
        # relative to the home, so that a home can be moved or copied
        f"server.directories.import={home.import_dir.name}",
        f"server.directories.data={home.data.name}",
        f"server.directories.logs={home.logs.name}",
        f"server.directories.run={home.run_dir.name}",
        f"server.directories.plugins={home.plugins.name}",
        # the query log records every statement with its parameters: not wanted here
        "db.logs.query.enabled=OFF",
        # Bolt's netty loops otherwise idle 5s each on shutdown (10s per stop); the databases
        # are already closed by then, so this only shortens the wait
        "internal.dbms.bolt.netty_server_shutdown_quiet_period=0",
        *(f"server.jvm.additional={opt}" for opt in (*_JVM_ADDITIONAL, *extra)),
    ]
    return "\n".join(lines) + "\n"


def bolt_port(conf_file: Path) -> int | None:
    """The Bolt port a neo4j.conf sets (the last setting wins, as in Neo4j)."""
    try:
        text = conf_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    matches = _BOLT_RE.findall(text)
    return int(matches[-1][1]) if matches else None


def set_bolt_port(conf_file: Path, port: int) -> None:
    text = conf_file.read_text(encoding="utf-8")
    text = re.sub(
        r"^(\s*server\.bolt\.(?:listen|advertised)_address\s*=\s*\S*?:)\d+\s*$",
        lambda m: f"{m.group(1)}{port}",
        text,
        flags=re.MULTILINE,
    )
    conf_file.write_text(text, encoding="utf-8")


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it, so parallel runs differ)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def bolt_uri(port: int) -> str:
    return f"bolt://{HOST}:{port}"
