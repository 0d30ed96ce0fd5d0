"""Staff login to the admin: a TOTP second factor when ADMIN_REQUIRE_2FA is on, and django-axes
limits per account and per client address that leave other accounts and the API alone."""

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "not-a-secret-staff-passphrase"


@pytest.fixture(autouse=True)
def fresh_throttles() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def boss() -> User:
    return User.objects.create_superuser("boss", "boss@example.com", PASSWORD)


def code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}}"


def log_in(client: Client, username: str, password: str = PASSWORD, address: str = "203.0.113.1", **otp: str):
    return client.post(LOGIN, {"username": username, "password": password, **otp}, REMOTE_ADDR=address)


class TestTwoFactor:
    @pytest.fixture(autouse=True)
    def required(self, settings) -> None:
        settings.ADMIN_REQUIRE_2FA = True

    def test_the_login_page_asks_for_a_code(self, client: Client) -> None:
        response = client.get(LOGIN)
        assert response.status_code == 200
        assert b'name="otp_token"' in response.content

    def test_a_password_alone_does_not_get_in(self, client: Client, boss: User) -> None:
        TOTPDevice.objects.create(user=boss, name="phone")
        response = log_in(client, "boss")
        assert response.status_code == 200  # the form again, with an error
        assert response.context["form"].errors
        assert client.get("/admin/").status_code == 302

    def test_a_wrong_code_does_not_get_in(self, client: Client, boss: User) -> None:
        device = TOTPDevice.objects.create(user=boss, name="phone")
        wrong = f"{(int(code(device)) + 1) % 10**6:06}"
        log_in(client, "boss", otp_device=device.persistent_id, otp_token=wrong)
        assert client.get("/admin/").status_code == 302

    def test_a_staff_member_without_a_device_cannot_get_in(self, client: Client, boss: User) -> None:
        log_in(client, "boss", otp_token="123456")
        assert client.get("/admin/").status_code == 302
        # Even a session logged in some other way is not verified, so not staff here.
        client.force_login(boss)
        assert client.get("/admin/").status_code == 302

    def test_password_and_a_current_totp_code_get_in(self, client: Client, boss: User) -> None:
        device = TOTPDevice.objects.create(user=boss, name="phone")
        response = log_in(client, "boss", otp_device=device.persistent_id, otp_token=code(device))
        assert response.status_code == 302 and response["Location"] == "/admin/"
        assert client.get("/admin/").status_code == 200

    def test_the_enrol_command_prints_a_working_otpauth_uri(self, client: Client, boss: User) -> None:
        out = io.StringIO()
        call_command("enrol_totp", "boss", stdout=out)
        uri = out.getvalue().strip()
        assert uri.startswith("otpauth://totp/")
        device = TOTPDevice.objects.get(user=boss)
        assert parse_qs(urlsplit(uri).query)["secret"] == [device.config_url.split("secret=")[1].split("&")[0]]
        assert log_in(client, "boss", otp_device=device.persistent_id, otp_token=code(device)).status_code == 302
        assert client.get("/admin/").status_code == 200

    def test_the_enrol_command_refuses_voters(self) -> None:
        UserFactory(username="ada")
        with pytest.raises(Exception, match="not staff"):
            call_command("enrol_totp", "ada")


@pytest.mark.parametrize(("debug", "required"), [("0", "True"), ("1", "False")])
def test_two_factor_is_required_unless_debug(debug: str, required: str) -> None:
    env = {**os.environ, "DEBUG": debug, "SECRET_KEY": "test-only-not-secret"}
    env.pop("ADMIN_REQUIRE_2FA", None)
    script = "import django; django.setup(); from django.conf import settings; print(settings.ADMIN_REQUIRE_2FA)"
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**env, "DJANGO_SETTINGS_MODULE": "compare_api.settings"},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == required


class TestPlainLoginWhenOff:
    def test_password_alone_gets_in(self, client: Client, boss: User, settings) -> None:
        settings.ADMIN_REQUIRE_2FA = False
        assert b'name="otp_token"' not in client.get(LOGIN).content
        assert log_in(client, "boss").status_code == 302
        assert client.get("/admin/").status_code == 200


class TestLockout:
    @pytest.fixture(autouse=True)
    def plain_login(self, settings) -> None:
        settings.ADMIN_REQUIRE_2FA = False
        settings.AXES_FAILURE_LIMIT = 5

    def test_five_failures_lock_the_account_from_any_address_even_with_the_right_password(
        self, client: Client, boss: User
    ) -> None:
        statuses = [log_in(client, "boss", "wrong", address=f"198.51.100.{n}").status_code for n in range(5)]
        assert statuses == [200, 200, 200, 200, 429]  # the form again four times; the fifth failure locks
        locked = log_in(client, "boss", address="192.0.2.50")
        assert locked.status_code == 429
        assert locked.json() == {
            "type": "client_error",
            "errors": [
                {
                    "code": "throttled",
                    "detail": "Too many failed logins for this account or address; try again in 900 seconds.",
                    "attr": None,
                }
            ],
        }
        assert locked["Retry-After"] == "900"
        assert client.get("/admin/").status_code == 302

    def test_every_spelling_of_the_name_counts_for_one_account(self, client: Client, boss: User) -> None:
        for n, typed in enumerate(["boss", "BOSS", "Boss", "ｂｏｓｓ", "bOSS"]):
            log_in(client, typed, "wrong", address=f"198.51.100.{n}")
        assert log_in(client, "boss", address="192.0.2.50").status_code == 429

    def test_one_address_is_locked_for_every_account(self, client: Client, boss: User) -> None:
        for n in range(5):
            log_in(client, f"guess{n}", "wrong", address="198.51.100.7")
        assert log_in(client, "boss", address="198.51.100.7").status_code == 429
        assert log_in(client, "boss", address="198.51.100.8").status_code == 302

    def test_ipv6_addresses_in_one_64_are_one_client(self, client: Client, boss: User) -> None:
        for n in range(5):
            log_in(client, f"guess{n}", "wrong", address=f"2001:db8:5:6::{n + 1:x}")
        assert log_in(client, "boss", address="2001:db8:5:6:ffff::1").status_code == 429
        assert log_in(client, "boss", address="2001:db8:5:7::1").status_code == 302

    def test_another_account_still_logs_in(self, client: Client, boss: User) -> None:
        User.objects.create_superuser("clerk", "clerk@example.com", PASSWORD)
        for n in range(6):
            log_in(client, "boss", "wrong", address=f"198.51.100.{n}")
        assert log_in(Client(), "clerk", address="192.0.2.60").status_code == 302

    def test_the_api_login_is_not_counted_or_locked_by_axes(self, client: Client, boss: User) -> None:
        """The API has its own per-account limit; axes must not count it a second time."""
        api = APIClient()
        for n in range(3):
            answer = api.post(
                "/api/v1/auth/token/",
                {"username": "boss", "password": "x"},
                format="json",
                REMOTE_ADDR=f"198.51.100.{n}",
            )
            assert answer.status_code == 400
        assert not AccessAttempt.objects.exists()
        for n in range(5):
            log_in(client, "boss", "wrong", address=f"198.51.100.{n}")
        assert log_in(client, "boss", address="192.0.2.50").status_code == 429
        # The admin's lock-out is the admin's: the API counts its own failures (3 of 5 so far).
        response = api.post("/api/v1/auth/token/", {"username": "boss", "password": PASSWORD}, format="json")
        assert response.status_code == 200
