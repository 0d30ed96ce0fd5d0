"""Every event type is emitted by the change that causes it, once, through each path that writes:
the admin (real POSTs), the seed command, cascades, and only when the change commits."""

import copy
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client

from events.models import Event
from reviews.models import Comparison, Review, Reviewer
from seeds.management.commands.seed import SEEDS_DIR, seed_load
from tests.factories import ComparisonFactory, ReviewerFactory, ReviewFactory, ToolFactory
from tests.test_admin import TestAddForms, admin_url
from tools.models import Tool

pytestmark = pytest.mark.django_db

# No source and no verification date recorded for the pricing facts.
NO_PROVENANCE = {"source_url": None, "verified_at": None}

SEED = json.loads(next(Path(SEEDS_DIR).glob("*.json")).read_text(encoding="utf-8"))
NO_TALLY = {"ship": 0, "skip": 0, "total": 0, "ship_rate": None, "ci95": None}


def recorded() -> list[tuple[str, dict]]:
    """The events written so far, oldest first; then forgets them, so each step sees its own."""
    events = [(event.type, event.payload) for event in Event.objects.order_by("id")]
    Event.objects.all().delete()
    return events


@pytest.fixture
def staff(client: Client, django_user_model) -> Client:
    client.force_login(django_user_model.objects.create_superuser("admin", "admin@example.com", "not-a-secret"))
    return client


def tool_form(tool: Tool, **overrides: object) -> dict:
    current = {
        "name": tool.name,
        "slug": tool.slug,
        "vendor": tool.vendor_id,
        "category": tool.category_id,
        "pricing_tier": tool.pricing_tier,
        "tagline": tool.tagline,
        "description": tool.description,
    }
    return TestAddForms.tool_form(**{**current, **overrides})


class TestToolsThroughTheAdmin:
    def test_adding_a_published_tool_publishes_it(self, staff: Client) -> None:
        response = staff.post(admin_url("tools.tool", "add"), TestAddForms.tool_form())
        assert response.status_code == 302
        tool = Tool.objects.get()
        assert recorded() == [
            (
                "tool.published",
                {"id": tool.pk, "slug": "chat-bot", "name": "Chat Bot", "panel": NO_TALLY, "community": NO_TALLY},
            )
        ]

    def test_an_edit_names_the_public_fields_it_changed_with_their_new_values(self, staff: Client) -> None:
        tool = ToolFactory(tagline="Old", pricing_tier="free")
        recorded()
        form = tool_form(tool, tagline="New", price_from_usd="12.50", price_unit="per seat", licence="MIT")
        assert staff.post(admin_url("tools.tool", "change", tool.pk), form).status_code == 302
        assert recorded() == [
            (
                "tool.updated",
                {
                    "id": tool.pk,
                    "slug": tool.slug,
                    "changes": {
                        "tagline": "New",
                        "pricing": {
                            "tier": "free",
                            "label": "Free",
                            "price_from_usd": 12.5,
                            "price_unit": "per seat",
                            **NO_PROVENANCE,
                        },
                        "licence": "MIT",
                    },
                },
            )
        ]

    def test_saving_without_a_change_records_nothing(self, staff: Client) -> None:
        tool = ToolFactory()
        recorded()
        assert staff.post(admin_url("tools.tool", "change", tool.pk), tool_form(tool)).status_code == 302
        assert recorded() == []

    def test_unpublishing_then_publishing_again(self, staff: Client) -> None:
        tool = ToolFactory()
        recorded()
        form = tool_form(tool)
        del form["is_published"]  # an unticked checkbox is not sent
        assert staff.post(admin_url("tools.tool", "change", tool.pk), form).status_code == 302
        assert recorded() == [("tool.unpublished", {"id": tool.pk, "slug": tool.slug})]
        assert staff.post(admin_url("tools.tool", "change", tool.pk), tool_form(tool)).status_code == 302
        assert [event_type for event_type, _ in recorded()] == ["tool.published"]

    def test_an_unpublished_tool_changes_silently(self, staff: Client) -> None:
        tool = ToolFactory(is_published=False)
        form = tool_form(tool, tagline="Still hidden")
        del form["is_published"]
        assert staff.post(admin_url("tools.tool", "change", tool.pk), form).status_code == 302
        assert recorded() == []

    def test_deleting_a_published_tool_withdraws_its_reviews_and_unpublishes_it(self, staff: Client) -> None:
        review = ReviewFactory()
        tool, reviewer = review.tool, review.reviewer
        recorded()
        assert staff.post(admin_url("tools.tool", "delete", tool.pk), {"post": "yes"}).status_code == 302
        ref = {"tool": {"id": tool.pk, "slug": tool.slug}, "reviewer": {"id": reviewer.pk, "slug": reviewer.slug}}
        assert recorded() == [
            ("review.withdrawn", {"id": review.pk, **ref, "verdict": "ship"}),
            ("tool.unpublished", {"id": tool.pk, "slug": tool.slug}),
        ]

    def test_a_tool_and_its_new_review_in_one_form_are_one_transaction(self, staff: Client) -> None:
        tool, reviewer = ToolFactory(), ReviewerFactory()
        recorded()
        form = tool_form(
            tool,
            tagline="With a review",
            **{
                "reviews-TOTAL_FORMS": "1",
                "reviews-0-reviewer": reviewer.pk,
                "reviews-0-verdict": "skip",
                "reviews-0-body": "Not yet.",
                "reviews-0-reviewed_at": "",
                "reviews-0-is_published": "on",
            },
        )
        assert staff.post(admin_url("tools.tool", "change", tool.pk), form).status_code == 302
        review = Review.objects.get()
        assert recorded() == [
            ("tool.updated", {"id": tool.pk, "slug": tool.slug, "changes": {"tagline": "With a review"}}),
            (
                "review.published",
                {
                    "id": review.pk,
                    "tool": {"id": tool.pk, "slug": tool.slug},
                    "reviewer": {"id": reviewer.pk, "slug": reviewer.slug},
                    "verdict": "skip",
                },
            ),
        ]


