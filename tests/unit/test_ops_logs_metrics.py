"""Structured logs with redaction, and metrics read from the database (SQLite here, no services)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from dmzwatch.db.migrate import upgrade
from dmzwatch.db.models import Alert, Article, Feed, Incident
from dmzwatch.db.session import session_scope
from dmzwatch.logs import ChatterFilter, JsonFormatter, RedactingTextFormatter, Redactor
from dmzwatch.metrics import DmzwatchCollector
from dmzwatch.settings import Settings

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("dmzwatch.test", logging.WARNING, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_json_lines_carry_ids_and_redact_secrets() -> None:
    settings = Settings(
        slack_webhook_url="https://hooks.slack.com/services/T000/B000/XXXXSECRET",
        webhook_secret="hmac-key-123",
        flower_basic_auth="admin:flower-pass",
    )
    formatter = JsonFormatter(Redactor.from_settings(settings))
    line = formatter.format(
        _record(
            "delivery to %s failed; db postgresql://dmz:pg-pass@db:5432/x; fetch https://x.org/a?token=abc123&id=4 "
            "key hmac-key-123 auth flower-pass",
            "https://hooks.slack.com/services/T000/B000/XXXXSECRET",
            article_id=12,
            incident_id=3,
        )
    )
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "dmzwatch.test"
    assert entry["article_id"] == 12 and entry["incident_id"] == 3
    for secret in ("XXXXSECRET", "pg-pass", "abc123", "hmac-key-123", "flower-pass"):
        assert secret not in line, secret
    assert "postgresql://dmz:***@db:5432/x" in entry["message"]
    assert "token=***&id=4" in entry["message"]


def test_redaction_catches_secrets_in_exception_text() -> None:
    formatter = JsonFormatter(Redactor())
    try:
        raise ConnectionError("POST https://hooks.slack.com/services/T1/B2/abcdef failed")
    except ConnectionError:
        import sys

        record = _record("send failed")
        record.exc_info = sys.exc_info()
    line = formatter.format(record)
    assert "abcdef" not in line and "hooks.slack.com/services/***" in json.loads(line)["exception"]


def test_text_format_appends_ids_and_redacts() -> None:
    text = RedactingTextFormatter(Redactor(["sekrit-value"])).format(_record("value sekrit-value", alert_id=7))
    assert text.endswith("value *** [alert_id=7]")


def test_collector_reads_figures_from_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    upgrade(url)
    sessions = partial(session_scope, url)
    with sessions() as session:
        session.add(Feed(url="https://example.org/feed", name="Wire", enabled=True, consecutive_failures=2))
        for index, status in enumerate(["extracted", "extracted", "irrelevant", "cleaned", "failed"]):
            session.add(
                Article(
                    url=f"https://example.org/{index}",
                    canonical_url=f"https://example.org/{index}",
                    status=status,
                    discovered_at=NOW - timedelta(hours=2),
                    fetched_at=NOW - timedelta(hours=2) + timedelta(seconds=3),
                    updated_at=NOW - timedelta(hours=2) + timedelta(seconds=10),
                    attempts=1,
                )
            )
        incident = Incident(
            event_type="Explosions/Remote violence",
            sub_event_type="Air/drone strike",
            place_name="Kafr Nabl",
            place_key="k",
            geo_precision=1,
            zone_status="inside",
            zones=[],
            confidence=0.8,
            first_seen_at=NOW,
            updated_at=NOW,
        )
        session.add(incident)
        session.flush()
        for channel, status, latency in (("slack", "sent", 90), ("webhook-1", "sent", 400), ("webhook-2", "failed", 0)):
            session.add(
                Alert(
                    incident_id=incident.id,
                    incident_version=1,
                    channel=channel,
                    kind="new",
                    status=status,
                    attempts=1,
                    created_at=NOW,
                    source_published_at=NOW - timedelta(seconds=latency),
                    sent_at=NOW if status == "sent" else None,
                )
            )
    registry = CollectorRegistry()
    registry.register(DmzwatchCollector(sessions, None, [], stuck_after=timedelta(minutes=30), clock=lambda: NOW))
    families = {f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())}

    def value(name: str, **labels: str) -> float:
        for family in families.values():
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return sample.value
        raise AssertionError(f"{name}{labels} missing")

    assert value("dmzwatch_articles", status="extracted") == 2
    assert value("dmzwatch_articles_stuck", status="cleaned") == 1
    assert value("dmzwatch_incidents", zone_status="inside") == 1
    assert value("dmzwatch_alerts", status="failed", channel="webhook-2") == 1
    assert value("dmzwatch_publish_to_alert_seconds_bucket", le="120.0") == 1
    assert value("dmzwatch_publish_to_alert_seconds_bucket", le="600.0") == 2
    assert value("dmzwatch_publish_to_alert_seconds_count") == 2
    assert value("dmzwatch_publish_to_alert_seconds_sum") == pytest.approx(490, abs=0.01)  # julianday precision
    assert value("dmzwatch_article_stage_seconds_count", stage="fetched_to_extracted") == 2
    assert value("dmzwatch_feed_consecutive_failures", feed="Wire") == 2
    assert value("dmzwatch_up", component="database") == 1
    assert value("dmzwatch_last_alert_sent_timestamp_seconds") == NOW.timestamp()


def test_collector_reports_an_unreadable_database_instead_of_failing(tmp_path: Path) -> None:
    sessions = partial(session_scope, f"sqlite:///{tmp_path / 'never-migrated.sqlite3'}")
    registry = CollectorRegistry()
    registry.register(DmzwatchCollector(sessions, None, [], stuck_after=timedelta(minutes=30), clock=lambda: NOW))
    families = {f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())}
    assert [s.value for s in families["dmzwatch_up"].samples] == [0.0]


def test_slack_bot_token_is_redacted() -> None:
    from dmzwatch.logs import Redactor
    from dmzwatch.settings import Settings

    redactor = Redactor.from_settings(Settings(slack_bot_token="xoxb-1234-5678-secretvalue"))
    assert "secretvalue" not in redactor("posting with xoxb-1234-5678-secretvalue failed")


def test_celery_and_httpx_chatter_only_at_debug() -> None:
    def record(name: str, msg: str, level: int = logging.INFO) -> logging.LogRecord:
        return logging.LogRecord(name, level, __file__, 1, msg, None, None)

    chatter = [
        record("celery.app.trace", "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s"),
        record("celery.worker.strategy", "Task %(name)s[%(id)s] received"),
        record("celery.beat", "Scheduler: Sending due task %s (%s)"),
        record("httpx", 'HTTP Request: %s %s "%s %d %s"'),
    ]
    news = [
        record("celery.app.trace", "Task %(name)s[%(id)s] retry: %(exc)s"),  # a retry is news
        record("dmzwatch.stages.incidents", "incident 4 created: v1 ..."),
        record("httpx", "connection pool exhausted", logging.WARNING),
    ]
    quiet, loud = ChatterFilter(logging.INFO), ChatterFilter(logging.DEBUG)
    assert [quiet.filter(r) for r in chatter] == [False] * len(chatter)
    assert all(quiet.filter(r) for r in news)
    assert all(loud.filter(r) for r in chatter + news)
