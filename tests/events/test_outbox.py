"""The outbox: an event is written in the transaction of its change, or not at all."""

import pytest
from django.db import connection, transaction

from events.models import Event
from events.services import event_record
from events.signals import event_recorded

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_event_is_written_with_its_transaction_id_and_announced() -> None:
    heard = []
    event_recorded.connect(
        lambda sender, event, **kwargs: heard.append(event.pk), weak=False, dispatch_uid="test-heard"
    )
    try:
        with transaction.atomic():
            event = event_record("tool.updated", {"slug": "alpha", "changed": ["tagline"]})
    finally:
        event_recorded.disconnect(dispatch_uid="test-heard")
    stored = Event.objects.get()
    assert (stored.type, stored.schema_version, stored.payload) == (
        "tool.updated",
        1,
        {"slug": "alpha", "changed": ["tagline"]},
    )
    assert heard == [event.pk]
    if connection.vendor == "postgresql":
        assert stored.txid is not None and stored.txid == event.txid > 0
    else:
        assert stored.txid is None


def test_an_event_of_a_rolled_back_change_never_exists() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        event_record("tool.updated", {"slug": "alpha"})
        raise RuntimeError("the change failed")
    assert not Event.objects.exists()
