"""Which pytest-xdist worker runs which tests (scripts/test runs `--dist loadgroup`).

A module's tests run on one worker, so that its module fixtures are built once. The modules
that read a costly session fixture (graphs built once and kept for the session) all run on
one worker, which then builds each of them once: one group for all of these fixtures, not
one per fixture, because a module may read more than one (the report's versions tests read
the churn history and the built graphs), and a graph two modules share would otherwise be
built on both workers.

tests/conftest.py applies this; tests/test_xdist_groups.py runs it as a plugin
(`-p xdist_groups`) on a small suite, on two workers.
"""

from __future__ import annotations

import pytest

#: the session fixtures that build something costly (tests/conftest.py)
SHARED_FIXTURES = ("versions_history", "query_graphs", "built_graphs")
SHARED_GROUP = "shared-session-graphs"


def module_of(item: pytest.Item) -> str:
    """The test file of an item, as its node id names it."""
    return item.nodeid.split("::", 1)[0]


def assign_groups(items: list[pytest.Item]) -> None:
    """Mark every item with its xdist group: its module's, or the shared one."""
    groups: dict[str, str] = {}
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        module = module_of(item)
        if any(f in names for f in SHARED_FIXTURES):
            groups[module] = SHARED_GROUP
        else:
            groups.setdefault(module, module)
    for item in items:
        item.add_marker(pytest.mark.xdist_group(groups[module_of(item)]))


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """As a plugin of its own (`-p xdist_groups`); tests/conftest.py calls assign_groups."""
    assign_groups(items)
