"""The Celery application: configuration only. Tasks live in `tasks/`, logic in `dmzwatch/`.

Nothing here connects at import time; the broker URL comes from settings (or the embedded server's socket).
"""

from __future__ import annotations

import pkgutil
from typing import Any

from celery import Celery
from celery.signals import setup_logging, worker_process_init
from kombu import Queue as KombuQueue

from dmzwatch.settings import get_settings
from workers.embedded import embedded_broker_url
from workers.queues import ROUTES, Queue, TaskName

# Longest countdown any task schedules (feed backoff is done by next_poll_at in the DB, not by countdowns;
# delivery retries back off up to 15 min). Redis redelivers an unacked message after visibility_timeout,
# so it must exceed every countdown and every task's run time, or messages would run twice.
VISIBILITY_TIMEOUT_S = 2 * 3600


def broker_url() -> str:
    settings = get_settings()
    return settings.broker_url or embedded_broker_url(settings)


def make_app() -> Celery:
    settings = get_settings()
    import tasks

    # Every module in tasks/ holds tasks; listing them here would drift as modules are added.
    task_modules = [f"tasks.{module.name}" for module in pkgutil.iter_modules(tasks.__path__)]
    app = Celery("dmzwatch", include=task_modules)
    app.conf.update(
        broker_url=broker_url(),
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,  # tasks hand over by ids in the DB; nobody reads results
        result_backend=None,
        task_acks_late=True,  # every task is idempotent: a redelivered message finds the row done
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # NLP tasks are seconds long: do not hoard them on one process
        task_time_limit=300,
        task_soft_time_limit=240,
        worker_max_memory_per_child=600_000,  # KiB; spaCy + gazetteer sit around 300 MB
        worker_max_tasks_per_child=2000,
        task_send_sent_event=True,  # Flower shows queued tasks, not just started ones
        worker_send_task_events=True,
        task_track_started=True,
        task_queues=[KombuQueue(queue.value, routing_key=queue.value) for queue in Queue],
        task_default_queue=Queue.FEEDS.value,
        task_routes={name.value: {"queue": queue.value} for name, queue in ROUTES.items()},
        beat_schedule={
            "schedule-due-feeds": {
                "task": TaskName.SCHEDULE_DUE_FEEDS.value,
                "schedule": settings.schedule_tick_s,
                # A tick that waited longer than itself is stale: the next one is already queued.
                "options": {"expires": settings.schedule_tick_s},
            },
            # Self-healing: re-send messages lost to a killed worker, a hard time limit or a broker restart,
            # and fail rows out of attempts (dmzwatch.maintenance).
            "requeue-stuck": {
                "task": TaskName.REQUEUE_STUCK.value,
                "schedule": settings.maintenance_tick_s,
                "options": {"expires": settings.maintenance_tick_s},
            },
            "watch-alert-channels": {
                "task": TaskName.WATCH_ALERT_CHANNELS.value,
                "schedule": settings.maintenance_tick_s,
                "options": {"expires": settings.maintenance_tick_s},
            },
            "watch-zone-silence": {
                "task": TaskName.WATCH_ZONE_SILENCE.value,
                "schedule": settings.maintenance_tick_s,
                "options": {"expires": settings.maintenance_tick_s},
            },
        },
        timezone="UTC",
        enable_utc=True,
        worker_hijack_root_logger=False,
    )
    return app


app = make_app()


@worker_process_init.connect
def _reset_after_fork(**_kwargs: Any) -> None:
    """A forked pool process must not share the parent's DB connections or HTTP client."""
    from dmzwatch.db.session import dispose_engines

    dispose_engines()


@setup_logging.connect
def _configure_logging(loglevel: str | int | None = None, **_kwargs: Any) -> None:
    """Workers and beat log like the CLI: text or JSON per DMZWATCH_LOG_FORMAT, secrets redacted.

    Connecting this signal tells Celery not to install its own handlers; its task messages (received,
    succeeded, retry) still flow through ours.
    """
    from dmzwatch.logs import configure_logging

    configure_logging(get_settings(), loglevel or get_settings().log_level)
