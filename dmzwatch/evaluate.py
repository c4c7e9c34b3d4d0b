"""Scoring the extractor against hand-labelled gold articles (schema of ``../shared/seeds/gold.jsonl``).

Pure: no I/O beyond what the caller passes in, so the CLI (workers/cli_eval.py) and the tests share it.

A gold line is one article::

    {"seed": "file.txt", "outlet": ..., "published_hint": ..., "published": "2019-05-04T12:00:00+03:00" (optional),
     "incidents": [{"place", "place_normalized", "admin1", "precision", "in_dmz": "yes"|"no"|"unclear",
                    "event_type": "air_strike"|"shelling"|"armed_clash"|"explosive"|"attack"|"other",
                    "killed", "injured", "perpetrator", "date_phrase", "evidence", "date" (optional ISO day)}],
     "not_incidents": ["statement copied from the text", ...]}

Matching rules (one predicted event counts for at most one gold incident, gold incidents in file order):

1. **Specific places** (gold ``precision`` not ``region``): a prediction matches when (a) its gazetteer id equals
   the id the gazetteer gives ``place_normalized`` (resolved with the gold ``admin1`` as hint) or the gold
   ``place`` text, or (b) its place as written, normalised with :func:`dmzwatch.geo.normalize_toponym`, equals
   or is a whole-word part of the normalised gold ``place`` or ``place_normalized`` ("Hajin" in "Buqan area near
   Hajin"). Rule (b) is what scores an unknown village that fell back to its region ("Al-Mutnah" placed at Idlib).
2. **Region-level gold incidents** (``precision: region``): the gold ``place`` is split on commas and "and";
   each part is resolved with ``Gazetteer.region``. A predicted *region-level* event (``geo_precision`` 3) whose
   id is one of those regions matches. A list like "northern Hama, southern Idlib and Latakia" is one gold
   incident while the extractor gives one event per region: the first match is the true positive, the other
   events for regions of the same list are **absorbed** (neither true nor false positives).
3. Among candidates, one with the gold type is preferred.

Everything else predicted is a false positive; every unmatched gold incident a false negative. A gold error
(an incident filed under the wrong article) is scored as given: the per-file report shows it, and
``cross_file_hints`` lists unmatched predictions that would match an unmatched gold incident of another file.

Field scores are over matched pairs: type (gold ``event_type`` mapped to ACLED sub-event names), killed/injured
exact where the gold has a number (0 included), perpetrator where the gold names a side, date where the gold
has a ``date`` and the line a ``published`` time. **Zone**: over matched pairs whose gold ``in_dmz`` is yes or
no; the prediction says "yes" only when its zone status is ``inside``. ``edge`` counts as "no": with the default
routing (alert_on_edge off) an edge event raises no alert, which is what an analyst sees; the number of edge
predictions among the scored pairs is reported apart. A region-level gold incident takes the best status among
its matched and absorbed events (any inside → yes).

**Relevance**: an article is relevant in gold when it lists an incident, predicted relevant when the extractor
returns at least one event. **Not-incidents**: a predicted event whose evidence sentence contains (after
whitespace and quote normalisation) a ``not_incidents`` statement counts as one incident produced from it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from dmzwatch.geo import Gazetteer, normalize_toponym
from dmzwatch.records import ExtractedEvent, SubEventType, ZoneResult

GOLD_TYPES: dict[str, SubEventType] = {
    "air_strike": SubEventType.AIR_STRIKE,
    "shelling": SubEventType.SHELLING,
    "armed_clash": SubEventType.ARMED_CLASH,
    "explosive": SubEventType.REMOTE_EXPLOSIVE,
    "remote_explosive": SubEventType.REMOTE_EXPLOSIVE,
    "attack": SubEventType.ATTACK,
    "other": SubEventType.OTHER,
}
_IN_DMZ = ("yes", "no", "unclear")


class GoldError(ValueError):
    """A gold line that does not follow the schema (the message says which line and field)."""


@dataclass(frozen=True, slots=True)
class GoldIncident:
    place: str
    place_normalized: str | None
    admin1: str | None
    precision: str
    in_dmz: str
    event_type: SubEventType
    killed: int | None
    injured: int | None
    perpetrator: str | None
    date: date | None
    evidence: str | None = None


@dataclass(frozen=True, slots=True)
class GoldArticle:
    seed: str
    published: datetime | None
    incidents: tuple[GoldIncident, ...]
    not_incidents: tuple[str, ...]


def _opt_int(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise GoldError(f"{where}: expected a non-negative integer or null, got {value!r}")
    return value


def parse_gold_line(line: str, lineno: int) -> GoldArticle:
    """One gold line → GoldArticle; a clear GoldError on anything off-schema."""
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise GoldError(f"line {lineno}: not JSON: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("seed"), str):
        raise GoldError(f"line {lineno}: an object with a string 'seed' is required")
    published = None
    if raw.get("published"):
        try:
            published = datetime.fromisoformat(str(raw["published"]))
        except ValueError as exc:
            raise GoldError(f"line {lineno}: 'published' is not ISO 8601: {raw['published']!r}") from exc
    incidents = []
    for n, inc in enumerate(raw.get("incidents") or []):
        where = f"line {lineno} incident {n}"
        if not isinstance(inc, dict) or not isinstance(inc.get("place"), str):
            raise GoldError(f"{where}: a 'place' string is required")
        etype = GOLD_TYPES.get(str(inc.get("event_type")))
        if etype is None:
            raise GoldError(f"{where}: event_type {inc.get('event_type')!r} not in {sorted(GOLD_TYPES)}")
        in_dmz = str(inc.get("in_dmz", "unclear"))
        if in_dmz not in _IN_DMZ:
            raise GoldError(f"{where}: in_dmz must be one of {_IN_DMZ}")
        day = None
        if inc.get("date"):
            try:
                day = date.fromisoformat(str(inc["date"]))
            except ValueError as exc:
                raise GoldError(f"{where}: 'date' is not an ISO day") from exc
        incidents.append(
            GoldIncident(
                place=inc["place"],
                place_normalized=inc.get("place_normalized"),
                admin1=inc.get("admin1"),
                precision=str(inc.get("precision") or "town"),
                in_dmz=in_dmz,
                event_type=etype,
                killed=_opt_int(inc.get("killed"), f"{where} killed"),
                injured=_opt_int(inc.get("injured"), f"{where} injured"),
                perpetrator=inc.get("perpetrator"),
                date=day,
                evidence=inc.get("evidence") if isinstance(inc.get("evidence"), str) else None,
            )
        )
    nots = raw.get("not_incidents") or []
    if not isinstance(nots, list) or not all(isinstance(s, str) for s in nots):
        raise GoldError(f"line {lineno}: 'not_incidents' must be a list of strings")
    return GoldArticle(raw["seed"], published, tuple(incidents), tuple(nots))


def load_gold(lines: Iterable[str]) -> list[GoldArticle]:
    return [parse_gold_line(line, n) for n, line in enumerate(lines, 1) if line.strip()]


# --- matching ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Predicted:
    """One extracted event with its zone, as scored."""

    event: ExtractedEvent
    zone: ZoneResult | None

    @property
    def place_id(self) -> str | None:
        return self.event.resolution.place.id if self.event.resolution is not None else None

    @property
    def region_level(self) -> bool:
        return self.event.resolution is not None and self.event.resolution.method == "region"


@dataclass(slots=True)
class Pair:
    gold: GoldIncident
    predicted: Predicted
    absorbed: list[Predicted] = field(default_factory=list)


@dataclass(slots=True)
class ArticleResult:
    seed: str
    pairs: list[Pair]
    missed: list[GoldIncident]
    spurious: list[Predicted]
    absorbed: int
    from_not_incidents: list[tuple[str, Predicted]]
    predicted_count: int
    miss_causes: list[str] = field(default_factory=list)  # one per missed gold incident, same order
    spurious_causes: list[str] = field(default_factory=list)  # one per spurious prediction, same order


def _words(text: str) -> str:
    return f" {normalize_toponym(text)} "


def _gold_ids(gaz: Gazetteer, g: GoldIncident) -> set[str]:
    ids: set[str] = set()
    for name in (g.place_normalized, g.place):
        if not name:
            continue
        res = gaz.resolve(name, admin1_hint=g.admin1)
        if res is not None and res.method != "region" and res.place.kind not in ("governorate", "country"):
            ids.add(res.place.id)
    return ids


def _region_parts(place: str) -> list[str]:
    return [part.strip() for part in re.split(r",|\band\b|\bas well as\b", place) if part.strip()]


def _gold_regions(gaz: Gazetteer, g: GoldIncident) -> set[str]:
    ids: set[str] = set()
    for part in _region_parts(g.place):
        res = gaz.region(part)
        if res is not None:
            ids.add(res.place.id)
    return ids


def _place_matches(gaz: Gazetteer, g: GoldIncident, p: Predicted, ids: set[str], regions: set[str]) -> bool:
    if g.precision == "region":
        if not p.region_level:
            return False
        # the region itself, or its name as written ("Jabal al-Zawiya" placed at southern Idlib). A village that
        # fell back to its region ("the village of X" placed at southern Idlib) is about the village: it matches
        # the village's own gold incident, never the region's
        if p.place_id in regions and gaz.region(p.event.place_text) is not None:
            return True
        return _words(p.event.place_text) in {_words(x) for x in _region_parts(g.place)}
    if p.place_id is not None and p.place_id in ids:
        return True
    written = normalize_toponym(p.event.place_text)
    if not written:
        return False
    return any(f" {written} " in _words(name) for name in (g.place, g.place_normalized) if name)


def _norm_statement(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", text).strip().lower()


def score_article(gaz: Gazetteer, gold: GoldArticle, predicted: Sequence[Predicted]) -> ArticleResult:
    free = list(predicted)
    pairs: list[Pair] = []
    missed: list[GoldIncident] = []
    absorbed = 0
    for g in gold.incidents:
        ids, regions = _gold_ids(gaz, g), _gold_regions(gaz, g)
        candidates = [p for p in free if _place_matches(gaz, g, p, ids, regions)]
        if not candidates:
            missed.append(g)
            continue
        best = next((p for p in candidates if p.event.sub_event_type is g.event_type), candidates[0])
        free.remove(best)
        pair = Pair(g, best)
        if g.precision == "region":
            for other in candidates:
                if other is not best:
                    free.remove(other)
                    pair.absorbed.append(other)
                    absorbed += 1
        pairs.append(pair)
    from_nots: list[tuple[str, Predicted]] = []
    statements = [(s, _norm_statement(s)) for s in gold.not_incidents]
    for p in predicted:
        sentence = _norm_statement(p.event.evidence.sentence)
        for raw, norm in statements:
            if norm and norm in sentence:
                from_nots.append((raw, p))
                break
    result = ArticleResult(gold.seed, pairs, missed, free, absorbed, from_nots, len(predicted))
    result.miss_causes = [_miss_cause(gaz, g, pairs) for g in missed]
    result.spurious_causes = [_spurious_cause(gaz, p, pairs, from_nots) for p in free]
    return result


# Error classes (issue 11): why an incident was missed, why a prediction was wrong.
MISS_CAUSES = ("unknown place", "list member", "region", "not read")
SPURIOUS_CAUSES = ("region", "statement", "duplicate", "other")


def _evidence_key(text: str | None) -> str:
    return _norm_statement(text or "")[:120]


def _miss_cause(gaz: Gazetteer, g: GoldIncident, pairs: list[Pair]) -> str:
    """region: a region-level incident; unknown place: the gazetteer cannot place it; list member: another
    incident of its sentence was found (the list was cut short); not read: its sentence gave nothing for it."""
    if g.precision == "region":
        return "region"
    if not _gold_ids(gaz, g):
        return "unknown place"
    if g.evidence and any(_evidence_key(p.gold.evidence) == _evidence_key(g.evidence) for p in pairs):
        return "list member"
    return "not read"


def _spurious_cause(gaz: Gazetteer, p: Predicted, pairs: list[Pair], from_nots: list[tuple[str, Predicted]]) -> str:
    """statement: made from a not-incident statement; region: a region-level event (not a village placed at
    its region); duplicate: a second event for a place already matched; other: anything else."""
    if any(q is p for _, q in from_nots):
        return "statement"
    if p.region_level and gaz.region(p.event.place_text) is not None:
        return "region"
    if p.place_id is not None and any(q.predicted.place_id == p.place_id for q in pairs):
        return "duplicate"
    return "other"


# --- summary -----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Rate:
    hits: int
    total: int

    @property
    def value(self) -> float | None:
        return self.hits / self.total if self.total else None

    def as_dict(self) -> dict[str, Any]:
        v = self.value
        return {"hits": self.hits, "total": self.total, "rate": round(v, 4) if v is not None else None}


def _rate(items: Iterable[bool]) -> Rate:
    values = list(items)
    return Rate(sum(values), len(values))


def _zone_yes(pair: Pair) -> bool:
    return any(p.zone is not None and p.zone.zone_status == "inside" for p in (pair.predicted, *pair.absorbed))


@dataclass(frozen=True, slots=True)
class Report:
    articles: list[ArticleResult]
    relevance: dict[str, int]
    cross_file_hints: list[str]

    @property
    def tp(self) -> int:
        return sum(len(a.pairs) for a in self.articles)

    @property
    def fp(self) -> int:
        return sum(len(a.spurious) for a in self.articles)

    @property
    def fn(self) -> int:
        return sum(len(a.missed) for a in self.articles)

    def _pairs(self) -> list[Pair]:
        return [p for a in self.articles for p in a.pairs]

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def type_accuracy(self) -> Rate:
        return _rate(p.predicted.event.sub_event_type is p.gold.event_type for p in self._pairs())

    @property
    def killed_exact(self) -> Rate:
        return _rate(p.predicted.event.killed == p.gold.killed for p in self._pairs() if p.gold.killed is not None)

    @property
    def injured_exact(self) -> Rate:
        return _rate(p.predicted.event.injured == p.gold.injured for p in self._pairs() if p.gold.injured is not None)

    @property
    def zone_agreement(self) -> Rate:
        return _rate(_zone_yes(p) == (p.gold.in_dmz == "yes") for p in self._pairs() if p.gold.in_dmz in ("yes", "no"))

    @property
    def zone_edge(self) -> int:
        return sum(
            1
            for p in self._pairs()
            if p.gold.in_dmz in ("yes", "no")
            and p.predicted.zone is not None
            and p.predicted.zone.zone_status == "edge"
        )

    @property
    def perpetrator_accuracy(self) -> Rate:
        return _rate(p.predicted.event.perpetrator == p.gold.perpetrator for p in self._pairs() if p.gold.perpetrator)

    @property
    def date_accuracy(self) -> Rate:
        return _rate(p.predicted.event.occurred_on == p.gold.date for p in self._pairs() if p.gold.date is not None)

    @property
    def relevance_accuracy(self) -> Rate:
        r = self.relevance
        return Rate(r["tp"] + r["tn"], sum(r.values()))

    @property
    def not_incident_events(self) -> int:
        return sum(len(a.from_not_incidents) for a in self.articles)

    def summary(self) -> dict[str, Any]:
        return {
            "articles": len(self.articles),
            "incidents": {
                "tp": self.tp,
                "fp": self.fp,
                "fn": self.fn,
                "absorbed": sum(a.absorbed for a in self.articles),
                "precision": round(self.precision, 4),
                "recall": round(self.recall, 4),
                "f1": round(self.f1, 4),
            },
            "type_accuracy": self.type_accuracy.as_dict(),
            "killed_exact": self.killed_exact.as_dict(),
            "injured_exact": self.injured_exact.as_dict(),
            "zone_agreement": {**self.zone_agreement.as_dict(), "edge_predictions": self.zone_edge},
            "perpetrator_accuracy": self.perpetrator_accuracy.as_dict(),
            "date_accuracy": self.date_accuracy.as_dict(),
            "relevance": {**self.relevance, **self.relevance_accuracy.as_dict()},
            "not_incident_events": self.not_incident_events,
            "error_classes": self.error_classes(),
            "cross_file_hints": self.cross_file_hints,
        }

    def error_classes(self) -> dict[str, dict[str, int]]:
        """Misses and false positives by cause, and field errors of matched incidents by field."""
        misses = dict.fromkeys(MISS_CAUSES, 0)
        spurious = dict.fromkeys(SPURIOUS_CAUSES, 0)
        for a in self.articles:
            for cause in a.miss_causes:
                misses[cause] += 1
            for cause in a.spurious_causes:
                spurious[cause] += 1
        fields = {"toll": 0, "type": 0, "perpetrator": 0, "date": 0, "zone": 0}
        for p in self._pairs():
            e, g = p.predicted.event, p.gold
            fields["toll"] += (g.killed is not None and e.killed != g.killed) or (
                g.injured is not None and e.injured != g.injured
            )
            fields["type"] += e.sub_event_type is not g.event_type
            fields["perpetrator"] += bool(g.perpetrator) and e.perpetrator != g.perpetrator
            fields["date"] += g.date is not None and e.occurred_on != g.date
            fields["zone"] += g.in_dmz in ("yes", "no") and _zone_yes(p) != (g.in_dmz == "yes")
        return {"misses": misses, "false_positives": spurious, "field_errors": fields}

    def details(self) -> list[dict[str, Any]]:
        """Per article: what matched with which field errors, what was missed, what was spurious."""
        out = []
        for a in self.articles:
            errors = []
            for p in a.pairs:
                e, g = p.predicted.event, p.gold
                wrong = []
                if e.sub_event_type is not g.event_type:
                    wrong.append(f"type {e.sub_event_type.value!r} != {g.event_type.value!r}")
                if g.killed is not None and e.killed != g.killed:
                    wrong.append(f"killed {e.killed} != {g.killed}")
                if g.injured is not None and e.injured != g.injured:
                    wrong.append(f"injured {e.injured} != {g.injured}")
                if g.in_dmz in ("yes", "no") and _zone_yes(p) != (g.in_dmz == "yes"):
                    status = p.predicted.zone.zone_status if p.predicted.zone else None
                    wrong.append(f"zone {status} vs in_dmz {g.in_dmz}")
                if g.perpetrator and e.perpetrator != g.perpetrator:
                    wrong.append(f"perpetrator {e.perpetrator} != {g.perpetrator}")
                if g.date is not None and e.occurred_on != g.date:
                    wrong.append(f"date {e.occurred_on} != {g.date}")
                if wrong:
                    errors.append({"place": g.place, "errors": wrong})
            out.append(
                {
                    "seed": a.seed,
                    "matched": len(a.pairs),
                    "field_errors": errors,
                    "missed": [g.place for g in a.missed],
                    "spurious": [f"{p.event.place_text} ({p.place_id})" for p in a.spurious],
                    "from_not_incidents": [s for s, _ in a.from_not_incidents],
                }
            )
        return out


def evaluate(
    gaz: Gazetteer,
    gold: Sequence[GoldArticle],
    predict: Callable[[GoldArticle], Sequence[Predicted]],
) -> Report:
    """Score ``predict`` (an article's events with zones) on every gold article."""
    articles: list[ArticleResult] = []
    relevance = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for g in gold:
        predicted = list(predict(g))
        articles.append(score_article(gaz, g, predicted))
        key = ("t" if bool(predicted) == bool(g.incidents) else "f") + ("p" if predicted else "n")
        relevance[key] += 1
    hints = []
    for a in articles:
        for p in a.spurious:
            for b in articles:
                if b is a:
                    continue
                for missed in b.missed:
                    if missed.precision != "region" and p.place_id in _gold_ids(gaz, missed):
                        hints.append(
                            f"{a.seed}: predicted {p.event.place_text!r} matches gold {missed.place!r} "
                            f"filed under {b.seed}"
                        )
    return Report(articles, relevance, hints)


def format_report(report: Report) -> str:
    """The human-readable summary printed by ``dmzwatch eval``."""
    s = report.summary()
    inc = s["incidents"]

    def pct(d: dict[str, Any]) -> str:
        return "n/a" if d["rate"] is None else f"{d['rate']:.3f} ({d['hits']}/{d['total']})"

    lines = [
        f"articles: {s['articles']}",
        f"incidents: precision {inc['precision']:.3f}  recall {inc['recall']:.3f}  F1 {inc['f1']:.3f}  "
        f"(tp {inc['tp']}, fp {inc['fp']}, fn {inc['fn']}, absorbed region-list events {inc['absorbed']})",
        f"type accuracy (matched): {pct(s['type_accuracy'])}",
        f"killed exact (matched, gold has a number): {pct(s['killed_exact'])}",
        f"injured exact (matched, gold has a number): {pct(s['injured_exact'])}",
        f"zone agreement (gold yes/no; inside = yes, edge/outside = no): {pct(s['zone_agreement'])}; "
        f"edge predictions among them: {s['zone_agreement']['edge_predictions']}",
        f"perpetrator accuracy (gold names a side): {pct(s['perpetrator_accuracy'])}",
        f"date accuracy (gold has a date and the line a published time): {pct(s['date_accuracy'])}",
        f"article relevance: {pct(s['relevance'])}  (tp {s['relevance']['tp']}, fp {s['relevance']['fp']}, "
        f"fn {s['relevance']['fn']}, tn {s['relevance']['tn']})",
        f"incidents from not_incidents statements: {s['not_incident_events']}",
    ]
    classes = s["error_classes"]
    for title, key in (
        ("misses by cause", "misses"),
        ("false positives by cause", "false_positives"),
        ("matched incidents with a wrong field", "field_errors"),
    ):
        lines.append(f"{title}: " + ", ".join(f"{name} {n}" for name, n in classes[key].items()))
    for hint in s["cross_file_hints"]:
        lines.append(f"note (possible gold filing error): {hint}")
    return "\n".join(lines)


__all__ = [
    "GOLD_TYPES",
    "GoldArticle",
    "GoldError",
    "GoldIncident",
    "Predicted",
    "Report",
    "evaluate",
    "format_report",
    "load_gold",
    "parse_gold_line",
    "score_article",
]
