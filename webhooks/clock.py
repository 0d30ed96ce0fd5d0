"""The webhooks app's clock: one seam, so tests move time (retries hours apart) instead of sleeping."""

import random
from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()


def jitter() -> float:
    """A point in a retry's jitter band, in [0, 1)."""
    return random.random()  # noqa: S311 (spreading retries, not secrets)
