"""Stage functions against a real SQLite database (embedded, no services): merge, idempotency, alerts."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dmzwatch.alerts.message import AlertMessage, DigestMessage
from dmzwatch.db.migrate import upgrade
from dmzwatch.db.models import Alert, Article, ArticleStatus, Feed, Incident, IncidentReport
from dmzwatch.db.session import session_scope
from dmzwatch.errors import PermanentError, TransientError
from dmzwatch.geo import ZoneSet
from dmzwatch.records import Evidence, ExtractedEvent, Place, Resolution, SubEventType
from dmzwatch.stages import alerts, feeds, incidents

REPO = Path(__file__).resolve().parent.parent.parent
NOW = datetime(2019, 5, 4, 15, 0, tzinfo=UTC)
RETRY = alerts.RetryPolicy(fresh_for=timedelta(hours=48), base_s=5.0, cap_s=900.0)
KAFR_NABL = Place("test:kafr-nabl", "Kafr Nabl", "Idlib", 35.613, 36.562, "town")
SUQAYLABIYAH = Place("test:suqaylabiyah", "Suqaylabiyah", "Hama", 35.369, 36.38, "town")

Sessions = Callable[[], AbstractContextManager[Session]]


@pytest.fixture
def sessions(tmp_path: Path) -> Sessions:
    url = f"sqlite:///{tmp_path / 'test.sqlite3'}"
    upgrade(url)
    return partial(session_scope, url)


@pytest.fixture(scope="module")
def zones() -> ZoneSet:
    return ZoneSet.load(REPO / "config" / "zones")


def _event(
    place: Place = KAFR_NABL,
    killed: int | None = 5,
    kind: SubEventType = SubEventType.AIR_STRIKE,
    on: date = date(2019, 5, 4),
    perpetrator: str = "unknown",
) -> ExtractedEvent:
    sentence = f"Strikes hit {place.name}."
    return ExtractedEvent(
        place_text=place.name,
        resolution=Resolution(place, 1, "exact", 1.0),
        sub_event_type=kind,
        killed=killed,
        injured=None,
        killed_civilians=None,
        perpetrator=perpetrator,  # type: ignore[arg-type]
        perpetrator_text=None,
        target=None,
        occurred_on=on,
        time_precision=1,
        confidence=0.7,
        evidence=Evidence(sentence, 0, len(sentence)),
    )


@dataclass
class ScriptedExtractor:
    events: dict[str, list[ExtractedEvent]]

    def extract(self, text: str, published_at: datetime | None) -> list[ExtractedEvent]:
        return self.events.get(text, [])


def _article(
    sessions: Sessions,
    url: str,
    text: str,
    *,
    published: datetime = NOW - timedelta(hours=1),
    status: ArticleStatus = ArticleStatus.CLEANED,
    duplicate_of: int | None = None,
) -> int:
    with sessions() as session:
        article = Article(
            url=url,
            canonical_url=url,
            outlet=url.split("/")[2],
            text=text,
            published_at=published,
            discovered_at=NOW,
            updated_at=NOW,
            status=status.value,
            attempts=0,
            duplicate_of=duplicate_of,
        )
        session.add(article)
        session.flush()
        return article.id


POLICY = incidents.AlertPolicy(channels=("slack",), max_age=timedelta(hours=48), alert_on_edge=False)


def _extract(
    sessions: Sessions, zones: ZoneSet, extractor: ScriptedExtractor, article_id: int, now: datetime = NOW
) -> list[int]:
    return incidents.extract_events(sessions, article_id, extractor=extractor, zones=zones, policy=POLICY, now=now)


def _count(sessions: Sessions, model: type) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_three_outlets_one_incident_new_then_one_update(sessions: Sessions, zones: ZoneSet) -> None:
    extractor = ScriptedExtractor({"a": [_event(killed=5)], "b": [_event(killed=5)], "c": [_event(killed=9)]})
    first = _article(sessions, "https://agency.example/1", "a")
    copy = _article(sessions, "https://paper.example/2", "b", status=ArticleStatus.DUPLICATE, duplicate_of=first)
    later = _article(sessions, "https://monitor.example/3", "c")

    new_alerts = _extract(sessions, zones, extractor, first)
    assert len(new_alerts) == 1
    with sessions() as session:
        incident = session.scalars(select(Incident)).one()
        assert incident.zone_status == "inside" and incident.version == 1
        # the wire copy was attached as a source when its original was extracted: not a new version
        assert incident.source_count == 2
        assert {r.article_id for r in session.scalars(select(IncidentReport))} == {first, copy}

    update_alerts = _extract(sessions, zones, extractor, later)
    assert len(update_alerts) == 1
    with sessions() as session:
        incident = session.scalars(select(Incident)).one()
        assert (incident.killed, incident.killed_min, incident.killed_max) == (9, 5, 9)
        assert incident.version == 2 and incident.source_count == 3
        kinds = sorted(a.kind for a in session.scalars(select(Alert)))
        assert kinds == ["new", "update"]


def test_redelivered_extraction_does_nothing_twice(sessions: Sessions, zones: ZoneSet) -> None:
    extractor = ScriptedExtractor({"a": [_event()]})
    article = _article(sessions, "https://agency.example/1", "a")
    assert len(_extract(sessions, zones, extractor, article)) == 1
    assert _extract(sessions, zones, extractor, article) == []
    assert (_count(sessions, Incident), _count(sessions, IncidentReport), _count(sessions, Alert)) == (1, 1, 1)


def test_different_day_same_village_is_a_second_incident(sessions: Sessions, zones: ZoneSet) -> None:
    extractor = ScriptedExtractor({"a": [_event()], "b": [_event(on=date(2019, 5, 6))]})
    _extract(sessions, zones, extractor, _article(sessions, "https://a.example/1", "a"))
    _extract(sessions, zones, extractor, _article(sessions, "https://b.example/2", "b"), now=NOW + timedelta(days=2))
    assert _count(sessions, Incident) == 2


def test_outside_and_stale_reports_do_not_alert(sessions: Sessions, zones: ZoneSet) -> None:
    extractor = ScriptedExtractor({"out": [_event(place=SUQAYLABIYAH, kind=SubEventType.SHELLING)], "old": [_event()]})
    assert _extract(sessions, zones, extractor, _article(sessions, "https://a.example/1", "out")) == []
    stale = _article(sessions, "https://a.example/2", "old", published=NOW - timedelta(days=5))
    assert _extract(sessions, zones, extractor, stale) == []
    with sessions() as session:
        statuses = sorted(i.zone_status for i in session.scalars(select(Incident)))
    assert statuses == ["inside", "outside"]


@dataclass
class FakeChannel:
    failures: list[Exception] = field(default_factory=list)
    sent: list[AlertMessage] = field(default_factory=list)
    name: str = "slack"

    def send(self, message: AlertMessage) -> str | None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
        return "ref-1"

    def send_digest(self, digest: DigestMessage) -> str | None:
        raise AssertionError(f"no digest expected here, got {len(digest.alerts)} alerts")


def _one_alert(sessions: Sessions, zones: ZoneSet) -> int:
    extractor = ScriptedExtractor({"a": [_event()]})
    (alert_id,) = _extract(sessions, zones, extractor, _article(sessions, "https://a.example/1", "a"))
    return alert_id


def test_delivery_retries_transient_then_sends_exactly_once(sessions: Sessions, zones: ZoneSet) -> None:
    alert_id = _one_alert(sessions, zones)
    channel = FakeChannel(failures=[TransientError("503 from slack", status=503)])
    first = alerts.deliver_alert(sessions, alert_id, channels={"slack": channel}, now=NOW, retry=RETRY)
    assert first.outcome == "retry" and first.retry_in_s is not None and 2.5 <= first.retry_in_s <= 5.0
    for _ in range(3):  # the retry, then two redeliveries of the same message
        alerts.deliver_alert(sessions, alert_id, channels={"slack": channel}, now=NOW, retry=RETRY)
    assert len(channel.sent) == 1
    with sessions() as session:
        alert = session.get_one(Alert, alert_id)
        assert (alert.status, alert.attempts, alert.external_ref) == ("sent", 2, "ref-1")
    message = channel.sent[0]
    assert message.place_name == "Kafr Nabl" and message.killed == 5 and len(message.sources) == 1


def test_delivery_permanent_failure_is_recorded(sessions: Sessions, zones: ZoneSet) -> None:
    alert_id = _one_alert(sessions, zones)
    channel = FakeChannel(failures=[PermanentError("404 from webhook: no such hook", status=404)])
    alerts.deliver_alert(sessions, alert_id, channels={"slack": channel}, now=NOW, retry=RETRY)
    with sessions() as session:
        alert = session.get_one(Alert, alert_id)
        assert alert.status == "failed" and "no such hook" in (alert.last_error or "")


def test_feed_leases_are_exclusive_and_backoff_caps(sessions: Sessions) -> None:
    with sessions() as session:
        session.add_all(
            [
                Feed(
                    url=f"https://f{i}.example/rss",
                    name=f"f{i}",
                    poll_interval_s=300,
                    consecutive_failures=0,
                    items_seen=0,
                )
                for i in range(3)
            ]
        )
    assert len(feeds.claim_due_feeds(sessions, now=NOW)) == 3
    assert feeds.claim_due_feeds(sessions, now=NOW + timedelta(minutes=1)) == []  # leased
    assert feeds.feed_backoff(300, 1, None) == timedelta(seconds=600)
    assert feeds.feed_backoff(300, 12, None) == timedelta(hours=24)
    assert feeds.feed_backoff(300, 1, 3600) == timedelta(hours=1)


def test_governorate_level_fallback_is_never_confidently_inside(zones: ZoneSet) -> None:
    from dmzwatch.geo import Gazetteer

    gazetteer = Gazetteer.load(REPO / "config" / "gazetteer")
    idlib = gazetteer.region("Idlib province")
    southern = gazetteer.region("southern Idlib")
    assert idlib is not None and idlib.place.kind == "governorate"
    assert southern is not None and southern.place.kind == "region"
    assert zones.classify(idlib.place.lat, idlib.place.lon).zone_status == "inside"  # the point alone says so
    assert zones.classify_resolution(idlib).zone_status == "edge"
    assert zones.classify_resolution(southern).zone_status == "inside"
