"""Publishing a tool: by hand (the admin's actions) or at its publish_at (reviews.tasks.scheduled_publish).

One save per tool, never `queryset.update()`: the save is what the change
capture (events), the cache invalidation and the admin's history follow, so a
tool published by a bulk action or on schedule has exactly the effects of one
published by ticking its box.
"""

from django.db import transaction
from django.db.models import QuerySet

from tools.models import Tool

_PUBLISHING_FIELDS = ["is_published", "publish_at", "updated_at"]


@transaction.atomic
def tool_publish(*, tool: Tool) -> bool:
    """Publish a draft (clearing its schedule); returns whether it changed."""
    if tool.is_published:
        return False
    tool.is_published, tool.publish_at = True, None
    tool.save(update_fields=_PUBLISHING_FIELDS)
    return True


@transaction.atomic
def tool_unpublish(*, tool: Tool) -> bool:
    """Take a tool back to draft; its schedule is cleared too, so it stays a draft until published again."""
    if not tool.is_published and tool.publish_at is None:
        return False
    tool.is_published, tool.publish_at = False, None
    tool.save(update_fields=_PUBLISHING_FIELDS)
    return True


@transaction.atomic
def tools_publish(*, tools: QuerySet[Tool]) -> int:
    """Publish each draft among `tools`; returns how many were published."""
    return sum(tool_publish(tool=tool) for tool in _locked(tools, is_published=False))


@transaction.atomic
def tools_unpublish(*, tools: QuerySet[Tool]) -> int:
    """Unpublish each published tool among `tools`; returns how many were unpublished."""
    return sum(tool_unpublish(tool=tool) for tool in _locked(tools, is_published=True))


def _locked(tools: QuerySet[Tool], **state: bool) -> QuerySet[Tool]:
    # The admin's selection may carry joins and annotations: lock the bare rows, in id order.
    ids = tools.order_by().values("pk")
    return Tool.objects.filter(pk__in=ids, **state).order_by("pk").select_for_update()
