"""Alert delivery on SQLite: exactly once under redelivery (lease), digests for bursts, routing by zone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

import pytest
from sqlalchemy import select, update

from dmzwatch.alerts.message import AlertMessage, DigestMessage
from dmzwatch.alerts.routing import parse_alerts_file
from dmzwatch.db.models import Alert
from dmzwatch.errors import RateLimitedError
from dmzwatch.geo import ZoneSet
from dmzwatch.records import Place
from dmzwatch.stages import alerts, incidents
from dmzwatch.stages.alerts import DigestPolicy, should_fold
from tests.unit.test_stages import NOW, ScriptedExtractor, Sessions, _article, _event, sessions, zones

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
        alerts.deliver_alert(sessions, i, channels={"slack": channel}, now=NOW, final_attempt=False, digest=policy)
        for i in alert_ids
    ]
    assert [o.outcome for o in outcomes] == ["sent", "sent", "folded", "folded", "folded"]
    # Only the first folded alert schedules the digest, one window later.
    assert [o.digest_in_s for o in outcomes[2:]] == [600.0, None, None]
    assert len(channel.sent) == 2

    later = NOW + timedelta(minutes=10)
    digest = alerts.deliver_digest(
        sessions, "slack", channels={"slack": channel}, now=later, window=policy.window, final_attempt=False
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
        sessions, "slack", channels={"slack": channel}, now=later, window=policy.window, final_attempt=False
    )
    assert again.outcome == "skipped" and len(channel.digests) == 1


def test_a_lost_digest_is_scheduled_again_by_the_next_fold(sessions: Sessions, zones: ZoneSet) -> None:
    channel = RecordingChannel()
    policy = DigestPolicy(threshold=1, window=timedelta(minutes=10))
    ids = [_new_incident_alerts(sessions, zones, place, _policy())[0] for place in VILLAGES[:3]]
    deliver = partial(alerts.deliver_alert, sessions, channels={"slack": channel}, final_attempt=False, digest=policy)
    assert deliver(ids[0], now=NOW).outcome == "sent"
    assert deliver(ids[1], now=NOW).digest_in_s == 600.0  # that digest task is then lost
    # Half an hour on, the window is quiet again: this alert goes alone, and schedules the stranded digest now.
    late = deliver(ids[2], now=NOW + timedelta(minutes=31))
    assert (late.outcome, late.digest_in_s) == ("sent", 0.0)


def test_digest_disabled_sends_every_alert(sessions: Sessions, zones: ZoneSet) -> None:
    channel = RecordingChannel()
    for place in VILLAGES:
        (alert_id,) = _new_incident_alerts(sessions, zones, place, _policy())
        alerts.deliver_alert(sessions, alert_id, channels={"slack": channel}, now=NOW, final_attempt=False)
    assert len(channel.sent) == len(VILLAGES) and channel.digests == []


def test_a_send_in_progress_holds_the_alert(sessions: Sessions, zones: ZoneSet) -> None:
    (alert_id,) = _new_incident_alerts(sessions, zones, VILLAGES[0], _policy())
    channel = RecordingChannel()
    with sessions() as session:  # another worker took the lease a moment ago and is sending
        session.execute(update(Alert).values(lease_until=NOW + timedelta(minutes=1)))
    held = alerts.deliver_alert(sessions, alert_id, channels={"slack": channel}, now=NOW, final_attempt=False)
    assert held.outcome == "skipped" and channel.sent == []
    # That worker died: once the lease expires the alert goes out, once.
    after = NOW + timedelta(minutes=5)
    for _ in range(2):
        alerts.deliver_alert(sessions, alert_id, channels={"slack": channel}, now=after, final_attempt=False)
    assert len(channel.sent) == 1


def test_rate_limited_send_releases_the_lease_and_keeps_retry_after(sessions: Sessions, zones: ZoneSet) -> None:
    (alert_id,) = _new_incident_alerts(sessions, zones, VILLAGES[0], _policy())
    channel = RecordingChannel(failures=[RateLimitedError("429 from slack", status=429, retry_after_s=30)])
    with pytest.raises(RateLimitedError) as caught:
        alerts.deliver_alert(sessions, alert_id, channels={"slack": channel}, now=NOW, final_attempt=False)
    assert caught.value.retry_after_s == 30  # the task's backoff uses it as a floor
    with sessions() as session:
        alert = session.get_one(Alert, alert_id)
        assert (alert.status, alert.lease_until, alert.attempts) == ("pending", None, 1)
    assert (
        alerts.deliver_alert(sessions, alert_id, channels={"slack": channel}, now=NOW, final_attempt=False).outcome
        == "sent"
    )


def test_update_refers_to_first_alert_and_says_what_changed(sessions: Sessions, zones: ZoneSet) -> None:
    channel = RecordingChannel()
    extractor = ScriptedExtractor({"a": [_event(killed=5)], "c": [_event(killed=9, perpetrator="russia")]})
    for url, text in (("https://agency.example/1", "a"), ("https://monitor.example/2", "c")):
        article = _article(sessions, url, text)
        for alert_id in incidents.extract_events(
            sessions, article, extractor=extractor, zones=zones, policy=_policy(), now=NOW
        ):
            alerts.deliver_alert(sessions, alert_id, channels={"slack": channel}, now=NOW, final_attempt=False)
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
        alerts.deliver_alert(
            sessions, first, channels={"slack": channel}, now=NOW, final_attempt=False, digest=policy
        ).outcome
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
                    sessions, alert_id, channels={"slack": channel}, now=now, final_attempt=False, digest=policy
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
