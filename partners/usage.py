"""Per-key, per-day request counts, written in batches.

Counting every partner read with its own UPDATE would add a write transaction
(and a hot row lock) to each read. Each process instead counts in memory and
adds its counts to the database every PARTNER_USAGE_FLUSH_EVERY requests or
PARTNER_USAGE_FLUSH_SECONDS seconds, whichever comes first; a process that dies
loses at most that much.
"""

import logging
import threading
import time
from collections import Counter
from datetime import date

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from partners.models import PartnerKey, PartnerKeyUsage

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_pending: Counter[tuple[str, date]] = Counter()
_last_flush = time.monotonic()


def usage_record(*, key_id: str) -> None:
    global _last_flush
    with _lock:
        _pending[(key_id, timezone.now().date())] += 1
        due = (
            sum(_pending.values()) >= settings.PARTNER_USAGE_FLUSH_EVERY
            or time.monotonic() - _last_flush >= settings.PARTNER_USAGE_FLUSH_SECONDS
        )
        if not due:
            return
        batch = dict(_pending)
        _pending.clear()
        _last_flush = time.monotonic()
    usage_flush(batch)


def usage_flush(batch: dict[tuple[str, date], int] | None = None) -> None:
    """Add counts to the database (by default, whatever this process holds)."""
    if batch is None:
        with _lock:
            batch = dict(_pending)
            _pending.clear()
    live = set(PartnerKey.objects.filter(pk__in={key_id for key_id, _ in batch}).values_list("pk", flat=True))
    for (key_id, day), count in batch.items():
        if key_id not in live:  # deleted in the admin since: its usage went with it
            continue
        try:
            _add(key_id=key_id, day=day, count=count)
        except IntegrityError:  # deleted at this very moment: nothing to count against
            logger.info("usage of deleted partner key %s dropped", key_id)


def _add(*, key_id: str, day: date, count: int) -> None:
    with transaction.atomic():
        if PartnerKeyUsage.objects.filter(key_id=key_id, day=day).update(requests=F("requests") + count):
            return
        try:
            with transaction.atomic():
                PartnerKeyUsage.objects.create(key_id=key_id, day=day, requests=count)
        except IntegrityError:  # another process created the row first
            PartnerKeyUsage.objects.filter(key_id=key_id, day=day).update(requests=F("requests") + count)
