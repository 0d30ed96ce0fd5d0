"""Scheduled publishing (compare_api/periodic.py): drafts whose publish_at has come go live."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from compare_api.periodic import periodic
from reviews.services import scheduled_publish_run


@periodic(every=lambda: timedelta(seconds=settings.PUBLISH_SCHEDULE_SECONDS))
@task()
def scheduled_publish() -> dict[str, int]:
    """Publish every tool, curated comparison and review whose publish_at is past, as the admin's
    publish action does (reviews.services); a row is claimed under its lock, so two overlapping
    runs publish it once. Returns how many of each were published."""
    return scheduled_publish_run(now=timezone.now())
