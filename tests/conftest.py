"""Every test gets its own data home: never the real warehouse, never the working directory."""

from __future__ import annotations

import pytest

# the ingest tests' `conn` fixture and the document tests' province, shared without importing them into each module
pytest_plugins = ["ingest_fixtures", "document_fixtures"]


@pytest.fixture(autouse=True)
def zhengai_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("ZHENGAI_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    return home
