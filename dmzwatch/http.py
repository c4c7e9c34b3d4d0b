"""THE one HTTP client: every byte dmzwatch reads or posts goes through :class:`SafeHttpClient`.

Feeds and article pages are fetched from URLs that strangers control (a feed entry can point anywhere, a page
can redirect anywhere), so the client assumes every server is hostile:

* **SSRF guard, pinned.** The host of every hop (the first URL and each redirect) is resolved with
  ``socket.getaddrinfo`` *inside the connection layer*, every resolved address is checked (loopback, private,
  link-local incl. the 169.254.169.254 metadata service, multicast, reserved, unspecified, shared/CGNAT, IPv6
  ULA/link-local/site-local, and IPv4 embedded in IPv6: mapped, 6to4, NAT64), and the socket is then opened to
  exactly the address that was checked. There is no second lookup, so DNS rebinding between "check" and
  "connect" is not possible. If *any* address of a host is refused the whole host is refused (a mixed answer
  is itself suspicious). ``settings.http_allow_hosts`` exempts hostnames (exact match on the URL host) or
  IPs/CIDRs (match on the resolved address); tests use it for the loopback server. Env proxies are ignored
  (``trust_env=False``) so a proxy can never bypass the guard. Only http and https are fetched.
* **Time.** Connect and read timeouts per socket operation, and a total deadline across the whole call
  (every redirect, TLS handshake and body byte): each socket operation's timeout is clamped to the time left,
  so a slow-drip server that sends one byte per second is cut at the deadline, not after it. DNS resolution
  uses the system resolver and is bounded by its own timeout, not by the deadline.
* **Size.** ``Content-Length`` above the cap is refused before reading; the body is read raw and decompressed
  here, incrementally, with ``zlib``'s ``max_length`` so a gzip/deflate bomb never expands more than
  cap + 1 bytes in memory (httpx's own ``iter_bytes()`` inflates a whole network chunk at once: a 64 KiB
  chunk of zeros becomes ~64 MB before anyone can count it). We only advertise ``gzip, deflate``.
* **No shared state**: env proxies are ignored and cookies are never stored, so one fetch cannot influence the
  next. (The module is ``dmzwatch.http``; ``import http.cookiejar`` inside it still means the standard library.)
* **Redirects** are followed by hand (limit ``http_max_redirects``, loop detection) and recorded with their
  status codes in :attr:`HttpResponse.redirects`, so the feed poller can tell a 301 from a 302.

Status handling after redirects: 2xx are returned; **304 and 410 are returned too, not raised**, because the
feed poller acts on them (not modified; feed gone). 429 and 503 raise :class:`RateLimitedError` with
``retry_after_s`` from Retry-After; other 5xx, 408 and 425 raise :class:`ServerError`; timeouts and connection
failures raise transient errors; any other status (4xx, unexpected 1xx/3xx) raises :class:`HTTPStatusError`
carrying it.

The pinning uses a custom httpcore network backend installed in httpx's transport (``HTTPTransport._pool`` is
replaced by a pool built with that backend): the one private attribute we touch, covered by the tests.
"""

from __future__ import annotations

import email.utils
import http.cookiejar
import ipaddress
import os
import socket
import threading
import time
import zlib
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from dmzwatch.errors import (
    BlockedAddressError,
    BodyTooLargeError,
    ConnectionFailedError,
    ContentDecodingError,
    DeadlineExceededError,
    DecompressionBombError,
    FetchTimeoutError,
    HTTPStatusError,
    InvalidURLError,
    RateLimitedError,
    RedirectLoopError,
    ServerError,
    TooManyRedirectsError,
)

if TYPE_CHECKING:
    from dmzwatch.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Returned to the caller rather than raised: the feed poller acts on them (not modified; disable the feed).
_RETURNED_NON_2XX = frozenset({304, 410})
_READ_CHUNK = 64 * 1024
# Output produced per zlib call: small enough that a bomb never inflates much past the cap in one step.
_INFLATE_STEP = 256 * 1024

# NAT64 well-known prefix (RFC 6052): 64:ff9b::a9fe:a9fe reaches 169.254.169.254 through a NAT64 gateway.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


