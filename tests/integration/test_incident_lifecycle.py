"""One alert per real incident (issue 4, "Done when"), on real Redis, PostgreSQL, a `celery worker` subprocess and
loopback HTTP servers.

Outlets: outlet identity is the article URL's host (``dmzwatch.stages.outlet_of``), so each outlet's site is
bound to its own loopback address (127.0.0.2, .3, .4: all of 127.0.0.0/8 is loopback on Linux) and the
address guard is opened for 127.0.0.0/8 only. Two servers on one address would be one outlet.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from kombu import Queue as KombuQueue
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from tests.support.servers import NewsSite, WebhookReceiver, check_slack_payload, news_site, webhook_receiver
from tests.support.services import celery_process, dmzwatch, wait_until
from workers.queues import ROUTES, Queue, TaskName

pytestmark = pytest.mark.integration

SECRET = "integration-secret"
WORKER_ARGS = ["worker", "-Q", "feeds,fetch,nlp,alerts,maintenance", "-c", "2", "--loglevel", "INFO"]


def _sqlalchemy_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine(_sqlalchemy_url(postgres_url))
    yield engine
    engine.dispose()


def _env(tmp_path: Path, postgres_url: str, redis_url: str, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DMZWATCH_") and k != "CELERY_BROKER_URL"}
    alerts_file = tmp_path / "alerts.yaml"
    alerts_file.write_text("routes:\n  - channels: [slack, webhook-1, webhook-2]\n    zone_statuses: [inside]\n")
    env.update(
        {
            "DMZWATCH_DATA_DIR": str(tmp_path / "var"),
            "DMZWATCH_DATABASE_URL": postgres_url,
            "DMZWATCH_BROKER_URL": redis_url,
            "DMZWATCH_ALERTS_FILE": str(alerts_file),
            "DMZWATCH_HTTP_ALLOW_HOSTS": "127.0.0.0/8",
            "DMZWATCH_WEBHOOK_SECRET": SECRET,
            "DMZWATCH_ALERT_DIGEST_THRESHOLD": "0",
            # Quick first retry so a 500-500-200 test takes a second; a 429's Retry-After still sets the floor.
            "DMZWATCH_ALERT_RETRY_BASE_S": "0.2",
            "DMZWATCH_LOG_LEVEL": "INFO",
            **settings,
        }
    )
    return env


def _migrate(env: dict[str, str]) -> None:
    result = dmzwatch(["db", "upgrade"], env)
    assert result.returncode == 0, result.stderr


def _sender(redis_url: str) -> Celery:
    """A client-side Celery app that routes like the worker's (same queues), without importing the tasks."""
    client = Celery("it-client", broker=redis_url)
    client.conf.update(
        task_queues=[KombuQueue(queue.value, routing_key=queue.value) for queue in Queue],
        task_routes={name.value: {"queue": queue.value} for name, queue in ROUTES.items()},
        task_serializer="json",
    )
    return client


def _rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    """Run one statement in its own committed transaction (INSERT ... RETURNING included)."""
    with engine.begin() as conn:
        return list(conn.execute(text(sql), params).all())


def _worker_log(tmp_path: Path) -> str:
    return (tmp_path / "worker.log").read_text(errors="replace")[-5000:]


def _verify_signature(headers: dict[str, str], body: bytes) -> None:
    timestamp = headers["X-Dmzwatch-Timestamp"]
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert headers["X-Dmzwatch-Signature"] == f"sha256={expected}"


