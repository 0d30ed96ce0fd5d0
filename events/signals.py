from django.dispatch import Signal

# Sent by events.services.event_record inside the transaction that wrote the event, with
# `event` (the Event row). Receivers that must happen with it (webhook deliveries) write
# in the same transaction; anything else defers to transaction.on_commit.
event_recorded = Signal()
