"""The Django admin as staff use it: every page renders, tallies show, moderation keeps counters exact."""

import re
from collections.abc import Callable

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Group, Permission
from django.db import connection, transaction
from django.db.models import Count, Q
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken
from pytest_django.asserts import assertRedirects

from events.services import event_record
from partners.models import PartnerKey
from reviews.models import Comparison
from tests.factories import (
    CategoryFactory,
    ComparisonFactory,
    ReviewerFactory,
    ReviewFactory,
    ToolFactory,
    UserFactory,
    VendorFactory,
)
from tools.models import Tool, Verdict
from votes.models import Subscriber, Vote
from votes.services import vote_cast
from votes.tasks import newsletter_confirmation_send
from webhooks.models import Attempt, Delivery, Endpoint

pytestmark = pytest.mark.django_db

CastVotes = Callable[..., None]
TASK_RESULT = "django_tasks_database.dbtaskresult"

# Every model in the admin, with the exact queries of its changelist: the session, the user,
# the filtered and the full count, the page, then one per related-object filter or date level
# (or per filter listing a field's distinct values: the task results' priority and queue).
CHANGELIST_QUERIES = {
    "auth.group": 5,
    "axes.accessattempt": 8,
    "axes.accessfailurelog": 8,
    "axes.accesslog": 8,
    "otp_totp.totpdevice": 5,
    "auth.user": 6,
    "django_tasks_database.dbtaskresult": 7,
    "events.event": 8,  # and the types present (its filter) and the date levels
    "knox.authtoken": 5,
    "partners.partnerkey": 5,
    "reviews.comparison": 5,
    "reviews.review": 9,
    "reviews.reviewer": 5,
    "tools.category": 5,
    "tools.tool": 7,
    "tools.vendor": 5,
    "votes.subscriber": 7,
    "votes.vote": 9,  # and the tools that have votes, for the per-tool filter
    "webhooks.attempt": 5,
    "webhooks.delivery": 5,
    "webhooks.endpoint": 5,
}


def admin_url(label: str, view: str, *args: object) -> str:
    app_label, model_name = label.split(".")
    return reverse(f"admin:{app_label}_{model_name}_{view}", args=args)


def populate(label: str, count: int, cast_votes: CastVotes) -> None:
    """`count` rows of the model `label`, each with the related rows its changelist shows."""
    for n in range(count):
        match label:
            case "auth.group":
                Group.objects.create(name=f"Group {n}")
            case "auth.user":
                UserFactory()
            case "django_tasks_database.dbtaskresult":
                newsletter_confirmation_send.enqueue(subscriber_id=n, confirm="", unsubscribe="")
            case "axes.accessattempt":
                AccessAttempt.objects.create(username=f"guess{n}", ip_address="203.0.113.9", failures_since_start=1)
            case "axes.accessfailurelog":
                AccessFailureLog.objects.create(username=f"guess{n}", ip_address="203.0.113.9")
            case "axes.accesslog":
                AccessLog.objects.create(username=f"staff{n}", ip_address="203.0.113.9")
            case "otp_totp.totpdevice":
                TOTPDevice.objects.create(user=UserFactory(is_staff=True), name=f"phone {n}")
            case "knox.authtoken":
                AuthToken.objects.create(user=UserFactory())
            case "partners.partnerkey":
                PartnerKey.objects.create_key(name=f"Partner {n}", owner=UserFactory())
            case "events.event":
                ToolFactory()  # its tool.published event
            case "reviews.comparison":
                ComparisonFactory()
            case "reviews.review":
                ReviewFactory(reviewed_at=f"2025-01-{n + 1:02}")
            case "reviews.reviewer":
                ReviewFactory.create_batch(2, reviewer=ReviewerFactory())
            case "tools.category":
                ToolFactory(category=CategoryFactory())
            case "tools.tool":
                tool = ToolFactory()
                ReviewFactory(tool=tool, verdict=Verdict.SHIP)
                ReviewFactory(tool=tool, verdict=Verdict.SKIP)
                cast_votes(tool, ship=1)
            case "tools.vendor":
                ToolFactory(vendor=VendorFactory())
            case "votes.subscriber":
                Subscriber.objects.create(email=f"reader{n}@example.com")
            case "votes.vote":
                cast_votes(ToolFactory(), ship=1)
            case "webhooks.endpoint" | "webhooks.delivery" | "webhooks.attempt":
                _webhook_attempt()
            case _:
                raise AssertionError(f"no rows for {label}")


