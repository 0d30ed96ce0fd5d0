"""Periodic tasks: due runs are enqueued once, on the controlled clock, however many workers ask."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from compare_api.models import PeriodicJob
from compare_api.periodic import periodic_enqueue_due, periodic_jobs, task_results_prune
from tests.helpers import requires_postgres, run_together

pytestmark = pytest.mark.django_db

TALLIES = "events.tasks.tallies_emit"
PRUNE_EVENTS = "events.tasks.events_prune"
HISTORY = "events.tasks.history_snapshot"
PRUNE_RESULTS = "compare_api.periodic.task_results_prune"
SCHEDULED_PUBLISH = "reviews.tasks.scheduled_publish"


def test_the_schedule() -> None:
    assert {name: job.every() for name, job in periodic_jobs().items()} == {
        TALLIES: timedelta(seconds=5),
        PRUNE_EVENTS: timedelta(hours=1),
        HISTORY: timedelta(hours=1),
        PRUNE_RESULTS: timedelta(hours=1),
        SCHEDULED_PUBLISH: timedelta(seconds=30),
    }


def test_each_job_is_due_at_once_then_after_its_interval(settings) -> None:
    settings.TALLY_EVENT_SECONDS = 7
    now = timezone.now()
    assert sorted(periodic_enqueue_due(now=now)) == sorted(periodic_jobs())
    assert periodic_enqueue_due(now=now) == []
    assert periodic_enqueue_due(now=now + timedelta(seconds=6)) == []
    assert periodic_enqueue_due(now=now + timedelta(seconds=7)) == [TALLIES]
    assert sorted(periodic_enqueue_due(now=now + timedelta(hours=1))) == sorted(periodic_jobs())
    queued = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
    assert sorted(queued.values_list("task_path", flat=True)) == sorted([*periodic_jobs(), TALLIES, *periodic_jobs()])


def test_the_controlled_clock_runs_the_jobs(run_periodic) -> None:
    now = timezone.now()
    assert sorted(run_periodic(now=now)) == sorted(periodic_jobs())
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {TaskResultStatus.SUCCESSFUL}
    assert PeriodicJob.objects.get(name=TALLIES).next_run_at == now + timedelta(seconds=5)


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_workers_asking_together_enqueue_each_due_run_once() -> None:
    now = timezone.now()
    results = run_together([lambda: periodic_enqueue_due(now=now) for _ in range(16)])
    assert [result for result in results if isinstance(result, BaseException)] == []
    assert sorted(name for result in results for name in result) == sorted(periodic_jobs())
    assert DBTaskResult.objects.count() == len(periodic_jobs())


def test_finished_task_results_older_than_the_retention_are_pruned(settings) -> None:
    settings.TASK_RESULTS_RETENTION_DAYS = 3
    now = timezone.now()
    for age in (timedelta(days=3, minutes=1), timedelta(days=2, hours=23)):
        result = task_results_prune.enqueue()
        DBTaskResult.objects.filter(pk=result.id).update(status=TaskResultStatus.SUCCESSFUL, finished_at=now - age)
    waiting = task_results_prune.enqueue()
    assert task_results_prune.call() == 1
    assert DBTaskResult.objects.count() == 2
    assert DBTaskResult.objects.filter(pk=waiting.id).exists()
