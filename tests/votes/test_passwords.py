"""Tokens revoked on request, on a password change and on a reset; the password reset by email."""

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import cache
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.factories import UserFactory
from tests.helpers import bearer
from votes import accounts

pytestmark = pytest.mark.django_db

User = get_user_model()
TOKEN = "/api/v1/auth/token/"
LOGOUT_ALL = "/api/v1/auth/logout-all/"
PASSWORD_CHANGE = "/api/v1/auth/password/"
RESET = "/api/v1/auth/password-reset/"
CONFIRM = "/api/v1/auth/password-reset/confirm/"
OLD = "correct horse battery staple"  # UserFactory's
NEW = "a brand new passphrase 7"
ACCEPTED = {"detail": "If an account has that address, a link to set a new password is on its way."}
BAD_LINK = {
    "type": "validation_error",
    "errors": [{"code": "invalid", "detail": "This link is invalid or has expired.", "attr": "token"}],
}


@pytest.fixture(autouse=True)
def fresh_throttles() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def ada() -> User:
    return UserFactory(username="Ada", email="Ada@Example.com")


def works(api: APIClient, headers: dict) -> bool:
    return api.get("/api/v1/tools/alpha/vote/", **headers).status_code != 401


def login(api: APIClient, password: str) -> int:
    return api.post(TOKEN, {"username": "ada", "password": password}, format="json").status_code


_run_tasks: list = []


@pytest.fixture(autouse=True)
def _worker(run_tasks) -> None:
    _run_tasks[:] = [run_tasks]


def delivered() -> list:
    """The outbox once the task worker has run: reset emails go through the queue."""
    _run_tasks[0]()
    return mail.outbox


def reset_link() -> str:
    (message,) = delivered()
    (link,) = re.findall(r"http\S+", message.body)
    return link


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


class TestLogoutAll:
    def test_204_and_every_token_of_the_account_stops_working(self, api: APIClient, ada: User) -> None:
        phone, laptop, other = bearer(ada), bearer(ada), bearer(UserFactory())
        response = api.post(LOGOUT_ALL, **phone)
        assert (response.status_code, response.content) == (204, b"")
        assert not works(api, phone) and not works(api, laptop)
        assert works(api, other)
        assert not AuthToken.objects.filter(user=ada).exists()

    def test_without_a_token_is_401(self, api: APIClient) -> None:
        assert api.post(LOGOUT_ALL).status_code == 401


class TestPasswordChange:
    def test_204_the_new_password_works_and_every_token_is_revoked(self, api: APIClient, ada: User) -> None:
        phone, laptop = bearer(ada), bearer(ada)
        response = api.post(PASSWORD_CHANGE, {"old_password": OLD, "new_password": NEW}, format="json", **phone)
        assert (response.status_code, response.content) == (204, b"")
        assert not works(api, phone) and not works(api, laptop)
        assert (login(api, OLD), login(api, NEW)) == (400, 200)

    def test_a_wrong_old_password_is_400_on_old_password_and_changes_nothing(self, api: APIClient, ada: User) -> None:
        phone = bearer(ada)
        response = api.post(PASSWORD_CHANGE, {"old_password": "nope", "new_password": NEW}, format="json", **phone)
        assert (response.status_code, response.json()) == (
            400,
            {
                "type": "validation_error",
                "errors": [
                    {"code": "invalid", "detail": "Your old password was entered incorrectly.", "attr": "old_password"}
                ],
            },
        )
        assert works(api, phone) and login(api, OLD) == 200

    def test_a_weak_new_password_is_400_on_new_password(self, api: APIClient, ada: User) -> None:
        phone = bearer(ada)
        response = api.post(PASSWORD_CHANGE, {"old_password": OLD, "new_password": "ada"}, format="json", **phone)
        assert response.status_code == 400
        assert {(e["attr"], e["code"]) for e in response.json()["errors"]} == {
            ("new_password", "password_too_short"),
            ("new_password", "password_too_similar"),
            ("new_password", "password_too_common"),
        }
        assert works(api, phone)

    def test_without_a_token_is_401(self, api: APIClient) -> None:
        assert api.post(PASSWORD_CHANGE, {"old_password": OLD, "new_password": NEW}, format="json").status_code == 401


