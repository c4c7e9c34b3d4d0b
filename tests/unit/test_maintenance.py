"""Self-healing and silence alarms against a real SQLite database (no services): dmzwatch.maintenance."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import chain
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from dmzwatch import maintenance
from dmzwatch.alerts.webhook import verify
from dmzwatch.db.migrate import upgrade
from dmzwatch.db.models import Alert, Article, Feed, Incident, SilenceAlarm
from dmzwatch.db.session import session_scope
from dmzwatch.errors import TransientError
from dmzwatch.http import SafeHttpClient
from dmzwatch.settings import Settings
from tests.support.servers import WebhookReceiver, webhook_receiver

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
Sessions = Callable[[], AbstractContextManager[Session]]


@pytest.fixture
def sessions(tmp_path: Path) -> Sessions:
    url = f"sqlite:///{tmp_path / 'test.sqlite3'}"
    upgrade(url)
    return partial(session_scope, url)


def _article(sessions: Sessions, slug: str, status: str, updated_at: datetime, discovered_at: datetime = NOW) -> int:
    with sessions() as session:
        article = Article(
            url=f"https://example.org/{slug}",
            canonical_url=f"https://example.org/{slug}",
            status=status,
            discovered_at=discovered_at,
            updated_at=updated_at,
            attempts=0,
        )
        session.add(article)
        session.flush()
        return article.id


def _row(sessions: Sessions, article_id: int) -> Article:
    with sessions() as session:
        article = session.get_one(Article, article_id)
        session.expunge(article)
        return article


def test_stage_attempts_count_per_stage_and_fail_past_the_limit(sessions: Sessions) -> None:
    article_id = _article(sessions, "a", "cleaned", NOW)
    for _ in range(3):
        assert maintenance.claim_stage_attempt(sessions, article_id, "extract", max_attempts=3, now=NOW)
    row = _row(sessions, article_id)
    assert (row.status, row.stage_attempts, row.attempt_stage) == ("cleaned", 3, "cleaned")
    assert not maintenance.claim_stage_attempt(sessions, article_id, "extract", max_attempts=3, now=NOW)
    row = _row(sessions, article_id)
    assert row.status == "failed"
    assert row.error is not None and row.error.startswith("extract: gave up after 3 deliveries")


def test_a_new_stage_starts_its_count_again_and_moved_rows_are_not_counted(sessions: Sessions) -> None:
    article_id = _article(sessions, "a", "new", NOW)
    assert maintenance.claim_stage_attempt(sessions, article_id, "fetch", max_attempts=2, now=NOW)
    assert maintenance.claim_stage_attempt(sessions, article_id, "fetch", max_attempts=2, now=NOW)
    with sessions() as session:
        session.get_one(Article, article_id).status = "fetched"
    assert maintenance.claim_stage_attempt(sessions, article_id, "clean", max_attempts=2, now=NOW)
    assert (_row(sessions, article_id).stage_attempts, _row(sessions, article_id).attempt_stage) == (1, "fetched")
    # A redelivered fetch message finds the row moved: not counted, the stage itself will return early.
    assert maintenance.claim_stage_attempt(sessions, article_id, "fetch", max_attempts=2, now=NOW)
    assert _row(sessions, article_id).stage_attempts == 1


def _plan(
    sessions: Sessions, now: datetime, busy: set[str] | None = None, max_alert_attempts: int = 5
) -> maintenance.RequeuePlan:
    return maintenance.plan_requeue(
        sessions,
        now=now,
        stuck_after=timedelta(minutes=30),
        alert_pending_after=timedelta(hours=1),
        max_stage_attempts=5,
        max_alert_attempts=max_alert_attempts,
        busy_stages=busy or set(),
    )


def test_requeue_takes_only_rows_past_the_deadline_once_and_skips_busy_queues(sessions: Sessions) -> None:
    old = NOW - timedelta(hours=1)
    lost_fetch = _article(sessions, "lost-fetch", "new", old)
    lost_extract = _article(sessions, "lost-extract", "cleaned", old)
    waiting_clean = _article(sessions, "waiting-clean", "fetched", old)
    fresh = _article(sessions, "fresh", "cleaned", NOW - timedelta(minutes=1))
    done = _article(sessions, "done", "extracted", old)
    plan = _plan(sessions, NOW, busy={"clean"})
    assert plan.articles == {"fetch": [lost_fetch], "extract": [lost_extract]}
    assert done not in chain.from_iterable(plan.articles.values())
    # Touched: the next pass waits a whole deadline before sending them again.
    again = _plan(sessions, NOW + timedelta(minutes=1))
    assert again.articles == {"clean": [waiting_clean]}
    later = _plan(sessions, NOW + timedelta(minutes=40))
    assert sorted(chain.from_iterable(later.articles.values())) == sorted(
        [lost_fetch, lost_extract, fresh, waiting_clean]
    )


def test_requeue_fails_rows_that_used_their_attempts(sessions: Sessions) -> None:
    old = NOW - timedelta(hours=1)
    article_id = _article(sessions, "poison", "cleaned", old)
    with sessions() as session:
        row = session.get_one(Article, article_id)
        row.stage_attempts, row.attempt_stage = 5, "cleaned"
    plan = maintenance.plan_requeue(
        sessions,
        now=NOW,
        stuck_after=timedelta(minutes=30),
        alert_pending_after=timedelta(hours=1),
        max_stage_attempts=5,
        max_alert_attempts=5,
    )
    assert plan.articles == {} and plan.failed_articles == [article_id]
    assert _row(sessions, article_id).status == "failed"


def _incident_and_alert(sessions: Sessions, created_at: datetime, attempts: int) -> int:
    with sessions() as session:
        incident = Incident(
            event_type="Explosions/Remote violence",
            sub_event_type="Air/drone strike",
            place_name="Kafr Nabl",
            place_key="kafr-nabl",
            geo_precision=1,
            zone_status="inside",
            zones=["idlib-dmz"],
            confidence=0.8,
            first_seen_at=created_at,
            updated_at=created_at,
        )
        session.add(incident)
        session.flush()
        alert = Alert(
            incident_id=incident.id,
            incident_version=1,
            channel="slack",
            kind="new",
            status="pending",
            attempts=attempts,
            created_at=created_at,
        )
        session.add(alert)
        session.flush()
        return alert.id


def test_pending_alerts_are_requeued_once_per_deadline_then_failed(sessions: Sessions) -> None:
    lost = _incident_and_alert(sessions, NOW - timedelta(hours=2), attempts=1)
    assert _plan(sessions, NOW, max_alert_attempts=3).alerts == [lost]
    assert _plan(sessions, NOW, max_alert_attempts=3).alerts == []
    assert _plan(sessions, NOW + timedelta(hours=2), busy={"alert"}, max_alert_attempts=3).alerts == []
    with sessions() as session:
        session.get_one(Alert, lost).attempts = 3
    later = _plan(sessions, NOW + timedelta(hours=2), max_alert_attempts=3)
    assert later.alerts == [] and later.failed_alerts == [lost]


def test_a_send_that_crashed_is_requeued_as_soon_as_its_lease_ends_whatever_the_queue(sessions: Sessions) -> None:
    crashed = _incident_and_alert(sessions, NOW - timedelta(minutes=2), attempts=1)
    with sessions() as session:  # the worker died mid-send: the lease it took is still on the row
        session.get_one(Alert, crashed).lease_until = NOW + timedelta(seconds=30)
    assert _plan(sessions, NOW, busy={"alert"}).alerts == []  # still leased: maybe still sending
    after = NOW + timedelta(seconds=31)
    # Minutes after creation, not an hour, and although the alerts queue holds other work.
    assert _plan(sessions, after, busy={"alert"}).alerts == [crashed]
    assert _plan(sessions, after + timedelta(minutes=1)).alerts == []  # once per lease
    with sessions() as session:  # the re-sent message crashed its worker too: a new lease, a new re-send
        session.get_one(Alert, crashed).lease_until = after + timedelta(minutes=2)
    assert _plan(sessions, after + timedelta(minutes=3)).alerts == [crashed]


def test_a_retry_whose_message_was_lost_is_requeued(sessions: Sessions) -> None:
    waiting = _incident_and_alert(sessions, NOW - timedelta(minutes=20), attempts=3)
    with sessions() as session:  # two failed sends; the third try was due ten minutes ago and never ran
        alert = session.get_one(Alert, waiting)
        alert.failures, alert.next_attempt_at = 3, NOW - timedelta(minutes=10)
    assert _plan(sessions, NOW, busy={"alert"}, max_alert_attempts=2).alerts == [waiting]  # failures: no crashes
    assert _plan(sessions, NOW + timedelta(minutes=1)).alerts == []
    with sessions() as session:
        session.get_one(Alert, waiting).next_attempt_at = NOW + timedelta(minutes=2)  # the next failure
    assert _plan(sessions, NOW + timedelta(minutes=5)).alerts == []  # not yet overdue
    assert _plan(sessions, NOW + timedelta(minutes=8)).alerts == [waiting]


def test_a_digest_whose_message_was_lost_is_sent_again(sessions: Sessions) -> None:
    waiting = [_incident_and_alert(sessions, NOW - timedelta(minutes=m), attempts=0) for m in (20, 12)]
    with sessions() as session:
        for alert_id in waiting:
            session.get_one(Alert, alert_id).status = "digest"
    window = timedelta(minutes=10)
    plan = partial(_plan, sessions)
    # Due at the end of the first one's window (10 min ago); a message may still be on time for 5 minutes.
    assert (
        maintenance.plan_requeue(
            sessions,
            now=NOW - timedelta(minutes=6),
            stuck_after=timedelta(minutes=30),
            alert_pending_after=timedelta(hours=1),
            max_stage_attempts=5,
            max_alert_attempts=5,
            digest_window=window,
        ).digests
        == []
    )
    assert plan(NOW).digests == ["slack"]
    assert plan(NOW + timedelta(minutes=1)).digests == []  # re-sent once, not every tick
    assert plan(NOW + timedelta(minutes=6)).digests == ["slack"]  # still waiting: that message was lost too


def test_operator_retry_and_failing_channels(sessions: Sessions) -> None:
    failed = _incident_and_alert(sessions, NOW - timedelta(hours=50), attempts=30)
    pending = _incident_and_alert(sessions, NOW - timedelta(minutes=40), attempts=2)
    with sessions() as session:
        row = session.get_one(Alert, failed)
        row.status, row.failures, row.last_error = "failed", 30, "gave up after 30 failed tries"
        row = session.get_one(Alert, pending)
        row.failures, row.first_failure_at, row.last_error = 2, NOW - timedelta(minutes=39), "500 from slack"
    listed = maintenance.list_alerts(sessions, statuses=["failed"])
    assert [(a.id, a.place_name, a.failures) for a in listed] == [(failed, "Kafr Nabl", 30)]
    with sessions() as session:
        assert maintenance.oldest_undelivered_alert(session) == NOW - timedelta(minutes=40)
    (channel,) = maintenance.failing_channels(sessions, now=NOW, longer_than=timedelta(minutes=15))
    assert (channel.channel, channel.alerts, channel.last_error) == ("slack", 1, "500 from slack")
    assert maintenance.failing_channels(sessions, now=NOW, longer_than=timedelta(hours=1)) == []
    assert maintenance.retry_alerts(sessions, now=NOW, all_failed=True, channel="webhook-1") == []
    assert maintenance.retry_alerts(sessions, now=NOW, ids=[pending]) == []  # not failed: already on its way
    assert maintenance.retry_alerts(sessions, now=NOW, all_failed=True) == [failed]
    with sessions() as session:
        row = session.get_one(Alert, failed)
        assert (row.status, row.attempts, row.failures, row.retried_at) == ("pending", 0, 0, NOW)


def test_a_failing_channel_raises_one_alarm_per_outage_then_a_reminder(
    sessions: Sessions, caplog: pytest.LogCaptureFixture
) -> None:
    alert_id = _incident_and_alert(sessions, NOW - timedelta(minutes=30), attempts=4)
    with sessions() as session:
        row = session.get_one(Alert, alert_id)
        row.failures, row.first_failure_at, row.last_error = 4, NOW - timedelta(minutes=29), "slack answered 500"
    due = partial(maintenance.channel_alarms_due, sessions, longer_than=timedelta(minutes=15))
    assert due(now=NOW - timedelta(minutes=20)) == []  # failing for 9 min: not yet
    with caplog.at_level("ERROR"):
        (text,) = due(now=NOW)
    assert "alert channel slack has been failing for 29 min" in text and "slack answered 500" in text
    assert text in caplog.text  # the log line is the alarm of record
    assert due(now=NOW + timedelta(minutes=1)) == []  # one alarm per outage
    # The first alert is failed by now; a newer one is failing: the same outage, no new alarm...
    newer = _incident_and_alert(sessions, NOW, attempts=2)
    with sessions() as session:
        session.get_one(Alert, alert_id).status = "failed"
        row = session.get_one(Alert, newer)
        row.failures, row.first_failure_at, row.last_error = 2, NOW, "slack answered 502"
    assert due(now=NOW + timedelta(hours=1)) == []
    (reminder,) = due(now=NOW + timedelta(hours=7))  # ...until the reminder is due
    assert "slack answered 502" in reminder


def test_alert_attempts_exhausted_fails_only_pending_alerts_over_the_limit(sessions: Sessions) -> None:
    alert_id = _incident_and_alert(sessions, NOW, attempts=2)
    assert not maintenance.alert_attempts_exhausted(sessions, alert_id, max_attempts=3, now=NOW)
    with sessions() as session:
        session.get_one(Alert, alert_id).attempts = 3
    assert maintenance.alert_attempts_exhausted(sessions, alert_id, max_attempts=3, now=NOW)
    with sessions() as session:
        alert = session.get_one(Alert, alert_id)
        assert alert.status == "failed" and "gave up after 3" in (alert.last_error or "")


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as served:
        yield served


def _settings(receiver: WebhookReceiver) -> Settings:
    return Settings(
        slack_webhook_url=f"{receiver.base}/services/T0/B0/secret",
        webhook_urls=(f"{receiver.base}/hook",),
        webhook_secret="s3cret-key",
        http_allow_hosts=("127.0.0.1",),
    )


def test_silence_alarm_is_raised_once_per_silence_and_reaches_every_channel(
    sessions: Sessions, receiver: WebhookReceiver
) -> None:
    silence = timedelta(hours=12)
    assert maintenance.detect_silence(sessions, now=NOW, silence=silence) is None  # nothing ingested yet
    last = NOW - timedelta(hours=13)
    _article(sessions, "relevant", "extracted", last, discovered_at=last)
    _article(sessions, "noise", "irrelevant", NOW, discovered_at=NOW)  # irrelevant news does not end a silence
    found = maintenance.detect_silence(sessions, now=NOW, silence=silence)
    assert found is not None and found.silent_since == last
    settings = _settings(receiver)
    client = SafeHttpClient(user_agent="test", allow_hosts=("127.0.0.1",))
    assert maintenance.send_silence_alarm(
        sessions, found, settings=settings, client=client, now=NOW, final_attempt=False
    )
    received = receiver.wait_for(2, timeout=5)
    assert {r.path for r in received} == {"/services/T0/B0/secret", "/hook"}
    slack = next(r for r in received if r.path.startswith("/services"))
    assert "no relevant article ingested for 13.0 h" in slack.json()["text"]
    hook = next(r for r in received if r.path == "/hook")
    assert hook.json()["type"] == "operator.notice"
    timestamp = int(hook.headers["X-Dmzwatch-Timestamp"])
    assert verify("s3cret-key", timestamp, hook.body, hook.headers["X-Dmzwatch-Signature"], now=timestamp)
    # Same silence, later ticks: no second alarm.
    assert maintenance.detect_silence(sessions, now=NOW + timedelta(hours=1), silence=silence) is None
    # News comes back, then stops again: a new silence, a new alarm.
    back = NOW + timedelta(hours=2)
    _article(sessions, "relevant-2", "cleaned", back, discovered_at=back)
    assert maintenance.detect_silence(sessions, now=back + timedelta(hours=1), silence=silence) is None
    second = maintenance.detect_silence(sessions, now=back + timedelta(hours=13), silence=silence)
    assert second is not None and second.silent_since == back
    with sessions() as session:
        assert session.query(SilenceAlarm).count() == 2


def test_silence_alarm_failure_is_transient_then_final(sessions: Sessions, receiver: WebhookReceiver) -> None:
    last = NOW - timedelta(hours=13)
    _article(sessions, "relevant", "extracted", last, discovered_at=last)
    found = maintenance.detect_silence(sessions, now=NOW, silence=timedelta(hours=12))
    assert found is not None
    receiver.statuses = [500, 500, 500, 500]
    settings = _settings(receiver)
    client = SafeHttpClient(user_agent="test", allow_hosts=("127.0.0.1",))
    with pytest.raises(TransientError):
        maintenance.send_silence_alarm(sessions, found, settings=settings, client=client, now=NOW, final_attempt=False)
    assert not maintenance.send_silence_alarm(
        sessions, found, settings=settings, client=client, now=NOW, final_attempt=True
    )
    with sessions() as session:
        alarm = session.get_one(SilenceAlarm, found.alarm_id)
        assert (alarm.status, alarm.attempts) == ("failed", 2)
        assert "slack" in (alarm.last_error or "")


def test_feed_model_untouched_by_maintenance(sessions: Sessions) -> None:
    """Maintenance never writes feeds: their health belongs to the poll stage."""
    with sessions() as session:
        session.add(Feed(url="https://example.org/feed", name="x", enabled=True))
    maintenance.plan_requeue(
        sessions,
        now=NOW,
        stuck_after=timedelta(minutes=1),
        alert_pending_after=timedelta(minutes=1),
        max_stage_attempts=1,
        max_alert_attempts=1,
    )
    with sessions() as session:
        feed = session.query(Feed).one()
        assert json.dumps([feed.consecutive_failures, feed.last_error]) == "[0, null]"
