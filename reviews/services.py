"""Review writes keep each tool's panel counters in step, in the same transaction; publishing.

Connected to the models' post_save / post_delete signals (reviews/apps.py),
against the house rule, because a review also disappears by cascade (its
reviewer or tool deleted) and by the admin's bulk delete, which call no model
method; signals are the one hook every such path runs.
"""

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from reviews.models import Comparison, Review, Reviewer
from tools.models import Tool, Verdict
from tools.services import tools_publish


def panel_recount(*, tool_ids: Iterable[int] | None = None) -> int:
    """Set the panel counters of these tools (None: all) from their published reviews by active
    reviewers, in one statement; returns the number of tools updated."""

    def count(verdict: str) -> Coalesce:
        matching = Review.objects.published().filter(tool=OuterRef("pk"), verdict=verdict, reviewer__is_active=True)
        return Coalesce(Subquery(matching.order_by().values("tool").annotate(n=Count("pk")).values("n")), 0)

    tools = Tool.objects.all() if tool_ids is None else Tool.objects.filter(pk__in=tool_ids)
    return tools.update(panel_ship_count=count(Verdict.SHIP), panel_skip_count=count(Verdict.SKIP))


def review_written(sender: type, instance: Review, **kwargs: object) -> None:
    tool_ids = {instance.tool_id, getattr(instance, "_loaded_tool_id", instance.tool_id)}
    panel_recount(tool_ids=tool_ids)


def reviewer_written(sender: type, instance: Reviewer, **kwargs: object) -> None:
    # Joining or leaving the panel (is_active) changes the counts of every tool reviewed.
    panel_recount(tool_ids=Review.objects.filter(reviewer_id=instance.pk).values("tool_id"))


# Publishing: by hand (the admin's actions) or at publish_at (reviews.tasks.scheduled_publish).
# One save per row, never queryset.update(): the save is what the panel recount above, the change
# capture (events), the cache invalidation and the admin's history follow.

_PUBLISHING_FIELDS = ["is_published", "publish_at", "updated_at"]


def _publish(row: Review | Comparison) -> bool:
    if row.is_published:
        return False
    row.is_published, row.publish_at = True, None
    row.save(update_fields=_PUBLISHING_FIELDS)
    return True


def _unpublish(row: Review | Comparison) -> bool:
    # The schedule goes too: an unpublished row stays a draft until published again.
    if not row.is_published and row.publish_at is None:
        return False
    row.is_published, row.publish_at = False, None
    row.save(update_fields=_PUBLISHING_FIELDS)
    return True


def _locked(rows: QuerySet, **state: bool) -> QuerySet:
    # The admin's selection may carry joins and annotations: lock the bare rows, in id order.
    return rows.model.objects.filter(pk__in=rows.order_by().values("pk"), **state).order_by("pk").select_for_update()


@transaction.atomic
def review_publish(*, review: Review) -> bool:
    """Publish a draft review: it joins the panel counts and the scorecard. Returns whether it changed."""
    return _publish(review)


@transaction.atomic
def review_unpublish(*, review: Review) -> bool:
    """Take a review back to draft: it leaves the panel counts and the scorecard."""
    return _unpublish(review)


@transaction.atomic
def reviews_publish(*, reviews: QuerySet[Review]) -> int:
    return sum(_publish(review) for review in _locked(reviews, is_published=False))


@transaction.atomic
def reviews_unpublish(*, reviews: QuerySet[Review]) -> int:
    return sum(_unpublish(review) for review in _locked(reviews, is_published=True))


@transaction.atomic
def comparison_publish(*, comparison: Comparison) -> bool:
    """Publish a draft curation (readers see it once both its tools are published too)."""
    return _publish(comparison)


@transaction.atomic
def comparison_unpublish(*, comparison: Comparison) -> bool:
    return _unpublish(comparison)


@transaction.atomic
def comparisons_publish(*, comparisons: QuerySet[Comparison]) -> int:
    return sum(_publish(comparison) for comparison in _locked(comparisons, is_published=False))


@transaction.atomic
def comparisons_unpublish(*, comparisons: QuerySet[Comparison]) -> int:
    return sum(_unpublish(comparison) for comparison in _locked(comparisons, is_published=True))


@transaction.atomic
def scheduled_publish_run(*, now: datetime) -> dict[str, int]:
    """Publish every draft tool, curation and review whose publish_at has come, through the
    services above (so with the same effects as by hand); returns how many of each."""
    return {
        "tools": tools_publish(tools=Tool.objects.due(now=now)),
        "comparisons": comparisons_publish(comparisons=Comparison.objects.due(now=now)),
        "reviews": reviews_publish(reviews=Review.objects.due(now=now)),
    }
