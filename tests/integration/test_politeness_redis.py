"""Per-host politeness in real Redis: the limits hold across clients (as across workers), leases expire."""

from __future__ import annotations

import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from dmzwatch.politeness import HostBusyError, PolitenessLimits, RedisHostPoliteness


def _polite(url: str, **limits: float) -> RedisHostPoliteness:
    values = {"min_interval_s": 0.0, "max_concurrent": 0, "lease_s": 30.0, **limits}
    return RedisHostPoliteness(redis.Redis.from_url(url), PolitenessLimits(**values))  # type: ignore[arg-type]


def test_interval_is_shared_between_clients(redis_url: str) -> None:
    first, second = _polite(redis_url, min_interval_s=30), _polite(redis_url, min_interval_s=30)
    with first.slot("news.example"):
        pass
    with pytest.raises(HostBusyError) as caught, second.slot("news.example"):
        pass
    assert caught.value.retry_after_s is not None and 25 < caught.value.retry_after_s <= 30
    with second.slot("other.example"):
        pass


def test_concurrency_cap_is_shared_and_released(redis_url: str) -> None:
    first, second = _polite(redis_url, max_concurrent=1), _polite(redis_url, max_concurrent=1)
    with first.slot("a.example"):
        assert first.in_flight("a.example") == 1
        with pytest.raises(HostBusyError, match="already has 1 requests in flight"), second.slot("a.example"):
            pass
    assert first.in_flight("a.example") == 0
    with second.slot("a.example"):
        pass


def test_a_slot_never_released_expires_with_its_lease(redis_url: str) -> None:
    """A worker SIGKILLed mid-fetch never runs its `finally`: the lease frees the slot."""
    crashed, other = _polite(redis_url, max_concurrent=1, lease_s=0.3), _polite(redis_url, max_concurrent=1)
    held = crashed.slot("a.example")
    held.__enter__()  # and never __exit__
    with pytest.raises(HostBusyError), other.slot("a.example"):
        pass
    time.sleep(0.4)  # waiting on the lease, not asserting a duration
    with other.slot("a.example"):
        pass


def test_redis_down_is_a_transient_error() -> None:
    polite = RedisHostPoliteness(
        redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)),
        PolitenessLimits(min_interval_s=1, max_concurrent=1, lease_s=5),
    )
    with pytest.raises(Exception, match="politeness store") as caught, polite.slot("a.example"):
        pass
    from dmzwatch.errors import TransientError

    assert isinstance(caught.value, TransientError)