# --- the address guard -------------------------------------------------------------------------------------
def blocked_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be contacted, or None when it is a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded: ipaddress.IPv4Address | None = None
        kind = ""
        if ip.ipv4_mapped is not None:
            embedded, kind = ip.ipv4_mapped, "IPv4-mapped"
        elif ip.sixtofour is not None:
            embedded, kind = ip.sixtofour, "6to4"
        elif ip in _NAT64 or ip in _NAT64_LOCAL:
            embedded, kind = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64"
        if embedded is not None:
            inner = blocked_reason(embedded)
            return f"{kind} {inner}" if inner else None
        if ip.is_site_local:
            return "IPv6 site-local"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        if ip == ipaddress.IPv4Address("169.254.169.254"):
            return "link-local (cloud metadata service)"
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private" if ip.version == 4 else "private (IPv6 ULA or special-purpose)"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "non-global (shared or special-purpose)"
    return None


class AddressGuard:
    """Resolves hosts and refuses non-public targets unless the allow-list exempts them."""

    def __init__(self, allow_hosts: Iterable[str] = ()) -> None:
        hosts: set[str] = set()
        networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in allow_hosts:
            entry = entry.strip().lower()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                hosts.add(entry.rstrip("."))
        self._hosts = frozenset(hosts)
        self._networks = tuple(networks)

    def check_ip(self, ip: IPAddress) -> str | None:
        """The reason ``ip`` is refused, honouring allow-listed networks; None when allowed."""
        if any(ip in network for network in self._networks):
            return None
        return blocked_reason(ip)

    def resolve(self, host: str, port: int) -> list[str]:
        """Every address of ``host``, checked; raises BlockedAddressError (httpcore.ConnectError for DNS)."""
        name = host.strip("[]").lower().rstrip(".")
        try:
            infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve host {name!r}: {exc}") from exc
        addresses: list[str] = []
        for info in infos:
            address = str(info[4][0])
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise httpcore.ConnectError(f"host {name!r} has no addresses")
        if name in self._hosts:
            return addresses
        for address in addresses:
            reason = self.check_ip(ipaddress.ip_address(address.split("%", 1)[0]))
            if reason is not None:
                shown = name if name == address else f"{name} ({address})"
                raise BlockedAddressError(
                    f"refusing to connect to {shown}: {reason} address"
                    " (to allow it, add the host or its network to DMZWATCH_HTTP_ALLOW_HOSTS)"
                )
        return addresses


# --- deadline-aware, pinned connections --------------------------------------------------------------------
# The monotonic deadline of the call in progress in this thread/context (one call at a time per thread).
_DEADLINE: ContextVar[float | None] = ContextVar("dmzwatch_http_deadline", default=None)


