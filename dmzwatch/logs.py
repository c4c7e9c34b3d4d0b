"""Logging: one JSON object per line (or plain text), ids carried as fields, secrets redacted in both.

Pass ids with ``extra``: ``log.info("extracted", extra={"article_id": 12, "incident_id": 3})``; they become
top-level JSON fields an operator can filter on. Redaction runs on the final line, so a secret reaching a log
through an exception message (httpx puts the URL in its errors) is caught as well as one passed on purpose.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from dmzwatch.settings import Settings

REDACTED = "***"

# Fields a LogRecord always has: anything else on a record came through `extra` and is logged as a field.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Passwords in URLs: scheme://user:password@host
    (re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)[^@\s/]+(?=@)"), r"\g<head>" + REDACTED),
    # Slack incoming webhooks: the path is the secret.
    (re.compile(r"(?P<head>hooks\.slack\.com/(?:services|workflows|triggers)/)[^\s\"'<>]+"), r"\g<head>" + REDACTED),
    # Query parameters and key=value pairs that name a secret.
    (
        re.compile(
            r"(?P<head>\b(?:access_token|token|api_key|apikey|key|secret|password|passwd|pwd|signature|sig|auth)"
            r"=)[^&\s\"']+",
            re.IGNORECASE,
        ),
        r"\g<head>" + REDACTED,
    ),
    # HTTP auth headers as httpx or a developer might print them.
    (re.compile(r"(?P<head>\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\g<head>" + REDACTED),
    (
        re.compile(r"(?P<head>X-Dmzwatch-Signature['\"]?:\s*['\"]?sha256=)[0-9a-f]+", re.IGNORECASE),
        r"\g<head>" + REDACTED,
    ),
)


class Redactor:
    """Replaces known secret values (from the settings) and secret-shaped substrings."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a URL is replaced whole before a secret inside it is.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    @classmethod
    def from_settings(cls, settings: Settings) -> Redactor:
        secrets: list[str] = [*settings.webhook_urls]
        if settings.slack_webhook_url:
            secrets.append(settings.slack_webhook_url)
        if settings.webhook_secret:
            secrets.append(settings.webhook_secret)
        if settings.flower_basic_auth:
            secrets.append(settings.flower_basic_auth.split(":", 1)[1])
        if settings.slack_bot_token is not None:
            secrets.append(settings.slack_bot_token.get_secret_value())
        return cls(secrets)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, every `extra` field, exception text."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redact = redactor or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool | type(None)) else repr(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return self.redact(json.dumps(entry, ensure_ascii=False, default=str))


class RedactingTextFormatter(logging.Formatter):
    """The plain format, with `extra` ids appended as key=value and secrets redacted."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redact = redactor or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = [
            f"{key}={value}"
            for key, value in vars(record).items()
            if key not in _RECORD_FIELDS and not key.startswith("_") and key.endswith("_id")
        ]
        if extras:
            first, newline, rest = text.partition("\n")
            text = f"{first} [{' '.join(extras)}]{newline}{rest}"
        return self.redact(text)


def make_formatter(settings: Settings) -> logging.Formatter:
    redactor = Redactor.from_settings(settings)
    return JsonFormatter(redactor) if settings.log_format == "json" else RedactingTextFormatter(redactor)


# Celery's own line for every task received and every task that succeeded: two lines per stage per article,
# with task UUIDs, which bury the lines that say what happened. Kept at DEBUG; retries and failures stay.
_CELERY_CHATTER = ("] received", "] succeeded in ", "Sending due task")


class ChatterFilter(logging.Filter):
    """Shows Celery's per-task received/succeeded lines, beat's tick lines and httpx's per-request lines only
    when the log level is DEBUG."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if self.level <= logging.DEBUG:
            return True
        if record.name.startswith(("httpx", "httpcore")):  # one line per request: our stages say what came of it
            return record.levelno >= logging.WARNING
        if not record.name.startswith("celery."):
            return True
        template = str(record.msg)
        return not any(marker in template for marker in _CELERY_CHATTER)


def configure_logging(settings: Settings, level: str | int | None = None) -> None:
    """Root logger to stderr with the configured format; replaces handlers set earlier in this process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(make_formatter(settings))
    raw = level if level is not None else settings.log_level
    numeric = raw if isinstance(raw, int) else logging.getLevelName(str(raw).upper())
    handler.addFilter(ChatterFilter(numeric if isinstance(numeric, int) else logging.INFO))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level if level is not None else settings.log_level)
    # Alembic announces each of its autogenerate plugins at INFO on every start: noise, not news. Its
    # "Running upgrade ..." lines (alembic.runtime.migration) stay.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
