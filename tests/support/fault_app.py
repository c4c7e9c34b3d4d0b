"""The real Celery app and tasks, with fault injection around the real extractor: `celery -A` this module.

Production code carries no test hooks; the fault tests start their workers from here instead. Extraction is
the real spaCy pipeline, wrapped so that for an article whose text contains a marker it:

* FAULT_HOLD_MARKER: writes FAULT_STARTED_FILE (the test now knows extraction is running: no timing guesses)
  and waits while FAULT_HOLD_FILE exists, so the test can SIGKILL the worker in the middle of extract_events;
* FAULT_CRASH_MARKER: kills its own process with SIGKILL, as a segfault in a C extension or the OOM killer
  would: Celery sees the worker lost and redelivers the message (acks_late + reject_on_worker_lost).
"""

from __future__ import annotations

import os
import signal
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import tasks.pipeline
from dmzwatch.nlp.extract import get_extractor
from dmzwatch.records import ExtractedEvent
from workers.celery_app import app

_HOLD_LIMIT_S = 120.0  # never hang a test run for ever if the test forgot to release the hold


class FaultyExtractor:
    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def extract(self, text: str, published_at: datetime | None) -> list[ExtractedEvent]:
        crash = os.environ.get("FAULT_CRASH_MARKER")
        if crash and crash in text:
            os.kill(os.getpid(), signal.SIGKILL)
        hold = os.environ.get("FAULT_HOLD_MARKER")
        if hold and hold in text:
            hold_file = Path(os.environ["FAULT_HOLD_FILE"])
            Path(os.environ["FAULT_STARTED_FILE"]).write_text(str(os.getpid()))
            deadline = time.monotonic() + _HOLD_LIMIT_S
            while hold_file.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        events: list[ExtractedEvent] = self._real.extract(text, published_at)
        return events


def faulty_extractor() -> FaultyExtractor:
    return FaultyExtractor(get_extractor())


# The tasks reach the extractor through this one seam (imported lazily, so feeds/fetch workers never load spaCy).
tasks.pipeline._extractor = faulty_extractor  # type: ignore[assignment]

__all__ = ["app"]
