from __future__ import annotations

from datetime import UTC, date, datetime

from dmzwatch.nlp.dates import event_date, find_dates, local_day

# 2019-05-04 was a Saturday
PUB = datetime(2019, 5, 4, 12, 0, tzinfo=UTC)


def _day(sentence: str, published: datetime | None = PUB) -> date | None:
    d = event_date(sentence, published)
    return d.day if d else None


def test_weekdays_resolve_to_the_latest_such_day_on_or_before_publication() -> None:
    assert _day("The air raids on Saturday killed six.") == date(2019, 5, 4)
    assert _day("On Friday, rebel shelling killed 10 people.") == date(2019, 5, 3)
    assert _day("Villages targeted overnight on Wednesday.") == date(2019, 5, 1)
    assert _day("Rebels responded to Saturday’s attacks.") == date(2019, 5, 4)


def test_relative_days() -> None:
    assert _day("Heavy shelling continued last night.") == date(2019, 5, 3)
    assert _day("Yesterday, the town was hit.") == date(2019, 5, 3)
    assert _day("Jets struck the town today.") == date(2019, 5, 4)


def test_explicit_dates() -> None:
    assert _day("air strikes in Idlib, Syria on 11 June 2018") == date(2018, 6, 11)
    assert _day("The attack on May 2 killed three.") == date(2019, 5, 2)
    # a day-month after publication is last year's
    assert _day("The attack on 3 December killed three.") == date(2018, 12, 3)


def test_publication_day_is_taken_in_damascus_time() -> None:
    # 22:30 UTC on Friday is already Saturday in Damascus (UTC+3 in May 2019)
    late = datetime(2019, 5, 3, 22, 30, tzinfo=UTC)
    assert local_day(late) == date(2019, 5, 4)
    assert _day("The town was shelled on Saturday.", late) == date(2019, 5, 4)


def test_since_phrases_are_not_event_dates() -> None:
    found = find_dates("attacks since Tuesday", PUB)
    assert found and found[0].since
    assert event_date("attacks since Tuesday", PUB) is None


def test_without_publication_time_relative_dates_stay_unresolved() -> None:
    assert _day("The town was shelled on Saturday.", None) is None


def test_week_and_month_phrases_keep_their_precision() -> None:
    # PUB is Saturday 2019-05-04: last week began on Monday 2019-04-22
    last_week = event_date("Last week, a strike on a bakery killed four.", PUB)
    assert last_week is not None and (last_week.day, last_week.precision) == (date(2019, 4, 22), 2)
    this_week = event_date("The town was shelled earlier this week.", PUB)
    assert this_week is not None and (this_week.day, this_week.precision) == (date(2019, 4, 29), 2)
    last_month = event_date("The market was bombed last month.", PUB)
    assert last_month is not None and (last_month.day, last_month.precision) == (date(2019, 4, 1), 3)
    on_friday = event_date("On Friday, rebel shelling killed 10 people.", PUB)
    assert on_friday is not None and on_friday.precision == 1
