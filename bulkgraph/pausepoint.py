"""Named points where a test can stop a command dead, to kill it there (fault injection).

With BULKGRAPH_TEST_PAUSE_AT=name (or name#n: its n-th passage) and BULKGRAPH_TEST_PAUSE_DIR
set, the process that reaches that point writes `<dir>/<name>` (holding its pid) and sleeps
until it is killed. The fault-injection tests wait for that file, not for a guessed time,
then SIGKILL the command's process group. Without the variables a point costs one lookup.

A point pauses once per folder, in whichever process gets there first: the processes of a
cluster share the variables, and the one that retries a killed worker's task must pass.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_AT = "BULKGRAPH_TEST_PAUSE_AT"
PAUSE_DIR = "BULKGRAPH_TEST_PAUSE_DIR"

_passages: dict[str, int] = {}


def pause_point(name: str) -> None:
    wanted = os.environ.get(PAUSE_AT)
    if not wanted:
        return
    point, _, nth = wanted.partition("#")
    if point != name:
        return
    _passages[name] = _passages.get(name, 0) + 1
    if _passages[name] != (int(nth) if nth else 1):
        return
    folder = Path(os.environ.get(PAUSE_DIR) or ".")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(folder / f".{name}.claimed", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return  # paused here already, in this process or another
    marker = folder / name
    tmp = folder / f".{name}.tmp"
    tmp.write_text(f"{os.getpid()}\n", encoding="utf-8")
    os.replace(tmp, marker)  # the test never sees it half-written
    while True:
        time.sleep(3600)
