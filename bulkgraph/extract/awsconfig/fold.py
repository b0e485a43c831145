"""The state of one account and region as of a time, folded from its Config files.

Steps come in time order. At each step `t`, the latest configuration snapshot file at or
before `t` (if one came since the last step) replaces the state; then the history items
captured after that snapshot and at or before `t` are applied, each resource keeping its
latest item (capture time, then `configurationStateId`). A deleted item ends its resource
(and stays as a tombstone, so that an older item read later cannot bring it back).

The state lives in a SQLite file (`store.py`): memory holds one item being read, whatever
the size of the file or the estate. A history file whose period runs past `t` is read again
at the next step rather than buffered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from bulkgraph.extract.awsconfig.adapters import ADAPTERS, Held, hold
from bulkgraph.extract.awsconfig.files import ConfigItem
from bulkgraph.extract.awsconfig.keys import ConfigFile
from bulkgraph.extract.awsconfig.store import Store
from bulkgraph.extract.model import Problem, unreadable

Reader = Callable[[ConfigFile], Iterator[ConfigItem]]


@dataclass
class Broken:
    """A type whose history has a hole from `since` (an unreadable file) until the next
    snapshot file replaces the state."""

    since: datetime
    location: str


@dataclass
class RegionState:
    account_id: str
    region: str
    #: per resource, its latest item (deleted ones too), on disk
    store: Store = field(repr=False)
    snapshots: list[ConfigFile] = field(default_factory=list)
    histories: list[ConfigFile] = field(default_factory=list)
    #: resource type -> when Config first told anything about it
    known_since: dict[str, datetime] = field(default_factory=dict)
    broken: dict[str, Broken] = field(default_factory=dict)
    #: the time of the snapshot file the state was last replaced from
    base: datetime | None = None
    _next_snapshot: int = 0
    _next_history: int = 0
    _open: list[ConfigFile] = field(default_factory=list)

    #: the time of its first Config file (of any type: Config was on from then)
    first_time: datetime | None = None

    def add(self, file: ConfigFile) -> None:
        if self.first_time is None or file.start < self.first_time:
            self.first_time = file.start
        if file.is_snapshot:
            self.snapshots.append(file)
        elif file.resource_type in ADAPTERS:  # the history of other types is never read
            self.histories.append(file)

    def prepare(self) -> None:
        self.snapshots.sort()
        self.histories.sort()

    def advance(self, t: datetime, read: Reader) -> list[Problem]:
        """Bring the state to time `t` (steps must not go back in time)."""
        problems: list[Problem] = []
        due = [
            i
            for i in range(self._next_snapshot, len(self.snapshots))
            if self.snapshots[i].start <= t
        ]
        # the latest snapshot file that can be read replaces the state; older ones are
        # superseded by it (an unreadable one falls back to the one before it, or history)
        for i in reversed(due):
            file = self.snapshots[i]
            try:
                self._replace(file, read)
            except Exception as exc:
                problems.append(Problem(file.location, unreadable(exc)))
                continue
            break
        if due:
            self._next_snapshot = due[-1] + 1
        while (
            self._next_history < len(self.histories)
            and self.histories[self._next_history].start <= t
        ):
            self._open.append(self.histories[self._next_history])
            self._next_history += 1
        still_open = []
        for file in self._open:
            if self.base is not None and file.end <= self.base:
                continue  # every item in it is older than the snapshot the state came from
            try:
                for item in read(file):
                    if item.capture_time <= t:
                        self._apply(item)
            except Exception as exc:
                problems.append(Problem(file.location, unreadable(exc)))
                self.broken.setdefault(file.resource_type, Broken(file.start, file.location))
                continue
            if file.end > t:
                still_open.append(file)
        self._open = still_open
        return problems

    @property
    def scope(self) -> str:
        return f"{self.account_id}/{self.region}"

    def _replace(self, file: ConfigFile, read: Reader) -> None:
        staging = self.scope + "#next"
        told: set[str] = set()
        self.store.clear(staging)
        try:
            for item in read(file):
                if item.resource_type in ADAPTERS:
                    self.store.put(staging, hold(item))
                    if item.tells_type:
                        told.add(item.resource_type)
        except Exception:
            self.store.clear(staging)
            raise
        self.store.move(staging, self.scope)
        self.base = file.start
        self.broken.clear()
        for rtype in told:
            self.known_since[rtype] = min(self.known_since.get(rtype, file.start), file.start)

    def _apply(self, item: ConfigItem) -> None:
        if item.resource_type not in ADAPTERS:
            return
        if self.base is not None and item.capture_time <= self.base:
            return  # the snapshot file the state came from knows better
        self.store.put(self.scope, hold(item))  # kept if newer than what the store holds
        since = self.known_since.get(item.resource_type)
        if item.tells_type and (since is None or item.capture_time < since):
            self.known_since[item.resource_type] = item.capture_time

    def current(self, resource_type: str, by_load_balancer: bool = False) -> Iterator[Held]:
        """The resources of a type that exist in the state (deleted ones left out), in the
        order of a data file."""
        return self.store.current(self.scope, resource_type, by_load_balancer)

    def any_unrecorded(self, resource_type: str) -> bool:
        """Whether the state holds a resource of the type whose configuration is unknown."""
        return self.store.any_unrecorded(self.scope, resource_type)
