"""Staff remove votes and accounts in the admin; the tools' community counters stay equal to a recount."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.forms import ModelForm
from django.http import HttpRequest
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import ToolFactory, UserFactory
from tests.helpers import bearer
from tools.admin import ToolAdmin
from tools.models import Tool, Verdict
from votes.management.commands import recount_votes
from votes.models import Vote
from votes.services import vote_cast

pytestmark = pytest.mark.django_db

User = get_user_model()
VOTES = "/admin/votes/vote/"


def _recount(tool: Tool) -> tuple[int, int]:
    return (
        Vote.objects.filter(tool=tool, verdict=Verdict.SHIP).count(),
        Vote.objects.filter(tool=tool, verdict=Verdict.SKIP).count(),
    )


def _counters(tool: Tool) -> tuple[int, int]:
    tool.refresh_from_db()
    return tool.community_ship_count, tool.community_skip_count


def _vote(voter: AbstractBaseUser, tool: Tool, verdict: str) -> Vote:
    return vote_cast(voter=voter, slug=tool.slug, verdict=verdict).vote


def _recount_votes(*args: str) -> str:
    out = StringIO()
    call_command("recount_votes", *args, "--no-progress", stdout=out)
    return out.getvalue()


@pytest.fixture
def alpha(cast_votes) -> Tool:
    tool = ToolFactory(slug="alpha")
    cast_votes(tool, ship=3, skip=2)
    return tool


@pytest.fixture
def beta(cast_votes) -> Tool:
    tool = ToolFactory(slug="beta")
    cast_votes(tool, ship=1, skip=3)
    return tool


class TestAdminRemovesVotes:
    def test_a_single_delete_corrects_the_counter(self, admin_client, alpha: Tool) -> None:
        vote = Vote.objects.filter(tool=alpha, verdict=Verdict.SHIP).first()
        confirm = admin_client.get(f"{VOTES}{vote.pk}/delete/")
        assert confirm.status_code == 200
        assert Vote.objects.filter(pk=vote.pk).exists()
        response = admin_client.post(f"{VOTES}{vote.pk}/delete/", {"post": "yes"})
        assert response.status_code == 302
        assert not Vote.objects.filter(pk=vote.pk).exists()
        assert _counters(alpha) == _recount(alpha) == (2, 2)

    def test_a_bulk_delete_across_tools_and_verdicts_corrects_every_counter(
        self, admin_client, alpha: Tool, beta: Tool
    ) -> None:
        doomed = [
            *Vote.objects.filter(tool=alpha, verdict=Verdict.SHIP).values_list("pk", flat=True)[:2],
            *Vote.objects.filter(tool=alpha, verdict=Verdict.SKIP).values_list("pk", flat=True)[:1],
            *Vote.objects.filter(tool=beta, verdict=Verdict.SKIP).values_list("pk", flat=True)[:3],
        ]
        response = admin_client.post(VOTES, {"action": "delete_selected", "_selected_action": doomed, "post": "yes"})
        assert response.status_code == 302
        assert not Vote.objects.filter(pk__in=doomed).exists()
        assert _counters(alpha) == _recount(alpha) == (1, 1)
        assert _counters(beta) == _recount(beta) == (1, 0)

    def test_the_bulk_confirmation_page_deletes_nothing(self, admin_client, alpha: Tool) -> None:
        ids = list(Vote.objects.filter(tool=alpha).values_list("pk", flat=True))
        response = admin_client.post(VOTES, {"action": "delete_selected", "_selected_action": ids})
        assert response.status_code == 200
        assert "admin/delete_selected_confirmation.html" in [template.name for template in response.templates]
        assert Vote.objects.filter(tool=alpha).count() == 5
        assert _counters(alpha) == (3, 2)

    def test_removing_every_vote_returns_the_tally_to_no_data(self, admin_client, api, alpha: Tool) -> None:
        ids = list(Vote.objects.filter(tool=alpha).values_list("pk", flat=True))
        admin_client.post(VOTES, {"action": "delete_selected", "_selected_action": ids, "post": "yes"})
        assert _counters(alpha) == _recount(alpha) == (0, 0)
        assert api.get("/api/v1/tools/alpha/").json()["community"] == {
            "ship": 0,
            "skip": 0,
            "total": 0,
            "ship_rate": None,
            "ci95": None,
        }

    def test_the_vote_list_costs_the_same_queries_for_more_rows(self, admin_client, alpha: Tool, cast_votes) -> None:
        with CaptureQueriesContext(connection) as five:
            assert admin_client.get(VOTES).status_code == 200
        cast_votes(alpha, ship=4, skip=4)
        with CaptureQueriesContext(connection) as thirteen:
            assert admin_client.get(VOTES).status_code == 200
        assert len(thirteen.captured_queries) == len(five.captured_queries)


class TestAdminRemovesAccounts:
    @pytest.fixture
    def voter(self, alpha: Tool, beta: Tool) -> AbstractBaseUser:
        voter = UserFactory(username="spammer")
        _vote(voter, alpha, Verdict.SHIP)
        _vote(voter, beta, Verdict.SKIP)
        bearer(voter)
        return voter

    def test_deleting_a_voter_removes_their_votes_from_the_counters(
        self, admin_client, voter: AbstractBaseUser, alpha: Tool, beta: Tool
    ) -> None:
        assert (_counters(alpha), _counters(beta)) == ((4, 2), (1, 4))
        assert admin_client.get(f"/admin/auth/user/{voter.pk}/delete/").status_code == 200
        response = admin_client.post(f"/admin/auth/user/{voter.pk}/delete/", {"post": "yes"})
        assert response.status_code == 302
        assert not User.objects.filter(pk=voter.pk).exists()
        assert not Vote.objects.filter(voter_id=voter.pk).exists()
        assert _counters(alpha) == _recount(alpha) == (3, 2)
        assert _counters(beta) == _recount(beta) == (1, 3)

    def test_bulk_deleting_voters_keeps_counters_exact(
        self, admin_client, voter: AbstractBaseUser, alpha: Tool, beta: Tool
    ) -> None:
        other = UserFactory(username="sockpuppet")
        _vote(other, alpha, Verdict.SKIP)
        _vote(other, beta, Verdict.SKIP)
        response = admin_client.post(
            "/admin/auth/user/",
            {"action": "delete_selected", "_selected_action": [voter.pk, other.pk], "post": "yes"},
        )
        assert response.status_code == 302
        assert not User.objects.filter(pk__in=[voter.pk, other.pk]).exists()
        assert _counters(alpha) == _recount(alpha) == (3, 2)
        assert _counters(beta) == _recount(beta) == (1, 3)


class TestAdminHandlesABurst:
    """A burst: fresh accounts voting within minutes of registering. Staff filter for it and remove it."""

    @pytest.fixture
    def burst(self, alpha: Tool, beta: Tool) -> list[AbstractBaseUser]:
        # alpha's five votes come from accounts a month old; five fresh ones pile onto alpha.
        User.objects.update(date_joined=timezone.now() - timedelta(days=45, hours=1))
        puppets = [UserFactory(username=f"puppet{n}", verified=n < 2) for n in range(5)]
        for puppet in puppets:
            _vote(puppet, alpha, Verdict.SKIP)
        _vote(puppets[0], beta, Verdict.SKIP)
        return puppets

    def _listed(self, admin_client, query: str) -> list[int]:
        response = admin_client.get(f"{VOTES}?{query}")
        assert response.status_code == 200
        return sorted(vote.voter_id for vote in response.context["cl"].result_list)

    def test_the_list_shows_account_age_and_verification(self, admin_client, burst, alpha: Tool) -> None:
        html = admin_client.get(f"{VOTES}?tool__id__exact={alpha.pk}").content.decode()
        assert "account age at the vote" in html.lower()
        assert html.count("0\xa0minutes") == 5  # the puppets voted as soon as they registered
        assert html.count("1\xa0month, 2\xa0weeks") == 5
        assert "account created within, before voting" in html

    def test_the_filters_find_the_burst(self, admin_client, burst, alpha: Tool) -> None:
        puppets = sorted(user.pk for user in burst)
        assert self._listed(admin_client, f"tool__id__exact={alpha.pk}&account_age=1h") == puppets
        assert self._listed(admin_client, f"tool__id__exact={alpha.pk}&account_age=1h&verified=no") == puppets[2:]
        assert self._listed(admin_client, f"tool__id__exact={alpha.pk}&counted__exact=1&account_age=1h") == puppets[:2]
        assert len(self._listed(admin_client, f"tool__id__exact={alpha.pk}&account_age=30d")) == 5
        assert len(self._listed(admin_client, f"tool__id__exact={alpha.pk}")) == 10
        assert len(self._listed(admin_client, "verified=yes")) == 12

    def test_one_action_removes_the_filtered_burst_with_exact_counters(
        self, admin_client, burst, alpha: Tool, beta: Tool
    ) -> None:
        assert _counters(alpha) == (3, 4)  # two of the five puppets are verified
        query = f"?tool__id__exact={alpha.pk}&account_age=1h"
        some = Vote.objects.filter(voter=burst[0], tool=alpha).values_list("pk", flat=True)
        response = admin_client.post(
            f"{VOTES}{query}", {"action": "remove_votes", "select_across": "1", "index": "0", "_selected_action": some}
        )
        assert response.status_code == 302
        assert not Vote.objects.filter(tool=alpha, voter__in=burst).exists()
        assert Vote.objects.filter(tool=beta, voter=burst[0]).exists()  # not in the filter
        assert _counters(alpha) == _recount(alpha) == (3, 2)
        assert "all 2 tools match" in _recount_votes()

    def test_deactivating_the_burst_s_voters_takes_all_their_votes_out(
        self, admin_client, burst, alpha: Tool, beta: Tool
    ) -> None:
        ids = list(Vote.objects.filter(tool=alpha, voter__in=burst).values_list("pk", flat=True))
        response = admin_client.post(VOTES, {"action": "deactivate_voters", "_selected_action": ids})
        assert response.status_code == 302
        assert not User.objects.filter(pk__in=[user.pk for user in burst], is_active=True).exists()
        assert Vote.objects.filter(voter__in=burst).count() == 6  # kept, for the record
        assert _counters(alpha) == (3, 2)
        assert _counters(beta) == (1, 3)
        assert "all 2 tools match" in _recount_votes()

    def test_the_filtered_list_costs_the_same_queries_for_more_rows(
        self, admin_client, burst, alpha: Tool, django_assert_num_queries
    ) -> None:
        # The session, the user, the filtered and the full count, the page, the tool filter's
        # choices, the category filter's, and the date levels.
        url = f"{VOTES}?tool__id__exact={alpha.pk}&account_age=1h&verified=no"
        with CaptureQueriesContext(connection) as few:
            admin_client.get(url)
        for _ in range(4):
            _vote(UserFactory(verified=False), alpha, Verdict.SHIP)
        with django_assert_num_queries(len(few.captured_queries)):
            assert len(admin_client.get(url).context["cl"].result_list) == 7


class TestAdminDeactivatesAccounts:
    def _form(self, user: AbstractBaseUser, **changes: str) -> dict[str, str]:
        return {
            "username": user.username,
            "email": user.email,
            "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
            "voter-TOTAL_FORMS": "1",
            "voter-INITIAL_FORMS": "1",
            "voter-MIN_NUM_FORMS": "0",
            "voter-MAX_NUM_FORMS": "1",
            "voter-0-user": str(user.pk),
            **changes,
        }

    def test_unticking_active_in_the_user_form_takes_the_votes_out(self, admin_client, alpha: Tool) -> None:
        voter = UserFactory(username="spammer")
        _vote(voter, alpha, Verdict.SHIP)
        assert _counters(alpha) == (4, 2)
        response = admin_client.post(f"/admin/auth/user/{voter.pk}/change/", self._form(voter, first_name="Spam"))
        assert response.status_code == 302
        voter.refresh_from_db()
        assert (voter.is_active, voter.first_name) == (False, "Spam")
        assert _counters(alpha) == (3, 2)
        response = admin_client.post(
            f"/admin/auth/user/{voter.pk}/change/", self._form(voter, first_name="Spam", is_active="on")
        )
        assert response.status_code == 302
        assert _counters(alpha) == (4, 2)
        assert "all 1 tools match" in _recount_votes()

    def test_the_user_list_actions_deactivate_and_reactivate(self, admin_client, alpha: Tool) -> None:
        voters = [UserFactory(), UserFactory()]
        for voter in voters:
            _vote(voter, alpha, Verdict.SKIP)
        ids = [voter.pk for voter in voters]
        admin_client.post("/admin/auth/user/", {"action": "deactivate", "_selected_action": ids})
        assert _counters(alpha) == (3, 2)
        admin_client.post("/admin/auth/user/", {"action": "activate", "_selected_action": ids})
        assert _counters(alpha) == (3, 4)


class TestAdminCannotWriteVotes:
    def test_the_add_page_is_403(self, admin_client, alpha: Tool) -> None:
        voter = UserFactory()
        assert admin_client.get(f"{VOTES}add/").status_code == 403
        response = admin_client.post(f"{VOTES}add/", {"voter": voter.pk, "tool": alpha.pk, "verdict": "ship"})
        assert response.status_code == 403
        assert not Vote.objects.filter(voter=voter).exists()
        assert _counters(alpha) == (3, 2)

    def test_the_change_page_is_read_only(self, admin_client, alpha: Tool) -> None:
        vote = Vote.objects.filter(tool=alpha, verdict=Verdict.SHIP).first()
        page = admin_client.get(f"{VOTES}{vote.pk}/change/")
        assert page.status_code == 200
        html = page.content.decode()
        assert 'name="_save"' not in html
        assert 'name="verdict"' not in html
        response = admin_client.post(f"{VOTES}{vote.pk}/change/", {"verdict": "skip"})
        assert response.status_code == 403
        vote.refresh_from_db()
        assert vote.verdict == Verdict.SHIP
        assert _counters(alpha) == _recount(alpha) == (3, 2)


class TestAdminEditsTools:
    @staticmethod
    def _change_form(tool: Tool, **changes: str) -> dict[str, str | int]:
        return {
            "name": tool.name,
            "slug": tool.slug,
            "vendor": tool.vendor_id,
            "category": tool.category_id,
            "tagline": tool.tagline,
            "description": tool.description,
            "is_published": "on",
            "pricing_tier": tool.pricing_tier,
            "reviews-TOTAL_FORMS": "0",
            "reviews-INITIAL_FORMS": "0",
            **changes,
        }

    def test_editing_a_tool_leaves_its_counters_alone(self, admin_client, alpha: Tool) -> None:
        response = admin_client.post(f"/admin/tools/tool/{alpha.pk}/change/", self._change_form(alpha, name="Alpha 2"))
        assert response.status_code == 302
        assert _counters(alpha) == _recount(alpha) == (3, 2)
        assert alpha.name == "Alpha 2"

    def test_a_vote_landing_while_staff_edit_the_tool_is_kept(
        self, admin_client, alpha: Tool, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        save_model = ToolAdmin.save_model

        def save_after_a_vote(admin: ToolAdmin, request: HttpRequest, obj: Tool, form: ModelForm, change: bool) -> None:
            # Another request's vote commits between the admin's read of the tool and its write.
            _vote(UserFactory(), alpha, Verdict.SHIP)
            save_model(admin, request, obj, form, change)

        monkeypatch.setattr(ToolAdmin, "save_model", save_after_a_vote)
        response = admin_client.post(f"/admin/tools/tool/{alpha.pk}/change/", self._change_form(alpha, name="Alpha 2"))
        assert response.status_code == 302
        assert _counters(alpha) == _recount(alpha) == (4, 2)


class TestRecountVotes:
    @pytest.fixture
    def tools(self, alpha: Tool, beta: Tool) -> list[Tool]:
        return [alpha, beta, ToolFactory(slug="gamma")]

    def test_exact_counters_all_match(self, tools: list[Tool]) -> None:
        assert _recount_votes() == "all 3 tools match their vote rows\n"

    def test_drift_is_reported_and_fails_the_command(self, tools: list[Tool]) -> None:
        Tool.objects.filter(slug="alpha").update(community_ship_count=99)
        Tool.objects.filter(slug="gamma").update(community_skip_count=1)
        out = StringIO()
        with pytest.raises(CommandError, match=r"^2 of 3 tools drifted; run with --repair to fix them$"):
            call_command("recount_votes", "--no-progress", stdout=out)
        assert sorted(out.getvalue().splitlines()) == [
            "drift: alpha: counters ship=99 skip=2, rows ship=3 skip=2",
            "drift: gamma: counters ship=0 skip=1, rows ship=0 skip=0",
        ]
        assert _counters(tools[0]) == (99, 2)

    def test_repair_sets_the_counters_to_the_recount(self, tools: list[Tool]) -> None:
        alpha, beta, gamma = tools
        Tool.objects.filter(pk=alpha.pk).update(community_ship_count=99)
        out = _recount_votes("--repair")
        assert out.splitlines() == [
            "drift: alpha: counters ship=99 skip=2, rows ship=3 skip=2",
            "repaired 1 of 3 tools",
        ]
        assert [_counters(tool) for tool in tools] == [_recount(tool) for tool in tools] == [(3, 2), (1, 3), (0, 0)]
        assert _recount_votes() == "all 3 tools match their vote rows\n"

    def test_repair_without_drift_changes_nothing(self, tools: list[Tool]) -> None:
        assert _recount_votes("--repair") == "all 3 tools match their vote rows\n"
        assert [_counters(tool) for tool in tools] == [(3, 2), (1, 3), (0, 0)]

    def test_every_batch_is_checked(self, tools: list[Tool], monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(recount_votes, "BATCH", 2)
        ToolFactory(slug="delta")
        last = ToolFactory(slug="epsilon")
        Tool.objects.filter(pk=last.pk).update(community_skip_count=7)
        with pytest.raises(CommandError, match="^1 of 5 tools drifted"):
            _recount_votes()
        _recount_votes("--repair")
        assert _counters(last) == (0, 0)
        assert _recount_votes() == "all 5 tools match their vote rows\n"

    def test_no_tools_all_match(self) -> None:
        assert _recount_votes() == "all 0 tools match their vote rows\n"
