from django.db import models
from django.utils import timezone


class Event(models.Model):
    """One change, written in the same transaction as the change (the outbox).

    `type` names what happened (`review.updated`); `payload` is thin (ids, slugs,
    what changed, the new values) and its shape is fixed by (`type`,
    `schema_version`). Never who voted: tallies only.
    """

    type = models.CharField(max_length=64)
    schema_version = models.PositiveSmallIntegerField(default=1)
    payload = models.JSONField()
    # PostgreSQL: the writing transaction's id, so the feed pages in commit-safe order
    # (events/selectors.py); null on SQLite, whose writers are serialised.
    txid = models.BigIntegerField(null=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["txid", "id"], name="events_event_txid_id")]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"