# --- one story, three outlets; the next day's strike ------------------------------------------------------------
def test_three_outlets_one_incident_new_then_update_and_next_day_strike_is_separate(
    tmp_path: Path, postgres_url: str, redis_url: str, engine: Engine
) -> None:
    # The strike is reported a day ago; a rewrite two minutes later; a monitor's higher toll seven minutes
    # later; the next day a different strike on the same village. All within the 48 h alert age.
    first = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=26)
    outlets = {
        "wire": ("127.0.0.2", first),
        "rewrite": ("127.0.0.3", first + timedelta(minutes=2)),
        "monitor": ("127.0.0.4", first + timedelta(minutes=7)),
        "nextday": ("127.0.0.2", first + timedelta(hours=24)),  # the wire's own site again: same outlet
    }
    with ExitStack() as stack:
        sites = {
            key: stack.enter_context(news_site(NewsSite(feed_file=f"feed-{key}.xml", published=published), host))
            for key, (host, published) in outlets.items()
        }
        slack = stack.enter_context(webhook_receiver())
        hook = stack.enter_context(webhook_receiver())
        feeds_file = tmp_path / "feeds.yaml"
        feeds_file.write_text(
            "feeds:\n"
            + "".join(
                f"  - {{name: {key}, url: '{site.base}/feed.xml', interval: 3600}}\n" for key, site in sites.items()
            )
        )
        env = _env(
            tmp_path,
            postgres_url,
            redis_url,
            DMZWATCH_FEEDS_FILE=str(feeds_file),
            DMZWATCH_SLACK_WEBHOOK_URL=f"{slack.base}/services/T000/B000/XXXX",
            DMZWATCH_WEBHOOK_URLS=f"{hook.base}/hooks/dmzwatch",
        )
        for command in (["db", "upgrade"], ["feeds", "sync"]):
            result = dmzwatch(command, env)
            assert result.returncode == 0, result.stderr

        with celery_process(WORKER_ARGS, env, tmp_path / "worker.log"):
            # No beat: one scheduling tick, sent by hand, polls all four feeds at once.
            _sender(redis_url).send_task(TaskName.SCHEDULE_DUE_FEEDS.value)

            def settled() -> bool:
                statuses = [s for (s,) in _rows(engine, "SELECT status FROM articles")]
                return len(statuses) == 4 and not {"new", "fetched", "cleaned"} & set(statuses)

            assert wait_until(settled, timeout=120), _worker_log(tmp_path)
            deliveries = hook.wait_for(3, timeout=60)
            slack.wait_for(3, timeout=30)
            # Every alert row is final before looking for anything extra.
            assert wait_until(
                lambda: not _rows(engine, "SELECT id FROM alerts WHERE status NOT IN ('sent', 'failed')"), timeout=30
            )

    statuses = {url.split("/")[2]: status for url, status in _rows(engine, "SELECT url, status FROM articles")}
    assert sorted(statuses.values()).count("duplicate") == 1, statuses  # the rewrite, by MinHash

    incidents = [json.loads(line) for line in dmzwatch(["incidents", "--json"], env).stdout.splitlines()]
    assert len(incidents) == 2, incidents
    strike, drone = sorted(incidents, key=lambda i: str(i["occurred_on"]))
    assert strike["place_id"] == drone["place_id"]  # same village
    assert strike["occurred_on"] != drone["occurred_on"]
    outlets_of_strike = {s["outlet"] for s in strike["sources"]}
    assert outlets_of_strike == {"127.0.0.2", "127.0.0.3", "127.0.0.4"}, strike["sources"]
    assert (strike["killed"], strike["killed_min"], strike["killed_max"]) == (7, 5, 7)
    assert strike["version"] == 2
    assert [s["outlet"] for s in drone["sources"]] == ["127.0.0.2"] and drone["killed"] == 2

    # The generic webhook: one `new` and one `update` for the strike, one `new` for the next day's drone strike.
    assert len(deliveries) == 3 and hook.attempts == 3, [d.json()["type"] for d in deliveries]
    by_incident: dict[int, list[str]] = {}
    for delivery in deliveries:
        _verify_signature(delivery.headers, delivery.body)
        payload = delivery.json()
        assert delivery.headers["X-Dmzwatch-Event"] == payload["type"]
        by_incident.setdefault(payload["alert"]["incident_id"], []).append(payload["type"])
    assert sorted(by_incident[strike["id"]]) == ["incident.new", "incident.update"]
    assert by_incident[drone["id"]] == ["incident.new"]
    assert len({d.headers["X-Dmzwatch-Delivery"] for d in deliveries}) == 3
    update = next(d.json()["alert"] for d in deliveries if d.json()["type"] == "incident.update")
    assert update["first_alert_ref"] == f"{strike['id']}-1-webhook-1"  # it refers to the first alert
    assert update["changes"], update

    # Slack: the same three messages, each a valid Block Kit payload.
    assert len(slack.received) == 3
    for message in slack.received:
        check_slack_payload(message.json())
    texts = sorted(m.json()["text"] for m in slack.received)
    assert sum(t.startswith("New incident: Air/drone strike in Kafr Nabl") for t in texts) == 2, texts
    assert sum(t.startswith("Update: Air/drone strike in Kafr Nabl") for t in texts) == 1, texts


