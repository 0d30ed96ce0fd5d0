"""Verified voters: one account per address, a verification link, votes that count only once verified
and while active, and at most one email a day per address."""

import re
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail, signing
from django.core.cache import cache
from django.db.models import F
from django.test import Client, override_settings
from django.utils import timezone

from tests.factories import ToolFactory, UserFactory
from tests.helpers import bearer
from tools.models import Tool
from votes import services
from votes.models import MailRecipient, Vote, Voter

pytestmark = pytest.mark.django_db

User = get_user_model()

REGISTER = "/api/v1/auth/register/"
VERIFY = "/api/v1/auth/verify/"
RESEND = "/api/v1/auth/verify/resend/"
SUBSCRIBE = "/api/v1/newsletter/subscriptions/"
PASSWORD = "analytical-engine-1843"
LINK = re.compile(r"^(http://127\.0\.0\.1:8000/api/v1/auth/verify/)\?token=(\S+)$", re.MULTILINE)
VERIFIED = {"detail": "Email address verified: your votes count."}
BAD_LINK = {
    "type": "validation_error",
    "errors": [{"code": "invalid", "detail": "This link is invalid or has expired.", "attr": "token"}],
}
RESENT = {"detail": "If your address may receive another email now, a new verification link is on its way."}


def _error(code: str, detail: str, attr: str | None) -> dict:
    return {"type": "validation_error", "errors": [{"code": code, "detail": detail, "attr": attr}]}


@pytest.fixture(autouse=True)
def fresh_throttles() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def tool() -> Tool:
    return ToolFactory(slug="alpha")


def _register(api: Client, username: str = "ada", email: str = "ada@example.com", **extra: str):
    return api.post(REGISTER, {"username": username, "email": email, "password": PASSWORD}, format="json", **extra)


def _token(message: mail.EmailMessage) -> str:
    [(_, token)] = LINK.findall(message.body)
    return token


def _a_day_passes() -> None:
    MailRecipient.objects.update(last_mailed_at=F("last_mailed_at") - timedelta(hours=24))


def _counters(tool: Tool) -> tuple[int, int]:
    tool.refresh_from_db()
    return tool.community_ship_count, tool.community_skip_count


def _vote(api: Client, user, verdict: str = "ship") -> dict:
    response = api.put("/api/v1/tools/alpha/vote/", {"verdict": verdict}, format="json", **bearer(user))
    assert response.status_code in (200, 201)
    return response.json()


class _Delivered(Sequence):
    """The outbox as its recipients see it: reading it first runs the due tasks, as the
    worker would (verification emails go through the task queue)."""

    def __init__(self, outbox: list, run_tasks: Callable[[], int]) -> None:
        self._outbox, self._run_tasks = outbox, run_tasks

    def __getitem__(self, index: int):
        self._run_tasks()
        return self._outbox[index]

    def __len__(self) -> int:
        self._run_tasks()
        return len(self._outbox)


@pytest.fixture
def mailoutbox(mailoutbox: list, run_tasks: Callable[[], int]) -> _Delivered:
    return _Delivered(mailoutbox, run_tasks)


