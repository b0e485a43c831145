"""The Neo4j that bulkgraph manages: install it from Maven Central, start, stop, administer.

Public API (import from here):

- `resolve_home(home=None) -> Neo4jHome`: the paths of an instance (NEO4J_HOME or the default).
- `install(home=None, version=None) -> Neo4jHome`: idempotent; jars cached per version.
- `start(home=None) -> ServerStatus`, `stop(home=None) -> ServerStatus`, `status(home=None)`
  (with every server JVM running in the home: `running_servers(home)`).
- `stopped(home=None)`: context manager; server stopped inside, restarted after if it ran.
- `run_admin(args, home=None, check=True, on_line=...) -> AdminResult`: neo4j-admin.
"""

from bulkgraph.server.admin import AdminResult, run_admin
from bulkgraph.server.home import (
    DEFAULT_DATABASE,
    Installation,
    Neo4jHome,
    default_home_dir,
    installation_for,
    resolve_home,
)
from bulkgraph.server.install import ensure_installation, install
from bulkgraph.server.process import (
    RunningServer,
    ServerStatus,
    log_tail,
    running_servers,
    server_pid,
    start,
    status,
    stop,
    stopped,
)

__all__ = [
    "DEFAULT_DATABASE",
    "AdminResult",
    "Installation",
    "Neo4jHome",
    "RunningServer",
    "ServerStatus",
    "default_home_dir",
    "ensure_installation",
    "install",
    "installation_for",
    "log_tail",
    "resolve_home",
    "run_admin",
    "running_servers",
    "server_pid",
    "start",
    "status",
    "stop",
    "stopped",
]