def review_form(review: Review, **overrides: object) -> dict:
    return {
        "reviewer": review.reviewer_id,
        "tool": review.tool_id,
        "verdict": review.verdict,
        "body": review.body,
        "reviewed_at": "",
        "is_published": "on" if review.is_published else "",
        **overrides,
    }


class TestReviewsThroughTheAdmin:
    @pytest.fixture
    def review(self) -> Review:
        review = ReviewFactory(verdict="ship")
        recorded()
        return review

    def ref(self, review: Review) -> dict:
        return {
            "id": review.pk,
            "tool": {"id": review.tool_id, "slug": review.tool.slug},
            "reviewer": {"id": review.reviewer_id, "slug": review.reviewer.slug},
        }

    def test_adding_a_published_review_publishes_it(self, staff: Client) -> None:
        tool, reviewer = ToolFactory(), ReviewerFactory()
        recorded()
        form = {"reviewer": reviewer.pk, "tool": tool.pk, "verdict": "ship", "body": "Yes.", "reviewed_at": ""}
        assert staff.post(admin_url("reviews.review", "add"), {**form, "is_published": "on"}).status_code == 302
        assert recorded() == [("review.published", {**self.ref(Review.objects.get()), "verdict": "ship"})]

    def test_a_draft_review_is_no_event_until_published(self, staff: Client) -> None:
        tool, reviewer = ToolFactory(), ReviewerFactory()
        recorded()
        form = {"reviewer": reviewer.pk, "tool": tool.pk, "verdict": "ship", "body": "Yes.", "reviewed_at": ""}
        assert staff.post(admin_url("reviews.review", "add"), form).status_code == 302
        review = Review.objects.get()
        assert review.is_published is False
        assert recorded() == []
        assert (
            staff.post(admin_url("reviews.review", "change", review.pk), review_form(review, body="Yes!")).status_code
            == 302
        )
        assert recorded() == []

    def test_a_new_verdict_says_the_old_one(self, staff: Client, review: Review) -> None:
        form = review_form(review, verdict="skip", correction_note="Retested on the new release.")
        assert staff.post(admin_url("reviews.review", "change", review.pk), form).status_code == 302
        assert recorded() == [
            (
                "review.updated",
                {
                    **self.ref(review),
                    "verdict": "skip",
                    "changed": ["verdict"],
                    "previous_verdict": "ship",
                    "correction": "Retested on the new release.",
                },
            )
        ]

    def test_a_new_text_alone(self, staff: Client, review: Review) -> None:
        form = review_form(review, body="Rewritten.", correction_note="Fixed a wrong price.")
        assert staff.post(admin_url("reviews.review", "change", review.pk), form).status_code == 302
        assert recorded() == [
            (
                "review.updated",
                {
                    **self.ref(review),
                    "verdict": "ship",
                    "changed": ["body"],
                    "previous_verdict": "ship",
                    "correction": "Fixed a wrong price.",
                },
            )
        ]

    def test_a_change_outside_the_admin_carries_no_correction(self, review: Review) -> None:
        review.body = "Rewritten by the seed."
        review.save()
        assert recorded() == [
            (
                "review.updated",
                {
                    **self.ref(review),
                    "verdict": "ship",
                    "changed": ["body"],
                    "previous_verdict": "ship",
                    "correction": None,
                },
            )
        ]

    def test_a_date_alone_is_no_event(self, staff: Client, review: Review) -> None:
        form = review_form(review, reviewed_at="2026-01-02")
        assert staff.post(admin_url("reviews.review", "change", review.pk), form).status_code == 302
        assert recorded() == []

    def test_deleting_withdraws_it(self, staff: Client, review: Review) -> None:
        ref = self.ref(review)
        assert staff.post(admin_url("reviews.review", "delete", review.pk), {"post": "yes"}).status_code == 302
        assert recorded() == [("review.withdrawn", {**ref, "verdict": "ship"})]

    def test_the_bulk_delete_withdraws_each(self, staff: Client, review: Review) -> None:
        other = ReviewFactory(tool=review.tool)
        recorded()
        selected = {"action": "delete_selected", "_selected_action": [review.pk, other.pk], "post": "yes"}
        assert staff.post(admin_url("reviews.review", "changelist"), selected).status_code == 302
        assert sorted(payload["id"] for _, payload in recorded()) == [review.pk, other.pk]

    def test_reviews_of_an_unpublished_tool_are_not_news(self, staff: Client) -> None:
        review = ReviewFactory(tool=ToolFactory(is_published=False))
        recorded()
        form = review_form(review, verdict="skip")
        assert staff.post(admin_url("reviews.review", "change", review.pk), form).status_code == 302
        assert recorded() == []


