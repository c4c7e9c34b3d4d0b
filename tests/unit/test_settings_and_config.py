from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from dmzwatch.feeds_config import ConfigError, load_feeds_file
from dmzwatch.settings import Settings

REPO = Path(__file__).resolve().parent.parent.parent


def test_every_setting_is_documented_in_example_env() -> None:
    documented = set(re.findall(r"^#?\s*(DMZWATCH_[A-Z0-9_]+)=", (REPO / "config/example.env").read_text(), re.M))
    fields = {f"DMZWATCH_{name.upper()}" for name in Settings.model_fields}
    assert fields == documented


def test_defaults_are_embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DMZWATCH_DATA_DIR", str(tmp_path))
    settings = Settings()
    assert settings.embedded_broker
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path / 'dmzwatch.sqlite3'}"
    assert settings.http_allow_hosts == ()


def test_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DMZWATCH_DATABASE_URL", "postgresql://u:p@db:5432/x")
    monkeypatch.setenv("DMZWATCH_BROKER_URL", "redis://r:6379/0")
    monkeypatch.setenv("DMZWATCH_HTTP_ALLOW_HOSTS", "127.0.0.1, feeds.internal,10.0.0.0/8")
    settings = Settings()
    assert settings.sqlalchemy_url == "postgresql+psycopg://u:p@db:5432/x"
    assert not settings.embedded_broker
    assert settings.http_allow_hosts == ("127.0.0.1", "feeds.internal", "10.0.0.0/8")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DMZWATCH_HTTP_ALLOW_HOSTS", "10.0.0.0/33"),
        ("DMZWATCH_FLOWER_BASIC_AUTH", "nopassword"),
        ("DMZWATCH_ALERT_MAX_AGE_H", "-1"),
        ("DMZWATCH_HTTP_MAX_BYTES", "lots"),
    ],
)
def test_bad_settings_are_clear_errors(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_shipped_feeds_file_is_valid() -> None:
    specs = load_feeds_file(REPO / "config/feeds.yaml")
    assert len(specs) >= 5 and all(str(s.url).startswith("https://") for s in specs)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("feeds: {oops", "not valid YAML"),
        ("feeds:\n  - {name: a}", "feeds.0.url"),
        ("feeds:\n  - {name: a, url: 'https://x.org/f', interval: 1}", "interval"),
        ("feeds:\n  - {name: a, url: 'https://x.org/f'}\n  - {name: b, url: 'https://x.org/f'}", "listed twice"),
        ("feeds:\n  - {name: a, url: 'https://x.org/f', colour: red}", "colour"),
    ],
)
def test_bad_feeds_files(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment):
        load_feeds_file(path)
