"""A quick speed measurement of extraction on the fixture articles (DESIGN §5 budget: < 50 ms per relevant
article on one core). ``python bench/nlp_speed.py`` prints the figures; speed is measured here, never asserted in
tests. `bench/run.py` measures the whole pipeline on a generated corpus.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from dmzwatch.nlp.extract import Extractor

ROOT = Path(__file__).resolve().parents[1]
ARTICLES = ROOT / "tests" / "fixtures" / "articles"
GAZETTEER_DIR = ROOT / "config" / "gazetteer"
PUB = datetime(2019, 5, 4, 12, tzinfo=UTC)
SEEDS = ROOT.parent / "shared" / "seeds"  # beside the checkout, when present

IRRELEVANT = [
    "Stocks rose on Monday as investors weighed comments from the central bank. " * 20,
    "The club named a new coach on Friday after a difficult season, and fans welcomed the choice. " * 15,
    "Heavy rain flooded roads in Beirut and Amman on Tuesday, officials said. " * 10,
    "Parliament passed the budget after a long debate about taxes and spending on schools. " * 25,
]


def _ms(fn: Callable[[str], object], texts: list[str], rounds: int) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        for text in texts:
            t0 = time.perf_counter()
            fn(text)
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.mean(times), max(times)


def measure() -> dict[str, float]:
    from dmzwatch.geo import Gazetteer

    ex = Extractor(Gazetteer.load(GAZETTEER_DIR))
    t0 = time.perf_counter()
    ex.extract("Shelling hit Saraqib.", None)  # loads the model and builds the matcher
    load_s = time.perf_counter() - t0
    texts = [p.read_text(encoding="utf-8") for p in sorted(ARTICLES.glob("*.txt"))]
    relevant = [t for t in texts if ex.is_relevant(t)]
    irrelevant = [t for t in texts if not ex.is_relevant(t)] + IRRELEVANT
    assert not any(ex.is_relevant(t) for t in irrelevant)
    rel_mean, rel_max = _ms(lambda t: ex.extract(t, PUB), relevant, 5)
    pre_mean, pre_max = _ms(ex.is_relevant, irrelevant, 50)
    pre_rel_mean, _ = _ms(ex.is_relevant, relevant, 50)
    figures: dict[str, float] = {}
    seeds = sorted(SEEDS.glob("*.txt")) if SEEDS.is_dir() else []
    if seeds:  # longer, real-world articles (reference only, never copied into the repo)
        seed_texts = [p.read_text(encoding="utf-8") for p in seeds]
        figures["seed_articles"] = len(seed_texts)
        figures["seed_extract_ms_mean"], figures["seed_extract_ms_max"] = _ms(
            lambda t: ex.extract(t, PUB), seed_texts, 5
        )
    return figures | {
        "load_s": load_s,
        "relevant_articles": len(relevant),
        "extract_ms_mean": rel_mean,
        "extract_ms_max": rel_max,
        "irrelevant_articles": len(irrelevant),
        "is_relevant_irrelevant_ms_mean": pre_mean,
        "is_relevant_irrelevant_ms_max": pre_max,
        "is_relevant_relevant_ms_mean": pre_rel_mean,
    }


if __name__ == "__main__":  # pragma: no cover
    for key, value in measure().items():
        print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")
