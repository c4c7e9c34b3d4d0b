"""Faults on real processes (issue 6, "Done when"): nothing lost, nothing doubled.

Every test runs the real pipeline (feed → fetch → clean → extract → incident → alert) from the loopback news
site to the loopback Slack receiver, with real `celery worker` processes (started from tests.support.fault_app:
the real app, with fault injection around the real extractor), and checks the end state in the database and
at the receiver: every article final, the in-zone incident once, its alert sent once.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery
from sqlalchemy import create_engine, text

from tests.support.faults import kill_group, private_postgres, private_redis, supervised_worker, worker_group
from tests.support.servers import WebhookReceiver, webhook_receiver
from tests.support.services import celery_process, dmzwatch, wait_until

pytestmark = pytest.mark.integration

OPEN = ("new", "fetched", "cleaned")
ARTICLES = 3  # tests/fixtures/site/feed.xml: Kafr Nabl (inside the zone), Suqaylabiyah (outside), aid convoy
WORKER = ["worker", "-Q", "feeds,fetch,nlp,alerts,maintenance", "-c", "2", "--loglevel", "INFO", "-E"]


def _db(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _query(db_url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(_db(db_url))
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql)).all()]
    finally:
        engine.dispose()


def _articles(db_url: str) -> dict[str, tuple[str, str | None, int]]:
    """slug → (status, error, deliveries of its last stage)."""
    try:
        rows = _query(db_url, "SELECT url, status, error, stage_attempts FROM articles")
    except Exception:  # noqa: BLE001 - the database may be down on purpose while we poll it
        return {}
    return {
        str(url).rsplit("/", 1)[-1].split("?")[0]: (str(status), None if error is None else str(error), int(str(n)))
        for url, status, error, n in rows
    }


def _settled(db_url: str) -> bool:
    articles = _articles(db_url)
    return len(articles) == ARTICLES and not any(status in OPEN for status, _e, _a in articles.values())


def _assert_incident_and_alert_once(
    db_url: str, slack: WebhookReceiver, tick: Callable[[], object] = lambda: None
) -> None:
    def delivered_all() -> bool:
        tick()
        return _query(db_url, "SELECT count(*) FROM alerts WHERE status = 'pending'") == [(0,)]

    delivered = wait_until(delivered_all, 60)
    assert delivered, _query(db_url, "SELECT id, status, attempts, last_error FROM alerts")
    inside = _query(db_url, "SELECT id, place_name FROM incidents WHERE zone_status = 'inside'")
    assert len(inside) == 1, inside
    incident_id = inside[0][0]
    reports = _query(db_url, f"SELECT article_id FROM incident_reports WHERE incident_id = {incident_id}")
    assert len(reports) == 1, reports
    alerts = _query(db_url, f"SELECT channel, status FROM alerts WHERE incident_id = {incident_id}")
    assert alerts == [("slack", "sent")], alerts
    received = slack.wait_for(1, timeout=30)
    time.sleep(1)  # a second (duplicate) delivery would be in flight right behind the first
    assert len(slack.received) == 1, [r.json()["text"] for r in received]
    assert "Kafr Nabl" in slack.received[0].json()["text"]


def _prepare(env: dict[str, str]) -> None:
    for command in (["db", "upgrade"], ["feeds", "sync"]):
        result = dmzwatch(command, env)
        assert result.returncode == 0, result.stderr[-2000:]


def _poll_feeds_now(broker_url: str, db_url: str) -> None:
    """What beat's schedule tick does, sent once: a poll_feed message per feed."""
    client = Celery(broker=broker_url)
    try:
        for (feed_id,) in _query(db_url, "SELECT id FROM feeds"):
            client.send_task("dmzwatch.poll_feed", args=[feed_id], queue="feeds")
    finally:
        client.close()


def _log(path: Path) -> str:
    return path.read_text(errors="replace")[-5000:] if path.exists() else ""


@pytest.fixture
def broker_url(tmp_path: Path) -> Iterator[str]:
    """A private Redis: the machine's shared one has 15 db indexes for every concurrent test run, and a worker
    on a colliding index would consume (and lose, for its owner) another run's messages."""
    with private_redis(tmp_path / "broker") as server:
        yield server.url