# --- racing workers ---------------------------------------------------------------------------------------------
# Two independent reports (different words, different outlets) of each strike; each round's pair is extracted by
# the worker's two processes at the same moment. Different villages per round, so rounds never merge.
RACE_ROUNDS = [
    (
        "Khan Shaykhun",
        "Warplanes bombed Khan Shaykhun in southern Idlib on {day}, killing four civilians, rescuers said.",
        "Four people died when air strikes hit the town of Khan Shaykhun in Idlib province on {day}, "
        "according to a local monitor.",
    ),
    (
        "Kafr Nabl",
        "An air strike on Kafr Nabl in southern Idlib on {day} killed three civilians, the civil defence said.",
        "Three civilians were killed in Kafr Nabl, in the south of Idlib province, when jets struck the town on "
        "{day}, residents said.",
    ),
    (
        "Maarat al-Numan",
        "Air strikes on Maarat al-Numan in Idlib on {day} killed six people, including two children.",
        "Six people, two of them children, died when warplanes struck the market in Maarat al-Numan on {day}, "
        "medics said.",
    ),
    (
        "Ariha",
        "Warplanes struck the town of Ariha in Idlib on {day}, killing two women, rescuers said.",
        "Two women were killed in an air raid on Ariha, a town south of Idlib city, on {day}.",
    ),
]


def test_racing_workers_never_make_twin_incidents(
    tmp_path: Path, postgres_url: str, redis_url: str, engine: Engine
) -> None:
    env = _env(tmp_path, postgres_url, redis_url)  # no channel configured: this test is about the merge
    _migrate(env)
    published = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    day = published.strftime("%A")
    sender = _sender(redis_url)
    with celery_process(WORKER_ARGS, env, tmp_path / "worker.log"):
        for round_index, (village, report_a, report_b) in enumerate(RACE_ROUNDS):
            ids = []
            for outlet, report in (("127.0.0.2", report_a), ("127.0.0.3", report_b)):
                url = f"http://{outlet}/news/round-{round_index}"
                (article_id,) = _rows(
                    engine,
                    "INSERT INTO articles (url, canonical_url, outlet, text, published_at, discovered_at, "
                    "updated_at, status, attempts, stage_attempts) VALUES (:url, :url, :outlet, :text, :published, "
                    ":published, :published, 'cleaned', 0, 0) RETURNING id",
                    url=url,
                    outlet=outlet,
                    text=report.format(day=day),
                    published=published,
                )[0]
                ids.append(article_id)
            for article_id in ids:  # both messages at once: the worker's two processes take one each
                sender.send_task(TaskName.EXTRACT_EVENTS.value, args=[article_id])

            def extracted(pair: list[int] = ids) -> bool:
                rows = _rows(engine, "SELECT status FROM articles WHERE id IN (:a, :b)", a=pair[0], b=pair[1])
                return all(status == "extracted" for (status,) in rows)

            assert wait_until(extracted, timeout=90), _worker_log(tmp_path)
            incidents = _rows(
                engine,
                "SELECT DISTINCT r.incident_id FROM incident_reports r WHERE r.article_id IN (:a, :b)",
                a=ids[0],
                b=ids[1],
            )
            assert len(incidents) == 1, f"round {round_index} ({village}): twins {incidents}"

    per_incident = _rows(engine, "SELECT incident_id, count(*) FROM incident_reports GROUP BY incident_id")
    assert len(per_incident) == len(RACE_ROUNDS) and all(count == 2 for _, count in per_incident), per_incident


