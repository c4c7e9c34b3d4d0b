"""Alert delivery on SQLite: exactly once under redelivery (lease), digests for bursts, routing by zone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from sqlalchemy import select, update

from dmzwatch.alerts.message import AlertMessage, DigestMessage
from dmzwatch.alerts.routing import parse_alerts_file
from dmzwatch.db.models import Alert
from dmzwatch.errors import RateLimitedError, ServerError
from dmzwatch.geo import ZoneSet
from dmzwatch.maintenance import alert_attempts_exhausted, retry_alerts
from dmzwatch.records import Place
from dmzwatch.stages import alerts, incidents
from dmzwatch.stages.alerts import DigestPolicy, should_fold
from tests.unit.test_stages import NOW, RETRY, ScriptedExtractor, Sessions, _article, _event, sessions, zones

__all__ = ["sessions", "zones"]  # fixtures shared with test_stages

VILLAGES = [
    Place("test:kafr-nabl", "Kafr Nabl", "Idlib", 35.613, 36.562, "town"),
    Place("test:khan-shaykhun", "Khan Shaykhun", "Idlib", 35.441, 36.651, "town"),
    Place("test:maarat", "Maarat al-Numan", "Idlib", 35.648, 36.675, "town"),
    Place("test:heish", "Heish", "Idlib", 35.55, 36.64, "village"),
    Place("test:kafr-sajna", "Kafr Sajna", "Idlib", 35.533, 36.578, "town"),
]


@dataclass
class RecordingChannel:
    name: str = "slack"
    sent: list[AlertMessage] = field(default_factory=list)
    digests: list[DigestMessage] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)

    def send(self, message: AlertMessage) -> str | None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
        return f"ts-{len(self.sent)}"

    def send_digest(self, digest: DigestMessage) -> str | None:
        self.digests.append(digest)
        return f"digest-ts-{len(self.digests)}"


def _policy(channels: tuple[str, ...] = ("slack",), routes: str = "") -> incidents.AlertPolicy:
    return incidents.AlertPolicy(
        channels=channels,
        max_age=timedelta(hours=48),
        alert_on_edge=False,
        routing=parse_alerts_file(routes, "alerts.yaml"),
    )


def _new_incident_alerts(sessions: Sessions, zones: ZoneSet, place: Place, policy: incidents.AlertPolicy) -> list[int]:
    text = f"strike on {place.name}"
    article = _article(sessions, f"https://{place.id.split(':')[1]}.example/1", text)
    extractor = ScriptedExtractor({text: [_event(place=place)]})
    return incidents.extract_events(sessions, article, extractor=extractor, zones=zones, policy=policy, now=NOW)


def test_should_fold() -> None:
    assert not should_fold(5, 0)  # 0 disables digests
    assert not should_fold(2, 3)
    assert should_fold(3, 3) and should_fold(9, 3)


def test_burst_over_the_threshold_folds_into_one_digest(sessions: Sessions, zones: ZoneSet) -> None:
    channel = RecordingChannel()
    policy = DigestPolicy(threshold=2, window=timedelta(minutes=10))
    alert_ids = [_new_incident_alerts(sessions, zones, place, _policy())[0] for place in VILLAGES]

    outcomes = [
        alerts.deliver_alert(sessions, i, channels={"slack": channel}, now=NOW, retry=RETRY, digest=policy)
        for i in alert_ids
    ]
    assert [o.outcome for o in outcomes] == ["sent", "sent", "folded", "folded", "folded"]
    # Only the first folded alert schedules the digest, one window later.
    assert [o.digest_in_s for o in outcomes[2:]] == [600.0, None, None]
    assert len(channel.sent) == 2

    later = NOW + timedelta(minutes=10)
    digest = alerts.deliver_digest(
        sessions, "slack", channels={"slack": channel}, now=later, window=policy.window, retry=RETRY
    )
    assert digest.outcome == "sent" and digest.digest_in_s is None
    assert len(channel.digests) == 1
    assert [m.alert_id for m in channel.digests[0].alerts] == alert_ids[2:]
    with sessions() as session:
        rows = session.scalars(select(Alert).order_by(Alert.id)).all()
        assert [r.status for r in rows] == ["sent"] * 5
        assert {r.external_ref for r in rows[2:]} == {"digest:digest-ts-1"}
        # A digest counts as one message in the window, not three.
        assert alerts.messages_in_window(session, "slack", later - timedelta(minutes=1), later) == 1

    # A redelivered digest task finds nothing waiting and sends nothing.
    again = alerts.deliver_digest(
        sessions, "slack", channels={"slack": channel}, now=later, window=policy.window, retry=RETRY
    )
    assert again.outcome == "skipped" and len(channel.digests) == 1


def test_a_lost_digest_is_scheduled_again_by_the_next_fold(sessions: Sessions, zones: ZoneSet) -> None:
    channel = RecordingChannel()
    policy = DigestPolicy(threshold=1, window=timedelta(minutes=10))
    ids = [_new_incident_alerts(sessions, zones, place, _policy())[0] for place in VILLAGES[:3]]
    deliver = partial(alerts.deliver_alert, sessions, channels={"slack": channel}, retry=RETRY, digest=policy)
    assert deliver(ids[0], now=NOW).outcome == "sent"
    assert deliver(ids[1], now=NOW).digest_in_s == 600.0  # that digest task is then lost
    # Half an hour on, the window is quiet again: this alert goes alone, and schedules the stranded digest now.
    late = deliver(ids[2], now=NOW + timedelta(minutes=31))
    assert (late.outcome, late.digest_in_s) == ("sent", 0.0)


def test_digest_disabled_sends_every_alert(sessions: Sessions, zones: ZoneSet) -> None:
    channel = RecordingChannel()
    for place in VILLAGES:
        (alert_id,) = _new_incident_alerts(sessions, zones, place, _policy())
        alerts.deliver_alert(sessions, alert_id, channels={"slack": channel}, now=NOW, retry=RETRY)
    assert len(channel.sent) == len(VILLAGES) and channel.digests == []


def test_a_send_in_progress_holds_the_alert(sessions: Sessions, zones: ZoneSet) -> None:
    (alert_id,) = _new_incident_alerts(sessions, zones, VILLAGES[0], _policy())
    channel = RecordingChannel()
    with sessions() as session:  # another worker took the lease a moment ago and is sending
        session.execute(update(Alert).values(lease_until=NOW + timedelta(minutes=1)))
    held = alerts.deliver_alert(sessions, alert_id, channels={"slack": channel}, now=NOW, retry=RETRY)
    # Not dropped: this (redelivered) message comes back when the lease ends.
    assert held.outcome == "deferred" and held.retry_in_s is not None and 60 <= held.retry_in_s <= 61
    assert channel.sent == []
    # That worker died: once the lease expires the alert goes out, once.
    after = NOW + timedelta(minutes=5)
    for _ in range(2):
        alerts.deliver_alert(sessions, alert_id, channels={"slack": channel}, now=after, retry=RETRY)
    assert len(channel.sent) == 1


def test_rate_limited_send_releases_the_lease_and_keeps_retry_after(sessions: Sessions, zones: ZoneSet) -> None:
    (alert_id,) = _new_incident_alerts(sessions, zones, VILLAGES[0], _policy())
    channel = RecordingChannel(failures=[RateLimitedError("429 from slack", status=429, retry_after_s=30)])
    delivery = alerts.deliver_alert(sessions, alert_id, channels={"slack": channel}, now=NOW, retry=RETRY)
    assert delivery.outcome == "retry" and delivery.retry_in_s == 30  # Retry-After is the floor
    with sessions() as session:
        alert = session.get_one(Alert, alert_id)
        assert (alert.status, alert.lease_until, alert.attempts, alert.failures) == ("pending", None, 1, 1)
        assert alert.next_attempt_at == NOW + timedelta(seconds=30) and alert.first_failure_at == NOW
    assert alerts.deliver_alert(sessions, alert_id, channels={"slack": channel}, now=NOW, retry=RETRY).outcome == "sent"


def test_an_outage_is_retried_with_growing_backoff_while_the_alert_is_fresh(sessions: Sessions, zones: ZoneSet) -> None:
    (alert_id,) = _new_incident_alerts(sessions, zones, VILLAGES[0], _policy())
    retry = alerts.RetryPolicy(fresh_for=timedelta(hours=2), base_s=5.0, cap_s=600.0)
    channel = RecordingChannel(failures=[ServerError("500 from slack", status=500) for _ in range(40)])
    now, delays = NOW, []
    while True:
        delivery = alerts.deliver_alert(sessions, alert_id, channels={"slack": channel}, now=now, retry=retry)
        if delivery.outcome != "retry":
            break
        assert delivery.retry_in_s is not None
        delays.append(delivery.retry_in_s)
        now += timedelta(seconds=delivery.retry_in_s)
    # Backoff grew to the cap, and the alert was tried for its whole freshness, far past the old 6 retries.
    assert delays[0] <= 5 and max(delays) > 300 and all(d <= 600 for d in delays) and len(delays) > 12
    assert delivery.outcome == "failed" and now - NOW > timedelta(hours=1, minutes=45)
    with sessions() as session:
        alert = session.get_one(Alert, alert_id)
        assert alert.status == "failed" and alert.attempts == alert.failures == len(delays) + 1
        assert "gave up after" in (alert.last_error or "") and "500 from slack" in (alert.last_error or "")
    # Failed sends are not crashes: the crash guard never counted them.
    assert not alert_attempts_exhausted(sessions, alert_id, max_attempts=3, now=now)


def test_a_failed_alert_sent_again_by_the_operator_is_fresh_again(sessions: Sessions, zones: ZoneSet) -> None:
    (alert_id,) = _new_incident_alerts(sessions, zones, VILLAGES[0], _policy())
    channel = RecordingChannel(failures=[ServerError("502 from slack", status=502)])
    late = NOW + timedelta(hours=49)  # past freshness: the first failure fails it
    assert alerts.deliver_alert(sessions, alert_id, channels={"slack": channel}, now=late, retry=RETRY).outcome == (
        "failed"
    )
    assert retry_alerts(sessions, ids=[alert_id], now=late) == [alert_id]
    assert alerts.deliver_alert(sessions, alert_id, channels={"slack": channel}, now=late, retry=RETRY).outcome == (
        "sent"
    )


def test_a_busy_channel_defers_its_alerts_and_leaves_other_channels_alone(sessions: Sessions, zones: ZoneSet) -> None:
    policy = _policy(("slack", "webhook-1"))
    first_slack, first_hook = _new_incident_alerts(sessions, zones, VILLAGES[0], policy)
    second_slack, second_hook = _new_incident_alerts(sessions, zones, VILLAGES[1], policy)
    slack, hook = RecordingChannel(), RecordingChannel(name="webhook-1")
    channels: dict[str, alerts.Channel] = {"slack": slack, "webhook-1": hook}
    with sessions() as session:  # a send to Slack hangs in another process
        session.execute(update(Alert).where(Alert.id == first_slack).values(lease_until=NOW + timedelta(seconds=60)))
    busy = alerts.deliver_alert(sessions, second_slack, channels=channels, now=NOW, retry=RETRY)
    assert busy.outcome == "deferred" and busy.retry_in_s is not None and busy.retry_in_s <= 3 and slack.sent == []
    for alert_id in (first_hook, second_hook):
        assert alerts.deliver_alert(sessions, alert_id, channels=channels, now=NOW, retry=RETRY).outcome == "sent"
    wider = alerts.RetryPolicy(fresh_for=timedelta(hours=48), base_s=5.0, cap_s=900.0, channel_concurrency=2)
    assert alerts.deliver_alert(sessions, second_slack, channels=channels, now=NOW, retry=wider).outcome == "sent"


def test_update_refers_to_first_alert_and_says_what_changed(sessions: Sessions, zones: ZoneSet) -> None:
    channel = RecordingChannel()
    extractor = ScriptedExtractor({"a": [_event(killed=5)], "c": [_event(killed=9, perpetrator="russia")]})
    for url, text in (("https://agency.example/1", "a"), ("https://monitor.example/2", "c")):
        article = _article(sessions, url, text)
        for alert_id in incidents.extract_events(
            sessions, article, extractor=extractor, zones=zones, policy=_policy(), now=NOW
        ):
            alerts.deliver_alert(sessions, alert_id, channels={"slack": channel}, now=NOW, retry=RETRY)
    first, update_message = channel.sent
    assert (first.kind, update_message.kind) == ("new", "update")
    assert update_message.first_alert_ref == "ts-1"
    assert any("death toll rose to 9" in c for c in update_message.changes)
    assert any("perpetrator now known: russia" in c for c in update_message.changes)


def test_update_joins_the_digest_that_holds_its_first_alert(sessions: Sessions, zones: ZoneSet) -> None:
    channel = RecordingChannel()
    policy = DigestPolicy(threshold=1, window=timedelta(minutes=10))
    first = _new_incident_alerts(sessions, zones, VILLAGES[1], _policy())[0]
    assert (
        alerts.deliver_alert(sessions, first, channels={"slack": channel}, now=NOW, retry=RETRY, digest=policy).outcome
        == "sent"
    )
    extractor = ScriptedExtractor({"a": [_event(killed=5)], "c": [_event(killed=9)]})
    outcomes = []
    for url, text in (("https://agency.example/1", "a"), ("https://monitor.example/2", "c")):
        article = _article(sessions, url, text)
        for alert_id in incidents.extract_events(
            sessions, article, extractor=extractor, zones=zones, policy=_policy(), now=NOW
        ):
            # The window has room again for the update, but its `new` is still waiting: it must not overtake it.
            now = NOW if text == "a" else NOW + timedelta(minutes=30)
            outcomes.append(
                alerts.deliver_alert(
                    sessions, alert_id, channels={"slack": channel}, now=now, retry=RETRY, digest=policy
                ).outcome
            )
    assert outcomes == ["folded", "folded"]


def test_routing_sends_each_zone_status_to_its_channels(sessions: Sessions, zones: ZoneSet) -> None:
    routes = "routes:\n  - channels: [slack]\n  - channels: [webhook-1]\n    zone_statuses: [inside, outside]\n"
    policy = _policy(("slack", "webhook-1"), routes)
    outside = Place("test:suqaylabiyah", "Suqaylabiyah", "Hama", 35.369, 36.38, "town")
    inside_ids = _new_incident_alerts(sessions, zones, VILLAGES[0], policy)
    outside_ids = _new_incident_alerts(sessions, zones, outside, policy)
    with sessions() as session:
        channel_of = {a.id: a.channel for a in session.scalars(select(Alert))}
    assert sorted(channel_of[i] for i in inside_ids) == ["slack", "webhook-1"]
    assert [channel_of[i] for i in outside_ids] == ["webhook-1"]
