"""Review writes keep each tool's panel counters in step, in the same transaction.

Connected to the models' post_save / post_delete signals (reviews/apps.py),
against the house rule, because a review also disappears by cascade (its
reviewer or tool deleted) and by the admin's bulk delete, which call no model
method; signals are the one hook every such path runs.
"""

from collections.abc import Iterable

from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

from reviews.models import Review, Reviewer
from tools.models import Tool, Verdict


def panel_recount(*, tool_ids: Iterable[int] | None = None) -> int:
    """Set the panel counters of these tools (None: all) from their reviews by active
    reviewers, in one statement; returns the number of tools updated."""

    def count(verdict: str) -> Coalesce:
        matching = Review.objects.filter(tool=OuterRef("pk"), verdict=verdict, reviewer__is_active=True)
        return Coalesce(Subquery(matching.order_by().values("tool").annotate(n=Count("pk")).values("n")), 0)

    tools = Tool.objects.all() if tool_ids is None else Tool.objects.filter(pk__in=tool_ids)
    return tools.update(panel_ship_count=count(Verdict.SHIP), panel_skip_count=count(Verdict.SKIP))


def review_written(sender: type, instance: Review, **kwargs: object) -> None:
    tool_ids = {instance.tool_id, getattr(instance, "_loaded_tool_id", instance.tool_id)}
    panel_recount(tool_ids=tool_ids)


def reviewer_written(sender: type, instance: Reviewer, **kwargs: object) -> None:
    # Joining or leaving the panel (is_active) changes the counts of every tool reviewed.
    panel_recount(tool_ids=Review.objects.filter(reviewer_id=instance.pk).values("tool_id"))