def _webhook_attempt() -> None:
    """An endpoint with a delivery of an event, and one attempt at it."""
    endpoint = Endpoint.objects.create(
        key=PartnerKey.objects.create_key(name="Hooks", owner=UserFactory())[0], url="https://hooks.example/in"
    )
    with transaction.atomic():
        event_record("tool.updated", {"slug": "alpha"})
    delivery = Delivery.objects.get(endpoint=endpoint)
    Attempt.objects.create(delivery=delivery, attempted_at=delivery.created_at, status_code=500, duration_ms=3)


# Models staff only read: their rows are written by the system, never by hand.
READ_ONLY = {
    "votes.vote",
    "knox.authtoken",  # voters make tokens by logging in; staff only see and revoke them
    TASK_RESULT,
    "events.event",
    "axes.accessattempt",
    "axes.accessfailurelog",
    "axes.accesslog",
    "webhooks.endpoint",  # partners register theirs through the API, which shows them the secret
    "webhooks.delivery",
    "webhooks.attempt",
}


@pytest.fixture
def staff(client: Client, django_user_model) -> Client:
    client.force_login(django_user_model.objects.create_superuser("admin", "admin@example.com", "not-a-secret"))
    return client


def test_every_registered_model_is_covered() -> None:
    assert sorted(model._meta.label_lower for model in admin.site._registry) == sorted(CHANGELIST_QUERIES)


class TestEveryPage:
    @pytest.mark.parametrize("rows", [3, 6])
    @pytest.mark.parametrize("label", sorted(CHANGELIST_QUERIES))
    def test_changelist(
        self, staff: Client, cast_votes: CastVotes, django_assert_num_queries, label: str, rows: int
    ) -> None:
        populate(label, rows, cast_votes)
        with django_assert_num_queries(CHANGELIST_QUERIES[label]):
            response = staff.get(admin_url(label, "changelist"))
        assert response.status_code == 200
        assert response.context["cl"].result_count >= rows

    @pytest.mark.parametrize("label", sorted(set(CHANGELIST_QUERIES) - READ_ONLY))
    def test_add_page(self, staff: Client, cast_votes: CastVotes, label: str) -> None:
        populate(label, 3, cast_votes)
        assert staff.get(admin_url(label, "add")).status_code == 200

    def test_votes_cannot_be_added_by_hand(self, staff: Client) -> None:
        assert staff.get(admin_url("votes.vote", "add")).status_code == 403

    def test_task_results_cannot_be_added_by_hand(self, staff: Client) -> None:
        assert staff.get(admin_url(TASK_RESULT, "add")).status_code == 403

    @pytest.mark.parametrize("label", sorted(CHANGELIST_QUERIES))
    def test_change_page(self, staff: Client, cast_votes: CastVotes, label: str) -> None:
        populate(label, 3, cast_votes)
        model = next(model for model in admin.site._registry if model._meta.label_lower == label)
        obj = model.objects.order_by("pk").last()
        response = staff.get(admin_url(label, "change", quote(obj.pk)))
        assert response.status_code == 200
        assert response.context["original"] == obj

    def test_index(self, staff: Client, seeded: None) -> None:
        assert staff.get("/admin/").status_code == 200


class TestToolChangelist:
    @pytest.fixture
    def tools(self, seeded: None, cast_votes: CastVotes) -> None:
        """The seed pair (3-1 and 4-0 on the panel) with community votes on one, and an unreviewed third tool."""
        cast_votes(Tool.objects.get(slug="code-llama-4"), ship=2, skip=1)
        ToolFactory(name="Zephyr", slug="zephyr")

    @staticmethod
    def column(html: str, name: str) -> list[str]:
        return re.findall(rf'<td class="field-{name}">(.*?)</td>', html)

    def test_panel_and_community_columns(self, staff: Client, tools: None) -> None:
        html = staff.get(admin_url("tools.tool", "changelist")).content.decode()
        assert re.findall(r'<th class="field-name"><a href="[^"]+">(.*?)</a></th>', html) == [
            "Code Llama 4",
            "Mistral Large 3",
            "Zephyr",
        ]
        assert self.column(html, "panel_column") == ["75% (3 of 4)", "100% (4 of 4)", "—"]
        assert self.column(html, "community_column") == ["67% (2 of 3)", "—", "—"]

    def test_an_inactive_reviewer_leaves_the_panel_column(self, staff: Client, tools: None) -> None:
        ReviewFactory(
            tool=Tool.objects.get(slug="zephyr"), reviewer=ReviewerFactory(is_active=False), verdict=Verdict.SHIP
        )
        html = staff.get(admin_url("tools.tool", "changelist")).content.decode()
        assert self.column(html, "panel_column")[2] == "—"

    @pytest.mark.parametrize("extra_tools", [1, 4])
    def test_query_count_stays_fixed_as_tools_grow(
        self, staff: Client, tools: None, cast_votes: CastVotes, django_assert_num_queries, extra_tools: int
    ) -> None:
        populate("tools.tool", extra_tools, cast_votes)
        with django_assert_num_queries(CHANGELIST_QUERIES["tools.tool"]):
            response = staff.get(admin_url("tools.tool", "changelist"))
        assert response.context["cl"].result_count == 3 + extra_tools
        assert "75% (3 of 4)" in self.column(response.content.decode(), "panel_column")

    @pytest.mark.parametrize("column", ["5", "-5", "6", "-6"], ids=["panel", "-panel", "community", "-community"])
    def test_sorting_by_the_tally_columns(self, staff: Client, tools: None, column: str) -> None:
        response = staff.get(admin_url("tools.tool", "changelist"), {"o": column})
        assert response.status_code == 200
        assert response.context["cl"].result_count == 3


