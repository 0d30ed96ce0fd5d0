"""Voter accounts: register, exchange a password for a bearer token, log out; the per-IP limits on both."""

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.http import HttpResponse
from django.utils import timezone
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS
from rest_framework.fields import DateTimeField
from rest_framework.test import APIClient
from rest_framework.validators import UniqueValidator

from compare_api import throttling
from tests.factories import ToolFactory, UserFactory
from tests.helpers import bearer

pytestmark = pytest.mark.django_db

User = get_user_model()

REGISTER = "/api/v1/auth/register/"
TOKEN = "/api/v1/auth/token/"
LOGOUT = "/api/v1/auth/logout/"
VOTE = "/api/v1/tools/alpha/vote/"
PASSWORD = "correct horse battery staple"  # UserFactory's
# A multiple of an hour, so every window starts here and Retry-After is the whole period.
WINDOW_START = 1_699_999_200.0
TOO_SHORT = ("password_too_short", "This password is too short. It must contain at least 8 characters.")
TOO_COMMON = ("password_too_common", "This password is too common.")
NUMERIC = ("password_entirely_numeric", "This password is entirely numeric.")
WEAK_PASSWORDS = [
    ("ada", "Xq9!vB", [TOO_SHORT]),
    ("ada", "qwertyuiop", [TOO_COMMON]),
    ("ada", "83920174659", [NUMERIC]),
    (
        "margaret.hamilton",
        "margaret.hamilton",
        [("password_too_similar", "The password is too similar to the username.")],
    ),
    ("ada", "1234567", [TOO_SHORT, TOO_COMMON, NUMERIC]),
]


def _error(code: str, detail: str, attr: str | None = None, kind: str = "client_error") -> dict:
    return {"type": kind, "errors": [{"code": code, "detail": detail, "attr": attr}]}


BAD_CREDENTIALS = _error(
    "invalid_credentials",
    "Unable to log in with the username and password given.",
    attr="non_field_errors",
    kind="validation_error",
)