def _clamp(timeout: float | None, on_expired: type[httpcore.TimeoutException]) -> float | None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise on_expired("deadline exceeded")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """Clamps every socket operation's timeout to the time left before the call's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, _clamp(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves and checks the host, then connects to one of exactly the addresses that were checked."""

    def __init__(self, guard: AddressGuard) -> None:
        self._guard = guard
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self._guard.resolve(host, port)
        failure: Exception | None = None
        # e.g. "localhost" gives ::1 then 127.0.0.1: try each checked address in turn, like create_connection.
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(
                    address,
                    port,
                    timeout=_clamp(timeout, httpcore.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            return _DeadlineStream(stream)
        assert failure is not None
        raise failure

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are never used by dmzwatch")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, guard: AddressGuard, limits: httpx.Limits) -> None:
        super().__init__(trust_env=False, limits=limits)
        self._pool.close()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(guard),
        )


# --- bounded decompression ---------------------------------------------------------------------------------
class _BodyOverflowError(Exception):
    pass


class _BoundedDecoder:
    """Incremental gzip/deflate/identity decoding that never holds more than ``limit + 1`` output bytes."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.encoding = encoding
        self._limit = limit
        self.out = bytearray()
        self._obj: Any = None
        self._deflate_probe = False
        if encoding == "gzip":
            self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._obj = zlib.decompressobj()  # zlib-wrapped, as the RFC says; raw deflate is retried below
            self._deflate_probe = True

    def feed(self, data: bytes) -> None:
        if self._obj is None:
            self.out += data
            if len(self.out) > self._limit:
                raise _BodyOverflowError
            return
        if self._deflate_probe:
            self._deflate_probe = False
            try:
                self._inflate(data)
            except zlib.error:
                # Some servers send raw deflate under "deflate": start again without the zlib header.
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                self.out.clear()
                self._inflate(data)
            return
        self._inflate(data)

    def _inflate(self, data: bytes) -> None:
        while data:
            room = self._limit + 1 - len(self.out)
            self.out += self._obj.decompress(data, min(room, _INFLATE_STEP))
            if len(self.out) > self._limit:
                raise _BodyOverflowError
            if self._obj.eof:
                data = self._obj.unused_data
                if data and self.encoding == "gzip":  # concatenated gzip members are legal
                    self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    continue
                return  # trailing bytes after a deflate stream are ignored, as browsers do
            data = self._obj.unconsumed_tail

    def finish(self) -> bytes:
        if self._obj is not None:
            self.out += self._obj.flush()
            if len(self.out) > self._limit:
                raise _BodyOverflowError
        return bytes(self.out)


# --- the client --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A completed response. ``headers`` has lower-cased keys (use :meth:`header` for any case)."""

    url: str  # final URL after redirects
    status: int
    headers: Mapping[str, str]
    body: bytes  # decompressed, capped; empty for 304/410
    redirects: tuple[tuple[int, str], ...] = ()  # (status, target URL) per hop, in order
    elapsed_s: float = field(default=0.0, compare=False)

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    @property
    def content_type(self) -> str:
        """The media type, lower-cased, without parameters ("" when absent)."""
        return (self.headers.get("content-type") or "").split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        """The charset parameter of Content-Type, when present."""
        return charset_from_content_type(self.headers.get("content-type") or "")


def charset_from_content_type(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip("'\"").lower() or None
    return None


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After in seconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3); None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _check_url(url: str) -> str:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise InvalidURLError(f"invalid URL {url!r}: {exc}", url=url) from exc
    if parsed.scheme not in ("http", "https"):
        raise InvalidURLError(f"refusing {parsed.scheme or 'relative'} URL {url!r}: only http and https", url=url)
    if not parsed.host:
        raise InvalidURLError(f"URL {url!r} has no host", url=url)
    return str(parsed)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or ""), parts.port


