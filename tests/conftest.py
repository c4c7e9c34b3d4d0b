from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The process environment as a fresh install sees it: no DMZWATCH_* variable but a data directory of the
    test's own, and settings read anew. Yields the test's directory."""
    from dmzwatch.settings import get_settings

    for key in [k for k in os.environ if k.startswith("DMZWATCH_") and not k.startswith("DMZWATCH_TEST_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("DMZWATCH_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()
