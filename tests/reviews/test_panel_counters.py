"""The panel counters on the tool row follow every way a review or reviewer changes."""

import pytest
from django.test import Client

from reviews.models import Review
from tests.factories import ReviewerFactory, ReviewFactory, ToolFactory
from tools.models import Tool

pytestmark = pytest.mark.django_db


def _panel(tool: Tool) -> tuple[int, int]:
    tool.refresh_from_db()
    return tool.panel_ship_count, tool.panel_skip_count


def _recount(tool: Tool) -> tuple[int, int]:
    active = Review.objects.filter(tool=tool, reviewer__is_active=True)
    return active.filter(verdict="ship").count(), active.filter(verdict="skip").count()


def test_review_create_change_move_and_delete() -> None:
    alpha, beta = ToolFactory(), ToolFactory()
    review = ReviewFactory(tool=alpha, verdict="ship")
    assert _panel(alpha) == (1, 0)
    review.verdict = "skip"
    review.save()
    assert _panel(alpha) == (0, 1)
    review = Review.objects.get(pk=review.pk)
    review.tool = beta
    review.save()
    assert (_panel(alpha), _panel(beta)) == ((0, 0), (0, 1))
    review.delete()
    assert _panel(beta) == (0, 0)


def test_a_reviewer_leaving_and_rejoining_the_panel() -> None:
    tool = ToolFactory()
    reviewer = ReviewerFactory()
    ReviewFactory(reviewer=reviewer, tool=tool, verdict="ship")
    ReviewFactory(tool=tool, verdict="skip")
    assert _panel(tool) == (1, 1)
    reviewer.is_active = False
    reviewer.save()
    assert _panel(tool) == _recount(tool) == (0, 1)
    reviewer.is_active = True
    reviewer.save()
    assert _panel(tool) == (1, 1)


def test_cascades_and_bulk_deletes() -> None:
    tools = [ToolFactory() for _ in range(3)]
    reviewer = ReviewerFactory()
    for tool in tools:
        ReviewFactory(reviewer=reviewer, tool=tool, verdict="ship")
        ReviewFactory(tool=tool, verdict="skip")
    reviewer.delete()  # its reviews go by cascade
    assert [_panel(tool) for tool in tools] == [(0, 1)] * 3
    Review.objects.filter(tool__in=tools[:2]).delete()
    assert [_panel(tool) for tool in tools] == [(0, 0), (0, 0), (0, 1)]


def test_admin_bulk_delete_of_reviews(admin_client: Client) -> None:
    tool = ToolFactory()
    reviews = [ReviewFactory(tool=tool, verdict=verdict) for verdict in ("ship", "ship", "skip")]
    response = admin_client.post(
        "/admin/reviews/review/",
        {"action": "delete_selected", "_selected_action": [reviews[0].pk, reviews[2].pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert _panel(tool) == _recount(tool) == (1, 0)
