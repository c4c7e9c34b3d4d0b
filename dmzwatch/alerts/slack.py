"""Slack incoming-webhook messages in Block Kit."""

from __future__ import annotations

from typing import Any

from dmzwatch.alerts.message import AlertMessage, toll_text

_PRECISION = {1: "exact place", 2: "near the place", 3: "region only"}
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
        f"*Killed*\n{toll_text(message.killed, message.killed_min, message.killed_max)}",
        f"*Injured*\n{toll_text(message.injured, message.injured_min, message.injured_max)}",
        f"*Date*\n{when}",
        f"*Perpetrator*\n{message.perpetrator}",
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
    source_lines = []
    for source in message.sources[:_MAX_SOURCES_SHOWN]:
        toll = f" (killed {source.killed})" if source.killed is not None else ""
        source_lines.append(f"• <{source.url}|{_escape(source.outlet)}>{toll}")
    if len(message.sources) > _MAX_SOURCES_SHOWN:
        source_lines.append(f"… and {len(message.sources) - _MAX_SOURCES_SHOWN} more")
    if source_lines:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(source_lines)}})
    context = [f"incident #{message.incident_id} v{message.version}", f"confidence {message.confidence:.2f}"]
    if message.map_url:
        context.append(f"<{message.map_url}|map>")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]})
    return {"text": headline, "blocks": blocks}


def _escape(text: str) -> str:
    """Slack mrkdwn control characters (per Slack's formatting docs): &, <, >."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
