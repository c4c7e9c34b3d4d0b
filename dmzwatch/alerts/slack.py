"""Slack incoming-webhook messages in Block Kit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dmzwatch.alerts.message import AlertMessage, DigestMessage, toll_text

_PRECISION = {1: "exact place", 2: "near the place", 3: "region only"}
_DIGEST_SOURCES = 3  # outlets linked per digest line; the rest are counted
# The sides as an analyst reads them (the codes are the stable interface, these are only for display).
PERPETRATOR_LABELS = {
    "government": "Syrian government forces",
    "russia": "Russian forces",
    "rebels": "rebel/opposition groups",
    "hts": "Hayat Tahrir al-Sham (HTS)",
    "turkey": "Turkish forces",
    "coalition": "US-led coalition",
    "isis": "Islamic State",
    "sdf": "SDF",
    "unknown": "not stated",
}
_QUOTE_CHARS = 400  # one source sentence, shown so the claim can be checked at a glance
_MAX_SOURCES_SHOWN = 8  # Slack caps a section's text at 3000 chars; eight links fit with room to spare


def render_slack(message: AlertMessage) -> dict[str, Any]:
    """Block Kit payload: header, key facts as fields, sources, map link. `text` is the notification fallback."""
    prefix = "New incident" if message.kind == "new" else "Update"
    where = message.place_name + (f", {message.admin1}" if message.admin1 else "")
    headline = f"{prefix}: {message.sub_event_type} in {where}"
    when = message.occurred_on.isoformat() if message.occurred_on else "date unknown"
    zone = message.zone_status
    if message.distance_to_line_km is not None:
        zone += f", {message.distance_to_line_km:.1f} km from the contact line"
    fields = [
        f"*Type*\n{message.sub_event_type}",
        f"*Place*\n{where} ({_PRECISION.get(message.geo_precision, '?')})",
        f"*Killed*\n{_killed_text(message)}",
        f"*Injured*\n{toll_text(message.injured, message.injured_min, message.injured_max)}",
        f"*Date*\n{when}",
        f"*Perpetrator*\n{PERPETRATOR_LABELS.get(message.perpetrator, message.perpetrator)}",
        f"*Zone*\n{zone}",
        f"*Sources*\n{len(message.sources)}",
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": headline[:150], "emoji": False}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    if message.changes:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": "*What changed:* " + "; ".join(message.changes)}}
        )
    quoted = next((src for src in message.sources if src.sentence), None)
    if quoted is not None and quoted.sentence:
        sentence = quoted.sentence if len(quoted.sentence) <= _QUOTE_CHARS else quoted.sentence[:_QUOTE_CHARS] + "…"
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"> {_escape(sentence)}\n— {_escape(quoted.outlet)}"},
            }
        )
    source_lines = []
    for source in message.sources[:_MAX_SOURCES_SHOWN]:
        toll = f" (killed {source.killed})" if source.killed is not None else ""
        source_lines.append(f"• <{_link_url(source.url)}|{_escape(source.outlet)}>{toll}")
    if len(message.sources) > _MAX_SOURCES_SHOWN:
        source_lines.append(f"… and {len(message.sources) - _MAX_SOURCES_SHOWN} more")
    if source_lines:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(source_lines)}})
    context = [f"incident #{message.incident_id} v{message.version}", f"confidence {message.confidence:.2f}"]
    if message.map_url:
        context.append(f"<{_link_url(message.map_url)}|map>")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]})
    return {"text": headline, "blocks": blocks}


_DIGEST_SECTION_CHARS = 2900  # Slack's 3000-char cap on a section's text, with margin
_DIGEST_MAX_SECTIONS = 45  # Slack's 50-block cap, minus header and context


def digest_line(message: AlertMessage, *, new: bool | None = None) -> str:
    """One incident in a digest, with the facts a single alert gives: kind, type, place and its precision, toll,
    date, zone, its sources linked, a map link. ``new``: the label when the digest folded a `new` and its updates
    into this (latest) version."""
    where = message.place_name + (f", {message.admin1}" if message.admin1 else "")
    precision = _PRECISION.get(message.geo_precision, "?")
    when = message.occurred_on.isoformat() if message.occurred_on else "date unknown"
    killed = toll_text(message.killed, message.killed_min, message.killed_max)
    label = "New" if (message.kind == "new" if new is None else new) else "Update"
    count = len(message.sources)
    outlets = ", ".join(
        f"<{_link_url(source.url)}|{_escape(source.outlet)}>" for source in message.sources[:_DIGEST_SOURCES]
    )
    more = f" +{count - _DIGEST_SOURCES}" if count > _DIGEST_SOURCES else ""
    line = (
        f"• *{label}* {message.sub_event_type} in {_escape(where)} ({precision}): killed {killed}, {when}, "
        f"{message.zone_status}; {count} {'source' if count == 1 else 'sources'}: {outlets}{more} "
        f"(#{message.incident_id} v{message.version})"
    )
    if message.map_url:
        line += f" <{_link_url(message.map_url)}|map>"
    return line


def latest_per_incident(alerts: Sequence[AlertMessage]) -> list[tuple[AlertMessage, bool]]:
    """One entry per incident, in first-seen order: its latest version, and whether the digest carries the
    incident's first (`new`) alert. A `new` and its updates in one digest read as one new incident."""
    latest: dict[int, AlertMessage] = {}
    is_new: dict[int, bool] = {}
    for message in alerts:
        current = latest.get(message.incident_id)
        if current is None or message.version > current.version:
            latest[message.incident_id] = message
        is_new[message.incident_id] = is_new.get(message.incident_id, False) or message.kind == "new"
    return [(message, is_new[incident_id]) for incident_id, message in latest.items()]


