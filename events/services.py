from django.db import connection
from django.db.models.expressions import RawSQL

from events.models import Event
from events.signals import event_recorded

# The writing transaction's id (xid8 as a bigint: its epoch-extended value fits).
_CURRENT_TXID = RawSQL("pg_current_xact_id()::text::bigint", ())


def event_record(type: str, payload: dict, *, schema_version: int = 1) -> Event:
    """Write one event in the caller's transaction (which must be the change's own)."""
    txid = _CURRENT_TXID if connection.vendor == "postgresql" else None
    event = Event.objects.create(type=type, schema_version=schema_version, payload=payload, txid=txid)
    if txid is not None:
        event.refresh_from_db(fields=["txid"])
    event_recorded.send(sender=Event, event=event)
    return event
