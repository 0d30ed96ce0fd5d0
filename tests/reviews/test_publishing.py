"""Drafts by default; publishing and unpublishing by hand (services, the admin's list actions) and on
schedule (the periodic job), each with the same effects: panel counters, events, a fresh cache."""

from datetime import datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from events.models import Event
from reviews import services
from reviews.models import Comparison, Review
from reviews.tasks import scheduled_publish
from tests.factories import ComparisonFactory, ReviewerFactory, ReviewFactory, ToolFactory
from tests.test_admin import admin_url
from tools.models import Tool
from tools.services import tool_publish, tool_unpublish, tools_publish

pytestmark = pytest.mark.django_db


def recorded() -> list[str]:
    """The event types written so far, oldest first; then forgets them."""
    types = list(Event.objects.order_by("id").values_list("type", flat=True))
    Event.objects.all().delete()
    return types


def panel(tool: Tool) -> tuple[int, int]:
    tool.refresh_from_db()
    return tool.panel_ship_count, tool.panel_skip_count


@pytest.fixture
def staff(client: Client, django_user_model) -> Client:
    client.force_login(django_user_model.objects.create_superuser("admin", "admin@example.com", "not-a-secret"))
    return client


class TestDraftsByDefault:
    def test_new_rows_are_drafts(self) -> None:
        tool = ToolFactory.build()
        assert Tool._meta.get_field("is_published").default is False
        assert Review._meta.get_field("is_published").default is False
        assert Comparison._meta.get_field("is_published").default is False
        assert tool.publish_at is None

    @pytest.mark.parametrize("label", ["tools.tool", "reviews.review", "reviews.comparison"])
    def test_the_add_forms_start_unticked_with_a_publish_time(self, staff: Client, label: str) -> None:
        page = staff.get(admin_url(label, "add")).content.decode()
        assert 'name="is_published"' in page
        assert 'name="is_published" id="id_is_published" checked' not in page
        assert 'name="publish_at_0"' in page  # the admin's date and time inputs

    def test_a_draft_review_counts_nowhere_until_published(self) -> None:
        tool = ToolFactory()
        review = ReviewFactory(tool=tool, verdict="skip", is_published=False)
        assert panel(tool) == (0, 0)
        assert services.review_publish(review=review) is True
        assert panel(tool) == (0, 1)
        assert services.review_unpublish(review=review) is True
        assert panel(tool) == (0, 0)

    def test_a_reviewer_rejoining_the_panel_brings_only_published_reviews(self) -> None:
        tool, reviewer = ToolFactory(), ReviewerFactory(is_active=False)
        ReviewFactory(tool=tool, reviewer=reviewer, verdict="ship")
        ReviewFactory(tool=tool, verdict="skip", is_published=False, reviewer=ReviewerFactory(is_active=False))
        for row in type(reviewer).objects.all():
            row.is_active = True
            row.save()
        assert panel(tool) == (1, 0)


class TestServices:
    def test_publishing_clears_the_schedule_and_says_whether_it_changed(self) -> None:
        tool = ToolFactory(is_published=False, publish_at=timezone.now() + timedelta(days=1))
        assert tool_publish(tool=tool) is True
        tool.refresh_from_db()
        assert (tool.is_published, tool.publish_at) == (True, None)
        assert tool_publish(tool=tool) is False
        assert tool_unpublish(tool=tool) is True
        tool.refresh_from_db()
        assert (tool.is_published, tool.publish_at) == (False, None)
        assert tool_unpublish(tool=tool) is False

    def test_unpublishing_a_scheduled_draft_cancels_the_schedule(self) -> None:
        tool = ToolFactory(is_published=False, publish_at=timezone.now())
        assert tool_unpublish(tool=tool) is True
        tool.refresh_from_db()
        assert tool.publish_at is None

    def test_each_publication_is_an_event(self) -> None:
        left, right = ToolFactory(is_published=False), ToolFactory(is_published=False)
        review = ReviewFactory(tool=left, is_published=False)
        comparison = ComparisonFactory(left_tool=left, right_tool=right, is_published=False)
        recorded()  # the reviewer's joining the panel
        tool_publish(tool=left)
        services.review_publish(review=review)
        services.comparison_publish(comparison=comparison)
        assert recorded() == ["tool.published", "review.published", "comparison.published"]
        services.comparison_unpublish(comparison=comparison)
        services.review_unpublish(review=review)
        tool_unpublish(tool=left)
        assert recorded() == ["comparison.unpublished", "review.withdrawn", "tool.unpublished"]

    def test_a_review_of_a_draft_tool_is_published_with_its_tool(self) -> None:
        tool = ToolFactory(is_published=False)
        review = ReviewFactory(tool=tool, is_published=False)
        recorded()
        services.review_publish(review=review)
        assert recorded() == []  # not visible yet: its tool is a draft
        tool_publish(tool=tool)
        assert recorded() == ["tool.published"]

    def test_bulk_publishing_counts_what_changed(self) -> None:
        drafts = [ToolFactory(is_published=False) for _ in range(3)]
        ToolFactory()
        recorded()
        assert tools_publish(tools=Tool.objects.all()) == 3
        assert tools_publish(tools=Tool.objects.all()) == 0
        assert set(Tool.objects.values_list("is_published", flat=True)) == {True}
        assert recorded().count("tool.published") == len(drafts)

    def test_publishing_makes_the_cached_document_fresh(
        self, api, settings, django_capture_on_commit_callbacks
    ) -> None:
        settings.DOCUMENT_CACHE = True
        with django_capture_on_commit_callbacks(execute=True):
            tool = ToolFactory(slug="alpha", is_published=False)
            ToolFactory(slug="beta")
        assert api.get("/api/v1/tools/alpha/").status_code == 404
        assert api.get("/api/v1/tools/").json()["count"] == 1
        with django_capture_on_commit_callbacks(execute=True):
            tool_publish(tool=tool)
        assert api.get("/api/v1/tools/alpha/").status_code == 200
        assert api.get("/api/v1/tools/").json()["count"] == 2


