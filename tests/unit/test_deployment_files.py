"""docker-compose.yml and the systemd units cannot run here (no Docker engine, no systemd): check instead that
every command they start is one the `dmzwatch` CLI accepts, with the options it accepts, and that the
deployment's shape holds (exactly one beat, every worker class, only known settings)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from dmzwatch.settings import Settings
from workers.cli import app

REPO = Path(__file__).resolve().parent.parent.parent
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
CLI = typer.main.get_command(app)


class CliRejectedError(AssertionError):
    pass


def _parse(args: list[str]) -> None:
    """Parse a `dmzwatch ...` argument list down to its leaf command, as the CLI would, without running it.

    Typer vendors its own click (``typer._click``), so groups and usage errors are recognised by behaviour and
    class name, not by ``isinstance`` against the ``click`` package.
    """
    command: Any = CLI
    try:
        ctx = command.make_context("dmzwatch", list(args))
        depth = 0
        while hasattr(command, "resolve_command"):
            pending = [*getattr(ctx, "_protected_args", []), *ctx.args]
            name, sub, rest = command.resolve_command(ctx, pending)
            if sub is None:
                raise CliRejectedError(f"unknown command {name!r} in {args}")
            command, depth = sub, depth + 1
            ctx = sub.make_context(str(name), list(rest), parent=ctx)
    except Exception as exc:
        if "UsageError" in {cls.__name__ for cls in type(exc).__mro__}:
            raise CliRejectedError(f"{args}: {exc}") from exc
        raise
    if depth == 0:
        raise CliRejectedError(f"{args}: no subcommand")


def _compose_commands() -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []
    for name, service in SERVICES.items():
        if service.get("image") != "dmzwatch:latest":
            continue
        entry = service.get("entrypoint")
        if entry and entry[:2] == ["sh", "-c"]:
            for part in entry[2].split("&&"):
                words = shlex.split(part)
                assert words[0] == "dmzwatch", (name, part)
                out.append((name, words[1:]))
        else:
            out.append((name, list(service["command"])))
    return out


@pytest.mark.parametrize(("service", "args"), _compose_commands(), ids=lambda v: v if isinstance(v, str) else None)
def test_every_compose_command_is_accepted_by_the_cli(service: str, args: list[str]) -> None:
    _parse(args)


def test_a_wrong_command_is_caught_by_the_check() -> None:
    with pytest.raises(CliRejectedError, match="no-such-option"):
        _parse(["worker", "--no-such-option"])
    with pytest.raises(CliRejectedError):
        _parse(["wroker"])
    with pytest.raises(CliRejectedError):
        _parse(["feeds", "health", "--bogus"])


def test_compose_shape() -> None:
    assert {"redis", "postgres", "migrate", "worker-io", "worker-nlp", "worker-alerts", "beat", "flower"} <= set(
        SERVICES
    )
    assert SERVICES["beat"]["deploy"]["replicas"] == 1
    queues = {args[args.index("-Q") + 1] for _, args in _compose_commands() if args[0] == "worker"}
    served = {q for spec in queues for q in spec.split(",")}
    assert served == {"feeds", "fetch", "nlp", "alerts"}
    for name, service in SERVICES.items():
        assert service.get("restart") in ("unless-stopped", "always", "no"), name
        if name != "migrate":
            assert "healthcheck" in service, name
    assert "--appendonly" in SERVICES["redis"]["command"]  # queued messages survive a broker restart


def test_compose_and_systemd_set_only_known_settings() -> None:
    known = {f"DMZWATCH_{field.upper()}" for field in Settings.model_fields}
    texts = [(REPO / "docker-compose.yml").read_text(encoding="utf-8")]
    texts += [p.read_text(encoding="utf-8") for p in sorted((REPO / "deploy" / "systemd").iterdir())]
    used = {v for text in texts for v in re.findall(r"\b(DMZWATCH_[A-Z0-9_]+)", text)}
    assert used and used <= known, used - known


def test_every_systemd_exec_is_accepted_by_the_cli() -> None:
    execs = []
    for unit in sorted((REPO / "deploy" / "systemd").glob("*.service")):
        for line in unit.read_text(encoding="utf-8").splitlines():
            if line.startswith("ExecStart="):
                # the worker template, instance "nlp", with the values its comment documents for worker-nlp.env
                exec_line = line.removeprefix("ExecStart=").replace("%i", "nlp")
                exec_line = exec_line.replace("${QUEUES}", "nlp").replace("${CONCURRENCY}", "2")
                words = shlex.split(exec_line)
                assert Path(words[0]).name == "dmzwatch", (unit.name, line)
                execs.append(words[1:])
    assert execs
    for args in execs:
        _parse(args)
