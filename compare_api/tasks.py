"""The task queue's shared machinery: retries with backoff, recovery of dead workers' tasks, queue figures.

Tasks are Django's tasks API (the django-tasks backport; `django.tasks` from
Django 6.0) on django-tasks-db's backend: enqueuing a task is an INSERT into our
own database, in whatever transaction is open, and `manage.py db_worker` runs
the rows that are due. The library has no retries and never recovers a task
whose worker died mid-run; this module adds both, for every app's tasks.py
(mail now; webhook deliveries and scheduled publishing later). It imports no
domain app.
"""

import functools
import logging
import os
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.db import connections
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult, get_date_max

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# The keyword a retried task's row carries its attempt number in; the wrapper
# takes it off before calling the task function, whose signature stays its own.
ATTEMPT = "_attempt"
# A task a worker died running this many times is given up rather than requeued:
# it may be what kills the worker.
MAX_CLAIMS = 3


@dataclass(frozen=True)
class RetryPolicy:
    """Attempt n (from 1) failing waits base * 2^(n-1) seconds (at most `cap`), give or take `jitter`.

    The default: 6 attempts, the retries 2, 4, 8, 16 and 32 minutes apart (±20 %),
    so a mail server down for up to about an hour loses no mail, and a burst of
    failures does not come back in lockstep.
    """

    attempts: int = 6
    base: float = 120.0
    cap: float = 3600.0
    jitter: float = 0.2

    def delay(self, attempt: int, *, rand: float) -> timedelta:
        """The wait after failed attempt `attempt`; `rand` in [0, 1) picks the point in the jitter band."""
        nominal = min(self.cap, self.base * 2 ** (attempt - 1))
        return timedelta(seconds=nominal * (1 - self.jitter + 2 * self.jitter * rand))


def _jitter() -> float:
    # A seam for tests, which fix the jitter to check run_after exactly.
    return random.random()  # noqa: S311 (spreading retries, not secrets)


