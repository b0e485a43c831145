"""Where a Neo4j installation and a Neo4j instance keep their files: the one place that knows.

An *installation* is the set of jars for one Neo4j version, assembled once by Maven and
shared by every instance on the machine (read-only after install). An *instance* (a
"home") is what one running server owns: its config, data, logs, import folder, pid file
and password. The instance's `lib` is a symlink to an installation, so several instances
(for example one per test session) can run side by side, each on its own Bolt port.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bulkgraph.settings import Settings, get_settings

#: The user database: Community has exactly one.
DEFAULT_DATABASE = "neo4j"

_INSTALLATIONS = "neo4j"
_DEFAULT_INSTANCE = ("neo4j", "instance")


@dataclass(frozen=True)
class Installation:
    """The cached jars of one Neo4j version: `<cache>/neo4j/<version>/lib/*.jar`."""

    root: Path
    version: str

    @property
    def lib(self) -> Path:
        return self.root / "lib"

    @property
    def class_archives(self) -> Path:
        """Class-data-sharing archives of the server JVM, one per JVM build (see launch.py)."""
        return self.root / "class-archives"

    @property
    def launch_commands(self) -> Path:
        """The server command lines Neo4j's launcher built, by config (see launch.py)."""
        return self.root / "launch-commands.json"

    @property
    def pom(self) -> Path:
        return self.root / "pom.xml"

    @property
    def lock_file(self) -> Path:
        return self.root.parent / f"{self.version}.lock"

    @property
    def is_complete(self) -> bool:
        # lib/ only appears by an atomic rename after Maven succeeded (see install.py)
        return self.lib.is_dir() and any(self.lib.glob("neo4j-*.jar"))


@dataclass(frozen=True)
class Neo4jHome:
    """The files of one Neo4j instance (NEO4J_HOME)."""

    root: Path

    @property
    def conf_dir(self) -> Path:
        return self.root / "conf"

    @property
    def conf_file(self) -> Path:
        return self.conf_dir / "neo4j.conf"

    @property
    def lib(self) -> Path:
        return self.root / "lib"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def import_dir(self) -> Path:
        """`server.directories.import`: where LOAD CSV's `file:///x.csv` points."""
        return self.root / "import"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def plugins(self) -> Path:
        return self.root / "plugins"

    @property
    def pid_file(self) -> Path:
        """Holds the pid of the server JVM itself (written by bulkgraph and by the server)."""
        return self.run_dir / "neo4j.pid"

    @property
    def server_command_file(self) -> Path:
        """For a home with jars of its own: the launcher's command lines (see launch.py)."""
        return self.run_dir / "bulkgraph-server-command.json"

    @property
    def archive_dump_file(self) -> Path:
        """Present while the running server dumps a class archive at exit (see launch.py)."""
        return self.run_dir / "bulkgraph-class-archive-dump.json"

    @property
    def password_file(self) -> Path:
        """The neo4j user's password, mode 0600; written by `install`."""
        return self.root / "password"

    @property
    def auth_file(self) -> Path:
        """Neo4j's own (hashed) credentials; exists once a password was set or the server ran."""
        return self.data / "dbms" / "auth.ini"

    @property
    def metadata_file(self) -> Path:
        """bulkgraph's record of the instance (version); its presence marks a managed home."""
        return self.root / "bulkgraph-instance.json"

    @property
    def user_log(self) -> Path:
        return self.logs / "neo4j.log"

    @property
    def debug_log(self) -> Path:
        return self.logs / "debug.log"

    @property
    def server_out(self) -> Path:
        """The server JVM's own stdout and stderr (JVM warnings, a crash before logging)."""
        return self.logs / "server.out"

    def store_dir(self, database: str = DEFAULT_DATABASE) -> Path:
        """The store files of a database (removed/replaced by a full bulk import)."""
        return self.data / "databases" / database

    def transactions_dir(self, database: str = DEFAULT_DATABASE) -> Path:
        return self.data / "transactions" / database

    def make_dirs(self) -> None:
        """Create the folders an instance writes to (not `lib`, a link to an installation)."""
        for folder in (
            self.conf_dir,
            self.data,
            self.logs,
            self.import_dir,
            self.run_dir,
            self.plugins,
        ):
            folder.mkdir(parents=True, exist_ok=True)

    @property
    def is_managed(self) -> bool:
        """True for homes bulkgraph created (it may rewrite their config)."""
        return self.metadata_file.is_file()

    @property
    def is_installed(self) -> bool:
        return self.conf_file.is_file() and self.lib.is_dir()

    def read_metadata(self) -> dict[str, str]:
        try:
            data = json.loads(self.metadata_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def read_password(self) -> str | None:
        try:
            return self.password_file.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None


def installation_for(version: str, settings: Settings | None = None) -> Installation:
    settings = settings or get_settings()
    return Installation(
        root=settings.bulkgraph_cache_dir / _INSTALLATIONS / version, version=version
    )


def default_home_dir(settings: Settings | None = None) -> Path:
    """The managed instance used when no NEO4J_HOME / --home is given."""
    settings = settings or get_settings()
    return settings.bulkgraph_cache_dir.joinpath(*_DEFAULT_INSTANCE)


def resolve_home(home: Path | str | None = None, settings: Settings | None = None) -> Neo4jHome:
    """The instance to act on: `home` if given, else NEO4J_HOME, else the default managed one."""
    settings = settings or get_settings()
    if home is None:
        home = settings.neo4j_home or default_home_dir(settings)
    return Neo4jHome(Path(home).expanduser().absolute())
