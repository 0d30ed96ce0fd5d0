from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = "Panel reviews and comparisons"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from compare_api.caching import invalidate_catalog_on_change
        from reviews import services, tasks  # noqa: F401 (tasks registers the scheduled publishing)
        from reviews.models import Comparison, Review, Reviewer

        invalidate_catalog_on_change(Reviewer, Review, Comparison)
        for signal in (post_save, post_delete):
            signal.connect(services.review_written, sender=Review, dispatch_uid=f"panel-review-{signal}")
        post_save.connect(services.reviewer_written, sender=Reviewer, dispatch_uid="panel-reviewer")
