"""The xdist groups (tests/xdist_groups.py) hold on two real workers.

With pytest 9.2 and pytest-xdist 3.8, `--dist loadgroup` ignored the groups without a word
(pytest-dev/pytest-xdist#1386): every test went to whichever worker was free, and the
session graphs were built on both. This runs a small suite of the same shape on two workers
and checks where each test ran.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parent

CONFTEST = """
import pytest

@pytest.fixture(scope="session")
def built_graphs():
    return "a graph built once"
"""

#: a module's tests; each notes the module and the worker it ran on
MODULE = """
import os, time
import pytest

@pytest.mark.parametrize("n", range(12))
def test_runs(n, {fixture}):
    time.sleep(0.02)  # long enough that both workers are busy
    with open(os.environ["RAN"], "a") as f:
        f.write(f"{{__name__}} {{os.environ['PYTEST_XDIST_WORKER']}}\\n")
"""


def test_a_module_and_the_modules_sharing_a_session_graph_each_run_on_one_worker(
    tmp_path: Path,
) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(CONFTEST)
    modules = {"test_plain_a": "", "test_plain_b": "", "test_graph_a": "built_graphs"}
    modules["test_graph_b"] = "built_graphs"
    for name, fixture in modules.items():
        (suite / f"{name}.py").write_text(MODULE.format(fixture=fixture or "tmp_path"))
    ran = tmp_path / "ran.txt"
    env = {**os.environ, "RAN": str(ran), "PYTHONPATH": str(TESTS)}
    env.pop("PYTEST_XDIST_WORKER", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-p", "xdist_groups",
         "-p", "no:cacheprovider", "-q", str(suite)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    workers: dict[str, set[str]] = defaultdict(set)
    for line in ran.read_text().splitlines():
        module, worker = line.split()
        workers[module].add(worker)
    assert sorted(workers) == sorted(modules)
    assert set().union(*workers.values()) == {"gw0", "gw1"}  # both workers took tests
    for module, seen in workers.items():
        assert len(seen) == 1, f"{module} ran on {sorted(seen)}"
    assert workers["test_graph_a"] == workers["test_graph_b"]