class TestAccess:
    def test_anonymous_is_sent_to_the_login_page(self, client: Client) -> None:
        assertRedirects(client.get("/admin/"), "/admin/login/?next=/admin/")
        assertRedirects(
            client.get("/admin/tools/tool/"), "/admin/login/?next=/admin/tools/tool/", fetch_redirect_response=False
        )

    def test_a_voter_cannot_get_in(self, client: Client) -> None:
        client.force_login(UserFactory())
        assertRedirects(client.get("/admin/"), "/admin/login/?next=/admin/", fetch_redirect_response=False)
        assertRedirects(
            client.get("/admin/tools/tool/"), "/admin/login/?next=/admin/tools/tool/", fetch_redirect_response=False
        )

    def test_a_voter_cannot_log_in(self, client: Client) -> None:
        voter = UserFactory(username="voter")
        response = client.post(
            "/admin/login/?next=/admin/", {"username": "voter", "password": "correct horse battery staple"}
        )
        assert response.status_code == 200
        assert response.context["form"].errors["__all__"] == [
            "Please enter the correct username and password for a staff account. "
            "Note that both fields may be case-sensitive."
        ]
        assert client.session.get("_auth_user_id") != str(voter.pk)

    def test_staff_see_only_what_they_are_permitted(self, client: Client) -> None:
        clerk = UserFactory(is_staff=True)
        clerk.user_permissions.add(Permission.objects.get(codename="view_tool"))
        client.force_login(clerk)
        assert client.get("/admin/tools/tool/").status_code == 200
        assert client.get("/admin/tools/tool/add/").status_code == 403
        assert client.get("/admin/votes/vote/").status_code == 403


def recount(tool: Tool) -> tuple[int, int]:
    counts = Vote.objects.filter(tool=tool).aggregate(
        ship=Count("id", filter=Q(verdict=Verdict.SHIP)), skip=Count("id", filter=Q(verdict=Verdict.SKIP))
    )
    return counts["ship"], counts["skip"]


def counters(tool: Tool) -> tuple[int, int]:
    tool.refresh_from_db()
    return tool.community_ship_count, tool.community_skip_count


class TestVoteModeration:
    @pytest.fixture
    def voted(self, seeded: None, cast_votes: CastVotes) -> list[Tool]:
        code_llama, mistral = Tool.objects.get(slug="code-llama-4"), Tool.objects.get(slug="mistral-large-3")
        cast_votes(code_llama, ship=3, skip=2)
        cast_votes(mistral, ship=2, skip=1)
        return [code_llama, mistral]

    def test_bulk_delete_keeps_the_counters_exact(self, staff: Client, voted: list[Tool]) -> None:
        code_llama, mistral = voted
        doomed = [
            *Vote.objects.filter(tool=code_llama, verdict=Verdict.SHIP)[:2],
            *Vote.objects.filter(tool=code_llama, verdict=Verdict.SKIP)[:1],
            *Vote.objects.filter(tool=mistral, verdict=Verdict.SHIP)[:1],
        ]
        selected = {"action": "delete_selected", "_selected_action": [vote.pk for vote in doomed]}

        confirm = staff.post(admin_url("votes.vote", "changelist"), selected)
        assert confirm.status_code == 200
        assert Vote.objects.count() == 8

        response = staff.post(admin_url("votes.vote", "changelist"), {**selected, "post": "yes"})
        assertRedirects(response, admin_url("votes.vote", "changelist"))
        assert Vote.objects.count() == 4
        assert counters(code_llama) == recount(code_llama) == (1, 1)
        assert counters(mistral) == recount(mistral) == (1, 1)

    def test_deleting_one_vote_keeps_the_counters_exact(self, staff: Client, voted: list[Tool]) -> None:
        code_llama, _ = voted
        vote = Vote.objects.filter(tool=code_llama, verdict=Verdict.SKIP).first()
        response = staff.post(admin_url("votes.vote", "delete", vote.pk), {"post": "yes"})
        assert response.status_code == 302
        assert counters(code_llama) == recount(code_llama) == (3, 1)

    def test_deleting_voters_keeps_the_counters_exact(self, staff: Client, voted: list[Tool]) -> None:
        code_llama, mistral = voted
        voters = [vote.voter_id for vote in Vote.objects.filter(tool=code_llama, verdict=Verdict.SHIP)]
        response = staff.post(
            admin_url("auth.user", "changelist"),
            {"action": "delete_selected", "_selected_action": voters, "post": "yes"},
        )
        assertRedirects(response, admin_url("auth.user", "changelist"))
        assert counters(code_llama) == recount(code_llama) == (0, 2)
        assert counters(mistral) == recount(mistral) == (2, 1)


