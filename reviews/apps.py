from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = "Panel reviews and comparisons"

    def ready(self) -> None:
        from compare_api.caching import invalidate_catalog_on_change
        from reviews.models import Comparison, Review, Reviewer

        invalidate_catalog_on_change(Reviewer, Review, Comparison)