@pytest.fixture(autouse=True)
def fresh_throttles() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def frozen_throttle_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every request falls in one window, so a limit cannot reset halfway through a test."""
    monkeypatch.setattr(throttling, "time", SimpleNamespace(time=lambda: WINDOW_START))


@pytest.fixture
def throttle_settings(settings, frozen_throttle_clock) -> Callable[..., None]:
    def apply(*, num_proxies: int = 0, **rates: str) -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "NUM_PROXIES": num_proxies,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
        }

    return apply


def _login(api: APIClient, username: str, password: str = PASSWORD, **extra: str) -> HttpResponse:
    return api.post(TOKEN, {"username": username, "password": password}, format="json", **extra)


def _token_row(token: str) -> AuthToken:
    return AuthToken.objects.get(token_key=token[: CONSTANTS.TOKEN_KEY_LENGTH])


class TestRegister:
    def test_201_echoes_username_and_email_never_the_password(self, api) -> None:
        response = api.post(
            REGISTER,
            {"username": "ada", "password": "analytical-engine-1843", "email": "ada@example.com"},
            format="json",
        )
        assert response.status_code == 201
        assert response.json() == {"username": "ada", "email": "ada@example.com"}
        assert b"analytical" not in response.content

    def test_email_is_required(self, api) -> None:
        response = api.post(REGISTER, {"username": "ada", "password": "analytical-engine-1843"}, format="json")
        assert response.status_code == 400
        assert response.json() == _error("required", "This field is required.", "email", "validation_error")
        blank = api.post(
            REGISTER, {"username": "ada", "password": "analytical-engine-1843", "email": ""}, format="json"
        )
        assert blank.json() == _error("blank", "This field may not be blank.", "email", "validation_error")
        assert not User.objects.exists()

    def test_the_password_is_stored_hashed(self, api) -> None:
        api.post(
            REGISTER,
            {"username": "ada", "email": "ada@example.com", "password": "analytical-engine-1843"},
            format="json",
        )
        user = User.objects.get(username="ada")
        assert "analytical-engine-1843" not in user.password
        assert user.check_password("analytical-engine-1843")
        assert user.is_active and not user.is_staff and not user.is_superuser

    def test_the_new_account_can_log_in(self, api) -> None:
        api.post(
            REGISTER,
            {"username": "ada", "email": "ada@example.com", "password": "analytical-engine-1843"},
            format="json",
        )
        assert _login(api, "ada", "analytical-engine-1843").status_code == 200

    @pytest.mark.parametrize(("username", "password", "errors"), WEAK_PASSWORDS)
    def test_a_weak_password_is_400_on_password_with_the_validators_code(
        self, api, username: str, password: str, errors: list[tuple[str, str]]
    ) -> None:
        response = api.post(
            REGISTER, {"username": username, "email": f"{username}@example.com", "password": password}, format="json"
        )
        assert response.status_code == 400
        assert response.json() == {
            "type": "validation_error",
            "errors": [{"code": code, "detail": detail, "attr": "password"} for code, detail in errors],
        }
        assert not User.objects.exists()

    def test_a_password_similar_to_the_email_is_refused(self, api) -> None:
        response = api.post(
            REGISTER,
            {"username": "ada", "email": "lovelace.countess@example.com", "password": "lovelace.countess"},
            format="json",
        )
        assert response.status_code == 400
        assert response.json()["errors"][0]["attr"] == "password"
        assert response.json()["errors"][0]["detail"] == "The password is too similar to the email address."

    def test_a_taken_username_is_400_on_username(self, api) -> None:
        UserFactory(username="ada")
        response = api.post(
            REGISTER,
            {"username": "ada", "email": "countess@example.com", "password": "analytical-engine-1843"},
            format="json",
        )
        assert response.status_code == 400
        assert response.json() == {
            "type": "validation_error",
            "errors": [{"code": "unique", "detail": "A user with that username already exists.", "attr": "username"}],
        }
        assert User.objects.count() == 1

    def test_losing_the_race_for_a_username_is_400_not_500(self, api, monkeypatch: pytest.MonkeyPatch) -> None:
        # The other registration commits between this one's uniqueness check and its insert.
        UserFactory(username="ada")
        monkeypatch.setattr(UniqueValidator, "__call__", lambda self, value, serializer_field: None)
        response = api.post(
            REGISTER,
            {"username": "ada", "email": "countess@example.com", "password": "analytical-engine-1843"},
            format="json",
        )
        assert response.status_code == 400
        assert response.json() == {
            "type": "validation_error",
            "errors": [{"code": "unique", "detail": "A user with that username already exists.", "attr": "username"}],
        }
        assert User.objects.count() == 1

    def test_missing_fields_are_400_each_named(self, api) -> None:
        response = api.post(REGISTER, {}, format="json")
        assert response.status_code == 400
        assert response.json() == {
            "type": "validation_error",
            "errors": [
                {"code": "required", "detail": "This field is required.", "attr": "username"},
                {"code": "required", "detail": "This field is required.", "attr": "email"},
                {"code": "required", "detail": "This field is required.", "attr": "password"},
            ],
        }

    def test_an_invalid_email_is_400_on_email(self, api) -> None:
        response = api.post(
            REGISTER,
            {"username": "ada", "password": "analytical-engine-1843", "email": "not-an-address"},
            format="json",
        )
        assert response.status_code == 400
        assert response.json() == {
            "type": "validation_error",
            "errors": [{"code": "invalid", "detail": "Enter a valid email address.", "attr": "email"}],
        }
        assert not User.objects.exists()

    def test_a_request_cannot_make_itself_staff(self, api) -> None:
        response = api.post(
            REGISTER,
            {
                "username": "ada",
                "email": "ada@example.com",
                "password": "analytical-engine-1843",
                "is_staff": True,
                "is_superuser": True,
            },
            format="json",
        )
        assert response.status_code == 201
        user = User.objects.get(username="ada")
        assert (user.is_staff, user.is_superuser) == (False, False)


class TestToken:
    def test_200_with_the_token_and_its_expiry(self, api) -> None:
        UserFactory(username="ada")
        response = _login(api, "ada")
        assert response.status_code == 200
        token = response.json()["token"]
        row = _token_row(token)
        assert response.json() == {"token": token, "expiry": DateTimeField().to_representation(row.expiry)}
        assert timedelta(days=29, hours=23) < row.expiry - row.created <= timedelta(days=30)

    def test_the_token_is_stored_as_a_digest(self, api) -> None:
        UserFactory(username="ada")
        token = _login(api, "ada").json()["token"]
        row = _token_row(token)
        assert row.digest != token
        assert row.digest == hash_token(token)
        assert token not in {row.digest, row.token_key}

    @pytest.mark.parametrize(("username", "password"), [("ada", "wrong horse battery staple"), ("nobody", PASSWORD)])
    def test_bad_credentials_share_one_answer(self, api, username: str, password: str) -> None:
        UserFactory(username="ada")
        response = _login(api, username, password)
        assert (response.status_code, response.json()) == (400, BAD_CREDENTIALS)
        assert not AuthToken.objects.exists()

    def test_a_blank_password_is_400_on_password(self, api) -> None:
        UserFactory(username="ada")
        response = _login(api, "ada", "")
        assert (response.status_code, response.json()) == (
            400,
            _error("blank", "This field may not be blank.", "password", kind="validation_error"),
        )

    def test_unknown_user_and_wrong_password_are_indistinguishable(self, api) -> None:
        UserFactory(username="ada")
        unknown = _login(api, "nobody")
        wrong = _login(api, "ada", "wrong horse battery staple")
        assert (unknown.status_code, unknown.content) == (wrong.status_code, wrong.content)

    def test_an_inactive_account_gets_the_same_answer(self, api) -> None:
        UserFactory(username="ada", is_active=False)
        response = _login(api, "ada")
        assert (response.status_code, response.json()) == (400, BAD_CREDENTIALS)

    def test_missing_fields_are_400_each_named(self, api) -> None:
        response = api.post(TOKEN, {}, format="json")
        assert response.status_code == 400
        assert response.json() == {
            "type": "validation_error",
            "errors": [
                {"code": "required", "detail": "This field is required.", "attr": "username"},
                {"code": "required", "detail": "This field is required.", "attr": "password"},
            ],
        }

    def test_the_token_authenticates_vote_reads(self, api) -> None:
        ToolFactory(slug="alpha")
        UserFactory(username="ada")
        token = _login(api, "ada").json()["token"]
        response = api.get(VOTE, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 404
        assert response.json() == _error("not_found", "You have not voted on this tool.")

    def test_an_expired_token_is_401_and_removed(self, api) -> None:
        ToolFactory(slug="alpha")
        UserFactory(username="ada")
        token = _login(api, "ada").json()["token"]
        AuthToken.objects.filter(digest=hash_token(token)).update(expiry=timezone.now() - timedelta(seconds=1))
        response = api.get(VOTE, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Bearer"
        assert response.json() == _error("authentication_failed", "Invalid token.")
        assert not AuthToken.objects.exists()

    def test_a_deactivated_voters_token_is_401(self, api) -> None:
        ToolFactory(slug="alpha")
        user = UserFactory(username="ada")
        auth = bearer(user)
        User.objects.filter(pk=user.pk).update(is_active=False)
        response = api.get(VOTE, **auth)
        assert response.status_code == 401
        assert response.json() == _error("authentication_failed", "User inactive or deleted.")

    @pytest.mark.parametrize(
        ("header", "detail"),
        [
            ("Bearer 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "Invalid token."),
            ("Bearer not-a-token", "Invalid token."),
            ("Bearer \xff\xfe", "Invalid token."),
            ("Bearer abc\x00def", "Invalid token."),
            ("Bearer " + "a" * 10_000, "Invalid token."),
            ("Bearer", "Invalid token header. No credentials provided."),
            ("Bearer a b", "Invalid token header. Token string should not contain spaces."),
        ],
    )
    def test_a_bad_authorization_header_is_401_never_500(self, api, header: str, detail: str) -> None:
        ToolFactory(slug="alpha")
        UserFactory(username="ada")
        _login(api, "ada")
        for response in (api.get(VOTE, HTTP_AUTHORIZATION=header), api.post(LOGOUT, HTTP_AUTHORIZATION=header)):
            assert response.status_code == 401
            assert response["WWW-Authenticate"] == "Bearer"
            assert response["Content-Type"] == "application/json"
            assert response.json() == _error("authentication_failed", detail)
        assert AuthToken.objects.count() == 1


@pytest.mark.parametrize("url", [REGISTER, TOKEN])
def test_an_oversized_body_is_a_client_error_not_500(url: str) -> None:
    body = json.dumps({"username": "ada", "password": "x" * 3_000_000})
    response = APIClient(raise_request_exception=False).generic("POST", url, body, content_type="application/json")
    assert response.status_code in {400, 413}
    assert response.json()["type"] == "client_error"
    assert not User.objects.exists()


class TestLogout:
    def test_204_then_the_token_is_refused(self, api) -> None:
        ToolFactory(slug="alpha")
        UserFactory(username="ada")
        auth = {"HTTP_AUTHORIZATION": f"Bearer {_login(api, 'ada').json()['token']}"}
        response = api.post(LOGOUT, **auth)
        assert response.status_code == 204
        assert response.content == b""
        assert not AuthToken.objects.exists()
        for again in (api.get(VOTE, **auth), api.post(LOGOUT, **auth)):
            assert again.status_code == 401
            assert again.json() == _error("authentication_failed", "Invalid token.")

    def test_only_the_token_used_is_revoked(self, api) -> None:
        ToolFactory(slug="alpha")
        user = UserFactory(username="ada")
        phone, laptop = bearer(user), bearer(user)
        assert api.post(LOGOUT, **phone).status_code == 204
        assert api.get(VOTE, **laptop).status_code == 404
        assert AuthToken.objects.filter(user=user).count() == 1

    def test_without_a_token_is_401(self, api) -> None:
        response = api.post(LOGOUT)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Bearer"
        assert response.json() == _error("not_authenticated", "Authentication credentials were not provided.")


class TestThrottles:
    def test_login_is_limited_per_client_ip(self, api, throttle_settings) -> None:
        throttle_settings(login="3/min")
        UserFactory(username="ada")
        answers = [_login(api, "ada", "wrong horse battery staple") for _ in range(3)]
        assert [a.status_code for a in answers] == [400, 400, 400]
        assert [(a["RateLimit-Limit"], a["RateLimit-Remaining"], a["RateLimit-Reset"]) for a in answers] == [
            ("3", "2", "60"),
            ("3", "1", "60"),
            ("3", "0", "60"),
        ]
        refused = _login(api, "ada")
        assert refused.status_code == 429
        assert refused.json() == _error("throttled", "Request was throttled. Expected available in 60 seconds.")
        assert refused["Retry-After"] == "60"
        assert (refused["RateLimit-Limit"], refused["RateLimit-Remaining"], refused["RateLimit-Reset"]) == (
            "3",
            "0",
            "60",
        )
        assert not AuthToken.objects.exists()

    def test_registration_is_limited_per_client_ip(self, api, throttle_settings) -> None:
        throttle_settings(register="2/hour")
        codes = [
            api.post(
                REGISTER,
                {"username": name, "email": f"{name}@example.com", "password": "analytical-engine-1843"},
                format="json",
            ).status_code
            for name in ("ada", "grace", "hedy")
        ]
        assert codes == [201, 201, 429]
        assert sorted(User.objects.values_list("username", flat=True)) == ["ada", "grace"]
        refused = api.post(
            REGISTER,
            {"username": "hedy", "email": "hedy@example.com", "password": "analytical-engine-1843"},
            format="json",
        )
        assert (refused["Retry-After"], refused["RateLimit-Remaining"], refused["RateLimit-Reset"]) == (
            "3600",
            "0",
            "3600",
        )

    def test_another_ip_has_its_own_allowance(self, api, throttle_settings) -> None:
        throttle_settings(login="2/min")
        UserFactory(username="ada")
        for _ in range(2):
            _login(api, "ada", REMOTE_ADDR="203.0.113.5")
        assert _login(api, "ada", REMOTE_ADDR="203.0.113.5").status_code == 429
        other = _login(api, "ada", REMOTE_ADDR="203.0.113.6")
        assert other.status_code == 200
        assert other["RateLimit-Remaining"] == "1"

    def test_login_and_registration_are_counted_apart(self, api, throttle_settings) -> None:
        throttle_settings(login="1/min", register="1/min")
        UserFactory(username="ada")
        assert _login(api, "ada").status_code == 200
        assert (
            api.post(
                REGISTER,
                {"username": "grace", "email": "grace@example.com", "password": "analytical-engine-1843"},
                format="json",
            ).status_code
            == 201
        )
        assert _login(api, "ada").status_code == 429

    def test_x_forwarded_for_is_ignored_without_trusted_proxies(self, api, throttle_settings) -> None:
        throttle_settings(login="2/min", num_proxies=0)
        UserFactory(username="ada")
        for spoof in ("198.51.100.1", "198.51.100.2"):
            assert _login(api, "ada", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR=spoof).status_code == 200
        refused = _login(api, "ada", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="198.51.100.3")
        assert refused.status_code == 429

    def test_x_forwarded_for_is_honoured_behind_one_proxy(self, api, throttle_settings) -> None:
        throttle_settings(login="2/min", num_proxies=1)
        UserFactory(username="ada")
        proxy = {"REMOTE_ADDR": "10.0.0.1"}
        for _ in range(2):
            assert _login(api, "ada", HTTP_X_FORWARDED_FOR="198.51.100.1", **proxy).status_code == 200
        assert _login(api, "ada", HTTP_X_FORWARDED_FOR="198.51.100.1", **proxy).status_code == 429
        # The proxy appends the address it saw: a client-written entry in front changes nothing.
        assert _login(api, "ada", HTTP_X_FORWARDED_FOR="192.0.2.9, 198.51.100.1", **proxy).status_code == 429
        assert _login(api, "ada", HTTP_X_FORWARDED_FOR="198.51.100.2", **proxy).status_code == 200