@pytest.fixture
def fault_env(base_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {
        **base_env,
        "FAULT_STARTED_FILE": str(tmp_path / "extraction-started"),
        "FAULT_HOLD_FILE": str(tmp_path / "hold-extraction"),
        "DMZWATCH_ZONE_SILENCE_H": "0",
        "DMZWATCH_MAINTENANCE_TICK_S": "1",
        # Above any one stage's run time here (spaCy loads in ~1.5 s), so only lost messages are re-sent.
        "DMZWATCH_STUCK_AFTER_S": "6",
        "DMZWATCH_ALERT_PENDING_AFTER_S": "6",
        # Every article is on 127.0.0.1: per-host politeness would only add retries and seconds here.
        "DMZWATCH_HOST_MIN_INTERVAL_S": "0",
    }


def test_sigkill_mid_extraction_then_restart_processes_the_article_once(
    fault_env: dict[str, str], postgres_url: str, broker_url: str, slack: WebhookReceiver, tmp_path: Path
) -> None:
    env = {
        **fault_env,
        "DMZWATCH_DATABASE_URL": postgres_url,
        "DMZWATCH_BROKER_URL": broker_url,
        "FAULT_HOLD_MARKER": "Kafr Nabl",
    }
    _prepare(env)
    hold, started = Path(env["FAULT_HOLD_FILE"]), Path(env["FAULT_STARTED_FILE"])
    hold.touch()
    first_log = tmp_path / "worker-1.log"
    with worker_group([*WORKER, "-n", "doomed@%h"], env, first_log) as doomed:
        _poll_feeds_now(broker_url, postgres_url)
        assert wait_until(started.exists, timeout=90), _log(first_log)
        kill_group(doomed)  # main process and pool children, mid extract_events
    hold.unlink()
    assert _articles(postgres_url)["kafr-nabl-strikes"][0] == "cleaned"
    # Without self-healing this message would wait out Redis' visibility timeout (hours), unacked:
    assert redis.Redis.from_url(broker_url).hlen("unacked") >= 1

    second_log, beat_log = tmp_path / "worker-2.log", tmp_path / "beat.log"
    beat = ["beat", "--schedule", str(tmp_path / "beat-schedule"), "--loglevel", "INFO"]
    with worker_group([*WORKER, "-n", "survivor@%h"], env, second_log), celery_process(beat, env, beat_log):
        assert wait_until(lambda: _settled(postgres_url), timeout=90), _log(second_log) + _log(beat_log)
        status, error, deliveries = _articles(postgres_url)["kafr-nabl-strikes"]
        assert (status, error) == ("extracted", None)
        assert deliveries >= 2  # the killed delivery counted, then the re-queued one finished
        _assert_incident_and_alert_once(postgres_url, slack)
    assert "re-queued" in second_log.read_text(errors="replace")


def test_poison_article_fails_after_its_attempts_while_the_others_flow(
    fault_env: dict[str, str], postgres_url: str, broker_url: str, slack: WebhookReceiver, tmp_path: Path
) -> None:
    env = {
        **fault_env,
        "DMZWATCH_DATABASE_URL": postgres_url,
        "DMZWATCH_BROKER_URL": broker_url,
        "FAULT_CRASH_MARKER": "Suqaylabiyah",  # its extraction kills the worker process, every time
        "DMZWATCH_MAX_STAGE_ATTEMPTS": "3",
    }
    _prepare(env)
    log = tmp_path / "worker.log"
    with worker_group([*WORKER, "-n", "poisoned@%h"], env, log) as worker:
        _poll_feeds_now(broker_url, postgres_url)
        assert wait_until(lambda: _settled(postgres_url), timeout=120), _log(log)
        articles = _articles(postgres_url)
        status, error, deliveries = articles["suqaylabiyah-rockets"]
        assert status == "failed" and error is not None and "extract: gave up after 3 deliveries" in error, error
        assert deliveries == 4  # three that crashed, the fourth refused
        assert articles["kafr-nabl-strikes"][0] == "extracted"
        _assert_incident_and_alert_once(postgres_url, slack)
        assert worker.poll() is None, "the worker itself must survive its children's crashes"
    assert _log(log).count("exited with 'signal 9 (SIGKILL)'") == 3


# The deployment's worker classes (docker-compose.yml): one per queue class, so a crash shows whose it was.
DEPLOYMENT_WORKERS = {"io": "feeds,fetch,maintenance", "nlp": "nlp,maintenance", "alerts": "alerts,maintenance"}
# A task of every queue waiting on a countdown when the broker dies: retries, politeness waits and digests
# look like this. Ids that match no row: when they finally run, they find nothing and do nothing.
COUNTDOWN_TASKS = {
    "dmzwatch.poll_feed": "feeds",
    "dmzwatch.fetch_article": "fetch",
    "dmzwatch.extract_events": "nlp",
    "dmzwatch.deliver_alert": "alerts",
}


@pytest.mark.parametrize("persistent", [True, False], ids=["aof", "nothing-on-disk"])
def test_broker_killed_and_restarted_with_unacked_and_countdown_messages_workers_live_on(
    fault_env: dict[str, str], postgres_url: str, slack: WebhookReceiver, tmp_path: Path, persistent: bool
) -> None:
    """Issue 13, fault 1: kill -9 Redis while every worker holds unacknowledged messages, start it again.

    kombu 5.7.0 crashed the worker's main process here while restoring those messages
    (`AttributeError: 'NoneType' object has no attribute 'hostname'` in kombu/transport/redis.py); the pin in
    pyproject.toml keeps it out. No worker may need a restart, and the pipeline must finish as if nothing happened.
    A broker that kept nothing on disk comes back empty: the maintenance pass rebuilds the lost messages from
    the database.
    """
    with private_redis(tmp_path / "redis", persistent=persistent) as own_redis:
        env = {
            **fault_env,
            "DMZWATCH_DATABASE_URL": postgres_url,
            "DMZWATCH_BROKER_URL": own_redis.url,
            "FAULT_HOLD_MARKER": "Kafr Nabl",
        }
        _prepare(env)
        hold, started = Path(env["FAULT_HOLD_FILE"]), Path(env["FAULT_STARTED_FILE"])
        hold.touch()
        logs = {name: tmp_path / f"worker-{name}.log" for name in DEPLOYMENT_WORKERS}
        beat_log = tmp_path / "beat.log"
        beat = ["beat", "--schedule", str(tmp_path / "beat-schedule"), "--loglevel", "INFO"]
        with contextlib.ExitStack() as stack:
            workers = {
                name: stack.enter_context(
                    supervised_worker(["worker", "-Q", queues, "-c", "2", "-n", f"{name}@%h", "-E"], env, logs[name])
                )
                for name, queues in DEPLOYMENT_WORKERS.items()
            }
            stack.enter_context(celery_process(beat, env, beat_log))

            def all_logs() -> str:
                return "".join(f"--- {name}\n{_log(path)}" for name, path in logs.items()) + _log(beat_log)

            assert wait_until(started.exists, timeout=90), all_logs()  # an extraction is in flight
            client = Celery(broker=own_redis.url)
            try:
                for task, queue in COUNTDOWN_TASKS.items():
                    client.send_task(task, args=[999_999], queue=queue, countdown=300)
            finally:
                client.close()
            unacked = redis.Redis.from_url(own_redis.url)
            # Every queue's countdown message sits reserved (unacknowledged) in a worker, plus the extraction.
            assert wait_until(lambda: unacked.hlen("unacked") >= len(COUNTDOWN_TASKS) + 1, 30), all_logs()
            time.sleep(1.5)  # AOF is fsynced every second: what a kill -9 keeps (when there is an AOF)
            own_redis.kill()
            time.sleep(2)  # every worker notices the lost connection and starts reconnecting
            own_redis.start()
            hold.unlink()

            def settled() -> bool:
                for worker in workers.values():
                    worker.supervise()
                return _settled(postgres_url)

            assert wait_until(settled, timeout=120), all_logs()
            assert not [a for a, (s, _e, _n) in _articles(postgres_url).items() if s == "failed"]
            _assert_incident_and_alert_once(postgres_url, slack, tick=settled)
            time.sleep(5)  # a crash while restoring unacked messages comes seconds after the reconnect
            settled()
            restarts = {name: worker.restarts for name, worker in workers.items()}
            assert restarts == dict.fromkeys(DEPLOYMENT_WORKERS, 0), all_logs()
            assert "Unrecoverable error" not in all_logs()


OUTAGE_S = 30.0  # the figure: a database restart or failover, not a blip


def test_postgres_down_for_30_seconds_tasks_retry_and_finish(
    fault_env: dict[str, str], broker_url: str, slack: WebhookReceiver, tmp_path: Path
) -> None:
    with private_postgres() as server:
        env = {
            **fault_env,
            "DMZWATCH_DATABASE_URL": server.url,
            "DMZWATCH_BROKER_URL": broker_url,
            "FAULT_HOLD_MARKER": "Kafr Nabl",
        }
        _prepare(env)
        hold, started = Path(env["FAULT_HOLD_FILE"]), Path(env["FAULT_STARTED_FILE"])
        hold.touch()
        log = tmp_path / "worker.log"
        with worker_group([*WORKER, "-n", "patient@%h"], env, log) as worker:
            _poll_feeds_now(broker_url, server.url)
            assert wait_until(started.exists, timeout=90), _log(log)
            server.stop()  # mid-run: an extraction is in flight and will find the database gone
            hold.unlink()
            time.sleep(OUTAGE_S)
            server.start()
            assert wait_until(lambda: _settled(server.url), timeout=180), _log(log)
            articles = _articles(server.url)
            assert not [a for a, (s, _e, _n) in articles.items() if s == "failed"], articles
            database_retries = [
                line
                for line in log.read_text(errors="replace").splitlines()
                if "retry: Retry in" in line and "OperationalError" in line
            ]
            assert database_retries, _log(log)
            _assert_incident_and_alert_once(server.url, slack)
            assert worker.poll() is None


# --- alert delivery faults (issue 13) -----------------------------------------------------------------------------
def _alert_rows(db_url: str) -> list[tuple[object, ...]]:
    return _query(db_url, "SELECT id, channel, status, attempts, failures, last_error FROM alerts ORDER BY id")


def _all_alerts_sent(db_url: str, expected: int) -> bool:
    rows = _alert_rows(db_url)
    return len(rows) == expected and all(status == "sent" for _i, _c, status, *_rest in rows)


def _with_webhook(env: dict[str, str], db_url: str, broker: str, hook: WebhookReceiver, **extra: str) -> dict[str, str]:
    """The fault environment on these services, with a generic webhook channel at ``hook`` beside Slack."""
    return {
        **env,
        "DMZWATCH_DATABASE_URL": db_url,
        "DMZWATCH_BROKER_URL": broker,
        "DMZWATCH_WEBHOOK_URLS": f"{hook.base}/hook",
        **{f"DMZWATCH_{key.upper()}": value for key, value in extra.items()},
    }


def test_channels_down_far_longer_than_the_old_retry_chain_lose_no_alert(
    fault_env: dict[str, str], postgres_url: str, broker_url: str, slack: WebhookReceiver, tmp_path: Path
) -> None:
    """Fault 2: both channels answer 500 for a long outage, then come back: every alert arrives, once.

    Time is compressed through the settings: backoff from 0.1 s up to 1 s between tries (the defaults are
    5 s and 900 s), so a 12 s outage spans more tries than a 30-minute one does with the defaults (about
    ten), and more than the retry budget that used to fail an alert for good (7 tries).
    """
    with webhook_receiver() as hook:
        env = _with_webhook(fault_env, postgres_url, broker_url, hook, alert_retry_base_s="0.1", alert_retry_cap_s="1")
        _prepare(env)
        slack.down_until = hook.down_until = time.monotonic() + 3600  # down until the first try is seen
        log = tmp_path / "worker.log"
        with worker_group([*WORKER, "-n", "outage@%h"], env, log):
            _poll_feeds_now(broker_url, postgres_url)
            for receiver in (slack, hook):
                assert wait_until(lambda r=receiver: r.attempts > 0, timeout=90), _log(log)
                receiver.down_until = receiver.attempt_log[0][0] + 12.0
            assert wait_until(lambda: _settled(postgres_url), timeout=60), _log(log)
            assert wait_until(lambda: _all_alerts_sent(postgres_url, 2), timeout=60), _alert_rows(postgres_url)
            for receiver in (slack, hook):
                failed_tries = sum(1 for _t, status in receiver.attempt_log if status == 500)
                assert failed_tries >= 8, receiver.attempt_log  # the old chain gave up after 7
            time.sleep(1)
            assert len(slack.received) == 1 and "Kafr Nabl" in slack.received[0].json()["text"]
            assert len(hook.received) == 1 and len(hook.deliveries()) == 1
            for _id, _channel, _status, attempts, failures, last_error in _alert_rows(postgres_url):
                assert int(str(failures)) >= 8 and int(str(attempts)) == int(str(failures)) + 1
                assert last_error is None


def test_alerts_worker_killed_mid_send_is_resent_within_two_minutes_once_per_delivery_id(
    fault_env: dict[str, str], postgres_url: str, broker_url: str, slack: WebhookReceiver, tmp_path: Path
) -> None:
    """Fault 3: SIGKILL the whole alerts worker while the receiver holds its request. Default lease and
    maintenance tick: the alert goes out again within 2 minutes, and the receiver, de-duplicating on
    X-Dmzwatch-Delivery, acts on it once."""
    with webhook_receiver() as hook:
        hook.hang = True
        env = _with_webhook(fault_env, postgres_url, broker_url, hook)
        del env["DMZWATCH_MAINTENANCE_TICK_S"]  # the default (30 s), as the issue asks
        _prepare(env)
        pipeline_log, alerts_log, beat_log = (tmp_path / f"{n}.log" for n in ("pipeline", "alerts", "beat"))
        pipeline = ["worker", "-Q", "feeds,fetch,nlp,maintenance", "-c", "2", "-n", "pipeline@%h", "-E"]
        alerts_worker = ["worker", "-Q", "alerts", "-c", "2", "-E"]
        beat = ["beat", "--schedule", str(tmp_path / "beat-schedule"), "--loglevel", "INFO"]
        with worker_group(pipeline, env, pipeline_log), celery_process(beat, env, beat_log):
            with worker_group([*alerts_worker, "-n", "doomed@%h"], env, alerts_log) as doomed:
                _poll_feeds_now(broker_url, postgres_url)
                assert wait_until(lambda: hook.in_flight == 1, timeout=90), _log(pipeline_log) + _log(alerts_log)
                slack_sent = "SELECT count(*) FROM alerts WHERE channel = 'slack' AND status = 'sent'"
                assert wait_until(lambda: _query(postgres_url, slack_sent) == [(1,)], 30), _alert_rows(postgres_url)
                kill_group(doomed)
                killed_at = time.monotonic()
            hook.hang = False
            hook.release.set()
            with worker_group([*alerts_worker, "-n", "survivor@%h"], env, tmp_path / "alerts-2.log"):
                assert wait_until(lambda: hook.attempts >= 2, timeout=150), _alert_rows(postgres_url)
                resent_after = hook.attempt_log[1][0] - killed_at
                print(f"alert re-sent {resent_after:.0f} s after its worker was killed")
                assert resent_after <= 120, resent_after
                assert wait_until(lambda: _all_alerts_sent(postgres_url, 2), timeout=30), _alert_rows(postgres_url)
                time.sleep(1)
        assert len(hook.deliveries()) == 1, [r.headers for r in hook.received]  # one incident version, once
        assert len(slack.received) == 1


def test_a_hung_channel_holds_one_alerts_process_while_the_healthy_channel_flows(
    fault_env: dict[str, str], postgres_url: str, broker_url: str, slack: WebhookReceiver, tmp_path: Path
) -> None:
    """A receiver that never answers: at most one send to it is in flight (DMZWATCH_ALERT_CHANNEL_CONCURRENCY),
    the other alerts process keeps Slack flowing, and once the receiver answers again everything arrives."""
    routes = tmp_path / "alerts.yaml"
    routes.write_text("routes:\n  - channels: [slack, webhook-1]\n    zone_statuses: [inside, outside]\n")
    with webhook_receiver() as hook:
        hook.hang = True
        env = _with_webhook(
            fault_env,
            postgres_url,
            broker_url,
            hook,
            alerts_file=str(routes),
            alert_retry_base_s="0.5",
            alert_retry_cap_s="2",
        )
        _prepare(env)
        log = tmp_path / "worker.log"
        with worker_group([*WORKER, "-n", "hung@%h"], env, log):
            _poll_feeds_now(broker_url, postgres_url)
            assert wait_until(lambda: _settled(postgres_url), timeout=90), _log(log)
            # Both incidents (inside and outside the zone) reach Slack while the webhook hangs.
            assert len(slack.wait_for(2, timeout=30)) == 2, _alert_rows(postgres_url)
            assert hook.in_flight_max == 1  # never both alerts processes stuck on the hung channel
            assert hook.attempts >= 1
            hook.hang = False
            hook.release.set()
            assert wait_until(lambda: _all_alerts_sent(postgres_url, 4), timeout=60), _alert_rows(postgres_url)
            time.sleep(1)
        assert len(hook.deliveries()) == 2 and len(slack.received) == 2
