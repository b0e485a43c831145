"""Graphs built once per session and put back by copying their store (the ``built_graphs``
fixture of tests/conftest.py).

Many modules need "the graph of samples/ (or of the churn history) in layout L" only to ask
questions of it. A rebuild costs half a minute, mostly fixed JVM costs (transform, importer,
server starts); putting back a copy of the store it made costs a server stop and start. So
the first module that asks for a graph builds it through the real path (its own `build`
callable: `rebuild()` or `bulk_import()`, with its own assertions), and later ones get the
same store back:

- the server already holds that graph, unchanged since (no transaction written): nothing
  to do;
- else the server is stopped; the graph it held is copied aside first if it was one of these
  and still unchanged (copied when the server leaves it, so that a graph nobody asks for
  again costs nothing); then the asked-for graph is copied back in if it was kept, or built.

"Unchanged" is read from the transaction log files (names, sizes, modification times): a
committed write, a schema change or a new store changes them; reads, stops and starts do not
(checkpoints go to their own `checkpoint.*` files, left out).

Tests of rebuild itself (its paths, swaps, failures, the CLI) do not use this: they rebuild.
The store folders moved are those the swap moves (bulkgraph.load.swap): the database's
``data/databases/neo4j`` and ``data/transactions/neo4j``.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bulkgraph.layout import Layout
from bulkgraph.server import server_pid

if TYPE_CHECKING:
    from conftest import ManagedNeo4j

Fingerprint = tuple[tuple[str, int, int], ...]

_BLOCK = 1 << 20
_ZEROS = bytes(_BLOCK)


def graph_key(
    sources: Sequence[str], layout: Layout, account_id: str | None
) -> tuple[tuple[str, ...], str, str | None]:
    """What makes a graph built by the pipeline (discover, transform, bulk import) the same:
    its sources, its layout, and the account its legacy archives are read as."""
    return tuple(sources), layout.value, account_id


class BuiltGraphs:
    """Stores of graphs built in this session, by a key naming what was built and how."""

    def __init__(self, server: ManagedNeo4j, root: Path) -> None:
        self.server = server
        self.root = root
        self._kept: dict[Hashable, Path] = {}
        #: the graph the server holds, and the fingerprint it had when it got there
        self._held: tuple[Hashable, Fingerprint] | None = None
        #: what each `ensure` did ("held", "put back", "built") and how many seconds it took
        self.events: list[tuple[str, float]] = []

    def _fingerprint(self) -> Fingerprint:
        folder = self.server.home.transactions_dir()
        if not folder.is_dir():
            return ()
        return tuple(
            sorted(
                (p.name, p.stat().st_size, p.stat().st_mtime_ns)
                for p in folder.iterdir()
                if not p.name.startswith("checkpoint")
            )
        )

    def held(self) -> Hashable | None:
        """The key of the graph the server holds as it was built, or None."""
        if self._held is None:
            return None
        key, fingerprint = self._held
        return key if self._fingerprint() == fingerprint else None

    def ensure(self, key: Hashable, build: Callable[[], None]) -> None:
        """Make the server hold graph `key` (running): kept, put back, or built by `build`,
        which is called with the server stopped and must leave it running with the graph."""
        t0 = time.monotonic()
        held = self.held()
        if held == key:
            self.server.start()  # no-op when running
            self.events.append(("held", time.monotonic() - t0))
            return
        self.server.stop()
        if held is not None and held not in self._kept:
            self._kept[held] = self._copy_out(len(self._kept))
        self._held = None
        if key in self._kept:
            self._copy_in(self._kept[key])
            self.server.start()
            action = "put back"
        else:
            self.server.close_driver()
            build()
            assert server_pid(self.server.home) is not None, f"build of {key!r} left it stopped"
            action = "built"
        self._held = (key, self._fingerprint())
        self.events.append((action, time.monotonic() - t0))

    def summary(self) -> str:
        """One line for the end of the session: how often the graphs were built, put back."""
        count: Counter[str] = Counter()
        seconds: dict[str, float] = {}
        for action, took in self.events:
            count[action] += 1
            seconds[action] = seconds.get(action, 0.0) + took
        return ", ".join(f"{count[a]} {a} ({seconds[a]:.0f} s)" for a in count)

    def _copy_out(self, n: int) -> Path:
        home = self.server.home
        dest = self.root / f"graph-{n}"
        shutil.copytree(home.store_dir(), dest / "databases", copy_function=_copy_sparse)
        shutil.copytree(home.transactions_dir(), dest / "transactions", copy_function=_copy_sparse)
        return dest

    def _copy_in(self, kept: Path) -> None:
        home = self.server.home
        assert server_pid(home) is None, "the server must be stopped to swap its store"
        for live, saved in (
            (home.store_dir(), kept / "databases"),
            (home.transactions_dir(), kept / "transactions"),
        ):
            shutil.rmtree(live, ignore_errors=True)
            shutil.copytree(saved, live, copy_function=_copy_sparse)


def _copy_sparse(src: str, dst: str) -> None:
    """`shutil.copy2`, with all-zero blocks left as holes: Neo4j preallocates its transaction
    log (256 MB), of which an import writes a few kilobytes; a full copy of each kept graph
    would cost that much disk and time."""
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while block := fin.read(_BLOCK):
            if block == _ZEROS[: len(block)]:
                fout.seek(len(block), os.SEEK_CUR)
            else:
                fout.write(block)
        fout.truncate()  # the size, trailing hole included
    shutil.copystat(src, dst)
