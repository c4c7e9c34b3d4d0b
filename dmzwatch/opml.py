"""OPML, every feed reader's way to move a feed list: read the feeds an OPML file lists, write ours as one.

Outlines with an ``xmlUrl`` are feeds, at any depth (readers nest them in folders); the rest are folders.
Parsed with the standard library's expat, which refuses external entities and caps entity expansion.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

from dmzwatch.config_files import ConfigError


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    name: str
    url: str


def read_opml(path: Path) -> list[OpmlFeed]:
    """The feeds an OPML file lists, in order, each URL once. ConfigError (with the line) when it is not OPML."""
    try:
        root = ET.parse(path).getroot()
    except OSError as exc:
        raise ConfigError(f"OPML file not readable: {path}: {exc.strerror or exc}") from exc
    except ET.ParseError as exc:
        line, column = exc.position
        raise ConfigError(f"{path}:{line}:{column}: not valid XML: {exc.msg}") from exc
    if root.tag.lower() != "opml" or root.find("body") is None:
        raise ConfigError(f"{path}: not an OPML file (no <opml><body>)")
    feeds: list[OpmlFeed] = []
    seen: set[str] = set()
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if not url or url in seen:
            continue
        seen.add(url)
        name = (outline.get("title") or outline.get("text") or "").strip()
        feeds.append(OpmlFeed(name=name, url=url))
    return feeds


def render_opml(feeds: list[OpmlFeed], *, title: str = "dmzwatch feeds", now: datetime | None = None) -> str:
    """An OPML 2.0 document listing ``feeds`` as RSS outlines."""
    opml = ET.Element("opml", version="2.0")
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(now or datetime.now(UTC), usegmt=True)
    body = ET.SubElement(opml, "body")
    for feed in feeds:
        ET.SubElement(body, "outline", type="rss", text=feed.name, title=feed.name, xmlUrl=feed.url)
    ET.indent(opml)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(opml, encoding="unicode") + "\n"


__all__ = ["OpmlFeed", "read_opml", "render_opml"]