def reviewer_form(reviewer: Reviewer, **overrides: object) -> dict:
    return {
        "slug": reviewer.slug,
        "name": reviewer.name,
        "lens": reviewer.lens,
        "bio": "",
        "position": reviewer.position,
        "is_active": "on",
        # The disclosures inline's management form (none here).
        "disclosures-TOTAL_FORMS": "0",
        "disclosures-INITIAL_FORMS": "0",
        **overrides,
    }


class TestReviewersThroughTheAdmin:
    def test_joining_and_leaving_the_panel(self, staff: Client) -> None:
        form = reviewer_form(Reviewer(slug="the-critic", name="The Critic", lens="Price", position=9))
        assert staff.post(admin_url("reviews.reviewer", "add"), form).status_code == 302
        reviewer = Reviewer.objects.get()
        ref = {"id": reviewer.pk, "slug": "the-critic", "name": "The Critic"}
        assert recorded() == [("reviewer.joined", ref)]
        leaving = reviewer_form(reviewer)
        del leaving["is_active"]
        assert staff.post(admin_url("reviews.reviewer", "change", reviewer.pk), leaving).status_code == 302
        assert recorded() == [("reviewer.left", ref)]
        assert staff.post(admin_url("reviews.reviewer", "change", reviewer.pk), leaving).status_code == 302
        assert recorded() == []
        rejoining = reviewer_form(reviewer)
        assert staff.post(admin_url("reviews.reviewer", "change", reviewer.pk), rejoining).status_code == 302
        assert recorded() == [("reviewer.joined", ref)]

    def test_deleting_an_active_reviewer_withdraws_their_reviews(self, staff: Client) -> None:
        review = ReviewFactory()
        reviewer = review.reviewer
        recorded()
        assert staff.post(admin_url("reviews.reviewer", "delete", reviewer.pk), {"post": "yes"}).status_code == 302
        assert [event_type for event_type, _ in recorded()] == ["review.withdrawn", "reviewer.left"]