class TestRegistration:
    def test_an_account_is_made_unverified_and_mailed_a_link(self, api, mailoutbox) -> None:
        response = _register(api, email="Ada.Lovelace+verdicts@Example.COM")
        assert response.status_code == 201
        # Kept as given for sending (Django lower-cases only the domain, which is case-blind).
        assert response.json() == {"username": "ada", "email": "Ada.Lovelace+verdicts@example.com"}
        user = User.objects.get(username="ada")
        assert user.email == "Ada.Lovelace+verdicts@example.com"
        voter = Voter.objects.get(user=user)
        assert (voter.email_normalised, voter.email_verified_at, voter.votes_count) == (
            "ada.lovelace@example.com",
            None,
            False,
        )
        [message] = mailoutbox
        assert message.to == ["Ada.Lovelace+verdicts@example.com"]
        assert message.subject == "Confirm your email address for AI Tool Verdicts"
        token = _token(message)
        assert message.body == (
            "Hello ada,\n\n"
            "Your community votes count once your email address is confirmed. "
            "Confirm it by opening this link (it works for 48 hours):\n"
            f"http://127.0.0.1:8000/api/v1/auth/verify/?token={token}\n\n"
            "Didn't create an account? Ignore this email: the account's votes will not count.\n"
        )
        assert signing.loads(token, salt=services.VERIFY_SALT) == {"id": user.pk, "email": "ada.lovelace@example.com"}

    def test_links_come_from_public_base_url_never_from_the_host_header(
        self, api, settings, mailoutbox, run_tasks
    ) -> None:
        settings.ALLOWED_HOSTS = ["*"]
        settings.PUBLIC_BASE_URL = "https://verdicts.example"
        assert _register(api, HTTP_HOST="evil.example").status_code == 201
        assert (
            api.post(SUBSCRIBE, {"email": "reader@example.com"}, format="json", HTTP_HOST="evil.example").status_code
            == 202
        )
        run_tasks()  # the newsletter's email is a queued task
        assert len(mailoutbox) == 2
        for message in mailoutbox:
            assert "evil.example" not in message.body
            assert re.findall(r"https?://[^/\s]+", message.body) == ["https://verdicts.example"] * (
                1 if "auth/verify" in message.body else 2
            )

    @pytest.mark.parametrize(
        "variant", ["ADA@example.com", "ada@EXAMPLE.com", "ada+second@example.com", " Ada+x@Example.com "]
    )
    def test_one_account_per_address_compared_normalised(self, api, variant: str) -> None:
        assert _register(api, "ada", "ada@example.com").status_code == 201
        response = _register(api, "grace", variant)
        assert response.status_code == 400
        assert response.json() == _error("unique", "An account with this email address already exists.", "email")
        assert User.objects.count() == Voter.objects.count() == 1

    def test_a_race_for_an_address_lost_at_the_insert_is_400_not_500(self, api, monkeypatch) -> None:
        # The other registration commits between this one's check and its insert.
        UserFactory(username="grace", email="ada@example.com")
        monkeypatch.setattr(Voter.objects, "filter", lambda **kw: Voter.objects.none())
        response = _register(api, "ada", "ada@example.com")
        assert response.status_code == 400
        assert response.json() == _error("unique", "An account with this email address already exists.", "email")
        assert list(User.objects.values_list("username", flat=True)) == ["grace"]

    @pytest.mark.parametrize("email", ["bot@mailinator.com", "bot@eu.mailinator.com", "bot@Guerrillamail.com"])
    def test_disposable_mail_domains_are_refused(self, api, email: str, mailoutbox) -> None:
        response = _register(api, email=email)
        assert response.status_code == 400
        assert response.json() == _error("disposable", "Addresses at disposable-mail domains cannot register.", "email")
        assert not User.objects.exists() and not mailoutbox


class TestVerification:
    def test_the_link_by_get_verifies_and_the_votes_already_cast_start_to_count(
        self, api, tool: Tool, mailoutbox
    ) -> None:
        _register(api)
        user = User.objects.get(username="ada")
        assert _vote(api, user)["counted"] is False
        assert _counters(tool) == (0, 0)
        response = api.get(VERIFY, {"token": _token(mailoutbox[0])})
        assert (response.status_code, response.json()) == (200, VERIFIED)
        voter = Voter.objects.get(user=user)
        assert voter.email_verified_at is not None and voter.votes_count
        assert Vote.objects.get(voter=user).counted
        assert _counters(tool) == (1, 0)
        assert _vote(api, user, "skip")["counted"] is True
        assert _counters(tool) == (0, 1)

    def test_the_token_by_post_verifies(self, api, mailoutbox) -> None:
        _register(api)
        response = api.post(VERIFY, {"token": _token(mailoutbox[0])}, format="json")
        assert (response.status_code, response.json()) == (200, VERIFIED)
        assert Voter.objects.get(user__username="ada").email_verified_at is not None

    def test_a_second_use_changes_nothing(self, api, tool: Tool, mailoutbox) -> None:
        _register(api)
        token = _token(mailoutbox[0])
        api.get(VERIFY, {"token": token})
        first = Voter.objects.get(user__username="ada").email_verified_at
        _vote(api, User.objects.get(username="ada"))
        assert api.get(VERIFY, {"token": token}).json() == VERIFIED
        assert Voter.objects.get(user__username="ada").email_verified_at == first
        assert _counters(tool) == (1, 0)

    def test_the_link_works_for_48_hours(self, api, mailoutbox, monkeypatch) -> None:
        _register(api)
        token = _token(mailoutbox[0])
        issued = timezone.now().timestamp()
        monkeypatch.setattr(signing.time, "time", lambda: issued + 48 * 3600 + 1)
        response = api.get(VERIFY, {"token": token})
        assert (response.status_code, response.json()) == (400, BAD_LINK)
        monkeypatch.setattr(signing.time, "time", lambda: issued + 48 * 3600 - 60)
        assert api.get(VERIFY, {"token": token}).status_code == 200

    @pytest.mark.parametrize(
        "token",
        [
            "nope",
            signing.dumps({"id": 1, "email": "ada@example.com"}, salt="newsletter.confirm"),  # another link's salt
            signing.dumps({"id": 1, "email": "someone@example.com"}, salt=services.VERIFY_SALT),  # not its address
            signing.dumps([1, "ada@example.com"], salt=services.VERIFY_SALT),
            signing.dumps("ada", salt=services.VERIFY_SALT),
        ],
    )
    def test_a_bad_token_is_400_and_changes_nothing(self, api, token: str) -> None:
        _register(api)
        for response in (api.get(VERIFY, {"token": token}), api.post(VERIFY, {"token": token}, format="json")):
            assert (response.status_code, response.json()) == (400, BAD_LINK)
        assert Voter.objects.get(user__username="ada").email_verified_at is None

    def test_a_missing_token_is_400_on_token(self, api) -> None:
        for response in (api.get(VERIFY), api.post(VERIFY, {}, format="json")):
            assert response.status_code == 400
            assert response.json()["errors"][0]["attr"] == "token"

    def test_verifying_a_deactivated_account_does_not_make_its_votes_count(self, api, tool: Tool, mailoutbox) -> None:
        _register(api)
        user = User.objects.get(username="ada")
        _vote(api, user)
        services.voter_set_active(user=user, active=False)
        assert api.get(VERIFY, {"token": _token(mailoutbox[0])}).status_code == 200
        assert _counters(tool) == (0, 0)
        assert not Vote.objects.get(voter=user).counted
        services.voter_set_active(user=user, active=True)
        assert _counters(tool) == (1, 0)


