"""Every setting bulkgraph reads from the environment, in one place.

Settings come from environment variables and from a `.env` file in the working directory.
Nothing else in the package reads `os.environ` for configuration: ask `get_settings()`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import platformdirs
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The Neo4j line bulkgraph provisions: 5.26 is the LTS line and the last one on Java 17.
DEFAULT_NEO4J_VERSION = "5.26.30"


def _default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("bulkgraph"))


class Settings(BaseSettings):
    """Where bulkgraph keeps its files and which Neo4j it talks to.

    With no `NEO4J_URI`, bulkgraph uses the Neo4j it manages itself (`bulkgraph neo4j install`)
    and finds that server's address and password in its home.
    """

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    neo4j_uri: str | None = Field(
        default=None, description="Bolt URI of your own Neo4j; unset = the managed one"
    )
    neo4j_username: str = Field(default="neo4j", description="user for NEO4J_URI")
    neo4j_password: SecretStr | None = Field(default=None, description="password for NEO4J_URI")
    neo4j_database: str = Field(default="neo4j", description="database to read and write")
    neo4j_home: Path | None = Field(
        default=None,
        description="home of the Neo4j whose neo4j-admin does bulk imports; unset = managed",
    )
    bulkgraph_neo4j_version: str = Field(
        default=DEFAULT_NEO4J_VERSION, description="Neo4j version of the managed server"
    )
    bulkgraph_cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description="cache: managed Neo4j homes, S3 downloads",
    )
    bulkgraph_heap: str = Field(default="2g", description="heap of the managed Neo4j")
    bulkgraph_pagecache: str = Field(default="2g", description="page cache of the managed Neo4j")
    bulkgraph_import_memory: str = Field(
        default="4g", description="off-heap memory cap of neo4j-admin database import"
    )
    bulkgraph_jvm_options: str = Field(
        default="",
        description="more JVM options of the managed Neo4j and its neo4j-admin, space-separated "
        "(e.g. -XX:TieredStopAtLevel=1, what the tests use: a short-lived server spends less "
        "CPU compiling code it will not run long; not for a server that runs for days)",
    )
    bulkgraph_layout: str = Field(
        default="snapshots",
        description="graph layout of a new graph: snapshots (a full copy per snapshot) or "
        "versions (one node per version; docs/versions-layout.md)",
    )
    bulkgraph_load_batch: int = Field(
        default=10_000, description="rows per transaction of LOAD CSV (bulkgraph load)"
    )
    bulkgraph_collect_read_timeout: float = Field(
        default=120.0,
        gt=0,
        description="seconds `collect` waits for one AWS response (the largest pages are slow)",
    )
    bulkgraph_collect_workers: int = Field(
        default=8,
        ge=1,
        le=64,
        description="account/region pairs `collect` collects at once",
    )
    bulkgraph_max_file_bytes: int = Field(
        default=2 << 30,
        gt=0,
        description="largest snapshot data file accepted, after decompression (bytes)",
    )
    bulkgraph_dask_scheduler: str | None = Field(
        default=None,
        description="Dask scheduler (tcp://host:8786) that transform and rebuild run the "
        "snapshots' transform on; unset = local processes",
    )
    bulkgraph_dask_shared: str | None = Field(
        default=None,
        description="where the Dask workers put their files for this machine: a folder "
        "every worker and this machine see, or an s3:// prefix",
    )

    @property
    def uses_managed_neo4j(self) -> bool:
        return self.neo4j_uri is None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
