"""The scripts in scripts/ work from a fresh clone: each sets up .venv itself.

scripts/bench and scripts/gen-estate once ran `.venv/bin/python` directly, so on a clone
where neither scripts/test nor scripts/demo had run yet they failed with "No such file or
directory". This test copies the tracked files (no .venv) and runs them there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _fresh_copy(dest: Path) -> Path:
    tracked = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True
    ).stdout.decode()
    for rel in filter(None, tracked.split("\0")):
        src = ROOT / rel
        if not src.is_file():  # deleted in the work tree, not yet committed
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    return dest


@pytest.mark.slow  # makes a venv in a copy of the checkout and pip-installs bulkgraph
def test_bench_and_gen_estate_set_up_their_own_venv(tmp_path: Path) -> None:
    repo = _fresh_copy(tmp_path / "clone")
    assert not (repo / ".venv").exists()
    # The scripts make the copy's venv and pip-install bulkgraph into it; the third-party
    # packages come from this venv's site-packages on PYTHONPATH, which pip counts as
    # installed. A full install of them took 80-110 s here, and every CI run already does one
    # from nothing (scripts/test on a clean clone); what this test is about is that the
    # scripts call the bootstrap at all.
    site = sysconfig.get_paths()["purelib"]
    env = {**os.environ, "PIP_COMPILE": "0", "PYTHONPATH": site}
    for script, usage in (("gen-estate", "usage: gen-estate"), ("bench", "usage: bench")):
        done = subprocess.run(
            [str(repo / "scripts" / script), "--help"],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
            cwd=repo,  # where the bootstrap once took the source tree for an install
        )
        assert done.returncode == 0, f"scripts/{script}: {done.stderr[-2000:]}"
        assert done.stdout.startswith(usage), done.stdout[:500]
        # the help came from the copy's own venv, not from the checkout running the tests
        assert (repo / ".venv" / "bin" / "python").exists()
    assert (repo / ".venv" / ".bulkgraph-install-dev").exists()
    # and bulkgraph in that venv is the copy's, installed by the bootstrap's pip (asked
    # without PYTHONPATH: both venvs' editable installs have a finder module of one name)
    where = subprocess.run(
        [
            str(repo / ".venv" / "bin" / "python"),
            "-c",
            "import bulkgraph; print(bulkgraph.__file__)",
        ],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        cwd=tmp_path,
        check=True,
    ).stdout.strip()
    assert Path(where).resolve().is_relative_to(repo.resolve()), where


def _ensure_browser(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = (
        f'source "{ROOT}/scripts/_bootstrap.sh"; source "{ROOT}/scripts/_browser.sh"; '
        "ensure_browser; echo ready"
    )
    return subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=60, env=env
    )


def test_the_browser_of_the_report_tests_is_installed_by_scripts_test(tmp_path: Path) -> None:
    # scripts/test installs Debian's chromium when missing; where it is there, at once
    assert "ensure_browser" in (ROOT / "scripts" / "test").read_text()
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "BULKGRAPH_CHROMIUM": str(fake)}
    done = _ensure_browser(env)
    assert (done.returncode, done.stdout, done.stderr) == (0, "ready\n", "")
    # a browser of one's own that is not there: a warning, no apt-get
    done = _ensure_browser(env | {"BULKGRAPH_CHROMIUM": str(tmp_path / "none")})
    assert done.returncode == 0 and done.stdout == "ready\n"
    assert "browser tests will skip" in done.stderr