class TestResend:
    def test_a_day_after_the_first_email_a_new_link_goes(self, api, mailoutbox) -> None:
        _register(api)
        user = User.objects.get(username="ada")
        auth = bearer(user)
        # Within the day of the registration email nothing goes, and the answer is the same.
        assert (api.post(RESEND, **auth).status_code, api.post(RESEND, **auth).json()) == (202, RESENT)
        assert len(mailoutbox) == 1
        _a_day_passes()
        response = api.post(RESEND, **auth)
        assert (response.status_code, response.json()) == (202, RESENT)
        assert len(mailoutbox) == 2
        assert api.get(VERIFY, {"token": _token(mailoutbox[1])}).status_code == 200

    def test_a_verified_account_is_told_so(self, api) -> None:
        response = api.post(RESEND, **bearer(UserFactory()))
        assert response.status_code == 400
        assert response.json() == _error(
            "already_verified", "This account's email address is verified already.", "non_field_errors"
        )

    def test_an_account_with_no_address_is_told_so(self, api) -> None:
        user = User.objects.create_user("legacy", password=PASSWORD)
        response = api.post(RESEND, **bearer(user))
        assert response.status_code == 400
        assert response.json() == _error("no_email", "This account has no email address to verify.", "non_field_errors")

    def test_anonymous_is_401(self, api) -> None:
        assert api.post(RESEND).status_code == 401

    @pytest.fixture
    def rates(self, settings):
        def apply(**rates: str) -> None:
            settings.REST_FRAMEWORK = {
                **settings.REST_FRAMEWORK,
                "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
            }

        return apply

    def test_limited_per_account_from_any_address(self, api, rates) -> None:
        rates(verify_resend="2/hour", verify_resend_ip="100/hour")
        auth = bearer(UserFactory(verified=False))
        assert [api.post(RESEND, **auth).status_code for _ in range(3)] == [202, 202, 429]
        assert api.post(RESEND, REMOTE_ADDR="10.0.0.9", **auth).status_code == 429
        assert api.post(RESEND, **bearer(UserFactory(verified=False))).status_code == 202

    def test_limited_per_client_address_whatever_the_account(self, api, rates) -> None:
        rates(verify_resend="100/hour", verify_resend_ip="2/hour")
        statuses = [api.post(RESEND, **bearer(UserFactory(verified=False))).status_code for _ in range(3)]
        assert statuses == [202, 202, 429]
        assert api.post(RESEND, REMOTE_ADDR="10.0.0.9", **bearer(UserFactory(verified=False))).status_code == 202


