"""Settings come from the environment and a .env file, through one object."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulkgraph.settings import Settings


def test_environment_and_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("NEO4J_URI=bolt://db.example:7687\nNEO4J_PASSWORD=s3cret\n")
    monkeypatch.setenv("BULKGRAPH_HEAP", "1g")
    monkeypatch.delenv("NEO4J_URI", raising=False)
    settings = Settings()
    assert settings.neo4j_uri == "bolt://db.example:7687"
    assert settings.neo4j_password is not None
    assert settings.neo4j_password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)
    assert settings.bulkgraph_heap == "1g"
    assert not settings.uses_managed_neo4j


def test_an_empty_variable_counts_as_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEO4J_HOME", "")
    monkeypatch.setenv("NEO4J_URI", "")
    settings = Settings()
    assert settings.neo4j_home is None
    assert settings.uses_managed_neo4j
