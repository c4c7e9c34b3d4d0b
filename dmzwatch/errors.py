"""The error taxonomy shared by every stage.

Two questions decide what a task does with a failure, and the class answers both:

* ``transient``: may the same call succeed later (timeouts, connection errors, 5xx, 429)? Tasks retry only
  :class:`TransientError`, with backoff, honouring ``retry_after_s`` when the server gave one.
* otherwise it is a :class:`PermanentError` (bad input, blocked target, oversized body, unparseable feed):
  retrying would fail the same way, so the row is marked failed with ``reason`` and the pipeline moves on.

``reason`` is written for an operator reading ``articles.error`` or ``feeds.last_error``: it says what
happened and to which URL, e.g. "body exceeded 5000000 bytes after decompression from http://example.org/feed".
"""

from __future__ import annotations

import random
from typing import ClassVar


class DmzwatchError(Exception):
    """Base of every error the domain raises on purpose."""

    transient: ClassVar[bool] = False

    def __init__(self, reason: str, *, url: str | None = None, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.url = url
        self.status = status  # HTTP status when the error came from a response

    def __str__(self) -> str:
        return self.reason


class TransientError(DmzwatchError):
    """Worth retrying later: the same call may succeed."""

    transient = True

    def __init__(
        self,
        reason: str,
        *,
        url: str | None = None,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(reason, url=url, status=status)
        self.retry_after_s = retry_after_s  # the server's Retry-After, in seconds, when it sent one


def backoff_s(tries: int, retry_after_s: float | None = None, *, base_s: float, cap_s: float) -> float:
    """Seconds before the next try: exponential with full jitter, capped; a server's Retry-After is a floor."""
    delay = min(cap_s, base_s * 2 ** min(tries, 30)) * random.uniform(0.5, 1.0)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, cap_s))
    return delay


class PermanentError(DmzwatchError):
    """Bad input or a refused target: retrying would fail the same way."""

    transient = False


# --- transient ---------------------------------------------------------------------------------------------
class FetchTimeoutError(TransientError):
    """Connect, read or write timed out."""


class DeadlineExceededError(FetchTimeoutError):
    """The whole request (all redirects and the body) took longer than ``http_deadline_s``."""


class ConnectionFailedError(TransientError):
    """DNS failure, refused or reset connection, TLS failure, truncated response."""


class ServerError(TransientError):
    """5xx (other than 503) or 408/425."""


class RateLimitedError(TransientError):
    """429 Too Many Requests or 503 Service Unavailable; ``retry_after_s`` from Retry-After when given."""


# --- permanent: HTTP ---------------------------------------------------------------------------------------
class InvalidURLError(PermanentError):
    """Not an absolute http(s) URL, or one httpx cannot parse."""


class BlockedAddressError(PermanentError):
    """The target resolves to a loopback, private, link-local, metadata or otherwise non-public address."""


class TooManyRedirectsError(PermanentError):
    pass


class RedirectLoopError(PermanentError):
    pass


class HTTPStatusError(PermanentError):
    """A 4xx (or an unexpected 1xx/3xx) final status; ``status`` carries it."""


class BodyTooLargeError(PermanentError):
    """The body (after decompression) exceeded the byte cap."""


class DecompressionBombError(BodyTooLargeError):
    """A compressed body expanded beyond the byte cap."""


class ContentDecodingError(PermanentError):
    """Corrupt gzip/deflate data, or a Content-Encoding we do not accept."""


class BadContentTypeError(PermanentError):
    """The response is not the kind of document asked for (e.g. a PDF where HTML was expected)."""


# --- permanent: parsing ------------------------------------------------------------------------------------
class FeedParseError(PermanentError):
    """The body is not a usable RSS/Atom feed (an HTML page, empty, or malformed with no entries)."""


class ExtractionError(PermanentError):
    """No article text could be extracted from the page (empty, boilerplate only, or garbage)."""
