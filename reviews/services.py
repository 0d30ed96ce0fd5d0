"""Review writes keep each tool's panel counters in step, in the same transaction.

Connected to the models' post_save / post_delete signals (reviews/apps.py),
against the house rule, because a review also disappears by cascade (its
reviewer or tool deleted) and by the admin's bulk delete, which call no model
method; signals are the one hook every such path runs.
"""

from collections.abc import Iterable

from reviews.models import Review, Reviewer
from tools.models import Tool


def panel_recount(*, tool_ids: Iterable[int]) -> None:
    Tool.objects.filter(pk__in=tool_ids).recount_panel()


def review_written(sender: type, instance: Review, **kwargs: object) -> None:
    tool_ids = {instance.tool_id, getattr(instance, "_loaded_tool_id", instance.tool_id)}
    panel_recount(tool_ids=tool_ids)


def reviewer_written(sender: type, instance: Reviewer, **kwargs: object) -> None:
    # Joining or leaving the panel (is_active) changes the counts of every tool reviewed.
    panel_recount(tool_ids=Review.objects.filter(reviewer_id=instance.pk).values("tool_id"))
