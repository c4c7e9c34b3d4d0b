"""The `dmzwatch` command line. Commands live in workers/cli_*.py by group; importing them registers them."""

from __future__ import annotations

from workers import cli_alerts, cli_articles, cli_data, cli_eval, cli_feeds, cli_ops, cli_run
from workers.cli_common import app

__all__ = ["app", "cli_alerts", "cli_articles", "cli_data", "cli_eval", "cli_feeds", "cli_ops", "cli_run"]

if __name__ == "__main__":  # pragma: no cover
    app()
