from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks: partners' endpoints and their deliveries"

    def ready(self) -> None:
        from events.models import Event
        from events.signals import event_recorded
        from webhooks.services import deliveries_create_for

        # The one receiver of the outbox's signal: the deliveries are written in the event's transaction.
        event_recorded.connect(deliveries_create_for, sender=Event, dispatch_uid="webhooks-deliveries")
