"""Revision history, corrections, provenance and disclosures (issue 16, items 4 and 5)."""

import datetime

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from reviews.models import Relationship, Review
from tests.factories import (
    ReviewerDisclosureFactory,
    ReviewerFactory,
    ReviewFactory,
    ToolFactory,
    UserFactory,
    VendorFactory,
)
from tools.models import Tool, Verdict
from votes.services import vote_cast

pytestmark = pytest.mark.django_db

# The comparison of two tools: the tools, the scorecard, the panel's disclosures, the curation
# (on PostgreSQL, one statement).
COMPARISON_QUERIES = 1 if connection.vendor == "postgresql" else 4
# The reviewers list: the count, the page, the disclosures of the page.
REVIEWERS_QUERIES = 3


@pytest.fixture
def staff(client: Client, django_user_model) -> Client:
    client.force_login(django_user_model.objects.create_superuser("editor", "editor@example.com", "not-a-secret"))
    return client


def review_form(review: Review, **overrides: object) -> dict:
    return {
        "reviewer": review.reviewer_id,
        "tool": review.tool_id,
        "verdict": review.verdict,
        "body": review.body,
        "reviewed_at": "",
        **({"is_published": "on"} if review.is_published else {}),  # an unticked box is a False
        **overrides,
    }


def change_url(review: Review) -> str:
    return reverse("admin:reviews_review_change", args=[review.pk])


class TestHistory:
    def test_an_admin_edit_is_a_revision_with_who(self, staff: Client) -> None:
        review = ReviewFactory(verdict=Verdict.SHIP, body="Yes.")
        response = staff.post(change_url(review), review_form(review, verdict="skip", correction_note="Retested."))
        assert response.status_code == 302
        latest, first = review.history.all()
        assert (first.history_type, latest.history_type) == ("+", "~")
        assert latest.history_user.username == "editor"
        assert latest.history_change_reason == "Correction: Retested."
        changes = {change.field: (change.old, change.new) for change in latest.diff_against(first).changes}
        assert changes["verdict"] == ("ship", "skip")
        assert changes["correction"] == ("", "Retested.")

    def test_votes_and_panel_recounts_write_no_tool_revision(self) -> None:
        tool = ToolFactory()
        assert tool.history.count() == 1  # its creation
        for verdict in (Verdict.SHIP, Verdict.SKIP, Verdict.SHIP):
            vote_cast(voter=UserFactory(), slug=tool.slug, verdict=verdict)
        ReviewFactory(tool=tool)  # recounts the panel with a queryset update
        tool.refresh_from_db()
        assert (tool.community_ship_count, tool.community_skip_count, tool.panel_ship_count) == (2, 1, 1)
        assert tool.history.count() == 1

    def test_the_counters_are_not_kept_in_revisions(self) -> None:
        fields = {field.name for field in Tool.history.model._meta.fields}
        assert {"panel_ship_count", "community_ship_count", "updated_at"} & fields == set()
        assert {"licence", "pricing_source_url", "history_user", "history_date"} <= fields

    def test_the_history_page_shows_each_change_from_and_to(self, staff: Client) -> None:
        tool = ToolFactory(tagline="Old line")
        form = {
            field: getattr(tool, field)
            for field in ("name", "slug", "tagline", "description", "pricing_tier", "pricing_label", "price_unit")
        }
        form |= {
            "vendor": tool.vendor_id,
            "category": tool.category_id,
            "is_published": "on",
            "tagline": "New line",
            "reviews-TOTAL_FORMS": "0",
            "reviews-INITIAL_FORMS": "0",
        }
        assert staff.post(reverse("admin:tools_tool_change", args=[tool.pk]), form).status_code == 302
        page = staff.get(reverse("admin:tools_tool_history", args=[tool.pk])).content.decode()
        assert "Old line" in page and "New line" in page
        assert "<strong>Tagline:</strong>" in page
        assert "editor" in page

    def test_revert_restores_the_old_verdict_with_a_new_note(self, staff: Client, api: APIClient) -> None:
        review = ReviewFactory(verdict=Verdict.SHIP, body="Yes.")
        staff.post(change_url(review), review_form(review, verdict="skip", correction_note="Retested."))
        first = review.history.earliest()
        revert = reverse("admin:reviews_review_simple_history", args=[review.pk, first.history_id])
        assert staff.get(revert).status_code == 200
        # The old version is a change to what readers see now: it owes them a note too.
        without_note = staff.post(revert, review_form(review, verdict="ship"))
        assert without_note.status_code == 200
        assert "This review is published" in without_note.content.decode()
        assert staff.post(revert, review_form(review, verdict="ship", correction_note="Undone.")).status_code == 302
        review.refresh_from_db()
        assert (review.verdict, review.correction) == ("ship", "Undone.")
        assert review.history.count() == 3


