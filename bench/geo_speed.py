"""Gazetteer and zone figures: load time, uncached resolve() and classify() cost. Prints figures; asserts nothing.

python bench/geo_speed.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dmzwatch.geo import Gazetteer, ZoneSet  # noqa: E402

NAMES = ["Saraqib", "Kfr Nabouda", "Kansarfa", "Qalaat al-Madiq", "Hass", "Latamneh", "Kafr Oweid", "Jerjanaz"]


def main() -> None:
    started = time.perf_counter()
    gazetteer = Gazetteer.load(REPO / "config" / "gazetteer")
    zones = ZoneSet.load(REPO / "config" / "zones")
    print(f"load_s: {time.perf_counter() - started:.3f} ({len(gazetteer)} places)")
    rounds = 50
    started = time.perf_counter()
    for _ in range(rounds):
        for name in NAMES:
            gazetteer._resolve_cached.__wrapped__(gazetteer, name, "Idlib")  # the uncached path, misses included
    print(f"resolve_uncached_us: {(time.perf_counter() - started) * 1e6 / (rounds * len(NAMES)):.1f}")
    started = time.perf_counter()
    for _ in range(2000):
        zones.classify(35.5, 36.6)
    print(f"classify_us: {(time.perf_counter() - started) * 1e6 / 2000:.1f}")


if __name__ == "__main__":
    main()
