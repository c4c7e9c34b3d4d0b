"""`dmzwatch metrics` scraped over HTTP and parsed by prometheus_client; `dmzwatch status` on real services."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from celery import Celery
from prometheus_client.parser import text_string_to_metric_families

from tests.support.faults import free_port, private_redis
from tests.support.services import REPO, dmzwatch, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def broker_url(tmp_path: Path) -> Iterator[str]:
    """A private Redis, so no concurrent run on the shared one can take (or add to) this test's messages."""
    with private_redis(tmp_path / "broker") as server:
        yield server.url


@pytest.fixture
def ops_env(base_env: dict[str, str], postgres_url: str, broker_url: str) -> dict[str, str]:
    env = {**base_env, "DMZWATCH_DATABASE_URL": postgres_url, "DMZWATCH_BROKER_URL": broker_url}
    for command in (["db", "upgrade"], ["feeds", "sync"]):
        result = dmzwatch(command, env)
        assert result.returncode == 0, result.stderr[-2000:]
    # Two messages waiting with no worker running: the queue depth is something we know.
    client = Celery(broker=broker_url)
    try:
        for article_id in (101, 102):
            client.send_task("dmzwatch.fetch_article", args=[article_id], queue="fetch")
    finally:
        client.close()
    return env


def test_metrics_endpoint_is_scraped_and_parsed(ops_env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "metrics.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "workers.cli", "metrics", "--port", str(port)],
            env=ops_env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}/metrics"

        def scraped() -> str | None:
            try:
                response = httpx.get(url, timeout=5)
            except httpx.HTTPError:
                return None
            return response.text if response.status_code == 200 else None

        assert wait_until(scraped, timeout=30), log.read_text(errors="replace")
        body = scraped()
        assert body is not None
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body)
            for sample in family.samples
        }
        assert samples[("dmzwatch_up", (("component", "database"),))] == 1
        assert samples[("dmzwatch_up", (("component", "broker"),))] == 1
        assert samples[("dmzwatch_queue_messages", (("queue", "fetch"),))] == 2
        assert samples[("dmzwatch_queue_messages", (("queue", "nlp"),))] == 0
        assert samples[("dmzwatch_feeds", (("state", "new"),))] == 1
        assert samples[("dmzwatch_publish_to_alert_seconds_count", ())] == 0
        assert ("dmzwatch_articles_stuck", (("status", "cleaned"),)) in samples
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


def test_status_prints_a_health_summary(ops_env: dict[str, str]) -> None:
    result = dmzwatch(["status"], ops_env, timeout=60)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "fetch 2" in out, out
    assert "0 answering: NONE" in out, out  # no worker is running: the operator must see it
    assert "feeds      new 1" in out, out
    assert "last alert never" in out, out
    assert "stuck      none" in out, out


def test_status_fails_when_the_database_is_unreachable(ops_env: dict[str, str]) -> None:
    env = {**ops_env, "DMZWATCH_DATABASE_URL": f"postgresql://nobody:pw-secret@127.0.0.1:{free_port()}/none"}
    result = dmzwatch(["status", "--no-ping"], env, timeout=60)
    assert result.returncode == 1
    assert "DATABASE UNREADABLE" in result.stdout and "pw-secret" not in result.stdout
