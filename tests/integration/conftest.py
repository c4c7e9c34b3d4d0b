from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import NewsSite, WebhookReceiver, news_site, webhook_receiver
from tests.support.services import fresh_postgres_database, fresh_redis_db

pytestmark = pytest.mark.integration


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def redis_url() -> Iterator[str]:
    with fresh_redis_db() as url:
        yield url


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with news_site() as served:
        yield served


@pytest.fixture
def slack() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture
def base_env(tmp_path: Path, site: NewsSite, slack: WebhookReceiver) -> dict[str, str]:
    """Environment for the real processes: feeds from the local site, alerts to the local receiver."""
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text(f"feeds:\n  - name: Levant Wire\n    url: {site.base}/feed.xml\n    interval: 60\n")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DMZWATCH_") and key not in ("CELERY_BROKER_URL",)
    }
    env.update(
        {
            "DMZWATCH_DATA_DIR": str(tmp_path / "var"),
            "DMZWATCH_FEEDS_FILE": str(feeds_file),
            "DMZWATCH_SLACK_WEBHOOK_URL": f"{slack.base}/services/T000/B000/XXXX",
            "DMZWATCH_HTTP_ALLOW_HOSTS": "127.0.0.1",
            "DMZWATCH_SCHEDULE_TICK_S": "1",
            "DMZWATCH_LOG_LEVEL": "INFO",
        }
    )
    return env
