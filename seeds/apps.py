from django.apps import AppConfig


class SeedsConfig(AppConfig):
    """Where data comes from: the seed files (seeds/*.json), the `seed` command and the
    synthetic scale dataset. It may know every app it loads; no app knows it."""

    name = "seeds"
    verbose_name = "Seed data"
