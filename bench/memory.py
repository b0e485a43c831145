"""Peak memory of a process tree, sampled from /proc.

`resource.getrusage(RUSAGE_CHILDREN).ru_maxrss` only gives the largest single child, and the
transform's cost is the sum of its coordinator and its worker processes running at the same
time, so a thread samples the resident set of the whole tree (a root pid and every
descendant) and keeps the largest sum seen.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType

_PROC = Path("/proc")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended while we looked
            continue
        # the command name (field 2) may hold spaces and parentheses: split after the last ')'
        fields = stat[stat.rfind(")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def tree_pids(root: int) -> list[int]:
    """`root` and all its descendants that are alive now."""
    children = _children_map()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def rss_bytes(pid: int) -> int:
    try:
        fields = (_PROC / str(pid) / "statm").read_text().split()
    except OSError:
        return 0
    return int(fields[1]) * _PAGE


def tree_rss(root: int) -> int:
    return sum(rss_bytes(pid) for pid in tree_pids(root))


def cpu_ticks() -> tuple[int, int]:
    """(steal, total) CPU ticks of the machine since boot, from the first line of /proc/stat.

    Steal is time the hypervisor gave our virtual CPUs to someone else: on a shared VM the
    same run can be half again as slow from one hour to the next, and load average alone
    does not show it. (0, 0) where /proc/stat is unreadable.
    """
    try:
        fields = [int(x) for x in (_PROC / "stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return (0, 0)
    # user nice system idle iowait irq softirq steal (guest time is already in user)
    return (fields[7] if len(fields) > 7 else 0, sum(fields))


def steal_percent(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share of CPU time stolen between two `cpu_ticks()` readings, in percent."""
    total = after[1] - before[1]
    return round(100.0 * (after[0] - before[0]) / total, 1) if total > 0 else 0.0


def load_average() -> tuple[float, float, float]:
    one, five, fifteen = os.getloadavg()
    return (round(one, 2), round(five, 2), round(fifteen, 2))


class PeakSampler:
    """`with PeakSampler(pid) as s: ...` then `s.peak` (bytes): the largest tree RSS seen.

    `pid` defaults to this process, so children started inside the block are included.
    """

    def __init__(self, pid: int | None = None, interval: float = 0.1) -> None:
        self.pid = pid if pid is not None else os.getpid()
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                return

    def sample(self) -> None:
        self.peak = max(self.peak, tree_rss(self.pid))
        self.samples += 1

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
