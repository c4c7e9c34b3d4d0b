"""`dmzwatch eval`: score the extractor on a gold file (logic in dmzwatch/evaluate.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from workers.cli_common import app


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@app.command("eval")
def eval_command(
    gold_file: Annotated[Path, typer.Argument(help="gold JSONL (schema of ../shared/seeds/gold.jsonl)", exists=True)],
    texts: Annotated[Path, typer.Option(help="directory holding each line's 'seed' text file", exists=True)],
    published_default: Annotated[
        str | None, typer.Option(help="publication time (ISO 8601) for lines without 'published'")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary and per-article details as JSON")] = False,
    details: Annotated[bool, typer.Option("--details", help="also print per-article errors")] = False,
) -> None:
    """Score incidents, types, tolls, zones, perpetrators, dates and relevance. Exit 0 whatever the scores;
    non-zero only when the gold file or a text cannot be read."""
    from dmzwatch.evaluate import GoldArticle, GoldError, Predicted, evaluate, format_report, load_gold
    from dmzwatch.geo import load_gazetteer, load_zones
    from dmzwatch.nlp.extract import get_extractor

    default_at = None
    if published_default:
        try:
            default_at = _aware(datetime.fromisoformat(published_default))
        except ValueError as exc:
            typer.echo(f"--published-default: not an ISO 8601 time: {published_default!r}", err=True)
            raise typer.Exit(2) from exc
    try:
        gold = load_gold(gold_file.read_text(encoding="utf-8").splitlines())
    except GoldError as exc:
        typer.echo(f"{gold_file}: {exc}", err=True)
        raise typer.Exit(2) from exc
    missing = [g.seed for g in gold if not (texts / g.seed).is_file()]
    if missing:
        typer.echo(f"texts not found in {texts}: {', '.join(missing)}", err=True)
        raise typer.Exit(2)

    extractor = get_extractor()
    zones = load_zones()

    def predict(article: GoldArticle) -> list[Predicted]:
        text = (texts / article.seed).read_text(encoding="utf-8", errors="replace")
        published_at = _aware(article.published) if article.published is not None else default_at
        return [
            Predicted(e, zones.classify_resolution(e.resolution) if e.resolution is not None else None)
            for e in extractor.extract(text, published_at)
        ]

    report = evaluate(load_gazetteer(), gold, predict)
    if as_json:
        typer.echo(json.dumps({"summary": report.summary(), "articles": report.details()}, ensure_ascii=False))
        return
    typer.echo(format_report(report))
    if details:
        for item in report.details():
            if item["field_errors"] or item["missed"] or item["spurious"] or item["from_not_incidents"]:
                typer.echo(json.dumps(item, ensure_ascii=False))