# --- delivery: 500, 500, 200 -> one delivery; 429 Retry-After honoured; redelivery sends nothing ------------
def test_webhook_retries_deliver_once_and_honour_retry_after(
    tmp_path: Path, postgres_url: str, redis_url: str, engine: Engine
) -> None:
    with (
        webhook_receiver(WebhookReceiver(statuses=[500, 500])) as flaky,
        webhook_receiver(WebhookReceiver(statuses=[429], retry_after="2")) as limited,
    ):
        env = _env(
            tmp_path,
            postgres_url,
            redis_url,
            DMZWATCH_WEBHOOK_URLS=f"{flaky.base}/hook,{limited.base}/hook",
        )
        _migrate(env)
        published = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        report = (
            f"Warplanes struck the town of Kafr Nabl in southern Idlib on {published.strftime('%A')}, killing five "
            "civilians, rescuers said."
        )
        (article_id,) = _rows(
            engine,
            "INSERT INTO articles (url, canonical_url, outlet, text, published_at, discovered_at, updated_at, "
            "status, attempts, stage_attempts) VALUES ('http://127.0.0.2/news/1', 'http://127.0.0.2/news/1', "
            "'127.0.0.2', :text, :published, :published, :published, 'cleaned', 0, 0) RETURNING id",
            text=report,
            published=published,
        )[0]
        sender = _sender(redis_url)
        # DEBUG: Celery's per-task "succeeded" lines (hidden at INFO) tell when the redelivered messages ran.
        debug_worker = [arg if arg != "INFO" else "DEBUG" for arg in WORKER_ARGS]
        with celery_process(debug_worker, env, tmp_path / "worker.log"):
            sender.send_task(TaskName.EXTRACT_EVENTS.value, args=[article_id])
            flaky.wait_for(1, timeout=90)
            limited.wait_for(1, timeout=30)
            assert wait_until(
                lambda: len(_rows(engine, "SELECT id FROM alerts WHERE status = 'sent'")) == 2, timeout=30
            ), _worker_log(tmp_path)
            alerts = {
                channel: (alert_id, attempts)
                for alert_id, channel, attempts in _rows(engine, "SELECT id, channel, attempts FROM alerts")
            }
            # Redelivered messages (a crash after the send, a re-queue): the rows are sent, nothing goes out.
            redelivered = [
                sender.send_task(TaskName.DELIVER_ALERT.value, args=[alert_id]).id for alert_id, _ in alerts.values()
            ]
            assert wait_until(
                lambda: all(f"[{task_id}] succeeded" in _worker_log(tmp_path) for task_id in redelivered), timeout=30
            ), _worker_log(tmp_path)

    assert [status for _, status in flaky.attempt_log] == [500, 500, 200]
    assert len(flaky.received) == 1 and alerts["webhook-1"][1] == 3
    assert [status for _, status in limited.attempt_log] == [429, 200]
    assert len(limited.received) == 1 and alerts["webhook-2"][1] == 2
    # Retry-After: 2 was honoured: the retry arrived no sooner than 2 s after the 429 (receiver's own clock).
    assert limited.attempt_log[1][0] - limited.attempt_log[0][0] >= 2.0, limited.attempt_log
    body = flaky.received[0]
    _verify_signature(body.headers, body.body)
    assert body.json()["type"] == "incident.new" and body.json()["alert"]["killed"] == 5


# --- burst control: over the rate, alerts fold into one digest per channel ------------------------------------
def test_burst_over_the_rate_becomes_one_digest(
    tmp_path: Path, postgres_url: str, redis_url: str, engine: Engine
) -> None:
    with webhook_receiver() as hook:
        env = _env(
            tmp_path,
            postgres_url,
            redis_url,
            DMZWATCH_WEBHOOK_URLS=f"{hook.base}/hook",
            # One message per 2 s window: of three new incidents, one goes alone, two wait for the digest.
            DMZWATCH_ALERT_DIGEST_THRESHOLD="1",
            DMZWATCH_ALERT_DIGEST_WINDOW_S="2",
        )
        _migrate(env)
        published = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        day = published.strftime("%A")
        report = (
            f"Warplanes struck Kafr Nabl on {day}, killing three civilians. In a separate raid, jets hit Khan "
            f"Shaykhun, killing two men. Later on {day}, shells hit Maarat al-Numan, killing a child, rescuers said."
        )
        (article_id,) = _rows(
            engine,
            "INSERT INTO articles (url, canonical_url, outlet, text, published_at, discovered_at, updated_at, "
            "status, attempts, stage_attempts) VALUES ('http://127.0.0.2/news/burst', 'http://127.0.0.2/news/burst', "
            "'127.0.0.2', :text, :published, :published, :published, 'cleaned', 0, 0) RETURNING id",
            text=report,
            published=published,
        )[0]
        with celery_process(WORKER_ARGS, env, tmp_path / "worker.log"):
            _sender(redis_url).send_task(TaskName.EXTRACT_EVENTS.value, args=[article_id])
            received = hook.wait_for(2, timeout=90)
            assert wait_until(
                lambda: not _rows(engine, "SELECT id FROM alerts WHERE status NOT IN ('sent', 'failed')"), timeout=30
            ), _worker_log(tmp_path)

    incident_ids = {i for (i,) in _rows(engine, "SELECT id FROM incidents WHERE zone_status = 'inside'")}
    assert len(incident_ids) == 3, _rows(engine, "SELECT place_name, zone_status FROM incidents")
    assert [r.json()["type"] for r in received] == ["incident.new", "incident.digest"], [r.json() for r in received]
    alone, digest = (r.json() for r in received)
    assert digest["count"] == 2
    # Every incident announced exactly once, alone or in the digest.
    announced = [alone["alert"]["incident_id"]] + [a["incident_id"] for a in digest["alerts"]]
    assert sorted(announced) == sorted(incident_ids)
    refs = _rows(engine, "SELECT DISTINCT external_ref FROM alerts WHERE external_ref LIKE 'digest:%'")
    assert len(refs) == 1 and hook.attempts == 2