class SafeHttpClient:
    """Synchronous, thread-safe HTTP client with the guards described in the module docstring."""

    def __init__(
        self,
        *,
        user_agent: str,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 15.0,
        deadline_s: float = 30.0,
        max_bytes: int = 5_000_000,
        max_redirects: int = 5,
        allow_hosts: Iterable[str] = (),
    ) -> None:
        self._deadline_s = deadline_s
        self._max_bytes = max_bytes
        self._max_redirects = max_redirects
        self._guard = AddressGuard(allow_hosts)
        self._client = httpx.Client(
            transport=_GuardedTransport(self._guard, httpx.Limits(max_connections=50, keepalive_expiry=30.0)),
            timeout=httpx.Timeout(
                connect=connect_timeout_s, read=read_timeout_s, write=read_timeout_s, pool=connect_timeout_s
            ),
            follow_redirects=False,
            trust_env=False,
            # No cookies, ever: a jar on a process-wide client would carry state from one message (and one
            # site's tracking) into the next. A site that insists on a cookie round-trip ends in a redirect loop.
            cookies=http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[])),
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
        )

    @classmethod
    def from_settings(cls, settings: Settings, *, deadline_s: float | None = None) -> SafeHttpClient:
        """``deadline_s``: a whole-call budget other than ``http_deadline_s``; socket timeouts stay within it."""
        deadline = settings.http_deadline_s if deadline_s is None else deadline_s
        return cls(
            user_agent=settings.http_user_agent,
            connect_timeout_s=min(settings.http_connect_timeout_s, deadline),
            read_timeout_s=min(settings.http_read_timeout_s, deadline),
            deadline_s=deadline,
            max_bytes=settings.http_max_bytes,
            max_redirects=settings.http_max_redirects,
            allow_hosts=settings.http_allow_hosts,
        )

    # --- public API ----------------------------------------------------------------------------------------
    def get(
        self, url: str, *, accept: str, headers: dict[str, str] | None = None, max_bytes: int | None = None
    ) -> HttpResponse:
        """GET ``url`` following redirects. Returns 2xx, 304 and 410 responses; raises for everything else."""
        request_headers = {"Accept": accept, **(headers or {})}
        return self._call("GET", url, request_headers, None, max_bytes or self._max_bytes)

    def post(self, url: str, *, content: bytes, headers: dict[str, str]) -> HttpResponse:
        """POST ``content`` (webhooks). Same guards; only 307/308 redirects are followed (they keep the body),
        a 301/302/303 raises HTTPStatusError because re-sending an alert as a GET would silently drop it."""
        return self._call("POST", url, dict(headers), content, self._max_bytes)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SafeHttpClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- internals -----------------------------------------------------------------------------------------
    def _call(
        self, method: str, url: str, headers: dict[str, str], content: bytes | None, max_bytes: int
    ) -> HttpResponse:
        started = time.monotonic()
        deadline = started + self._deadline_s
        token = _DEADLINE.set(deadline)
        try:
            current = _check_url(url)
            seen = {current}
            chain: list[tuple[int, str]] = []
            while True:
                status, response_headers, body = self._send_once(method, current, headers, content, max_bytes, deadline)
                location = response_headers.get("location")
                if status in _REDIRECT_STATUSES and location:
                    target = _check_url(urljoin(current, location.strip()))
                    if method == "POST" and status not in (307, 308):
                        raise HTTPStatusError(
                            f"POST to {current} answered {status} redirect to {target}; update the URL",
                            url=current,
                            status=status,
                        )
                    if target in seen:
                        hops = " -> ".join([url, *(t for _, t in chain), target])
                        raise RedirectLoopError(f"redirect loop: {hops}", url=url)
                    if len(chain) >= self._max_redirects:
                        raise TooManyRedirectsError(
                            f"more than {self._max_redirects} redirects starting from {url} (next: {target})",
                            url=url,
                        )
                    if _origin(target) != _origin(current):
                        # Credentials meant for one origin must not leak to whatever it redirects to.
                        headers = {k: v for k, v in headers.items() if k.lower() not in ("authorization", "cookie")}
                    chain.append((status, target))
                    seen.add(target)
                    current = target
                    continue
                self._raise_for_status(current, status, response_headers)
                return HttpResponse(
                    url=current,
                    status=status,
                    headers=MappingProxyType(response_headers),
                    body=body,
                    redirects=tuple(chain),
                    elapsed_s=time.monotonic() - started,
                )
        finally:
            _DEADLINE.reset(token)

    def _send_once(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        content: bytes | None,
        max_bytes: int,
        deadline: float,
    ) -> tuple[int, dict[str, str], bytes]:
        request = self._client.build_request(method, url, headers=headers, content=content)
        try:
            response = self._client.send(request, stream=True)
            try:
                # Repeated headers are joined the way RFC 9110 allows (Set-Cookie aside, which we never use).
                response_headers: dict[str, str] = {}
                for key, value in response.headers.multi_items():
                    key = key.lower()
                    response_headers[key] = f"{response_headers[key]}, {value}" if key in response_headers else value
                body = b""
                if 200 <= response.status_code < 300:
                    body = self._read_body(response, url, response_headers, max_bytes, deadline)
                return response.status_code, response_headers, body
            finally:
                response.close()
        except BlockedAddressError as exc:
            raise BlockedAddressError(f"{exc.reason}; refused before connecting, for {url}", url=url) from None
        except httpx.TimeoutException as exc:
            if time.monotonic() >= deadline - 0.05:
                raise DeadlineExceededError(
                    f"request to {url} exceeded the {self._deadline_s:g}s deadline", url=url
                ) from exc
            kind = {
                httpx.ConnectTimeout: "connect",
                httpx.ReadTimeout: "read",
                httpx.WriteTimeout: "write",
                httpx.PoolTimeout: "connection-pool",
            }.get(type(exc), "")
            raise FetchTimeoutError(f"{kind} timeout fetching {url}".replace("  ", " "), url=url) from exc
        except httpx.InvalidURL as exc:
            raise InvalidURLError(f"invalid URL {url!r}: {exc}", url=url) from exc
        except httpx.TransportError as exc:
            raise ConnectionFailedError(
                f"connection failed for {url}: {type(exc).__name__}: {exc or 'no detail'}", url=url
            ) from exc

    def _read_body(
        self, response: httpx.Response, url: str, headers: dict[str, str], cap: int, deadline: float
    ) -> bytes:
        length = headers.get("content-length", "").strip()
        if length.isdigit() and int(length) > cap:
            raise BodyTooLargeError(
                f"body of {length} bytes (Content-Length) exceeds the {cap}-byte cap for {url}", url=url
            )
        encoding = headers.get("content-encoding", "identity").strip().lower()
        encoding = {"x-gzip": "gzip", "": "identity"}.get(encoding, encoding)
        if encoding not in ("gzip", "deflate", "identity"):
            raise ContentDecodingError(f"unsupported Content-Encoding {encoding!r} from {url}", url=url)
        decoder = _BoundedDecoder(encoding, cap)
        raw_total = 0
        try:
            for raw in response.iter_raw(_READ_CHUNK):
                raw_total += len(raw)
                if raw_total > cap:
                    raise _BodyOverflowError
                decoder.feed(raw)
                if time.monotonic() > deadline:
                    raise DeadlineExceededError(
                        f"request to {url} exceeded the {self._deadline_s:g}s deadline ({raw_total} bytes received)",
                        url=url,
                    )
            return decoder.finish()
        except _BodyOverflowError:
            if encoding == "identity" or raw_total > cap:
                raise BodyTooLargeError(f"body exceeded {cap} bytes from {url}", url=url) from None
            raise DecompressionBombError(
                f"body exceeded {cap} bytes after decompression from {url} "
                f"({encoding}, only {raw_total} compressed bytes read)",
                url=url,
            ) from None
        except zlib.error as exc:
            raise ContentDecodingError(f"corrupt {encoding} body from {url}: {exc}", url=url) from exc

    @staticmethod
    def _raise_for_status(url: str, status: int, headers: dict[str, str]) -> None:
        if 200 <= status < 300 or status in _RETURNED_NON_2XX:
            return
        phrase = _status_phrase(status)
        retry_after = parse_retry_after(headers.get("retry-after"))
        wait = f"; retry after {retry_after:.0f}s" if retry_after is not None else ""
        if status in (429, 503):
            raise RateLimitedError(
                f"{url} answered {status} {phrase}{wait}", url=url, status=status, retry_after_s=retry_after
            )
        if status >= 500 or status in (408, 425):
            raise ServerError(
                f"{url} answered {status} {phrase}{wait}", url=url, status=status, retry_after_s=retry_after
            )
        if status in _REDIRECT_STATUSES:
            raise HTTPStatusError(f"{url} answered {status} {phrase} without a Location header", url=url, status=status)
        raise HTTPStatusError(f"{url} answered {status} {phrase}", url=url, status=status)


