"""`dmzwatch feeds list|add|disable|enable|health` through the real Typer app, on a fresh SQLite database."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dmzwatch.http import reset_http_client
from dmzwatch.settings import get_settings
from tests.support.servers import news_site
from workers.cli import app


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def _cli(env: None, *args: str) -> Result:
    result = CliRunner().invoke(app, ["feeds", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Result(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text("feeds:\n  - name: Wire\n    url: https://wire.example/feed\n    interval: 600\n")
    for key in [k for k in os.environ if k.startswith("DMZWATCH_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("DMZWATCH_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DMZWATCH_FEEDS_FILE", str(feeds_file))
    get_settings.cache_clear()
    yield None
    get_settings.cache_clear()


def test_add_disable_enable_and_health(env: None) -> None:
    added = _cli(
        env, "add", "https://news.example/rss", "--name", "News", "--interval", "900", "--general-news", "--no-check"
    )
    assert added.returncode == 0, added.stderr
    assert "added feed 2: News <https://news.example/rss>, polled every 900s" in added.stdout
    assert _cli(env, "add", "https://news.example/rss", "--no-check").returncode == 1  # already there
    bad = _cli(env, "add", "ftp://news.example/rss")
    assert bad.returncode == 2 and "invalid feed: url" in bad.stderr

    disabled = _cli(env, "disable", "1")
    assert disabled.returncode == 0 and "feed 1 disabled" in disabled.stdout
    rows = [json.loads(line) for line in _cli(env, "list", "--json").stdout.splitlines()]
    assert [(r["id"], r["state"], r["disabled_reason"]) for r in rows] == [
        (1, "disabled", "disabled by an operator"),  # the feeds file's sync (run by `list`) kept it disabled
        (2, "new", None),
    ]
    assert rows[1]["general_news"] is True and rows[1]["poll_interval_s"] == 900

    health = _cli(env, "health", "--strict")
    assert health.returncode == 0, health.stdout  # nothing failing or silent yet
    assert health.stdout.startswith("feeds: 0 ok, 0 silent, 0 failing, 1 new, 1 disabled")
    assert "disabled by an operator" in health.stdout

    assert _cli(env, "enable", "https://wire.example/feed").returncode == 0
    assert _cli(env, "disable", "99").returncode == 1
    states = [json.loads(line)["state"] for line in _cli(env, "health", "--json").stdout.splitlines()]
    assert states == ["new", "new"]


def test_add_fetches_the_feed_first_and_refuses_a_page_that_is_not_one(
    env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DMZWATCH_HTTP_ALLOW_HOSTS", "127.0.0.1")
    get_settings.cache_clear()
    reset_http_client()
    with news_site() as site:
        page = _cli(env, "add", f"{site.base}/news/kafr-nabl-strikes")
        assert page.returncode == 1 and "not added" in page.stderr and "HTML page" in page.stderr, page.stderr
        added = _cli(env, "add", f"{site.base}/feed.xml", "--name", "Levant Wire")
    assert added.returncode == 0, added.stderr
    assert "added feed 2: Levant Wire" in added.stdout and "; 3 entries, latest: " in added.stdout
    reset_http_client()


def test_opml_export_then_import_round_trips_and_reports_bad_files(env: None, tmp_path: Path) -> None:
    assert _cli(env, "add", "https://news.example/rss", "--name", "News & Views", "--no-check").returncode == 0
    exported = tmp_path / "feeds.opml"
    assert _cli(env, "export", "--format", "opml", "--output", str(exported)).returncode == 0
    text = exported.read_text()
    assert 'xmlUrl="https://news.example/rss"' in text and 'title="News &amp; Views"' in text

    listing = tmp_path / "reader.opml"
    listing.write_text(
        '<?xml version="1.0"?><opml version="1.0"><head><title>reader</title></head><body>'
        '<outline text="Syria"><outline text="Monitor" type="rss" xmlUrl="https://monitor.example/feed"/>'
        '<outline text="Bad" type="rss" xmlUrl="gopher://old.example/feed"/></outline>'
        '<outline text="News" type="rss" xmlUrl="https://news.example/rss"/></body></opml>'
    )
    imported = _cli(env, "import", str(listing))
    assert imported.returncode == 1  # one feed skipped, and said why
    assert "3 feeds listed, 1 added, 1 already present, 1 skipped" in imported.stdout
    assert "skipped gopher://old.example/feed" in imported.stderr
    names = [json.loads(line)["name"] for line in _cli(env, "list", "--json").stdout.splitlines()]
    assert names == ["Wire", "News & Views", "Monitor"]

    broken = tmp_path / "broken.opml"
    broken.write_text("<opml><body><outline text='x'></body>")
    failed = _cli(env, "import", str(broken))
    assert failed.returncode == 2 and "broken.opml:1:" in failed.stderr and "not valid XML" in failed.stderr
