from datetime import date

from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from compare_api import caching
from compare_api.stats import Tally
from events.models import Event, TallySnapshot
from events.signals import event_recorded

# The writing transaction's id (xid8 as a bigint: its epoch-extended value fits).
_CURRENT_TXID = RawSQL("pg_current_xact_id()::text::bigint", ())


def event_record(type: str, payload: dict, *, schema_version: int = 1) -> Event:
    """Write one event in the caller's transaction (which must be the change's own)."""
    txid = _CURRENT_TXID if connection.vendor == "postgresql" else None
    event = Event.objects.create(type=type, schema_version=schema_version, payload=payload, txid=txid)
    if txid is not None:
        event.refresh_from_db(fields=["txid"])
    caching.bump(caching.EVENTS)
    event_recorded.send(sender=Event, event=event)
    return event


def tallies_of(panel_ship: int, panel_skip: int, community_ship: int, community_skip: int) -> dict:
    """`panel` and `community` in the tally shape every document shows."""
    return {
        "panel": Tally(panel_ship, panel_skip).as_dict(),
        "community": Tally(community_ship, community_skip).as_dict(),
    }


_COUNTS = ("panel_ship_count", "panel_skip_count", "community_ship_count", "community_skip_count")
_SNAPSHOT_COUNTS = ("panel_ship", "panel_skip", "community_ship", "community_skip")


def tally_snapshots_write(*, tools: QuerySet, on: date) -> int:
    """Set the history rows of `tools` on day `on` to their tallies now (two queries); returns how many."""
    rows = [
        TallySnapshot(tool_id=tool_id, date=on, **dict(zip(_SNAPSHOT_COUNTS, counts, strict=True)))
        for tool_id, *counts in tools.order_by("id").values_list("id", *_COUNTS)
    ]
    TallySnapshot.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["tool", "date"], update_fields=_SNAPSHOT_COUNTS
    )
    caching.bump(caching.HISTORY)
    return len(rows)
