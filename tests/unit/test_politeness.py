"""Per-host politeness, in-process implementation (the Redis one runs the same checks in tests/integration)."""

from __future__ import annotations

import pytest

from dmzwatch.errors import TransientError
from dmzwatch.politeness import (
    HostBusyError,
    LocalHostPoliteness,
    PolitenessLimits,
    host_key,
    redis_url_for_politeness,
)
from dmzwatch.settings import Settings


class _Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_min_interval_between_requests_to_one_host() -> None:
    clock = _Clock()
    polite = LocalHostPoliteness(PolitenessLimits(min_interval_s=2.0, max_concurrent=0, lease_s=60), clock=clock)
    with polite.slot("news.example"):
        pass
    clock.now += 0.5
    with pytest.raises(HostBusyError) as caught, polite.slot("news.example"):
        pass
    assert isinstance(caught.value, TransientError)
    assert caught.value.retry_after_s == pytest.approx(1.5)
    assert "news.example was contacted less than 2 s ago" in caught.value.reason
    with polite.slot("other.example"):  # other hosts are not held up
        pass
    clock.now += 1.5
    with polite.slot("news.example"):
        pass


def test_concurrency_cap_and_release_on_error() -> None:
    polite = LocalHostPoliteness(PolitenessLimits(min_interval_s=0, max_concurrent=2, lease_s=60))
    with polite.slot("a.example"), polite.slot("a.example"):
        with pytest.raises(HostBusyError) as caught, polite.slot("a.example"):
            pass
        assert "already has 2 requests in flight" in caught.value.reason
        assert caught.value.retry_after_s is not None and caught.value.retry_after_s > 0
    with pytest.raises(RuntimeError), polite.slot("a.example"):
        raise RuntimeError("the fetch failed")
    with polite.slot("a.example"), polite.slot("a.example"):  # both slots were given back
        pass


def test_disabled_limits_never_block() -> None:
    polite = LocalHostPoliteness(PolitenessLimits(min_interval_s=0, max_concurrent=0, lease_s=1))
    with polite.slot("a.example"), polite.slot("a.example"), polite.slot("a.example"):
        pass


def test_host_key() -> None:
    assert host_key("https://WWW.Example.org:8443/a?b") == "www.example.org"
    assert host_key("Example.org.") == "example.org"


def test_limits_and_redis_url_from_settings(tmp_path: object) -> None:
    settings = Settings(host_min_interval_s=0.5, host_max_concurrent=3, http_deadline_s=10)
    limits = PolitenessLimits.from_settings(settings)
    assert (limits.min_interval_s, limits.max_concurrent) == (0.5, 3)
    assert limits.lease_s > settings.http_deadline_s  # a fetch in progress never loses its slot
    assert redis_url_for_politeness(Settings(broker_url="redis://r:6379/2")) == "redis://r:6379/2"
    assert redis_url_for_politeness(Settings(broker_url="redis+socket:///tmp/x.sock")) == "unix:///tmp/x.sock"
    embedded = redis_url_for_politeness(Settings(data_dir="/srv/dmz"))  # type: ignore[arg-type]
    assert embedded.startswith("unix://") and embedded.endswith("redis.sock")
    with pytest.raises(ValueError, match="needs a Redis broker"):
        redis_url_for_politeness(Settings(broker_url="amqp://guest@rabbit//"))