def render_slack_digest(digest: DigestMessage) -> dict[str, Any]:
    """One Block Kit message for a burst: a header, then one line per incident in as few sections as fit."""
    incidents = latest_per_incident(digest.alerts)
    seconds = digest.window_s
    span = f"{seconds} s" if seconds < 120 else f"{round(seconds / 60)} min"
    headline = f"Digest: {len(incidents)} {'incident' if len(incidents) == 1 else 'incidents'} in the last {span}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": headline[:150], "emoji": False}}
    ]
    sections: list[list[str]] = [[]]
    shown = 0
    for message, new in incidents:
        line = digest_line(message, new=new)[:_DIGEST_SECTION_CHARS]
        if sum(len(x) + 1 for x in sections[-1]) + len(line) > _DIGEST_SECTION_CHARS:
            if len(sections) == _DIGEST_MAX_SECTIONS:
                break
            sections.append([])
        sections[-1].append(line)
        shown += 1
    for lines in sections:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
    context = "alerts folded into one message to stay under the channel's alert rate"
    if shown < len(incidents):
        context = f"… and {len(incidents) - shown} more; " + context
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": headline, "blocks": blocks}


def _escape(text: str) -> str:
    """Slack mrkdwn control characters (per Slack's formatting docs): &, <, >."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link_url(url: str) -> str:
    """A URL inside Slack's ``<url|label>``: ``&`` as an entity (Slack's rule for control characters), and the
    characters that would end or split the link (``<``, ``>``, ``|``, whitespace) percent-encoded, as they
    should have been in the URL anyway. A feed cannot break the message or smuggle in a mention this way."""
    url = url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
    return "".join("%20" if ch.isspace() else ch for ch in url)


def _killed_text(message: AlertMessage) -> str:
    text = toll_text(message.killed, message.killed_min, message.killed_max)
    killed, civilians = message.killed, message.killed_civilians
    if killed and civilians:
        if civilians == killed:
            text += ", all civilians"
        elif civilians < killed:
            text += f", {civilians} of them civilians"
    return text