class TestCorrections:
    def test_a_published_verdict_changed_without_a_note_is_refused(self, staff: Client) -> None:
        review = ReviewFactory(verdict=Verdict.SHIP)
        response = staff.post(change_url(review), review_form(review, verdict="skip"))
        assert response.status_code == 200
        assert response.context["adminform"].form.errors == {
            "correction_note": ["This review is published: say what changed in its verdict and why."]
        }
        review.refresh_from_db()
        assert review.verdict == "ship"

    def test_the_text_alone_needs_a_note_too(self, staff: Client) -> None:
        review = ReviewFactory(body="Old text.")
        response = staff.post(change_url(review), review_form(review, body="New text."))
        assert response.context["adminform"].form.errors == {
            "correction_note": ["This review is published: say what changed in its text and why."]
        }

    def test_line_breaks_as_browsers_send_them_are_no_change(self, staff: Client) -> None:
        review = ReviewFactory(body="One.\nTwo.")
        assert staff.post(change_url(review), review_form(review, body="One.\r\nTwo.")).status_code == 302

    def test_a_note_without_a_change_is_refused(self, staff: Client) -> None:
        review = ReviewFactory()
        response = staff.post(change_url(review), review_form(review, correction_note="Nothing changed."))
        assert response.context["adminform"].form.errors == {
            "correction_note": ["A correction note goes with a change to the verdict or text of a published review."]
        }

    @pytest.mark.parametrize("hidden", ["tool", "reviewer"])
    def test_an_unpublished_review_changes_freely(self, staff: Client, hidden: str) -> None:
        review = (
            ReviewFactory(tool=ToolFactory(is_published=False))
            if hidden == "tool"
            else ReviewFactory(reviewer=ReviewerFactory(is_active=False))
        )
        assert staff.post(change_url(review), review_form(review, verdict="skip")).status_code == 302
        review.refresh_from_db()
        assert (review.verdict, review.correction, review.corrected_at) == ("skip", "", None)

    def test_the_inline_on_the_tool_page_asks_too(self, staff: Client) -> None:
        review = ReviewFactory(verdict=Verdict.SHIP)
        tool = review.tool
        form = {
            "name": tool.name,
            "slug": tool.slug,
            "vendor": tool.vendor_id,
            "category": tool.category_id,
            "pricing_tier": tool.pricing_tier,
            "is_published": "on",
            "reviews-TOTAL_FORMS": "1",
            "reviews-INITIAL_FORMS": "1",
            "reviews-0-id": review.pk,
            "reviews-0-tool": tool.pk,
            "reviews-0-reviewer": review.reviewer_id,
            "reviews-0-verdict": "skip",
            "reviews-0-body": review.body,
        }
        url = reverse("admin:tools_tool_change", args=[tool.pk])
        assert staff.post(url, form).status_code == 200
        assert staff.post(url, {**form, "reviews-0-correction_note": "Retested."}).status_code == 302
        review.refresh_from_db()
        assert (review.verdict, review.correction) == ("skip", "Retested.")

    def test_the_correction_shows_with_the_review_everywhere(
        self, staff: Client, api: APIClient, django_assert_num_queries
    ) -> None:
        review = ReviewFactory(verdict=Verdict.SHIP, body="Yes.")
        other = ToolFactory()
        note = "The first test ran on a beta build; retested on the release."
        staff.post(change_url(review), review_form(review, verdict="skip", correction_note=note))
        review.refresh_from_db()
        updated_at = review.corrected_at.isoformat().replace("+00:00", "Z")
        url = f"/api/v1/comparisons/{review.tool.slug}-vs-{other.slug}/"
        with django_assert_num_queries(COMPARISON_QUERIES):
            document = api.get(url).json()
        assert document["scorecard"][0]["reviews"] == [
            {
                "tool": review.tool.slug,
                "verdict": "skip",
                "body": "Yes.",
                "reviewed_at": None,
                "correction": note,
                "updated_at": updated_at,
            },
            {
                "tool": other.slug,
                "verdict": None,
                "body": None,
                "reviewed_at": None,
                "correction": None,
                "updated_at": None,
            },
        ]
        for url in (f"/api/v1/tools/{review.tool.slug}/reviews/", f"/api/v1/reviewers/{review.reviewer.slug}/reviews/"):
            body = api.get(url).json()
            entry = body[0] if isinstance(body, list) else body["results"][0]
            assert (entry["correction"], entry["updated_at"]) == (note, updated_at)

    def test_a_later_edit_of_the_date_keeps_the_correction(self, staff: Client) -> None:
        review = ReviewFactory(verdict=Verdict.SHIP)
        staff.post(change_url(review), review_form(review, verdict="skip", correction_note="Retested."))
        review.refresh_from_db()
        corrected_at = review.corrected_at
        assert staff.post(change_url(review), review_form(review, reviewed_at="2026-01-02")).status_code == 302
        review.refresh_from_db()
        assert (review.correction, review.corrected_at) == ("Retested.", corrected_at)


