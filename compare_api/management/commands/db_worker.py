"""django-tasks-db's `db_worker`, which first puts back the tasks a dead worker left RUNNING
and enqueues the due runs of the periodic tasks (compare_api/periodic.py) as it goes.

Same options and signals as the library's command (`--queue-name`, `--interval`,
`--batch`, `--max-tasks`, ...; SIGTERM/SIGINT finish the running task, then
exit). It shadows the library's because compare_api comes first in INSTALLED_APPS.
With `--batch` the due periodic runs are enqueued once, before the batch.
"""

import os
from typing import Any

from django.conf import settings
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV
from django_tasks_db.management.commands import db_worker

from compare_api.periodic import PeriodicScheduler, periodic_enqueue_due
from compare_api.tasks import tasks_requeue_stale


class Command(db_worker.Command):
    help = "Run due background tasks (first requeueing those a worker that died left running) and periodic ones"

    def handle(self, **options: Any) -> None:
        tasks_requeue_stale(older_than=settings.TASKS_STALE_AFTER)
        if options["batch"]:
            periodic_enqueue_due()
        elif not options["reload"] or os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
            # Not in the autoreloader's parent process, which only restarts its child.
            PeriodicScheduler().start()
        super().handle(**options)
