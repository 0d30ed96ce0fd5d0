"""Usernames that cannot impersonate: one account per canonical form (NFKC, case-folded),
none whose TR39 skeleton matches another's, lengths counted after normalisation."""

import hashlib
import importlib

import pytest
from django.apps import apps as global_apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import UserFactory
from votes import usernames
from votes.models import UsernameClaim

pytestmark = pytest.mark.django_db

User = get_user_model()
REGISTER = "/api/v1/auth/register/"
TOKEN = "/api/v1/auth/token/"
PASSWORD = "analytical-engine-1843"
TAKEN = {"code": "unique", "detail": "A user with that username already exists.", "attr": "username"}
LOOKS_TAKEN = {
    "code": "confusable",
    "detail": "This username looks the same as an existing account's; choose another.",
    "attr": "username",
}


def register(api: APIClient, username: str) -> tuple[int, dict]:
    email = f"{hashlib.sha256(username.encode()).hexdigest()[:16]}@example.com"  # one account per address
    response = api.post(REGISTER, {"username": username, "email": email, "password": PASSWORD}, format="json")
    return response.status_code, response.json()


class TestForms:
    @pytest.mark.parametrize(
        ("username", "canonical", "skeleton"),
        [
            ("Ada", "ada", "ada"),
            ("ＡＤＡ", "ada", "ada"),  # fullwidth
            ("аda", "аda", "ada"),  # Cyrillic а
            ("Αda", "αda", "ada"),  # Greek capital alpha
            ("ﬃ", "ffi", "ffi"),  # a ligature: one character, three after NFKC
            ("Straße", "strasse", "strasse"),
            ("paypal", "paypal", "paypal"),
            ("paypaI", "paypai", "paypai"),  # case folding comes first: capital I is i
            ("rn", "rn", "rn"),
            ("m", "m", "rn"),  # TR39: m and rn look alike
        ],
    )
    def test_canonical_and_skeleton(self, username: str, canonical: str, skeleton: str) -> None:
        assert (usernames.canonical(username), usernames.skeleton(username)) == (canonical, skeleton)


class TestRegistration:
    @pytest.mark.parametrize(
        ("look_alike", "error"),
        [
            ("Ada", TAKEN),
            ("ADA", TAKEN),
            ("ａｄａ", TAKEN),  # fullwidth: the same canonical form
            ("аda", LOOKS_TAKEN),  # Cyrillic а: another letter that looks the same
            ("Αda", LOOKS_TAKEN),  # Greek Α
            ("АDА", LOOKS_TAKEN),  # Cyrillic capitals
        ],
    )
    def test_a_look_alike_of_an_existing_account_is_400_on_username(
        self, api: APIClient, look_alike: str, error: dict
    ) -> None:
        UserFactory(username="Ada")
        assert register(api, look_alike) == (400, {"type": "validation_error", "errors": [error]})
        assert User.objects.count() == 1

    def test_the_check_is_one_query(self, api: APIClient, django_assert_num_queries) -> None:
        UserFactory(username="Ada")
        # the exact-name check (DRF's UniqueValidator), the forms, then the address's (votes.Voter)
        with django_assert_num_queries(3):
            assert register(api, "Αda")[0] == 400

    def test_a_name_that_only_resembles_is_accepted(self, api: APIClient) -> None:
        UserFactory(username="Ada")
        assert register(api, "Adam")[0] == 201
        claim = UsernameClaim.objects.get(user__username="Adam")
        assert (claim.canonical, claim.skeleton) == ("adam", "adarn")  # TR39: m looks like rn

    def test_the_stored_username_is_nfkc_and_claims_its_forms(self, api: APIClient) -> None:
        assert register(api, "ＧｒａｃｅＨ")[0] == 201
        user = User.objects.get()
        assert user.username == "GraceH"
        assert (user.username_claim.canonical, user.username_claim.skeleton) == ("graceh", "graceh")

    def test_the_length_is_counted_after_normalisation(self, api: APIClient) -> None:
        # 60 characters as sent, 180 once NFKC turns each ligature into three letters: once a 500.
        status, body = register(api, "ﬃ" * 60)
        assert (status, body) == (
            400,
            {
                "type": "validation_error",
                "errors": [
                    {
                        "code": "max_length",
                        "detail": "Ensure this field has no more than 150 characters "
                        "(counted after Unicode normalisation).",
                        "attr": "username",
                    }
                ],
            },
        )
        assert not User.objects.exists()

    def test_a_name_at_the_limit_after_normalisation_is_accepted(self, api: APIClient) -> None:
        assert register(api, "ﬃ" * 50)[0] == 201
        assert User.objects.get().username == "ffi" * 50

    def test_characters_are_checked_after_normalisation(self, api: APIClient) -> None:
        # ¼ is a letter-like character; NFKC makes it 1⁄4, with a fraction slash no username may hold.
        status, body = register(api, "ada¼")
        assert status == 400
        assert body["errors"][0]["attr"] == "username" and body["errors"][0]["code"] == "invalid"

    def test_losing_the_race_for_a_look_alike_is_400_not_500(self, api: APIClient, monkeypatch) -> None:
        # The other registration commits between this one's check and its insert.
        UserFactory(username="Ada")
        monkeypatch.setattr(usernames, "conflict", lambda username, **kwargs: None)
        assert register(api, "Αda") == (400, {"type": "validation_error", "errors": [TAKEN]})
        assert User.objects.count() == 1


