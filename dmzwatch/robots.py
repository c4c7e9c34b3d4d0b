"""robots.txt for article pages (RFC 9309), fetched through the one HTTP client and cached per host.

Only article pages are checked. A feed is published to be polled, and robots.txt rules written for crawlers
(``Disallow: /feed/`` is common, to keep search engines from indexing it) are not aimed at feed readers.

Parsing follows RFC 9309 rather than :mod:`urllib.robotparser`, which applies the *first* matching rule and
knows no wildcards, so ``Allow: /news/$`` or ``Disallow: /*?print=`` would be misread:

* the group for our product token (case-insensitive, e.g. ``dmzwatch`` from the User-Agent) wins, else ``*``;
  several groups for the same agent are merged;
* the longest matching path pattern wins, ``Allow`` wins a tie; ``*`` matches any run of characters and a
  trailing ``$`` anchors the end; an empty ``Disallow:`` disallows nothing; ``/robots.txt`` is always allowed.

What the fetch outcome means (RFC 9309 §2.3.1):

* 2xx: parse it (a body that is not a robots file, e.g. an HTML page, simply has no rules: allow all);
* "unavailable" (4xx incl. 404/410, too many redirects, a body over the cap, a blocked redirect target):
  no rules, allow all;
* "unreachable" (5xx, 429, timeouts, connection failures): the RFC says assume complete disallow. We raise
  :class:`RobotsUnreachableError`, a transient error, so the article is retried later instead of being failed
  or fetched against the site's wishes; the unreachable state is cached briefly so a down site is not asked
  again for every article.

The cache is per process (a bounded LRU of parsed rules, expiring after ``robots_cache_ttl_s``): like the HTTP
connection pool, it is a cache of public data, never state a message depends on; a worker that restarts simply
fetches robots.txt again.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from dmzwatch.errors import PermanentError, TransientError
from dmzwatch.http import SafeHttpClient

# RFC 9309 §2.5: crawlers must parse at least 500 KiB; nobody needs more.
ROBOTS_MAX_BYTES = 512 * 1024
# How long "the site's robots.txt could not be reached" is remembered: short, the outage may be a blip.
UNREACHABLE_TTL_S = 120.0
DEFAULT_MAX_HOSTS = 2048
_ACCEPT_ROBOTS = "text/plain, */*;q=0.5"


class RobotsDisallowedError(PermanentError):
    """robots.txt forbids fetching this page for our user agent."""


class RobotsUnreachableError(TransientError):
    """robots.txt could not be fetched (5xx, 429, timeout): RFC 9309 says hold off, so retry later."""


def product_token(user_agent: str) -> str:
    """The product token robots.txt groups are matched against: "dmzwatch" for "dmzwatch/0.1 (+https://...)"."""
    match = re.match(r"\s*([A-Za-z_-]+)", user_agent)
    return match.group(1).lower() if match else "*"


# --- parsing -----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RobotsRule:
    allow: bool
    pattern: str  # as written (percent-decoded), e.g. "/private/" or "/*.pdf$"

    def __str__(self) -> str:
        return f"{'Allow' if self.allow else 'Disallow'}: {self.pattern}"


def _compile(pattern: str) -> re.Pattern[str]:
    anchored = pattern.endswith("$")
    body = pattern[:-1] if anchored else pattern
    regex = ".*".join(re.escape(part) for part in body.split("*"))
    return re.compile(regex + ("$" if anchored else ""), re.DOTALL)


@dataclass(frozen=True, slots=True)
class RobotsRules:
    """The rules that apply to one user agent on one host."""

    rules: tuple[RobotsRule, ...]
    group: str  # the user-agent line of the group that applied ("*" or our token), "" when none did

    @classmethod
    def allow_all(cls) -> RobotsRules:
        return cls((), "")

    @classmethod
    def parse(cls, text: str, agent: str) -> RobotsRules:
        """The rules for ``agent`` (a lower-case product token) in a robots.txt document."""
        groups: list[tuple[list[str], list[RobotsRule]]] = []
        agents: list[str] = []
        rules: list[RobotsRule] = []
        for raw_line in text.splitlines():
            line = raw_line.split("#", 1)[0].strip()
            key, sep, value = line.partition(":")
            if not sep:
                continue
            key, value = key.strip().lower(), value.strip()
            if key in ("user-agent", "useragent"):
                if rules:  # a user-agent line after rules starts a new group
                    groups.append((agents, rules))
                    agents, rules = [], []
                agents.append(value.lower())
            elif key in ("allow", "disallow"):
                if not agents:
                    continue  # rules before any user-agent line belong to no group (RFC 9309 §2.1)
                if value:  # "Disallow:" with no path disallows nothing
                    rules.append(RobotsRule(key == "allow", unquote(value)))
        if agents:
            groups.append((agents, rules))
        for wanted in (agent, "*"):
            chosen = [rule for names, group_rules in groups if wanted in names for rule in group_rules]
            if any(wanted in names for names, _ in groups):
                return cls(tuple(chosen), wanted)
        return cls.allow_all()

    def matching_rule(self, path: str) -> RobotsRule | None:
        """The rule deciding ``path`` (path + query, percent-decoded): the longest match, Allow on a tie."""
        best: RobotsRule | None = None
        for rule in self.rules:
            if not _compile(rule.pattern).match(path):
                continue
            if best is None or (len(rule.pattern), rule.allow) > (len(best.pattern), best.allow):
                best = rule
        return best

    def allows(self, path: str) -> bool:
        if path == "/robots.txt":
            return True
        rule = self.matching_rule(path)
        return rule is None or rule.allow


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    path = unquote(parts.path or "/")
    return f"{path}?{unquote(parts.query)}" if parts.query else path


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", ""))


# --- fetching and caching ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Cached:
    expires_at: float
    rules: RobotsRules | None  # None: unreachable
    reason: str  # why unreachable, or where the rules came from


class RobotsPolicy:
    """Answers "may this page be fetched?" for one user agent, caching each host's robots.txt for ``ttl_s``."""

    def __init__(
        self,
        client: SafeHttpClient,
        *,
        user_agent: str,
        ttl_s: float = 3600.0,
        max_hosts: int = DEFAULT_MAX_HOSTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._agent = product_token(user_agent)
        self._ttl_s = ttl_s
        self._max_hosts = max_hosts
        self._clock = clock
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def client(self) -> SafeHttpClient:
        return self._client

    def check(self, url: str) -> None:
        """Return when ``url`` may be fetched; raise RobotsDisallowedError (permanent) or RobotsUnreachableError."""
        location = robots_url(url)
        cached = self._lookup(location)
        if cached is None:
            cached = self._fetch(location)
            self._store(location, cached)
        if cached.rules is None:
            raise RobotsUnreachableError(
                f"robots.txt at {location} is unreachable ({cached.reason}); not fetching {url} until it answers",
                url=url,
                retry_after_s=max(0.0, cached.expires_at - self._clock()),
            )
        path = _path_of(url)
        if not cached.rules.allows(path):
            rule = cached.rules.matching_rule(path)
            raise RobotsDisallowedError(
                f"robots.txt disallows {url} ({rule} for user-agent {cached.rules.group!r} at {location})", url=url
            )

    def forget(self, hosts: Iterable[str] = ()) -> None:
        """Drop cached entries (all when ``hosts`` is empty); the next check fetches robots.txt again."""
        with self._lock:
            wanted = set(hosts)
            if not wanted:
                self._cache.clear()
                return
            for key in [k for k in self._cache if urlsplit(k).netloc in wanted]:
                del self._cache[key]

    def _lookup(self, location: str) -> _Cached | None:
        with self._lock:
            cached = self._cache.get(location)
            if cached is None:
                return None
            if cached.expires_at <= self._clock():
                del self._cache[location]
                return None
            self._cache.move_to_end(location)
            return cached

    def _store(self, location: str, cached: _Cached) -> None:
        with self._lock:
            self._cache[location] = cached
            self._cache.move_to_end(location)
            while len(self._cache) > self._max_hosts:
                self._cache.popitem(last=False)

    def _fetch(self, location: str) -> _Cached:
        now = self._clock()
        try:
            response = self._client.get(location, accept=_ACCEPT_ROBOTS, max_bytes=ROBOTS_MAX_BYTES)
        except TransientError as exc:
            return _Cached(now + min(UNREACHABLE_TTL_S, self._ttl_s), None, exc.reason)
        except PermanentError as exc:
            # "Unavailable" (404, 410, too large, redirect loop, ...): the site has no rules for us.
            return _Cached(now + self._ttl_s, RobotsRules.allow_all(), f"unavailable: {exc.reason}")
        if response.status == 410 or not 200 <= response.status < 300:
            return _Cached(now + self._ttl_s, RobotsRules.allow_all(), f"unavailable: {response.status}")
        text = response.body.decode("utf-8", errors="replace").lstrip("\ufeff")
        return _Cached(now + self._ttl_s, RobotsRules.parse(text, self._agent), "fetched")


# --- one policy per process --------------------------------------------------------------------------------
_policy_lock = threading.Lock()
_policy: RobotsPolicy | None = None


def get_robots_policy(client: SafeHttpClient) -> RobotsPolicy:
    """The process-wide policy for ``client``, built from the settings on first use (never at import time).

    A new client (the process client is rebuilt after a fork) gets a new policy, with an empty cache."""
    global _policy
    with _policy_lock:
        if _policy is None or _policy.client is not client:
            from dmzwatch.settings import get_settings

            settings = get_settings()
            _policy = RobotsPolicy(client, user_agent=settings.http_user_agent, ttl_s=settings.robots_cache_ttl_s)
        return _policy