class TestAdminActions:
    def post_action(self, staff: Client, label: str, action: str, rows: list) -> list[str]:
        response = staff.post(
            admin_url(label, "changelist"),
            {"action": action, "_selected_action": [row.pk for row in rows]},
            follow=True,  # the changelist shows (and so consumes) the action's message
        )
        assert response.redirect_chain == [(admin_url(label, "changelist"), 302)]
        return [str(message) for message in response.context["messages"]]

    def test_publish_and_unpublish_tools_say_how_many_changed(self, staff: Client) -> None:
        drafts = [ToolFactory(is_published=False) for _ in range(2)]
        live = ToolFactory()
        recorded()
        assert self.post_action(staff, "tools.tool", "publish_selected", [*drafts, live]) == [
            "2 tools published. 1 of the 3 selected already were."
        ]
        assert Tool.objects.filter(is_published=True).count() == 3
        assert recorded() == ["tool.published", "tool.published"]
        assert self.post_action(staff, "tools.tool", "unpublish_selected", [live]) == ["1 tool unpublished."]
        assert recorded() == ["tool.unpublished"]
        assert self.post_action(staff, "tools.tool", "unpublish_selected", [live]) == [
            "0 tools unpublished. 1 of the 1 selected already were."
        ]

    def test_publishing_reviews_recounts_the_panel(self, staff: Client) -> None:
        tool = ToolFactory()
        reviews = [ReviewFactory(tool=tool, verdict=verdict, is_published=False) for verdict in ("ship", "skip")]
        recorded()
        assert self.post_action(staff, "reviews.review", "publish_selected", reviews) == ["2 reviews published."]
        assert panel(tool) == (1, 1)
        assert recorded() == ["review.published", "review.published"]
        assert self.post_action(staff, "reviews.review", "unpublish_selected", reviews[:1]) == ["1 review unpublished."]
        assert panel(tool) == (0, 1)

    def test_publishing_comparisons(self, staff: Client) -> None:
        comparisons = [ComparisonFactory(is_published=False) for _ in range(2)]
        assert self.post_action(staff, "reviews.comparison", "publish_selected", comparisons) == [
            "2 comparisons published."
        ]
        assert Comparison.objects.published().count() == 2
        assert self.post_action(staff, "reviews.comparison", "unpublish_selected", comparisons) == [
            "2 comparisons unpublished."
        ]
        assert Comparison.objects.published().count() == 0


class TestScheduledPublishing:
    @pytest.fixture
    def clock(self, monkeypatch) -> list[datetime]:
        """The time the job reads (timezone.now), set by the test."""
        now = [timezone.now()]
        monkeypatch.setattr(timezone, "now", lambda: now[0])
        return now

    def test_the_job_runs_every_publish_schedule_seconds(self, run_periodic, clock, settings) -> None:
        name = scheduled_publish.module_path
        assert name in run_periodic(now=clock[0])
        assert name not in run_periodic(now=clock[0] + timedelta(seconds=settings.PUBLISH_SCHEDULE_SECONDS - 1))
        assert name in run_periodic(now=clock[0] + timedelta(seconds=settings.PUBLISH_SCHEDULE_SECONDS))
        assert settings.PUBLISH_SCHEDULE_SECONDS <= 60  # "within a minute of the time"

    def test_what_is_due_goes_live_with_the_effects_of_publishing_by_hand(self, run_periodic, clock) -> None:
        start = clock[0]
        soon, later = start + timedelta(minutes=5), start + timedelta(hours=1)
        left = ToolFactory(is_published=False, publish_at=soon)
        right = ToolFactory(is_published=False, publish_at=later)
        review = ReviewFactory(tool=left, verdict="ship", is_published=False, publish_at=soon)
        comparison = ComparisonFactory(left_tool=left, right_tool=right, is_published=False, publish_at=soon)
        recorded()
        run_periodic(now=start)
        assert recorded() == []

        clock[0] = soon
        run_periodic(now=soon)
        for row in (left, right, review, comparison):
            row.refresh_from_db()
        assert (left.is_published, left.publish_at) == (True, None)
        assert (right.is_published, right.publish_at) == (False, later)
        assert (review.is_published, review.publish_at) == (True, None)
        assert (comparison.is_published, comparison.publish_at) == (True, None)
        assert panel(left) == (1, 0)
        # ... and the tallies job running in the same round reports the tool's moved panel.
        events = recorded()
        assert events == ["tool.published", "comparison.published", "review.published", "tool.tallies_changed"]

        clock[0] = later + timedelta(seconds=1)
        run_periodic(now=clock[0])
        right.refresh_from_db()
        assert (right.is_published, right.publish_at) == (True, None)
        assert recorded()[0] == "tool.published"

    def test_a_run_reports_what_it_published(self, clock) -> None:
        ToolFactory(is_published=False, publish_at=clock[0])
        ReviewFactory(is_published=False, publish_at=clock[0] - timedelta(days=1))
        ComparisonFactory(is_published=False, publish_at=clock[0] + timedelta(seconds=1))
        assert services.scheduled_publish_run(now=clock[0]) == {"tools": 1, "comparisons": 0, "reviews": 1}
        assert services.scheduled_publish_run(now=clock[0]) == {"tools": 0, "comparisons": 0, "reviews": 0}
