"""bulkgraph: a historical graph of an AWS estate in Neo4j, rebuilt in bulk from snapshots."""

__version__ = "0.1.0"
