"""The whole pipeline, extract -> transform -> load, wired in one place (`rebuild`).

The stages know nothing of each other beyond their hand-offs (snapshots, the CSV folder);
this package runs them in order with one `Settings` object from start to end.
"""

from bulkgraph.pipeline.rebuild import RebuildSummary, rebuild

__all__ = ["RebuildSummary", "rebuild"]
