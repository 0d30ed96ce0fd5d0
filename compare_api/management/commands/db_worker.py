"""django-tasks-db's `db_worker`, which first puts back the tasks a dead worker left RUNNING.

Same options and signals as the library's command (`--queue-name`, `--interval`,
`--batch`, `--max-tasks`, ...; SIGTERM/SIGINT finish the running task, then
exit). It shadows the library's because compare_api comes first in INSTALLED_APPS.
"""

from typing import Any

from django.conf import settings
from django_tasks_db.management.commands import db_worker

from compare_api.tasks import tasks_requeue_stale


class Command(db_worker.Command):
    help = "Run due background tasks (first requeueing those a worker that died left running)"

    def handle(self, **options: Any) -> None:
        tasks_requeue_stale(older_than=settings.TASKS_STALE_AFTER)
        super().handle(**options)
