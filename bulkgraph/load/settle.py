"""Before a command uses the server: clean up after a bulkgraph run that was killed.

A rebuild killed half-way can leave two things behind in the live home: the staging
instance (its server holds ~400 MB and a port; a neo4j-admin may still be importing into
it) and an open swap journal (see `swap.py`). Every command that touches the server (`neo4j
start`, `neo4j status`, `import`, `rebuild`, `load`) calls `settle()` first: it stops an
orphaned staging server and neo4j-admin, removes the staging folder, then finishes or undoes
the interrupted swap, and reports what it did.

"Orphaned" is decided by a lock, not by guessing: an import holds an exclusive `flock` on
`bulkgraph-operation.lock` in the live home for as long as it runs, and the kernel releases
it when that process dies, however it dies. While a live process holds it, nothing is
touched (`busy` says who holds it).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from bulkgraph.errors import BulkgraphError
from bulkgraph.load.staging import discard_staging
from bulkgraph.load.swap import Recovery, recover
from bulkgraph.server import Neo4jHome

log = logging.getLogger(__name__)

LOCK_FILE = "bulkgraph-operation.lock"


class HomeBusy(BulkgraphError):
    """Another bulkgraph process is importing into the same home."""

    def __init__(self, live: Neo4jHome, owner: str) -> None:
        super().__init__(
            f"another bulkgraph import or rebuild is working on {live.root} (pid {owner or '?'}"
            "); try again when it is done"
        )
        self.owner = owner


@contextlib.contextmanager
def operation_lock(live: Neo4jHome) -> Iterator[None]:
    """Hold the home's operation lock for the block; HomeBusy at once if another process has
    it. Not re-entrant (flock is per open file): take it once per process."""
    fd = os.open(live.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip()
            raise HomeBusy(live, owner) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


@dataclass
class Settled:
    """What `settle()` did; empty when there was nothing to clean up."""

    #: pids of the orphaned staging server and neo4j-admin processes that were stopped
    stopped_staging: list[int] = field(default_factory=list)
    #: the staging folder of a killed run was removed
    removed_staging: bool = False
    recovery: Recovery | None = None
    #: set when a running bulkgraph process holds the home: nothing was touched
    busy: str | None = None

    @property
    def acted(self) -> bool:
        return bool(self.stopped_staging or self.removed_staging or self.recovery)

    def messages(self) -> list[str]:
        said = []
        if self.busy is not None:
            said.append(f"a bulkgraph import or rebuild is running (pid {self.busy or '?'})")
        if self.stopped_staging:
            pids = ", ".join(map(str, self.stopped_staging))
            said.append(f"stopped the orphaned staging Neo4j of a killed rebuild (pid {pids})")
        elif self.removed_staging:
            said.append("removed the staging folder of a killed rebuild")
        if self.recovery is not None:
            said.append(self.recovery.message())
        return said

    def to_dict(self) -> dict[str, object]:
        return {
            "stopped_staging": self.stopped_staging,
            "removed_staging": self.removed_staging,
            "recovery": self.recovery.to_dict() if self.recovery else None,
            "busy": self.busy,
            "messages": self.messages(),
        }


def settle(live: Neo4jHome) -> Settled:
    """Clean up after a killed run (see the module docstring), unless one is running."""
    if not live.is_installed:
        return Settled()
    try:
        with operation_lock(live):
            return settle_locked(live)
    except HomeBusy as busy:
        return Settled(busy=busy.owner)


def settle_locked(live: Neo4jHome) -> Settled:
    """`settle()` for a caller that holds the operation lock."""
    settled = Settled()
    discarded = discard_staging(live)
    settled.stopped_staging = discarded.stopped
    settled.removed_staging = discarded.removed
    if discarded.stopped or discarded.removed:
        log.warning("%s: %s", live.root, settled.messages()[0])
    settled.recovery = recover(live)
    return settled
