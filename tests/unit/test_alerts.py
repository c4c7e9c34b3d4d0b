from __future__ import annotations

import json
from datetime import UTC, date, datetime

from dmzwatch.alerts.message import AlertMessage, SourceLink, toll_text
from dmzwatch.alerts.slack import render_slack
from dmzwatch.alerts.webhook import sign, verify
from tests.support.servers import check_slack_payload


def _message(**overrides: object) -> AlertMessage:
    values: dict[str, object] = dict(
        alert_id=1,
        kind="new",
        incident_id=42,
        version=1,
        event_type="Explosions/Remote violence",
        sub_event_type="Air/drone strike",
        place_name="Kafr Nabl",
        admin1="Idlib",
        lat=35.613,
        lon=36.562,
        geo_precision=1,
        zone_status="inside",
        zones=("idlib-dmz",),
        distance_to_line_km=8.2,
        occurred_on=date(2019, 5, 4),
        killed=5,
        killed_min=4,
        killed_max=5,
        injured=9,
        injured_min=9,
        injured_max=9,
        killed_civilians=5,
        perpetrator="russia",
        confidence=0.8,
        sources=(
            SourceLink("https://a.example/x", "a.example", datetime(2019, 5, 4, tzinfo=UTC), 5, 9),
            SourceLink("https://b.example/<y>", "b & c", None, 4, None),
        ),
    )
    values.update(overrides)
    return AlertMessage(**values)  # type: ignore[arg-type]


def test_slack_payload_has_the_facts_and_valid_shape() -> None:
    payload = render_slack(_message())
    check_slack_payload(payload)
    flat = json.dumps(payload)
    assert payload["text"] == "New incident: Air/drone strike in Kafr Nabl, Idlib"
    for fact in ("5 (sources say 4-5), all civilians", "Russian forces", "2019-05-04", "8.2 km from the contact line"):
        assert fact in flat
    assert "b &amp; c" in flat  # mrkdwn escaping of outlet names
    assert "openstreetmap.org/?mlat=35.61300&amp;mlon=36.56200" in flat


def test_slack_links_cannot_be_broken_or_hijacked_by_a_feed() -> None:
    """A URL with `>` or `|` (a hostile or sloppy feed) must not end the link early or inject mrkdwn."""
    hostile = SourceLink("https://b.example/a>b|<!channel> c", "b", None, None, None)
    payload = render_slack(_message(sources=(hostile,)))
    check_slack_payload(payload)
    sources = next(b["text"]["text"] for b in payload["blocks"] if b.get("text", {}).get("text", "").startswith("•"))
    assert sources == "• <https://b.example/a%3Eb%7C%3C!channel%3E%20c|b>"


def test_slack_quotes_the_first_sources_sentence_escaped_and_capped() -> None:
    quoted = SourceLink("https://a.example/x", "a.example", None, 5, None, "Jets hit <Kafr Nabl> & Hass. " * 30)
    payload = render_slack(_message(sources=(SourceLink("https://z.example/", "z", None, None, None), quoted)))
    check_slack_payload(payload)
    quote = next(b["text"]["text"] for b in payload["blocks"] if b.get("text", {}).get("text", "").startswith(">"))
    assert quote.startswith("> Jets hit &lt;Kafr Nabl&gt; &amp; Hass.") and quote.endswith("…\n— a.example")
    assert len(quote) < 560


def test_slack_says_how_many_of_the_dead_were_civilians() -> None:
    payload = render_slack(_message(killed=7, killed_min=7, killed_max=7, killed_civilians=4))
    assert "7, 4 of them civilians" in json.dumps(payload)
    payload = render_slack(_message(killed=7, killed_min=7, killed_max=7, killed_civilians=None, perpetrator="unknown"))
    flat = json.dumps(payload)
    assert "civilians" not in flat and "not stated" in flat


def test_slack_update_says_what_changed() -> None:
    payload = render_slack(_message(kind="update", version=2, changes=("death toll rose to 7",)))
    assert payload["text"].startswith("Update:")
    assert "death toll rose to 7" in json.dumps(payload)


def test_slack_caps_long_source_lists() -> None:
    sources = tuple(SourceLink(f"https://s{i}.example/", f"s{i}", None, 1, None) for i in range(30))
    payload = render_slack(_message(sources=sources))
    check_slack_payload(payload)
    assert "and 22 more" in json.dumps(payload)


def test_toll_text() -> None:
    assert toll_text(None, None, None) == "not reported"
    assert toll_text(3, 3, 3) == "3"
    assert toll_text(0, 0, 0) == "0"


def test_webhook_signature_round_trip_and_replay_window() -> None:
    body = json.dumps(_message().to_json()).encode()
    signature = sign("s3cret", 1_700_000_000, body)
    assert signature.startswith("sha256=")
    assert verify("s3cret", 1_700_000_000, body, signature, now=1_700_000_100)
    assert not verify("s3cret", 1_700_000_000, body + b" ", signature, now=1_700_000_100)
    assert not verify("other", 1_700_000_000, body, signature, now=1_700_000_100)
    assert not verify("s3cret", 1_700_000_000, body, signature, now=1_700_000_000 + 301)