def _status_phrase(status: int) -> str:
    return httpx.codes.get_reason_phrase(status)


# --- one client per process and purpose ---------------------------------------------------------------------
_client_lock = threading.Lock()
# purpose -> (client, pid). "fetch": feeds and pages. "alerts": alert channels, whose whole send is bounded by
# DMZWATCH_ALERT_SEND_TIMEOUT_S so one hanging channel holds a process for seconds, not the fetch deadline.
_clients: dict[str, tuple[SafeHttpClient, int]] = {}


def _build_client(purpose: str) -> SafeHttpClient:
    from dmzwatch.settings import get_settings

    settings = get_settings()
    if purpose == "alerts":
        return SafeHttpClient.from_settings(settings, deadline_s=settings.alert_send_timeout_s)
    return SafeHttpClient.from_settings(settings)


def get_http_client(purpose: str = "fetch") -> SafeHttpClient:
    """The process-wide client for ``purpose``, built on first use from the settings (never at import time).

    Rebuilt after a fork: a prefork Celery child must not share the parent's pooled sockets."""
    with _client_lock:
        entry = _clients.get(purpose)
        if entry is None or entry[1] != os.getpid():
            entry = (_build_client(purpose), os.getpid())
            _clients[purpose] = entry
        return entry[0]


def reset_http_client() -> None:
    """Close and forget the process-wide clients (tests, settings reloads)."""
    with _client_lock:
        for client, pid in _clients.values():
            if pid == os.getpid():
                client.close()
        _clients.clear()
