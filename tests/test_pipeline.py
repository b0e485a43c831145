"""The pipeline package: a rebuild runs every stage with the Settings it was given."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulkgraph.errors import BulkgraphError
from bulkgraph.pipeline import rebuild
from bulkgraph.settings import Settings, get_settings

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def test_rebuild_uses_the_settings_it_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The environment's cache folder is not the one given: tar snapshots must be extracted
    into the given one, and the import must look for Neo4j where the given settings say."""
    from_env = tmp_path / "env-cache"
    monkeypatch.setenv("BULKGRAPH_CACHE_DIR", str(from_env))
    monkeypatch.delenv("NEO4J_HOME", raising=False)
    get_settings.cache_clear()
    assert get_settings().bulkgraph_cache_dir == from_env
    given = Settings(bulkgraph_cache_dir=tmp_path / "given-cache", neo4j_home=tmp_path / "no-neo4j")

    with pytest.raises(BulkgraphError, match=r"no Neo4j installed at .*no-neo4j"):
        rebuild([str(SAMPLES / "20261125T020000Z.tar.gz")], workers=1, settings=given)

    extracted = tmp_path / "given-cache" / "snapshots" / "extracted"
    assert [p.name for p in extracted.glob("*/*")] == ["20261125T020000Z"]
    assert not from_env.exists()
