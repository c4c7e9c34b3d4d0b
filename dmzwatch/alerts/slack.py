"""Slack incoming-webhook messages in Block Kit."""

from __future__ import annotations

from typing import Any

from dmzwatch.alerts.message import AlertMessage, DigestMessage, toll_text

_PRECISION = {1: "exact place", 2: "near the place", 3: "region only"}
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


def digest_line(message: AlertMessage) -> str:
    """One incident in a digest: kind, type, place, toll, date, zone, map link."""
    where = message.place_name + (f", {message.admin1}" if message.admin1 else "")
    when = message.occurred_on.isoformat() if message.occurred_on else "date unknown"
    killed = toll_text(message.killed, message.killed_min, message.killed_max)
    line = (
        f"• *{'New' if message.kind == 'new' else 'Update'}* {message.sub_event_type} in {_escape(where)}: "
        f"killed {killed}, {when}, {message.zone_status}, {len(message.sources)} sources (#{message.incident_id} "
        f"v{message.version})"
    )
    if message.map_url:
        line += f" <{_link_url(message.map_url)}|map>"
    return line


def render_slack_digest(digest: DigestMessage) -> dict[str, Any]:
    """One Block Kit message for a burst: a header, then one line per incident in as few sections as fit."""
    minutes = max(1, round(digest.window_s / 60))
    headline = f"Digest: {len(digest.alerts)} incident alerts in about {minutes} min"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": headline[:150], "emoji": False}}
    ]
    sections: list[list[str]] = [[]]
    shown = 0
    for message in digest.alerts:
        line = digest_line(message)[:_DIGEST_SECTION_CHARS]
        if sum(len(x) + 1 for x in sections[-1]) + len(line) > _DIGEST_SECTION_CHARS:
            if len(sections) == _DIGEST_MAX_SECTIONS:
                break
            sections.append([])
        sections[-1].append(line)
        shown += 1
    for lines in sections:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
    context = "alerts folded into one message to stay under the alert rate"
    if shown < len(digest.alerts):
        context = f"… and {len(digest.alerts) - shown} more; " + context
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
