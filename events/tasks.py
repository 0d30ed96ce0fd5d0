"""The events app's periodic jobs (compare_api/periodic.py): coalesced tally events, pruning, daily history."""

from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django_tasks import task

from compare_api.periodic import periodic
from events.models import Event, FeedHorizon, TallyState
from events.services import event_record, tallies_of, tally_snapshots_write
from tools.models import COMMUNITY_COUNTERS, PANEL_COUNTERS, Tool

_COUNTERS = (*PANEL_COUNTERS, *COMMUNITY_COUNTERS)
_STATE_FIELDS = ("panel_ship", "panel_skip", "community_ship", "community_skip")


def _lock(name: str) -> None:
    # Two runs of one job (a slow run overlapping the next) take turns; the later one
    # then sees what the earlier committed. SQLite has one writer at a time anyway.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [name])


@periodic(every=lambda: timedelta(seconds=settings.TALLY_EVENT_SECONDS))
@task()
@transaction.atomic
def tallies_emit() -> int:
    """One `tool.tallies_changed` per published tool whose tallies moved since the last one it had.

    The vote path does nothing for it: one query compares every published tool's
    counters with the tallies last emitted (TallyState), so a burst of votes on a
    tool becomes one event per period carrying the tallies as of this run.
    """
    _lock("events.tallies_emit")
    same_counts = {state: OuterRef(counter) for state, counter in zip(_STATE_FIELDS, _COUNTERS, strict=True)}
    unchanged = TallyState.objects.filter(tool=OuterRef("pk"), **same_counts)
    moved = list(
        Tool.objects.published().filter(~Exists(unchanged)).order_by("id").values_list("id", "slug", *_COUNTERS)
    )
    for tool_id, slug, *counts in moved:
        event_record("tool.tallies_changed", {"id": tool_id, "slug": slug, **tallies_of(*counts)})
    TallyState.objects.bulk_create(
        [TallyState(tool_id=tool_id, **dict(zip(_STATE_FIELDS, counts, strict=True))) for tool_id, _, *counts in moved],
        update_conflicts=True,
        unique_fields=["tool"],
        update_fields=_STATE_FIELDS,
    )
    if moved:  # today's history row follows too, so an "as of today" never lags the tallies by an hour
        tally_snapshots_write(
            tools=Tool.objects.filter(pk__in=[tool_id for tool_id, *_ in moved]), on=timezone.localdate()
        )
    return len(moved)


@periodic(every=lambda: timedelta(hours=1))
@task()
@transaction.atomic
def events_prune() -> int:
    """Delete events older than EVENT_RETENTION_DAYS (never younger), moving the feed's horizon
    past them so a cursor that pointed before them is told (410), not silently skipped ahead."""
    _lock("events.events_prune")
    old = Event.objects.filter(created_at__lt=timezone.now() - timedelta(days=settings.EVENT_RETENTION_DAYS))
    newest = old.order_by("-txid", "-id").values_list("txid", "id").first()
    if newest is None:
        return 0
    horizon, _ = FeedHorizon.objects.select_for_update().get_or_create(pk=1)
    position = (newest[0] or 0, newest[1])
    if position > (horizon.txid, horizon.event_id):
        horizon.txid, horizon.event_id = position
        horizon.save()
    deleted, _ = old.delete()
    return deleted


@periodic(every=lambda: timedelta(seconds=settings.HISTORY_SNAPSHOT_SECONDS))
@task()
def history_snapshot() -> int:
    """Write today's history row of every published tool (rewritten through the day: its last stands)."""
    return tally_snapshots_write(tools=Tool.objects.published(), on=timezone.localdate())
