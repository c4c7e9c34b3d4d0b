"""Flower against a real worker: workers and tasks read through Flower's HTTP API, with basic auth."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from celery import Celery
from prometheus_client.parser import text_string_to_metric_families

from tests.support.faults import free_port, private_redis
from tests.support.services import REPO, celery_process, dmzwatch, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def broker_url(tmp_path: Path) -> Iterator[str]:
    """A private Redis, so no concurrent run on the shared one can take (or add to) this test's messages."""
    with private_redis(tmp_path / "broker") as server:
        yield server.url


AUTH = ("operator", "flower-s3cret")


@pytest.fixture
def flower_env(base_env: dict[str, str], postgres_url: str, broker_url: str) -> dict[str, str]:
    env = {
        **base_env,
        "DMZWATCH_DATABASE_URL": postgres_url,
        "DMZWATCH_BROKER_URL": broker_url,
        "DMZWATCH_FLOWER_BASIC_AUTH": ":".join(AUTH),
        "DMZWATCH_ZONE_SILENCE_H": "0",
    }
    for command in (["db", "upgrade"], ["feeds", "sync"]):
        result = dmzwatch(command, env)
        assert result.returncode == 0, result.stderr[-2000:]
    return env


@pytest.fixture
def flower(flower_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = tmp_path / "flower.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "workers.cli", "flower", "--port", str(port)],
            env=flower_env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"

    def serving() -> bool:
        try:
            return httpx.get(f"{base}/healthcheck", timeout=1).status_code in (200, 401)
        except httpx.HTTPError:
            return False

    try:
        assert wait_until(serving, timeout=30), log.read_text(errors="replace")[-3000:]
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _get(url: str, auth: tuple[str, str] | None = AUTH) -> httpx.Response:
    return httpx.get(url, auth=auth, timeout=10)


def test_flower_shows_workers_and_named_tasks_only_with_auth(
    flower: str, flower_env: dict[str, str], broker_url: str, tmp_path: Path
) -> None:
    worker_args = ["worker", "-Q", "feeds,fetch,nlp,alerts,maintenance", "-c", "1", "-n", "flowertest@%h", "-E"]
    with celery_process(worker_args, flower_env, tmp_path / "worker.log"):

        def worker_listed() -> bool:
            response = _get(f"{flower}/api/workers?refresh=1")
            return response.status_code == 200 and any(name.startswith("flowertest@") for name in response.json())

        assert wait_until(worker_listed, timeout=60), (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
        workers: dict[str, Any] = _get(f"{flower}/api/workers").json()
        name = next(n for n in workers if n.startswith("flowertest@"))
        registered = workers[name].get("registered", [])
        assert "dmzwatch.extract_events" in registered and "dmzwatch.requeue_stuck" in registered, registered

        client = Celery(broker=broker_url)
        try:
            sent = client.send_task("dmzwatch.schedule_due_feeds", queue="feeds")
        finally:
            client.close()

        def tasks_seen() -> dict[str, Any] | None:
            tasks: dict[str, Any] = _get(f"{flower}/api/tasks").json()
            names = {(t.get("name"), t.get("state")) for t in tasks.values()}
            wanted = {("dmzwatch.schedule_due_feeds", "SUCCESS"), ("dmzwatch.poll_feed", "SUCCESS")}
            return tasks if wanted <= names else None

        assert wait_until(tasks_seen, timeout=60), _get(f"{flower}/api/tasks").text[:3000]
        info = _get(f"{flower}/api/task/info/{sent.id}").json()
        assert info["name"] == "dmzwatch.schedule_due_feeds" and info["worker"] == name

        metrics = {f.name: f for f in text_string_to_metric_families(_get(f"{flower}/metrics").text)}
        runtime = metrics["flower_task_runtime_seconds"]
        assert any(s.labels.get("task") == "dmzwatch.poll_feed" for s in runtime.samples)

    for path in ("/api/workers", "/api/tasks", f"/api/task/info/{sent.id}", "/", "/tasks"):
        assert _get(f"{flower}{path}", auth=None).status_code == 401, path
        assert _get(f"{flower}{path}", auth=("operator", "wrong")).status_code == 401, path
    # Flower leaves these two open by design, for Prometheus and health checks: task names and counts only.
    for path in ("/metrics", "/healthcheck"):
        assert _get(f"{flower}{path}", auth=None).status_code == 200, path


def test_flower_refuses_to_listen_beyond_localhost_without_auth(flower_env: dict[str, str]) -> None:
    env = {key: value for key, value in flower_env.items() if key != "DMZWATCH_FLOWER_BASIC_AUTH"}
    result = dmzwatch(["flower", "--address", "0.0.0.0", "--port", str(free_port())], env, timeout=60)
    assert result.returncode == 2 and "DMZWATCH_FLOWER_BASIC_AUTH" in result.stderr
