from django.db import models


class PeriodicJob(models.Model):
    """When a periodic task (compare_api.periodic) is next due; a worker claims a run by moving it."""

    name = models.CharField(max_length=200, primary_key=True, help_text="The task's module path.")
    next_run_at = models.DateTimeField()
    last_enqueued_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name