class TestLogin:
    @pytest.mark.parametrize("typed", ["Ada", "ada", "ADA", "ａｄａ"])
    def test_any_case_or_width_logs_in_to_the_account(self, api: APIClient, typed: str) -> None:
        UserFactory(username="Ada")
        response = api.post(TOKEN, {"username": typed, "password": "correct horse battery staple"}, format="json")
        assert response.status_code == 200

    @pytest.mark.parametrize("typed", ["аda", "Αda"])
    def test_a_look_alike_is_not_the_account(self, api: APIClient, typed: str) -> None:
        UserFactory(username="Ada")
        response = api.post(TOKEN, {"username": typed, "password": "correct horse battery staple"}, format="json")
        assert response.status_code == 400


class TestAdmin:
    def test_staff_cannot_rename_an_account_into_a_look_alike(self, client: Client, settings) -> None:
        settings.ADMIN_REQUIRE_2FA = False
        admin = User.objects.create_superuser("boss", "boss@example.com", "not-a-secret")
        client.force_login(admin)
        UserFactory(username="Ada")
        eve = UserFactory(username="eve")
        response = client.post(
            f"/admin/auth/user/{eve.pk}/change/",
            {"username": "Αda", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00", "is_active": "on"},
        )
        assert response.status_code == 200
        assert response.context["adminform"].form.errors["username"] == [
            "This username looks the same as an existing account's; choose another."
        ]
        eve.refresh_from_db()
        assert eve.username == "eve"

    def test_a_rename_moves_the_claim(self, client: Client, settings) -> None:
        settings.ADMIN_REQUIRE_2FA = False
        client.force_login(User.objects.create_superuser("boss", "boss@example.com", "not-a-secret"))
        eve = UserFactory(username="eve")
        response = client.post(
            f"/admin/auth/user/{eve.pk}/change/",
            {
                "username": "Evelyn",
                "date_joined_0": "2026-01-01",
                "date_joined_1": "00:00:00",
                "is_active": "on",
                # the Voter inline's (read-only) formset
                "voter-TOTAL_FORMS": "1",
                "voter-INITIAL_FORMS": "1",
                "voter-MIN_NUM_FORMS": "0",
                "voter-MAX_NUM_FORMS": "1",
                "voter-0-id": str(eve.voter.pk),
                "voter-0-user": str(eve.pk),
            },
        )
        assert response.status_code == 302
        assert UsernameClaim.objects.get(user=eve).canonical == "evelyn"


def test_the_migration_claims_existing_accounts_oldest_first() -> None:
    """Accounts from before: look-alikes already exist; the oldest keeps each form."""
    migration = importlib.import_module("votes.migrations.0004_usernameclaim")
    ada, fullwidth, cyrillic, grace = (User.objects.create(username=name) for name in ("Ada", "ａｄａ", "аda", "grace"))
    migration.claim_existing_usernames(global_apps, None)
    claims = {c.user_id: (c.canonical, c.skeleton) for c in UsernameClaim.objects.all()}
    assert claims == {
        ada.pk: ("ada", "ada"),
        fullwidth.pk: (None, None),  # shares both with Ada
        cyrillic.pk: ("аda", None),  # its own canonical form, Ada's skeleton
        grace.pk: ("grace", "grace"),
    }


def test_claim_usernames_covers_accounts_made_outside_registration(capsys) -> None:
    UserFactory(username="Ada")
    staff = User.objects.create_superuser("boss", "boss@example.com", "x")  # as createsuperuser does
    clash = User.objects.create(username="аda")  # Cyrillic а: Ada's look-alike, made by a script
    call_command("claim_usernames")
    assert UsernameClaim.objects.get(user=staff).skeleton == "boss"
    assert (UsernameClaim.objects.get(user=clash).canonical, UsernameClaim.objects.get(user=clash).skeleton) == (
        None,
        None,
    )
    out, err = capsys.readouterr()
    assert (out, err) == (
        "1 claimed, 1 left unclaimed\n",
        "'аda' looks like an existing account: rename it in the admin\n",
    )