class TestOneEmailADayPerAddress:
    def test_newsletter_and_verification_share_the_allowance(self, api, mailoutbox, run_tasks) -> None:
        _register(api, email="ada@example.com")
        assert api.post(SUBSCRIBE, {"email": "ADA+news@example.com"}, format="json").status_code == 202
        assert run_tasks() == 1  # the verification email; the newsletter's found the day's email taken
        assert len(mailoutbox) == 1

    def test_sign_ups_from_many_clients_mail_the_victim_once(self, api, mailoutbox, run_tasks) -> None:
        bodies = {
            api.post(SUBSCRIBE, {"email": f"victim+{n}@example.com"}, format="json", REMOTE_ADDR=f"10.0.0.{n}").content
            for n in range(25)
        }
        assert bodies == {b'{"detail":"If that address can receive mail, a confirmation link is on its way."}'}
        assert run_tasks() == 1
        assert len(mailoutbox) == 1
        _a_day_passes()
        api.post(SUBSCRIBE, {"email": "victim@example.com"}, format="json", REMOTE_ADDR="10.0.1.1")
        assert run_tasks() == 1
        assert len(mailoutbox) == 2

    def test_the_allowance_holds_with_the_cache_down(self, api, mailoutbox, run_tasks) -> None:
        # An unreachable Redis: rate limits fail open, the daily email limit is in the database.
        dead_redis = {
            "default": {
                "BACKEND": "compare_api.cache.RedisCache",
                "LOCATION": "redis://127.0.0.1:1/0",
                "OPTIONS": {"socket_connect_timeout": 0.05, "socket_timeout": 0.05},
            }
        }
        with override_settings(CACHES=dead_redis):
            statuses = [
                api.post(
                    SUBSCRIBE, {"email": "victim@example.com"}, format="json", REMOTE_ADDR=f"10.0.0.{n}"
                ).status_code
                for n in range(5)
            ]
        assert statuses == [202] * 5
        assert run_tasks() == 1
        assert len(mailoutbox) == 1

    def test_a_failing_mail_server_changes_no_answer(self, api, mailoutbox, monkeypatch) -> None:
        def refuse(**kwargs) -> None:
            raise ConnectionRefusedError

        monkeypatch.setattr(services.emails, "deliver", refuse)
        assert _register(api).status_code == 201
        assert Voter.objects.filter(user__username="ada").exists()


class TestStanding:
    """Deactivating, reactivating and deleting move the voter's votes in or out of every tally."""

    def test_deactivating_takes_every_vote_out_and_reactivating_puts_it_back(self, api, cast_votes) -> None:
        alpha, beta = ToolFactory(slug="alpha"), ToolFactory(slug="beta")
        cast_votes(alpha, ship=2)
        cast_votes(beta, skip=1)
        user = UserFactory()
        services.vote_cast(voter=user, slug="alpha", verdict="skip")
        services.vote_cast(voter=user, slug="beta", verdict="skip")
        assert (_counters(alpha), _counters(beta)) == ((2, 1), (0, 2))
        services.voter_set_active(user=user, active=False)
        assert (_counters(alpha), _counters(beta)) == ((2, 0), (0, 1))
        assert not Voter.objects.get(user=user).votes_count
        assert set(Vote.objects.filter(voter=user).values_list("counted", flat=True)) == {False}
        services.voter_set_active(user=user, active=True)
        assert (_counters(alpha), _counters(beta)) == ((2, 1), (0, 2))

    def test_reactivating_an_unverified_account_counts_nothing(self, tool: Tool) -> None:
        user = UserFactory(verified=False)
        services.vote_cast(voter=user, slug="alpha", verdict="ship")
        services.voter_set_active(user=user, active=False)
        services.voter_set_active(user=user, active=True)
        assert _counters(tool) == (0, 0)

    def test_deleting_removes_only_what_counted(self, tool: Tool) -> None:
        counted, uncounted = UserFactory(), UserFactory(verified=False)
        for user in (counted, uncounted):
            services.vote_cast(voter=user, slug="alpha", verdict="ship")
        assert _counters(tool) == (1, 0)
        services.voter_delete(voter=uncounted)
        assert _counters(tool) == (1, 0)
        services.voter_delete(voter=counted)
        assert _counters(tool) == (0, 0)
        assert not Vote.objects.exists()

    def test_withdrawing_an_uncounted_vote_moves_nothing(self, tool: Tool, cast_votes) -> None:
        cast_votes(tool, ship=1)
        user = UserFactory(verified=False)
        services.vote_cast(voter=user, slug="alpha", verdict="ship")
        services.vote_cast(voter=user, slug="alpha", verdict="skip")
        assert _counters(tool) == (1, 0)
        services.vote_withdraw(voter=user, slug="alpha")
        assert _counters(tool) == (1, 0)

    def test_an_account_without_a_voter_row_votes_uncounted(self, tool: Tool) -> None:
        staff = User.objects.create_superuser("root", "root@example.com", PASSWORD)
        result = services.vote_cast(voter=staff, slug="alpha", verdict="ship")
        assert (result.created, result.vote.counted, _counters(tool)) == (True, False, (0, 0))
