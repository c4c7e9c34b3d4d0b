"""Frozen records passed between pipeline stages.

Every stage of the pipeline is a pure function from one of these records to the next; the database and Celery
only move them around. Keeping them here (and not in the modules that produce them) lets each stage be read,
tested and replaced on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Literal


# --- feeds and fetching ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One item of a feed, as the feed describes it (before any page fetch)."""

    guid: str  # the entry id, or its link when the feed gives none: unique per feed
    url: str
    title: str
    summary: str  # plain text
    published_at: datetime | None  # timezone-aware UTC
    content_html: str | None = None  # full text when the feed carries it (content:encoded)


@dataclass(frozen=True, slots=True)
class FeedPollResult:
    """What one conditional GET of a feed produced."""

    status: int  # HTTP status of the final response
    not_modified: bool  # 304: nothing to do, validators unchanged
    entries: tuple[FeedEntry, ...]
    etag: str | None
    last_modified: str | None
    permanent_url: str | None = None  # set when a 301/308 moved the feed: the caller stores it
    gone: bool = False  # 410: the caller disables the feed
    retry_after_s: float | None = None  # 429/503 Retry-After, in seconds
    bozo_reason: str | None = None  # feed was malformed but still (partly) parsed


@dataclass(frozen=True, slots=True)
class FetchedPage:
    url: str  # final URL after redirects
    status: int
    content_type: str
    body: bytes  # decompressed, capped
    text: str  # decoded with the detected charset
    encoding: str


@dataclass(frozen=True, slots=True)
class CleanArticle:
    text: str  # main text, paragraphs separated by blank lines
    title: str | None
    published_at: datetime | None  # timezone-aware UTC
    language: str | None  # ISO 639-1
    site_name: str | None
    canonical_url: str | None  # from rel=canonical / og:url, when the page declares one


# --- geography ---------------------------------------------------------------------------------------------
PlaceKind = Literal["city", "town", "village", "site", "region", "governorate", "country"]


@dataclass(frozen=True, slots=True)
class Place:
    id: str  # stable gazetteer id, e.g. "gn:170063", "nw:kafr-nabudah", "region:southern-idlib"
    name: str  # preferred English name
    admin1: str | None  # governorate: "Idlib", "Hama", "Aleppo", "Latakia", ...
    lat: float
    lon: float
    kind: PlaceKind


@dataclass(frozen=True, slots=True)
class Resolution:
    """A toponym resolved against the gazetteer."""

    place: Place
    geo_precision: int  # 1 place, 2 near/part of a district, 3 governorate or region
    method: Literal["exact", "alias", "fuzzy", "region"]
    score: float  # 1.0 for exact/alias, the similarity for fuzzy


ZoneStatus = Literal["inside", "edge", "outside"]


@dataclass(frozen=True, slots=True)
class ZoneResult:
    zones: tuple[str, ...]  # names of every configured zone containing the point
    zone_status: ZoneStatus  # relative to the primary (alerting) zone
    distance_to_line_km: float | None  # to the contact line, when the zone file has one


# --- extraction --------------------------------------------------------------------------------------------
class SubEventType(StrEnum):
    """ACLED sub-event names (DESIGN §5).

    These are the types the code reasons about (air and ground bombardment, explosives, clashes). The lexicon
    (``config/lexicon/<language>.yaml``) may define more ("Chemical weapon", say): ``SubEventType(label)`` then
    gives a member for that label, with the lexicon's ACLED event type, so a new type needs no code change.
    """

    AIR_STRIKE = "Air/drone strike"
    SHELLING = "Shelling/artillery/missile attack"
    ARMED_CLASH = "Armed clash"
    REMOTE_EXPLOSIVE = "Remote explosive/landmine/IED"
    ATTACK = "Attack"
    OTHER = "Other"

    @classmethod
    def _missing_(cls, value: object) -> SubEventType | None:
        from dmzwatch.nlp.lexicon import get_lexicon

        if not isinstance(value, str) or get_lexicon().event_type(value) is None:
            return None
        member = str.__new__(cls, value)
        member._name_ = re.sub(r"\W+", "_", value).upper()
        member._value_ = value
        cls._value2member_map_[value] = member  # one member per label, like the built-in ones
        return member

    @property
    def event_type(self) -> str:
        """The ACLED event type this sub-event belongs to."""
        known = _ACLED_EVENT_TYPE.get(self)
        if known is not None:
            return known
        from dmzwatch.nlp.lexicon import get_lexicon

        rule = get_lexicon().event_type(self.value)
        return rule.acled_event_type if rule is not None else "Other"


_ACLED_EVENT_TYPE: dict[SubEventType, str] = {
    SubEventType.AIR_STRIKE: "Explosions/Remote violence",
    SubEventType.SHELLING: "Explosions/Remote violence",
    SubEventType.REMOTE_EXPLOSIVE: "Explosions/Remote violence",
    SubEventType.ARMED_CLASH: "Battles",
    SubEventType.ATTACK: "Violence against civilians",
    SubEventType.OTHER: "Other",
}

Side = Literal["government", "russia", "rebels", "hts", "turkey", "coalition", "isis", "sdf", "unknown"]


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where in the article text a field came from: the sentence and its character offsets into the full text,
    and, when one phrase gave the value ("killing at least four civilians", "on Tuesday"), that phrase's offsets
    into the full text too (None when the sentence as a whole is the evidence)."""

    sentence: str
    start: int
    end: int
    phrase_start: int | None = None
    phrase_end: int | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"sentence": self.sentence, "start": self.start, "end": self.end}
        if self.phrase_start is not None and self.phrase_end is not None:
            out["phrase_start"], out["phrase_end"] = self.phrase_start, self.phrase_end
        return out


@dataclass(frozen=True, slots=True)
class ExtractedEvent:
    """One incident claimed by one article: one attack at one place and time."""

    place_text: str  # the toponym as written
    resolution: Resolution | None  # None: not resolvable even to a region (such events are dropped)
    sub_event_type: SubEventType
    killed: int | None  # None = not stated; 0 = "no casualties"
    injured: int | None
    killed_civilians: int | None
    perpetrator: Side
    perpetrator_text: str | None
    target: str | None
    occurred_on: date | None
    time_precision: int | None  # 1 day, 2 week, 3 month
    confidence: float  # 0..1
    evidence: Evidence  # the sentence that states the event
    field_evidence: dict[str, Evidence] = field(default_factory=dict)  # per field: "killed", "perpetrator", ...

    @property
    def event_type(self) -> str:
        return self.sub_event_type.event_type