class TestPasswordReset:
    def test_202_and_an_email_with_a_link_from_public_base_url(self, api: APIClient, ada: User, settings) -> None:
        settings.PUBLIC_BASE_URL = "https://verdicts.example"
        settings.ALLOWED_HOSTS = ["*"]  # which `check --deploy` accepts: the Host must still not make the link
        response = api.post(RESET, {"email": "ADA@example.COM"}, format="json", HTTP_HOST="evil.example")
        assert (response.status_code, response.json()) == (202, ACCEPTED)
        (message,) = delivered()
        assert message.to == ["Ada@Example.com"]
        assert message.subject == "Reset your AI Tool Verdicts password"
        assert reset_link().startswith("https://verdicts.example/api/v1/auth/password-reset/confirm/?token=")
        assert "evil.example" not in message.body

    def test_an_unknown_address_gets_the_same_answer_and_no_email(self, api: APIClient, ada: User) -> None:
        response = api.post(RESET, {"email": "nobody@example.com"}, format="json")
        assert (response.status_code, response.json()) == (202, ACCEPTED)
        assert delivered() == []

    def test_an_inactive_account_gets_no_email(self, api: APIClient, ada: User) -> None:
        User.objects.filter(pk=ada.pk).update(is_active=False)
        assert api.post(RESET, {"email": "ada@example.com"}, format="json").status_code == 202
        assert delivered() == []

    def test_one_email_per_address_per_window_whoever_asks(self, api: APIClient, ada: User) -> None:
        answers = [
            api.post(RESET, {"email": "ada@example.com"}, format="json", REMOTE_ADDR=f"198.51.100.{n}")
            for n in range(4)
        ]
        assert [(a.status_code, a.json()) for a in answers] == [(202, ACCEPTED)] * 4
        assert len(delivered()) == 1

    def test_the_link_sets_a_new_password_once_and_revokes_every_token(self, api: APIClient, ada: User) -> None:
        phone = bearer(ada)
        api.post(RESET, {"email": "ada@example.com"}, format="json")
        token = token_of(reset_link())
        assert api.get(CONFIRM, {"token": token}).status_code == 200
        response = api.post(CONFIRM, {"token": token, "new_password": NEW}, format="json")
        assert (response.status_code, response.json()) == (
            200,
            {"detail": "Password changed. Log in with the new password."},
        )
        assert not works(api, phone)
        assert (login(api, OLD), login(api, NEW)) == (400, 200)
        # Single-use: the password it hashed has changed (and so has the last login).
        again = api.post(CONFIRM, {"token": token, "new_password": "yet another passphrase 9"}, format="json")
        assert (again.status_code, again.json()) == (400, BAD_LINK)
        assert api.get(CONFIRM, {"token": token}).json() == BAD_LINK
        assert login(api, NEW) == 200

    def test_the_link_expires(self, api: APIClient, ada: User, settings, monkeypatch) -> None:
        token = accounts.password_reset_token(user=ada)
        later = datetime.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 1)
        monkeypatch.setattr("django.contrib.auth.tokens.PasswordResetTokenGenerator._now", lambda self: later)
        response = api.post(CONFIRM, {"token": token, "new_password": NEW}, format="json")
        assert (response.status_code, response.json()) == (400, BAD_LINK)
        assert login(api, OLD) == 200

    @pytest.mark.parametrize("token", ["", "x", "MQ.x", "!!!.abc-def", "MTIzNDU2Nzg5.abc-def", "\u00e9.\u00e9"])
    def test_a_bad_token_is_400_on_token(self, api: APIClient, ada: User, token: str) -> None:
        response = api.post(CONFIRM, {"token": token, "new_password": NEW}, format="json")
        assert response.status_code == 400
        assert response.json()["errors"][0]["attr"] == "token"
        assert login(api, OLD) == 200

    def test_a_weak_new_password_is_400_and_the_link_still_works(self, api: APIClient, ada: User) -> None:
        token = accounts.password_reset_token(user=ada)
        weak = api.post(CONFIRM, {"token": token, "new_password": "12345"}, format="json")
        assert weak.status_code == 400
        assert {e["attr"] for e in weak.json()["errors"]} == {"new_password"}
        assert api.post(CONFIRM, {"token": token, "new_password": NEW}, format="json").status_code == 200

    def test_another_accounts_token_does_not_fit(self, api: APIClient, ada: User) -> None:
        grace = UserFactory(username="grace")
        _, secret = accounts.password_reset_token(user=grace).split(".")
        uid, _ = accounts.password_reset_token(user=ada).split(".")
        response = api.post(CONFIRM, {"token": f"{uid}.{secret}", "new_password": NEW}, format="json")
        assert (response.status_code, response.json()) == (400, BAD_LINK)
