"""Event dates from relative phrases, resolved against the publication time in Asia/Damascus (DESIGN §4).

"on Saturday" is the most recent Saturday on or before the publication day (wire copy reports the past; a story
published on a Saturday about "Saturday" means that day). "overnight on Wednesday" is the Wednesday. "last night"
and "yesterday" are the day before publication; "today", "this morning", "earlier on" the publication day.
Explicit dates ("11 June 2018", "June 11", "on 3 November") are taken as written, the year from the publication
date when missing (the previous year when that would put the date in the future).

Day phrases carry time_precision 1. Coarser phrases keep their precision (ACLED's convention): "last week",
"earlier this week" give precision 2 and the Monday of that week; "last month", "earlier this month" precision 3
and the first of that month. When no phrase is found the caller uses the publication date
with a lower confidence (``extract.py``), or None when the article has no publication time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

DAMASCUS = ZoneInfo("Asia/Damascus")

_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for m in names
}
_MONTH_RE = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?"
)

_DMY = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)? ({_MONTH_RE})(?:,? (\d{{4}}))?\b")
_MDY = re.compile(rf"\b({_MONTH_RE}) (\d{{1,2}})(?:st|nd|rd|th)?(?:,? (\d{{4}}))?\b")
_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_WEEKDAY = re.compile(
    r"\b(?:(?:on|late on|early on|overnight on|overnight|since|last|this|late|early|(?:on )?(?:the )?"
    r"(?:night|morning|evening|afternoon) of)\s+)?(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
    r"(?:(?:’s|'s)| (?:night|morning|evening|afternoon))?\b",
)
_COARSE = re.compile(r"\b(last week|earlier this week|this week|last month|earlier this month)\b", re.IGNORECASE)
_RELATIVE = re.compile(
    r"\b(last night|yesterday|overnight|today|this morning|this afternoon|this evening|tonight|earlier today|"
    r"on the same day|the day before|a day earlier)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class DatePhrase:
    text: str
    start: int
    end: int
    day: date | None  # None when the phrase cannot be resolved (no publication time and no year)
    explicit: bool  # a calendar date as written, not relative
    since: bool  # "since Tuesday": the start of a period, not an event date
    precision: int = 1  # 1 day, 2 week, 3 month


def local_day(published_at: datetime) -> date:
    if published_at.tzinfo is None:
        # naive datetimes are UTC by the pipeline's convention (records.py)
        published_at = published_at.replace(tzinfo=ZoneInfo("UTC"))
    return published_at.astimezone(DAMASCUS).date()


def find_dates(sentence: str, published_at: datetime | None) -> list[DatePhrase]:
    """Every date phrase in the sentence, resolved when possible, in order."""
    pub = local_day(published_at) if published_at is not None else None
    out: list[DatePhrase] = []
    taken: list[tuple[int, int]] = []

    def add(m: re.Match[str], day: date | None, explicit: bool, precision: int = 1) -> None:
        if any(s < m.end() and m.start() < e for s, e in taken):
            return
        taken.append((m.start(), m.end()))
        since = sentence[max(0, m.start() - 6) : m.start()].lower().endswith("since ") or m.group(0).lower().startswith(
            "since"
        )
        out.append(DatePhrase(m.group(0), m.start(), m.end(), day, explicit, since, precision))

    for m in _ISO.finditer(sentence):
        try:
            add(m, date(int(m.group(1)), int(m.group(2)), int(m.group(3))), True)
        except ValueError:
            continue
    for m in _DMY.finditer(sentence):
        add(m, _calendar(int(m.group(1)), m.group(2), m.group(3), pub), True)
    for m in _MDY.finditer(sentence):
        if m.group(1) == "May" and not m.group(3) and int(m.group(2)) > 31:
            continue
        add(m, _calendar(int(m.group(2)), m.group(1), m.group(3), pub), True)
    for m in _WEEKDAY.finditer(sentence):
        wd = _WEEKDAYS.index(m.group(1).lower())
        day = None
        if pub is not None:
            back = (pub.weekday() - wd) % 7
            day = pub - timedelta(days=back)
        add(m, day, False)
    for m in _RELATIVE.finditer(sentence):
        phrase = m.group(1).lower()
        day = None
        if pub is not None:
            if phrase in ("last night", "yesterday", "overnight", "the day before", "a day earlier"):
                day = pub - timedelta(days=1)
            elif phrase == "on the same day":
                day = None
            else:
                day = pub
        if phrase == "on the same day":
            continue
        add(m, day, False)
    for m in _COARSE.finditer(sentence):
        phrase = m.group(1).lower()
        day = None
        if phrase.endswith("week"):
            if pub is not None:
                monday = pub - timedelta(days=pub.weekday())
                day = monday - timedelta(days=7) if phrase == "last week" else monday
            add(m, day, False, 2)
        else:
            if pub is not None:
                first = pub.replace(day=1)
                day = (first - timedelta(days=1)).replace(day=1) if phrase == "last month" else first
            add(m, day, False, 3)
    out.sort(key=lambda d: d.start)
    return out


def _calendar(day: int, month_text: str, year_text: str | None, pub: date | None) -> date | None:
    month = _MONTHS.get(month_text.lower().rstrip("."))
    if month is None:
        return None
    if year_text:
        year = int(year_text)
    elif pub is not None:
        year = pub.year
    else:
        return None
    try:
        d = date(year, month, day)
    except ValueError:
        return None
    if not year_text and pub is not None and d > pub + timedelta(days=1):
        d = date(year - 1, month, day) if not (month == 2 and day == 29) else d
    return d


def event_date(sentence: str, published_at: datetime | None) -> DatePhrase | None:
    """The date phrase that dates the event in this sentence: the first non-"since" phrase."""
    for d in find_dates(sentence, published_at):
        if not d.since:
            return d
    return None
