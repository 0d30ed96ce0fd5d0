"""Login limits per account, from any address, and per client with IPv6 counted by /64."""

from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.test import RequestFactory
from knox.models import AuthToken
from rest_framework.test import APIClient

from compare_api import throttling
from compare_api.throttling import client_ident
from tests.factories import UserFactory
from tests.helpers import bearer

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
PASSWORD = "correct horse battery staple"  # UserFactory's
WRONG = "not the password at all"
# A multiple of 15 minutes: every window starts here, so Retry-After is the whole period.
WINDOW_START = 1_699_999_200.0
THROTTLED = {
    "type": "client_error",
    "errors": [
        {"code": "throttled", "detail": "Request was throttled. Expected available in 900 seconds.", "attr": None}
    ],
}


@pytest.fixture(autouse=True)
def fresh_throttles() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Set the throttles' clock (seconds after WINDOW_START)."""

    def at(offset: float) -> None:
        monkeypatch.setattr(throttling, "time", SimpleNamespace(time=lambda: WINDOW_START + offset))

    at(0)
    return at


@pytest.fixture
def rates(settings) -> Callable[..., None]:
    def apply(**rates: str) -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
        }

    return apply


def login(api: APIClient, username: str, password: str, address: str = "203.0.113.1") -> tuple[int, dict]:
    response = api.post(TOKEN, {"username": username, "password": password}, format="json", REMOTE_ADDR=address)
    return response.status_code, response


class TestPerAccount:
    def test_five_failures_from_five_addresses_then_429_even_with_the_right_password(
        self, api: APIClient, clock
    ) -> None:
        UserFactory(username="Ada")
        for n in range(5):
            assert login(api, "Ada", WRONG, address=f"198.51.100.{n}")[0] == 400
        status, refused = login(api, "Ada", PASSWORD, address="192.0.2.77")
        assert status == 429
        assert refused.json() == THROTTLED
        assert refused["Retry-After"] == "900"
        assert not AuthToken.objects.exists()

    def test_every_spelling_of_the_name_is_one_account(self, api: APIClient, clock) -> None:
        UserFactory(username="Ada")
        for typed in ("Ada", "ada", "ADA", "ａｄａ", "aDa"):
            assert login(api, typed, WRONG, address="198.51.100.9")[0] == 400
        assert login(api, "ADA", PASSWORD, address="192.0.2.1")[0] == 429

    def test_the_block_ends_with_the_window(self, api: APIClient, clock) -> None:
        UserFactory(username="Ada")
        for n in range(5):
            login(api, "Ada", WRONG, address=f"198.51.100.{n}")
        clock(899)
        status, refused = login(api, "Ada", PASSWORD)
        assert (status, refused["Retry-After"]) == (429, "1")
        clock(900)
        assert login(api, "Ada", PASSWORD)[0] == 200

    def test_successes_do_not_use_up_the_budget(self, api: APIClient, clock, rates) -> None:
        rates(login="1000/min")
        UserFactory(username="Ada")
        for _ in range(4):
            assert login(api, "Ada", WRONG)[0] == 400
        for _ in range(10):
            assert login(api, "Ada", PASSWORD)[0] == 200
        assert login(api, "Ada", WRONG)[0] == 400  # the fifth failure
        assert login(api, "Ada", PASSWORD)[0] == 429

    def test_another_account_is_not_affected(self, api: APIClient, clock) -> None:
        UserFactory(username="Ada"), UserFactory(username="grace")
        for n in range(6):
            login(api, "Ada", WRONG, address=f"198.51.100.{n}")
        assert login(api, "grace", PASSWORD, address="192.0.2.1")[0] == 200

    def test_unknown_names_are_limited_alike(self, api: APIClient, clock) -> None:
        # Otherwise the 429 would tell which names exist.
        for n in range(5):
            assert login(api, "nobody", WRONG, address=f"198.51.100.{n}")[0] == 400
        assert login(api, "nobody", WRONG, address="192.0.2.1")[0] == 429

    def test_wrong_old_passwords_count_too(self, api: APIClient, clock) -> None:
        # A stolen token must not be a way to guess the password without limit.
        ada = UserFactory(username="Ada")
        headers = bearer(ada)
        for _ in range(5):
            response = api.post(
                "/api/v1/auth/password/",
                {"old_password": WRONG, "new_password": "a new long passphrase"},
                format="json",
                **headers,
            )
            assert response.status_code == 400
        assert login(api, "ada", PASSWORD)[0] == 429


class TestPerClient:
    @pytest.mark.parametrize(
        ("address", "ident"),
        [
            ("203.0.113.7", "203.0.113.7"),
            ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
            ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
            ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
            ("::ffff:203.0.113.7", "203.0.113.7"),
        ],
    )
    def test_ipv6_clients_are_counted_by_their_64(self, address: str, ident: str) -> None:
        assert client_ident(RequestFactory().get("/", REMOTE_ADDR=address)) == ident

    def test_rotating_addresses_in_one_64_shares_one_allowance(self, api: APIClient, clock, rates) -> None:
        rates(login="3/min")
        UserFactory(username="Ada")
        statuses = [login(api, "Ada", PASSWORD, address=f"2001:db8:aa:bb::{n:x}")[0] for n in range(1, 5)]
        assert statuses == [200, 200, 200, 429]
        assert login(api, "Ada", PASSWORD, address="2001:db8:aa:bc::1")[0] == 200  # the next /64

    def test_anonymous_reads_count_ipv6_by_64_too(self, api: APIClient, clock, rates) -> None:
        rates(anon="2/min")
        statuses = [api.get("/api/v1/tools/", REMOTE_ADDR=f"2001:db8::{n}").status_code for n in range(1, 4)]
        assert statuses == [200, 200, 429]