class TestToolEdits:
    def test_saving_a_tool_while_a_vote_is_cast_keeps_the_vote(self, staff: Client, seeded: None) -> None:
        tool = Tool.objects.get(slug="code-llama-4")
        voter = UserFactory()
        cast = False

        def vote_after_the_admin_loads_the_tool(
            execute: Callable, sql: str, params: object, many: bool, context: dict
        ) -> object:
            nonlocal cast
            result = execute(sql, params, many, context)
            if not cast and sql.startswith("SELECT") and "community_ship_count" in sql:
                cast = True
                vote_cast(voter=voter, slug=tool.slug, verdict=Verdict.SHIP)
            return result

        form = TestAddForms.tool_form(
            name=tool.name,
            slug=tool.slug,
            vendor=tool.vendor_id,
            category=tool.category_id,
            pricing_tier=tool.pricing_tier,
            tagline="Edited by staff",
        )
        with connection.execute_wrapper(vote_after_the_admin_loads_the_tool):
            response = staff.post(admin_url("tools.tool", "change", tool.pk), form)
        assert response.status_code == 302
        assert cast
        assert counters(tool) == recount(tool) == (1, 0)


class TestAddForms:
    @staticmethod
    def tool_form(**overrides: object) -> dict:
        return {
            "name": "Chat Bot",
            "slug": "chat-bot",
            "vendor": VendorFactory().pk,
            "category": CategoryFactory().pk,
            "tagline": "",
            "description": "",
            "is_published": "on",
            "pricing_tier": "free",
            "pricing_label": "",
            "price_from_usd": "",
            "price_unit": "",
            "licence": "",
            "context_window_tokens": "",
            "homepage_url": "",
            "reviews-TOTAL_FORMS": "0",
            "reviews-INITIAL_FORMS": "0",
            "reviews-MIN_NUM_FORMS": "0",
            "reviews-MAX_NUM_FORMS": "1000",
            **overrides,
        }

    def test_a_valid_tool_is_added(self, staff: Client) -> None:
        response = staff.post(admin_url("tools.tool", "add"), self.tool_form())
        assertRedirects(response, admin_url("tools.tool", "changelist"))
        assert Tool.objects.get().slug == "chat-bot"

    @pytest.mark.parametrize("slug", ["chat-vs-code", "vs-code", "chat-vs"])
    def test_a_slug_reserved_for_comparisons_is_a_form_error(self, staff: Client, slug: str) -> None:
        response = staff.post(admin_url("tools.tool", "add"), self.tool_form(slug=slug))
        assert response.status_code == 200
        assert response.context["adminform"].form.errors == {
            "slug": ["A slug may not contain '-vs-' (it separates the tools of a comparison)."]
        }
        assert not Tool.objects.exists()

    def test_a_pair_curated_the_other_way_round_is_a_form_error(self, staff: Client) -> None:
        left, right = ToolFactory(), ToolFactory()
        ComparisonFactory(left_tool=left, right_tool=right)
        response = staff.post(
            admin_url("reviews.comparison", "add"),
            {"left_tool": right.pk, "right_tool": left.pk, "title": "Again", "headline": "", "summary": ""},
        )
        assert response.status_code == 200
        assert response.context["adminform"].form.errors == {
            "__all__": ["These two tools are already curated (in this order or the other)."]
        }
        assert Comparison.objects.count() == 1

    def test_a_tool_compared_with_itself_is_a_form_error(self, staff: Client) -> None:
        tool = ToolFactory()
        response = staff.post(
            admin_url("reviews.comparison", "add"),
            {"left_tool": tool.pk, "right_tool": tool.pk, "title": "Alone", "headline": "", "summary": ""},
        )
        assert response.status_code == 200
        assert response.context["adminform"].form.errors["right_tool"] == ["Pick two different tools."]
        assert not Comparison.objects.exists()
