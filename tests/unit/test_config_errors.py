"""Every command, every bad configuration: one clear message naming the variable, exit status 2, no traceback.

The commands are enumerated from the CLI itself, so a new command is covered the day it is added.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from workers.cli import app


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if hasattr(command, "commands"):  # a group (typer's own click, not necessarily the `click` package)
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))
    else:
        yield path


COMMANDS = sorted(_commands(typer.main.get_command(app)))

BROKEN_FEEDS = "feeds:\n  - name: Wire\n    url: [unclosed\n"
# (variable, value, the name the message must carry)
BAD_VALUES = [
    ("DMZWATCH_ALERT_MAX_AGE_H", "abc", "DMZWATCH_ALERT_MAX_AGE_H"),
    ("DMZWATCH_BROKER_URL", "notaurl", "DMZWATCH_BROKER_URL"),
    ("DMZWATCH_BROKER_URL", "redis://", "DMZWATCH_BROKER_URL"),
    ("DMZWATCH_DATABASE_URL", "not a url", "DMZWATCH_DATABASE_URL"),
    ("DMZWATCH_DATABASE_URL", "mysql://app:sekrit@db.example/x", "DMZWATCH_DATABASE_URL"),
    ("DMZWATCH_LOG_LEVEL", "LOUD", "DMZWATCH_LOG_LEVEL"),
    ("DMZWATCH_SLACK_WEBHOOK_URL", "hooks.slack.com/services/T0/B0/sekrit", "DMZWATCH_SLACK_WEBHOOK_URL"),
    ("DMZWATCH_WEBHOOK_URLS", "ftp://b", "DMZWATCH_WEBHOOK_URLS"),
    ("DMZWATCH_SLAK_WEBHOOK_URL", "https://hooks.example/x", "DMZWATCH_SLACK_WEBHOOK_URL"),  # the typo's fix
    ("DMZWATCH_MAX_ALERT_ATTEMPTS", "-1", "DMZWATCH_MAX_ALERT_ATTEMPTS"),
    ("DMZWATCH_FEEDS_FILE", "{broken}", "DMZWATCH_FEEDS_FILE"),
    ("DMZWATCH_ALERTS_FILE", "/nonexistent/alerts.yaml", "DMZWATCH_ALERTS_FILE"),
    ("DMZWATCH_ZONES_DIR", "/nonexistent/zones", "DMZWATCH_ZONES_DIR"),
    ("DMZWATCH_LEXICON_DIR", "/nonexistent/lexicon", "DMZWATCH_LEXICON_DIR"),
]


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


def test_the_cli_has_the_commands_this_table_covers() -> None:
    assert {("run",), ("status",), ("metrics",), ("poll-once",), ("alerts", "retry"), ("feeds", "health")} <= set(
        COMMANDS
    )


@pytest.mark.parametrize(("variable", "value", "named"), BAD_VALUES, ids=[f"{v}={x}" for v, x, _n in BAD_VALUES])
def test_every_command_refuses_a_bad_value_with_the_variable_named(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    if value == "{broken}":
        broken = cli_env / "feeds.yaml"
        broken.write_text(BROKEN_FEEDS)
        value = str(broken)
    monkeypatch.setenv(variable, value)
    for command in COMMANDS:
        code, output = _invoke(*command)
        assert code == 2, (command, code, output)
        assert named in output and "Traceback" not in output, (command, output)
        assert output.startswith("configuration error"), (command, output)
        assert "sekrit" not in output  # URLs carry secrets: never echoed


def test_an_empty_feed_list_is_an_error_for_the_commands_that_watch_feeds(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = cli_env / "feeds.yaml"
    empty.write_text("feeds: []\n")
    monkeypatch.setenv("DMZWATCH_FEEDS_FILE", str(empty))
    for command in (("run",), ("poll-once",)):
        code, output = _invoke(*command)
        assert code == 2 and "no feed to watch" in output and str(empty) in output, (command, output)
    code, output = _invoke("feeds", "health", "--strict")
    assert code == 1 and "watching nothing" in output
