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


class FeedHorizon(models.Model):
    """The feed position of the newest event pruned so far (one row): a cursor before it
    has lost events, and is answered 410 (events/selectors.py)."""

    txid = models.BigIntegerField(default=0)
    event_id = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"pruned up to ({self.txid}, {self.event_id})"


class TallyState(models.Model):
    """A tool's tallies as the last `tool.tallies_changed` event carried them (events/tasks.py)."""

    tool = models.OneToOneField("tools.Tool", on_delete=models.CASCADE, primary_key=True, related_name="+")
    panel_ship = models.PositiveIntegerField()
    panel_skip = models.PositiveIntegerField()
    community_ship = models.PositiveIntegerField()
    community_skip = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"tool #{self.tool_id}'s last emitted tallies"


class TallySnapshot(models.Model):
    """A published tool's panel and community tallies on one day (the day's last snapshot stands)."""

    tool = models.ForeignKey("tools.Tool", on_delete=models.CASCADE, related_name="+")
    date = models.DateField()
    panel_ship = models.PositiveIntegerField()
    panel_skip = models.PositiveIntegerField()
    community_ship = models.PositiveIntegerField()
    community_skip = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tool", "date"], name="one_tally_snapshot_per_tool_per_day")]

    def __str__(self) -> str:
        return f"tool #{self.tool_id} on {self.date}"
