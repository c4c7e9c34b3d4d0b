"""The seed scenario's log (issue 14): the five seed articles through extraction, merging and alert delivery, as
the workers run them. At the default level every incident created and every alert sent has its own line with
the incident's id. (That Celery's per-task lines stay out is checked on real worker processes in
tests/integration/test_pipeline_e2e.py.) Skipped when ../shared is absent."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from dmzwatch.alerts.routing import parse_alerts_file
from dmzwatch.db.models import Alert, Incident
from dmzwatch.geo import ZoneSet
from dmzwatch.logs import ChatterFilter
from dmzwatch.nlp.extract import get_extractor
from dmzwatch.stages import alerts, incidents
from tests.unit.test_alert_delivery import RecordingChannel
from tests.unit.test_stages import NOW, RETRY, Sessions, _article, sessions, zones

__all__ = ["sessions", "zones"]

SEEDS = Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"

pytestmark = [
    pytest.mark.seeds,
    pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds is not present"),
]


def test_every_incident_and_every_sent_alert_has_its_own_line(
    sessions: Sessions, zones: ZoneSet, caplog: pytest.LogCaptureFixture
) -> None:
    policy = incidents.AlertPolicy(
        channels=("slack",), max_age=timedelta(hours=48), alert_on_edge=False, routing=parse_alerts_file("", "x")
    )
    channel = RecordingChannel()
    caplog.handler.addFilter(ChatterFilter(logging.INFO))
    with caplog.at_level(logging.INFO):
        for path in sorted(SEEDS.glob("*.txt")):
            article_id = _article(sessions, f"https://seeds.example/{path.stem}", path.read_text(encoding="utf-8"))
            alert_ids = incidents.extract_events(
                sessions, article_id, extractor=get_extractor(), zones=zones, policy=policy, now=NOW
            )
            for alert_id in alert_ids:
                assert (
                    alerts.deliver_alert(sessions, alert_id, channels={"slack": channel}, now=NOW, retry=RETRY).outcome
                    == "sent"
                )
    log = caplog.text
    with sessions() as session:
        incident_ids = list(session.scalars(select(Incident.id)))
        sent = session.execute(select(Alert.id, Alert.incident_id).where(Alert.status == "sent")).all()
    assert len(incident_ids) >= 10 and len(sent) >= 5, (len(incident_ids), len(sent))
    for incident_id in incident_ids:
        assert len(re.findall(rf"^.*incident {incident_id} created: v1 .*$", log, re.M)) == 1, incident_id
    for alert_id, incident_id in sent:
        assert re.search(rf"alert {alert_id} \(new, incident {incident_id} v\d+\) to slack sent: ", log), alert_id
    assert "] succeeded in " not in log and "] received" not in log
    # Each line carries its ids as fields too, for JSON logs.
    created = [r for r in caplog.records if " created: " in r.getMessage()]
    assert sorted(getattr(r, "incident_id", None) for r in created) == sorted(incident_ids)
