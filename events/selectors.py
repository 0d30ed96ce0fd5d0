"""The change feed's reads: events after a cursor, in an order no later commit can insert into.

A position is (txid, id). On PostgreSQL events are ordered by the id of the
transaction that wrote them, then by id, and only events whose transaction is
below the current snapshot's xmin are shown: every transaction below it has
finished, and every transaction still to write an event has a higher id, so
nothing can ever appear behind a position a reader has passed (ids alone would
not do: a transaction that took a lower id can commit after a higher one).
On SQLite writers are serialised, so ids are commit order and txid is 0.
"""

import base64
import binascii
from dataclasses import dataclass
from datetime import date

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from events.models import Event, FeedHorizon, TallySnapshot
from tools.models import Tool

# Every transaction below it has finished (committed or rolled back), on the whole server.
_SNAPSHOT_XMIN = RawSQL("pg_snapshot_xmin(pg_current_snapshot())::text::bigint", ())


@dataclass(frozen=True, order=True)
class Position:
    txid: int
    event_id: int

    @classmethod
    def of(cls, event: Event) -> "Position":
        return cls(event.txid or 0, event.pk)


START = Position(0, 0)


class InvalidCursor(ValueError):
    pass


class CursorExpired(Exception):
    """Events after this cursor were pruned: the reader must start again from the documents."""


def cursor_encode(position: Position) -> str:
    return base64.urlsafe_b64encode(f"{position.txid}.{position.event_id}".encode()).decode().rstrip("=")


def cursor_decode(cursor: str) -> Position:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor(cursor) from None
    txid, dot, event_id = text.partition(".")
    if not (dot and txid.isascii() and txid.isdigit() and event_id.isascii() and event_id.isdigit()):
        raise InvalidCursor(cursor)
    if max(int(txid), int(event_id)) >= 2**63:
        raise InvalidCursor(cursor)
    return Position(int(txid), int(event_id))


@dataclass(frozen=True)
class ChangesPage:
    events: list[Event]
    next: Position
    has_more: bool


def _after(position: Position) -> QuerySet[Event]:
    if connection.vendor == "postgresql":
        return (
            Event.objects.filter(txid__lt=_SNAPSHOT_XMIN)
            .filter(Q(txid__gt=position.txid) | Q(txid=position.txid, pk__gt=position.event_id))
            .order_by("txid", "id")
        )
    return Event.objects.filter(pk__gt=position.event_id).order_by("id")


def changes_after(*, after: Position | None, types: list[str], limit: int) -> ChangesPage:
    """Up to `limit` events after `after` (None: from the oldest retained), oldest first, in two queries.

    Raises CursorExpired when events after `after` have been pruned.
    """
    position = after or START
    horizon = FeedHorizon.objects.values_list("txid", "event_id").first()
    if after is not None and horizon is not None and after < Position(*horizon):
        raise CursorExpired
    events = _after(position)
    if types:
        events = events.filter(type__in=types)
    rows = list(events[: limit + 1])
    page = rows[:limit]
    return ChangesPage(page, Position.of(page[-1]) if page else position, len(rows) > limit)


def history_get(*, slug: str, start: date | None, end: date | None) -> list[TallySnapshot] | None:
    """A published tool's history rows from `start` to `end` (inclusive), oldest first; None if no such tool."""
    tool = Tool.objects.published().filter(slug=slug).values_list("pk", flat=True).first()
    if tool is None:
        return None
    rows = TallySnapshot.objects.filter(tool_id=tool).order_by("date")
    if start is not None:
        rows = rows.filter(date__gte=start)
    if end is not None:
        rows = rows.filter(date__lte=end)
    return list(rows)