def retrying(
    policy: RetryPolicy = RetryPolicy(), *, retry_on: tuple[type[Exception], ...] = (Exception,)
) -> Callable[[Callable[P, R]], Callable[P, R | dict]]:
    """Retry a task function with exponential backoff: put it under `@task()`.

        @task()
        @retrying()
        def newsletter_confirmation_send(*, subscriber_id: int, confirm: str) -> str: ...

    A failed attempt enqueues the next one as a new row with `run_after` set, and
    ends itself as a success whose return value records the error (one warning
    line, no traceback); the last attempt's exception propagates, so its row is
    FAILED with the traceback and the worker logs it once. A worker stopped by
    force mid-task (SystemExit, KeyboardInterrupt) requeues the same attempt.
    Delivery is at least once: a task that did its work and died before its row
    was marked done runs again, so tasks must tolerate that.
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R | dict]:
        @functools.wraps(func)
        def attempt_once(*args: P.args, **kwargs: P.kwargs) -> R | dict:
            attempt = int(kwargs.pop(ATTEMPT, 1))
            try:
                return func(*args, **kwargs)
            except retry_on as error:
                if attempt >= policy.attempts:
                    logger.error("task %s gave up after %d attempts: %s", _path(func), attempt, _describe(error))
                    raise
                run_after = timezone.now() + policy.delay(attempt, rand=_jitter())
                _task(func).using(run_after=run_after).enqueue(*args, **kwargs, **{ATTEMPT: attempt + 1})
                logger.warning(
                    "task %s attempt %d/%d failed (%s); retrying at %s",
                    _path(func),
                    attempt,
                    policy.attempts,
                    _describe(error),
                    run_after.isoformat(),
                )
                return {"failed_attempt": attempt, "error": _describe(error), "retry_at": run_after.isoformat()}
            except (SystemExit, KeyboardInterrupt):
                _task(func).enqueue(*args, **kwargs, **{ATTEMPT: attempt})
                raise

        return attempt_once

    return decorate


def _path(func: Callable) -> str:
    return f"{func.__module__}.{func.__qualname__}"


def _task(func: Callable) -> Any:
    # The module attribute is the Task that @task() made of the wrapper (the
    # database backend finds it the same way when it runs a row).
    return import_string(_path(func))


def _describe(error: BaseException) -> str:
    return f"{type(error).__module__}.{type(error).__qualname__}: {error}"[:500]


def tasks_requeue_stale(*, older_than: timedelta) -> int:
    """Put back tasks left RUNNING by a worker that died (killed, out of memory) more than `older_than` ago.

    The library marks a row RUNNING when a worker claims it and never looks at it
    again if that worker dies, so without this the job would be lost. A row a
    worker has died on MAX_CLAIMS times is marked FAILED instead. Returns how many
    rows went back to READY.
    """
    stale = list(
        DBTaskResult.objects.running()
        .filter(started_at__lt=timezone.now() - older_than)
        .only("id", "worker_ids", "task_path")
    )
    lost = [row.pk for row in stale if len(row.worker_ids) >= MAX_CLAIMS]
    if lost:
        DBTaskResult.objects.filter(pk__in=lost, status=TaskResultStatus.RUNNING).update(
            status=TaskResultStatus.FAILED,
            finished_at=timezone.now(),
            exception_class_path="compare_api.tasks.WorkerLost",
            traceback=f"the worker died running this task {MAX_CLAIMS} times",
        )
        logger.error("gave up %d task(s) whose worker died %d times: %s", len(lost), MAX_CLAIMS, lost)
    requeued = [row.pk for row in stale if row.pk not in set(lost)]
    count = DBTaskResult.objects.filter(pk__in=requeued, status=TaskResultStatus.RUNNING).update(
        status=TaskResultStatus.READY
    )
    if count:
        logger.warning("requeued %d task(s) left running by a worker that died", count)
    return count


def queue_stats() -> dict[str, int]:
    """The queue at a glance, in one query, for /metrics and operators.

    `due`: ready to run now (the backlog a worker should be eating); `scheduled`:
    waiting for their `run_after` (retries); `running`; `failed`: rows that ended
    in failure (a task that gave up, or one interrupted by a forced stop, which
    was requeued). Successful rows are not counted: they are history
    (`manage.py prune_db_task_results` deletes old ones).
    """
    now = timezone.now()
    ready = Q(status=TaskResultStatus.READY)
    due = ready & (Q(run_after=get_date_max()) | Q(run_after__lte=now))
    return DBTaskResult.objects.aggregate(
        due=Count("pk", filter=due),
        scheduled=Count("pk", filter=ready & ~Q(run_after=get_date_max()) & Q(run_after__gt=now)),
        running=Count("pk", filter=Q(status=TaskResultStatus.RUNNING)),
        failed=Count("pk", filter=Q(status=TaskResultStatus.FAILED)),
    )


class InProcessWorker:
    """Runs due tasks in a daemon thread of this process: `make run`'s one-process development server.

    It is the library's own worker loop (the same claim, run and record code as
    `db_worker`) in batch mode, without signal handling, which belongs to a main
    thread: each round enqueues the due periodic runs (compare_api/periodic.py),
    runs every due task, then waits `interval`. One thread does both, so the
    development server's SQLite sees one background writer at a time.
    """

    def __init__(self, *, interval: float = 1.0) -> None:
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._work, name="task-worker", daemon=True)

    def start(self) -> "InProcessWorker":
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stopped.set()
        self._thread.join(timeout)

    def _round(self) -> None:
        from django_tasks_db.management.commands.db_worker import Worker

        from compare_api.periodic import periodic_enqueue_due

        periodic_enqueue_due()
        Worker(
            queue_names=["*"],
            interval=0,
            batch=True,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id=f"in-process-{os.getpid()}",
            excluded_queue_names=[],
        ).run()

    def _work(self) -> None:
        try:
            tasks_requeue_stale(older_than=settings.TASKS_STALE_AFTER)
            while not self._stopped.is_set():
                try:
                    self._round()
                except Exception:
                    # The database went away for a moment: say so, and go on polling.
                    logger.exception("in-process task worker stopped; restarting in 5 s")
                    self._stopped.wait(5)
                self._stopped.wait(self._interval)
        finally:
            connections.close_all()
