"""The families: one module per AWS operation, found here by module name.

Each module of this package (but `base`, the labels every family shares) maps one operation
and defines `FAMILY`, a `bulkgraph.transform.family.Family` naming that operation: its
declarations, what it reads, and its function (docs/adding-a-family.md). `FAMILIES`, keyed by
operation name, is the one list of mapped operations: the transform calls
`FAMILIES[operation](graph, responses)`, and `schema.py` collects their declarations. Adding
a module adds its family; nothing else lists them.
"""

from __future__ import annotations

import importlib
import pkgutil

from bulkgraph.transform.family import Family, FamilyCount, Graph

_SHARED = {"base"}


def _discover() -> dict[str, Family]:
    found: dict[str, Family] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name in _SHARED or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        family = getattr(module, "FAMILY", None)
        if not isinstance(family, Family):
            raise ImportError(f"{module.__file__}: a family module defines FAMILY = Family(...)")
        if family.operation in found:
            raise ImportError(f"{module.__file__}: {family.operation} is mapped twice")
        found[family.operation] = family
    return found


#: operation -> its family, in the order of their modules' names
FAMILIES: dict[str, Family] = _discover()

__all__ = ["FAMILIES", "Family", "FamilyCount", "Graph"]
