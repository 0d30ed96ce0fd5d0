from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Changes: the event outbox and score history"

    def ready(self) -> None:
        from events import tasks  # noqa: F401 (registers the periodic jobs)
        from events.capture import capture_changes

        capture_changes()