class TestProvenance:
    def test_sources_and_verification_dates_in_the_tool_document(self, api: APIClient) -> None:
        ToolFactory(
            slug="sourced",
            name="Sourced",
            licence="MIT",
            pricing_source_url="https://vendor.example/pricing",
            pricing_verified_at=datetime.date(2026, 11, 30),
            licence_source_url="https://vendor.example/licence",
            licence_verified_at=datetime.date(2026, 11, 29),
        )
        other = ToolFactory()
        tool = api.get("/api/v1/tools/sourced/").json()
        assert (tool["pricing"]["source_url"], tool["pricing"]["verified_at"]) == (
            "https://vendor.example/pricing",
            "2026-11-30",
        )
        assert tool["licence"] == "MIT"  # still a plain string
        assert tool["licence_source"] == {"url": "https://vendor.example/licence", "verified_at": "2026-11-29"}
        listed = api.get("/api/v1/tools/", {"search": "sourced"}).json()["results"]
        compared = api.get(f"/api/v1/comparisons/sourced-vs-{other.slug}/").json()["tools"][0]
        assert listed == [tool]
        assert compared == tool


class TestDisclosures:
    @pytest.fixture
    def panel(self) -> dict:
        meta, acme = VendorFactory(slug="meta", name="Meta"), VendorFactory(slug="acme", name="Acme")
        insider, outsider = ReviewerFactory(slug="insider", position=1), ReviewerFactory(slug="outsider", position=2)
        ReviewerDisclosureFactory(
            reviewer=insider, vendor=meta, relationship=Relationship.INVESTOR, since=datetime.date(2024, 2, 1)
        )
        ReviewerDisclosureFactory(
            reviewer=insider,
            vendor=acme,
            relationship=Relationship.FORMER_EMPLOYEE,
            since=datetime.date(2019, 9, 1),
            note="Left in 2022.",
        )
        return {"meta": meta, "insider": insider, "outsider": outsider}

    INSIDER = [
        {"vendor": {"slug": "acme", "name": "Acme"}, "relationship": "former_employee", "since": "2019-09-01"},
        {"vendor": {"slug": "meta", "name": "Meta"}, "relationship": "investor", "since": "2024-02-01"},
    ]

    def test_with_the_reviewer_in_the_scorecard(self, api: APIClient, panel: dict, django_assert_num_queries) -> None:
        left, right = ToolFactory(vendor=panel["meta"]), ToolFactory()
        with django_assert_num_queries(COMPARISON_QUERIES):
            document = api.get(f"/api/v1/comparisons/{left.slug}-vs-{right.slug}/").json()
        assert [row["reviewer"]["disclosures"] for row in document["scorecard"]] == [self.INSIDER, []]

    def test_in_the_reviewers_api(self, api: APIClient, panel: dict, django_assert_num_queries) -> None:
        with django_assert_num_queries(REVIEWERS_QUERIES):
            rows = api.get("/api/v1/reviewers/").json()["results"]
        assert [row["disclosures"] for row in rows] == [self.INSIDER, []]
        assert api.get("/api/v1/reviewers/insider/").json()["disclosures"] == self.INSIDER

    @pytest.mark.parametrize("reviewers", [3, 8])
    def test_the_comparison_costs_the_same_whatever_the_panel(
        self, api: APIClient, django_assert_num_queries, reviewers: int
    ) -> None:
        left, right = ToolFactory(), ToolFactory()
        for reviewer in ReviewerFactory.create_batch(reviewers):
            for vendor in VendorFactory.create_batch(2):
                ReviewerDisclosureFactory(reviewer=reviewer, vendor=vendor)
            ReviewFactory(reviewer=reviewer, tool=left)
        with django_assert_num_queries(COMPARISON_QUERIES):
            document = api.get(f"/api/v1/comparisons/{left.slug}-vs-{right.slug}/").json()
        assert [len(row["reviewer"]["disclosures"]) for row in document["scorecard"]] == [2] * reviewers

    def test_a_retired_reviewers_disclosures_are_not_queried_into_the_panel(self, api: APIClient, panel) -> None:
        panel["insider"].is_active = False
        panel["insider"].save()
        rows = api.get("/api/v1/reviewers/").json()["results"]
        assert [(row["slug"], row["disclosures"]) for row in rows] == [("outsider", [])]

    def test_the_admin_warns_of_a_review_of_a_disclosed_vendors_tool(self, staff: Client, panel: dict) -> None:
        tool = ToolFactory(vendor=panel["meta"], name="Llama")
        form = {"reviewer": panel["insider"].pk, "tool": tool.pk, "verdict": "ship", "body": "Yes.", "reviewed_at": ""}
        response = staff.post(reverse("admin:reviews_review_add"), form)
        assert response.status_code == 302
        warnings = [str(message) for message in get_messages(response.wsgi_request) if message.level_tag == "warning"]
        assert warnings == [
            f"{panel['insider'].name} discloses a relationship with Meta, the vendor of Llama: "
            "holds shares or invested since 2024-02-01. Readers see the disclosure beside the review."
        ]
        review = Review.objects.get()
        page = staff.get(change_url(review)).content.decode()
        assert '<li class="warning">' in page and "discloses a relationship with Meta" in page

    def test_no_warning_without_a_tie(self, staff: Client, panel: dict) -> None:
        tool = ToolFactory(vendor=panel["meta"])
        form = {"reviewer": panel["outsider"].pk, "tool": tool.pk, "verdict": "ship", "body": "Yes.", "reviewed_at": ""}
        response = staff.post(reverse("admin:reviews_review_add"), form)
        assert [m for m in get_messages(response.wsgi_request) if m.level_tag == "warning"] == []
        assert "None with this tool&#x27;s vendor." in staff.get(change_url(Review.objects.get())).content.decode()

    def test_edited_inline_on_the_reviewers_page(self, staff: Client, panel: dict) -> None:
        reviewer = panel["outsider"]
        form = {
            "slug": reviewer.slug,
            "name": reviewer.name,
            "lens": reviewer.lens,
            "position": reviewer.position,
            "is_active": "on",
            "disclosures-TOTAL_FORMS": "1",
            "disclosures-INITIAL_FORMS": "0",
            "disclosures-0-vendor": panel["meta"].pk,
            "disclosures-0-relationship": "sponsor",
            "disclosures-0-since": "2026-03-01",
            "disclosures-0-note": "",
        }
        assert staff.post(reverse("admin:reviews_reviewer_change", args=[reviewer.pk]), form).status_code == 302
        assert list(reviewer.disclosures.values_list("vendor__slug", "relationship")) == [("meta", "sponsor")]
