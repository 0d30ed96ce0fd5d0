"""Periodic tasks: a registry of tasks with an interval, and the scheduler that enqueues their due runs.

An app registers a django-tasks task with `@periodic(every=...)`; any process
running the scheduler (`manage.py db_worker`, or `make run`'s in-process worker)
enqueues each due run as an ordinary task row. A run is claimed by moving its
job's `next_run_at` with one `UPDATE ... WHERE next_run_at <= now`, in the same
transaction as the enqueue: with several workers, exactly one claims each run
(PostgreSQL re-checks the condition on the row a concurrent claim committed).
It imports no domain app.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from compare_api.models import PeriodicJob

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Periodic:
    task: object  # a django_tasks Task
    every: Callable[[], timedelta]  # read at each claim, so settings can change it


_registry: dict[str, Periodic] = {}


def periodic(*, every: Callable[[], timedelta]) -> Callable:
    """Run this task every `every()`: put it above `@task()`."""

    def register(registered_task: object) -> object:
        _registry[registered_task.module_path] = Periodic(registered_task, every)
        return registered_task

    return register


def periodic_jobs() -> dict[str, Periodic]:
    return dict(_registry)


def periodic_enqueue_due(*, now: datetime | None = None) -> list[str]:
    """Enqueue every registered task whose run is due at `now` (default: the clock); returns their names.

    A job seen for the first time is due at once. When nothing is due this is one
    SELECT: a scheduler ticking every second writes nothing between runs.
    """
    now = now or timezone.now()
    next_runs = dict(PeriodicJob.objects.values_list("name", "next_run_at"))
    unknown = [PeriodicJob(name=name, next_run_at=now) for name in _registry if name not in next_runs]
    if unknown:
        PeriodicJob.objects.bulk_create(unknown, ignore_conflicts=True)
    enqueued = []
    for name, job in _registry.items():
        if next_runs.get(name, now) > now:
            continue
        with transaction.atomic():
            claimed = PeriodicJob.objects.filter(name=name, next_run_at__lte=now).update(
                next_run_at=now + job.every(), last_enqueued_at=now
            )
            if claimed:
                job.task.enqueue()
                enqueued.append(name)
    return enqueued


class PeriodicScheduler:
    """Enqueues due periodic runs every `interval` seconds, in a daemon thread of a worker process."""

    def __init__(self, *, interval: float = 1.0) -> None:
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="periodic-scheduler", daemon=True)

    def start(self) -> "PeriodicScheduler":
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stopped.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        try:
            while not self._stopped.is_set():
                try:
                    periodic_enqueue_due()
                except Exception:
                    # The database went away for a moment: the next tick tries again.
                    logger.exception("periodic scheduler: enqueueing due runs failed")
                    connections.close_all()
                self._stopped.wait(self._interval)
        finally:
            connections.close_all()


@periodic(every=lambda: timedelta(hours=1))
@task()
def task_results_prune() -> int:
    """Delete finished task rows older than TASK_RESULTS_RETENTION_DAYS: they are history."""
    cutoff = timezone.now() - timedelta(days=settings.TASK_RESULTS_RETENTION_DAYS)
    deleted, _ = DBTaskResult.objects.finished().filter(finished_at__lt=cutoff).delete()
    return deleted