class TestComparisonsThroughTheAdmin:
    def test_published_changed_and_unpublished(self, staff: Client) -> None:
        left, right = ToolFactory(slug="left"), ToolFactory(slug="right")
        recorded()
        form = {"left_tool": left.pk, "right_tool": right.pk, "title": "L or R", "headline": "", "summary": ""}
        form["is_published"] = "on"
        assert staff.post(admin_url("reviews.comparison", "add"), form).status_code == 302
        comparison = Comparison.objects.get()
        ref = {"id": comparison.pk, "slug": "left-vs-right"}
        assert recorded() == [("comparison.published", {**ref, "title": "L or R"})]
        form["headline"] = "Pick R"
        assert staff.post(admin_url("reviews.comparison", "change", comparison.pk), form).status_code == 302
        assert recorded() == [("comparison.updated", {**ref, "changes": {"headline": "Pick R"}})]
        del form["is_published"]
        assert staff.post(admin_url("reviews.comparison", "change", comparison.pk), form).status_code == 302
        assert recorded() == [("comparison.unpublished", ref)]

    def test_deleting_a_published_comparison_unpublishes_it(self, staff: Client) -> None:
        comparison = ComparisonFactory()
        recorded()
        assert staff.post(admin_url("reviews.comparison", "delete", comparison.pk), {"post": "yes"}).status_code == 302
        assert [event_type for event_type, _ in recorded()] == ["comparison.unpublished"]


class TestTheSeedCommand:
    def test_a_first_load_publishes_everything_once_and_a_second_load_nothing(self) -> None:
        call_command("seed", verbosity=0)
        types = [event_type for event_type, _ in recorded()]
        assert types == (
            ["tool.published"] * len(SEED["tools"])
            + ["reviewer.joined"] * len(SEED["reviewers"])
            + ["review.published"] * len(SEED["reviews"])
            + ["comparison.published"] * len(SEED.get("comparisons", []))
        )
        call_command("seed", verbosity=0)
        assert recorded() == []

    def test_a_changed_seed_file_updates_what_changed(self, seeded: None) -> None:
        recorded()
        data = copy.deepcopy(SEED)
        data["tools"][0]["tagline"] = "A new tagline"
        data["reviews"][0]["verdict"] = "skip" if data["reviews"][0]["verdict"] == "ship" else "ship"
        seed_load(data=data)
        assert [event_type for event_type, _ in recorded()] == ["tool.updated", "review.updated"]

    def test_a_seed_that_fails_part_way_leaves_no_event(self) -> None:
        data = copy.deepcopy(SEED)
        data["reviews"][0]["reviewer"] = "nobody"
        with pytest.raises(Reviewer.DoesNotExist):
            seed_load(data=data)
        assert not Event.objects.exists()
        assert not Tool.objects.exists()


class TestCommitOnly:
    @pytest.mark.django_db(transaction=True)
    def test_a_change_rolled_back_leaves_no_event(self) -> None:
        tool = ToolFactory()
        recorded()
        with pytest.raises(RuntimeError), transaction.atomic():
            Tool.objects.filter(pk=tool.pk).first().delete()
            assert Event.objects.count() == 1  # written in the change's transaction
            raise RuntimeError("the delete failed after the event was written")
        assert recorded() == []
        assert Tool.objects.filter(pk=tool.pk).exists()


class TestTheEventsAdmin:
    def test_staff_find_events_by_slug_and_type_and_cannot_change_them(self, staff: Client) -> None:
        review = ReviewFactory(tool=ToolFactory(slug="findable"))
        ToolFactory(slug="other")
        found = staff.get(admin_url("events.event", "changelist"), {"q": "findable"}).context["cl"].result_list
        assert sorted(event.type for event in found) == ["review.published", "tool.published"]
        typed = staff.get(admin_url("events.event", "changelist"), {"type__exact": "review.published"})
        assert [event.payload["id"] for event in typed.context["cl"].result_list] == [review.pk]
        event = Event.objects.first()
        assert staff.post(admin_url("events.event", "delete", event.pk), {"post": "yes"}).status_code == 403
        assert staff.get(admin_url("events.event", "add")).status_code == 403
