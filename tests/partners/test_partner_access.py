"""Partner API keys (issued, rotated and revoked in the admin), their daily usage, the rate-limit tiers and CORS."""

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.contrib.admin.utils import quote
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from compare_api import throttling
from partners import usage
from partners.models import PartnerKey, PartnerKeyUsage, Tier
from tests.factories import ToolFactory, UserFactory
from tests.helpers import bearer
from tools.models import Tool, Verdict
from votes.models import Vote
from votes.services import vote_cast

pytestmark = pytest.mark.django_db

TOOLS = "/api/v1/tools/"
ADD_URL = "/admin/partners/partnerkey/add/"
CHANGELIST = "/admin/partners/partnerkey/"
KEY_RE = re.compile(r"[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}")
# The throttle's clock, 30 s into a minute window: a test's requests never straddle two windows.
NOW = 1_800_000_030.0
MALFORMED = "Malformed API key: send `X-API-Key: <key>` or `Authorization: Api-Key <key>`."
REVOKED = "This API key has been revoked or has expired."
THROTTLED = "Request was throttled. Expected available in 30 seconds."


def error(code: str, detail: str) -> dict:
    return {"type": "client_error", "errors": [{"code": code, "detail": detail, "attr": None}]}


def api_key(key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Api-Key {key}"}


def partner_key(
    *, owner: AbstractBaseUser | None = None, tier: str = Tier.STANDARD, **fields
) -> tuple[PartnerKey, str]:
    """A key as the admin issues it: the row, and the key shown once."""
    return PartnerKey.objects.create_key(name="Acme", owner=owner or UserFactory(), tier=tier, **fields)


def limits(response: HttpResponse) -> tuple[str, str, str]:
    return response["RateLimit-Limit"], response["RateLimit-Remaining"], response["RateLimit-Reset"]


@pytest.fixture(autouse=True)
def frozen_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(throttling, "time", SimpleNamespace(time=lambda: NOW))


@pytest.fixture(autouse=True)
def no_pending_usage() -> Iterator[None]:
    """Usage counts wait in process memory; counts for keys of a rolled-back test must not reach another test."""
    usage._pending.clear()
    yield
    usage._pending.clear()


@pytest.fixture
def admin(client: Client) -> Client:
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def small_limits(settings) -> None:
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **rates,
            "anon": "3/min",
            "partner_standard": "5/min",
            "partner_premium": "8/min",
            "voter": "4/min",
        },
    }


def admin_add_key(admin: Client, *, owner: AbstractBaseUser, name: str = "Acme", tier: str = Tier.STANDARD) -> str:
    """Submit the admin's add form; return the key from the one message that shows it."""
    form = {
        "name": name,
        "owner": owner.pk,
        "tier": tier,
        "expiry_date_0": "",
        "expiry_date_1": "",
        "usage-TOTAL_FORMS": "0",
        "usage-INITIAL_FORMS": "0",
        "usage-MIN_NUM_FORMS": "0",
        "usage-MAX_NUM_FORMS": "0",
        "_save": "Save",
    }
    response = admin.post(ADD_URL, form, follow=True)
    assert response.redirect_chain == [(CHANGELIST, 302)]
    shown = [key for message in response.context["messages"] for key in KEY_RE.findall(str(message))]
    assert len(shown) == 1
    assert shown[0] in response.content.decode()
    return shown[0]


def admin_revoke(admin: Client, *keys: PartnerKey) -> list[str]:
    form = {"action": "revoke", "_selected_action": [key.pk for key in keys], "index": "0"}
    response = admin.post(CHANGELIST, form, follow=True)
    assert response.status_code == 200
    return [str(message) for message in response.context["messages"]]


class TestKeyLifecycle:
    def test_a_new_key_is_shown_once_and_stored_hashed(self, admin: Client) -> None:
        owner = UserFactory()
        key = admin_add_key(admin, owner=owner, name="Acme prod", tier=Tier.PREMIUM)
        assert key not in admin.get(CHANGELIST).content.decode()

        row = PartnerKey.objects.values().get()
        prefix, _, secret = key.partition(".")
        assert (row["name"], row["owner_id"], row["tier"], row["prefix"]) == ("Acme prod", owner.pk, "premium", prefix)
        assert (row["revoked"], row["expiry_date"]) == (False, None)
        assert row["hashed_key"] != key
        assert not [column for column, value in row.items() if secret in str(value)]

    def test_a_key_reads_until_it_is_revoked_in_the_admin(self, admin: Client, api: APIClient) -> None:
        key = admin_add_key(admin, owner=UserFactory())
        response = api.get(TOOLS, **api_key(key))
        assert response.status_code == 200
        assert response.json()["results"] == []

        assert admin_revoke(admin, PartnerKey.objects.get()) == ["Revoked 1 keys."]
        response = api.get(TOOLS, **api_key(key))
        assert response.status_code == 403
        assert response.json() == error("permission_denied", REVOKED)

    def test_rotation_both_keys_work_until_the_old_one_is_revoked(self, admin: Client, api: APIClient) -> None:
        owner = UserFactory()
        old = admin_add_key(admin, owner=owner, name="Acme 2025")
        new = admin_add_key(admin, owner=owner, name="Acme 2026")
        assert old != new
        assert [api.get(TOOLS, **api_key(key)).status_code for key in (old, new)] == [200, 200]

        admin_revoke(admin, PartnerKey.objects.get(name="Acme 2025"))
        assert [api.get(TOOLS, **api_key(key)).status_code for key in (old, new)] == [403, 200]
        assert list(owner.partner_keys.order_by("name").values_list("name", "revoked")) == [
            ("Acme 2025", True),
            ("Acme 2026", False),
        ]

    def test_an_expired_key_is_403_and_a_key_not_yet_expired_reads(self, api: APIClient) -> None:
        _, expired = partner_key(expiry_date=timezone.now() - timedelta(minutes=1))
        _, current = partner_key(expiry_date=timezone.now() + timedelta(days=1))
        response = api.get(TOOLS, **api_key(expired))
        assert response.status_code == 403
        assert response.json() == error("permission_denied", REVOKED)
        assert api.get(TOOLS, **api_key(current)).status_code == 200

    def test_unknown_keys_are_401(self, api: APIClient) -> None:
        _, key = partner_key()
        prefix = key.partition(".")[0]
        for unknown in ("AbCd1234." + "x" * 32, f"{prefix}.{'x' * 32}"):
            response = api.get(TOOLS, **api_key(unknown))
            assert response.status_code == 401
            assert response["WWW-Authenticate"] == "Api-Key"
            assert response.json() == error("authentication_failed", "Unknown API key.")

    @pytest.mark.parametrize(
        "header",
        [
            "Api-Key",
            "Api-Key abc",
            "Api-Key a.b c",
            "api-key  ",
            f"Api-Key {'a' * 8}.{'b' * 32} extra",
            f"Api-Key {'a' * 8}.{'b' * 31}\x00",
            f"Api-Key abcdéfgh.{'b' * 32}",
            # A UTF-8 key as a WSGI server hands it over (header bytes decoded as Latin-1).
            "Api-Key " + f"ключ1234.{'b' * 32}".encode().decode("latin-1"),
        ],
    )
    def test_malformed_keys_are_401_never_500(self, api: APIClient, header: str) -> None:
        response = api.get(TOOLS, HTTP_AUTHORIZATION=header)
        assert response.status_code == 401
        assert response.json() == error("authentication_failed", MALFORMED)


class TestDailyUsage:
    @pytest.fixture(autouse=True)
    def flush_every_request(self, settings) -> None:
        settings.PARTNER_USAGE_FLUSH_EVERY = 1

    def test_each_request_is_counted_for_its_own_key_today(self, api: APIClient) -> None:
        busy, busy_key = partner_key()
        quiet, quiet_key = partner_key()
        yesterday = timezone.now().date() - timedelta(days=1)
        PartnerKeyUsage.objects.create(key=busy, day=yesterday, requests=40)
        for _ in range(3):
            assert api.get(TOOLS, **api_key(busy_key)).status_code == 200
        api.get(TOOLS, **api_key(quiet_key))
        api.get(TOOLS)  # anonymous: nobody's usage

        assert sorted(PartnerKeyUsage.objects.values_list("key_id", "day", "requests")) == sorted(
            [
                (busy.pk, yesterday, 40),
                (busy.pk, timezone.now().date(), 3),
                (quiet.pk, timezone.now().date(), 1),
            ]
        )

    def test_refused_requests_are_not_counted(self, api: APIClient) -> None:
        _, key = partner_key(revoked=True)
        assert api.get(TOOLS, **api_key(key)).status_code == 403
        assert api.get(TOOLS, **api_key(key[:-1] + "_")).status_code == 401
        assert not PartnerKeyUsage.objects.exists()

    def test_the_admin_changelist_shows_requests_today(self, admin: Client, api: APIClient) -> None:
        busy, busy_key = partner_key()
        quiet, _ = partner_key()
        PartnerKeyUsage.objects.create(key=busy, day=timezone.now().date() - timedelta(days=1), requests=40)
        for _ in range(4):
            api.get(TOOLS, **api_key(busy_key))

        response = admin.get(CHANGELIST)
        assert response.status_code == 200
        assert "Requests today" in response.content.decode()
        shown = {key.pk: key.requests_today for key in response.context["cl"].result_list}
        assert shown == {busy.pk: 4, quiet.pk: 0}
        assert '<td class="field-requests_today">4</td>' in response.content.decode()

    def test_counts_are_written_in_batches_and_none_is_lost(
        self, api: APIClient, settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        settings.PARTNER_USAGE_FLUSH_EVERY = 3
        settings.PARTNER_USAGE_FLUSH_SECONDS = 3600
        monkeypatch.setattr(usage, "_last_flush", time.monotonic())
        key, raw = partner_key()
        for _ in range(2):
            api.get(TOOLS, **api_key(raw))
        assert not PartnerKeyUsage.objects.exists()
        for _ in range(5):
            api.get(TOOLS, **api_key(raw))
        assert PartnerKeyUsage.objects.get(key=key).requests == 6
        usage.usage_flush()
        assert PartnerKeyUsage.objects.get(key=key).requests == 7

    @pytest.mark.django_db(transaction=True)
    def test_deleting_a_key_breaks_no_other_partners_request(
        self, admin: Client, settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        settings.PARTNER_USAGE_FLUSH_EVERY = 2
        settings.PARTNER_USAGE_FLUSH_SECONDS = 3600
        monkeypatch.setattr(usage, "_last_flush", time.monotonic())
        api = APIClient(raise_request_exception=False)
        gone, gone_key = partner_key()
        other, other_key = partner_key()
        assert api.get(TOOLS, **api_key(gone_key)).status_code == 200  # counted, not yet written
        assert (
            admin.post(reverse("admin:partners_partnerkey_delete", args=[quote(gone.pk)]), {"post": "yes"}).status_code
            == 302
        )
        assert not PartnerKey.objects.filter(pk=gone.pk).exists()

        assert api.get(TOOLS, **api_key(other_key)).status_code == 200
        assert PartnerKeyUsage.objects.get(key=other).requests == 1


class TestPartnerIsNotAVoter:
    def test_a_vote_with_a_partner_key_is_401_and_casts_nothing(self, api: APIClient) -> None:
        tool = ToolFactory(slug="alpha")
        _, key = partner_key()
        for method in ("put", "get", "delete"):
            response = getattr(api, method)(
                "/api/v1/tools/alpha/vote/", {"verdict": "ship"}, format="json", **api_key(key)
            )
            assert response.status_code == 401
            assert response["WWW-Authenticate"] == "Bearer"
            assert response.json() == error("not_authenticated", "Authentication credentials were not provided.")
        assert not Vote.objects.exists()
        tool.refresh_from_db()
        assert (tool.community_ship_count, tool.community_skip_count) == (0, 0)


@pytest.mark.usefixtures("small_limits")
class TestRateLimits:
    def assert_throttled(self, response: HttpResponse, limit: int) -> None:
        assert response.status_code == 429
        assert response.json() == error("throttled", THROTTLED)
        assert 1 <= int(response["Retry-After"]) <= 60
        assert response["Retry-After"] == "30"
        assert limits(response) == (str(limit), "0", "30")

    def test_anonymous_headers_count_down_to_a_429(self, api: APIClient) -> None:
        seen = [limits(api.get(TOOLS)) for _ in range(3)]
        assert seen == [("3", "2", "30"), ("3", "1", "30"), ("3", "0", "30")]
        self.assert_throttled(api.get(TOOLS), 3)
        self.assert_throttled(api.get("/api/v1/tools/nope/"), 3)

    def test_every_kind_of_api_response_is_counted_and_carries_the_headers(self, api: APIClient) -> None:
        ToolFactory(slug="alpha")
        first = api.get("/api/v1/tools/alpha/")
        not_modified = api.get("/api/v1/tools/alpha/", HTTP_IF_NONE_MATCH=first["ETag"])
        missing = api.get("/api/v1/tools/nope/")
        assert [r.status_code for r in (first, not_modified, missing)] == [200, 304, 404]
        assert [limits(r) for r in (first, not_modified, missing)] == [
            ("3", "2", "30"),
            ("3", "1", "30"),
            ("3", "0", "30"),
        ]

    def test_anonymous_clients_are_counted_per_ip(self, api: APIClient) -> None:
        for _ in range(3):
            api.get(TOOLS, REMOTE_ADDR="203.0.113.7")
        self.assert_throttled(api.get(TOOLS, REMOTE_ADDR="203.0.113.7"), 3)
        # X-Forwarded-For is not trusted (NUM_PROXIES=0): claiming another address gets no new allowance.
        self.assert_throttled(api.get(TOOLS, REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="198.51.100.1"), 3)

        other = api.get(TOOLS, REMOTE_ADDR="203.0.113.8")
        assert other.status_code == 200
        assert limits(other) == ("3", "2", "30")

    def test_each_partner_key_has_its_own_allowance(self, api: APIClient) -> None:
        owner = UserFactory()
        _, first = partner_key(owner=owner)
        _, second = partner_key(owner=owner)
        seen = [limits(api.get(TOOLS, **api_key(first)))[1] for _ in range(5)]
        assert seen == ["4", "3", "2", "1", "0"]
        self.assert_throttled(api.get(TOOLS, **api_key(first)), 5)

        other = api.get(TOOLS, **api_key(second))
        assert (other.status_code, limits(other)) == (200, ("5", "4", "30"))
        anonymous = api.get(TOOLS)  # same address, but partners do not use the anonymous allowance
        assert (anonymous.status_code, limits(anonymous)) == (200, ("3", "2", "30"))

    def test_a_premium_key_gets_the_premium_limit(self, api: APIClient) -> None:
        _, key = partner_key(tier=Tier.PREMIUM)
        seen = [api.get(TOOLS, **api_key(key)) for _ in range(8)]
        assert {r.status_code for r in seen} == {200}
        assert [limits(r) for r in seen][::7] == [("8", "7", "30"), ("8", "0", "30")]
        self.assert_throttled(api.get(TOOLS, **api_key(key)), 8)

    def test_voters_are_counted_per_account(self, api: APIClient) -> None:
        voter, other = UserFactory(), UserFactory()
        phone, laptop = bearer(voter), bearer(voter)
        seen = [limits(api.get(TOOLS, **token)) for token in (phone, laptop, phone, laptop)]
        assert seen == [("4", "3", "30"), ("4", "2", "30"), ("4", "1", "30"), ("4", "0", "30")]
        self.assert_throttled(api.get(TOOLS, **phone), 4)

        response = api.get(TOOLS, **bearer(other))
        assert (response.status_code, limits(response)) == (200, ("4", "3", "30"))

    def test_a_throttled_vote_changes_nothing(self, api: APIClient) -> None:
        tool = ToolFactory(slug="alpha")
        voter = UserFactory()
        vote_cast(voter=voter, slug=tool.slug, verdict=Verdict.SHIP)
        auth = bearer(voter)
        for _ in range(4):
            api.get(TOOLS, **auth)

        self.assert_throttled(api.put("/api/v1/tools/alpha/vote/", {"verdict": "skip"}, format="json", **auth), 4)
        self.assert_throttled(api.delete("/api/v1/tools/alpha/vote/", **auth), 4)
        assert list(Vote.objects.values_list("voter_id", "verdict")) == [(voter.pk, "ship")]
        tool = Tool.objects.get(pk=tool.pk)
        assert (tool.community_ship_count, tool.community_skip_count) == (1, 0)

    def test_failed_authentication_counts_against_the_address(self, api: APIClient) -> None:
        unknown = api_key("AbCd1234." + "x" * 32)
        seen = [api.get(TOOLS, **unknown) for _ in range(4)]
        assert [r.status_code for r in seen] == [401, 401, 401, 429]
        assert limits(seen[0]) == ("3", "2", "30")

    def test_a_rate_spelled_as_drf_documents_it_works(self, api: APIClient, settings) -> None:
        rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**rates, "anon": "3/minute"}}
        response = APIClient(raise_request_exception=False).get(TOOLS)
        assert (response.status_code, limits(response)) == (200, ("3", "2", "30"))


class TestCors:
    ORIGIN = "https://frontend.example"

    @pytest.fixture(autouse=True)
    def frontend(self, settings) -> None:
        settings.CORS_ALLOWED_ORIGINS = [self.ORIGIN]

    def preflight(self, api: APIClient, origin: str) -> HttpResponse:
        return api.options(
            "/api/v1/comparisons/a-vs-b/",
            HTTP_ORIGIN=origin,
            HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
            HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, if-none-match",
        )

    def test_a_preflight_from_the_frontend_is_allowed(self, api: APIClient) -> None:
        response = self.preflight(api, self.ORIGIN)
        assert response.status_code == 200
        assert response["Access-Control-Allow-Origin"] == self.ORIGIN
        allowed = {name.strip() for name in response["Access-Control-Allow-Headers"].split(",")}
        assert {"authorization", "if-none-match"} <= allowed

    def test_a_preflight_from_another_origin_is_not_allowed(self, api: APIClient) -> None:
        response = self.preflight(api, "https://evil.example")
        assert "Access-Control-Allow-Origin" not in response

    def test_a_read_exposes_its_validator_and_limits(self, api: APIClient) -> None:
        ToolFactory(slug="alpha")
        ToolFactory(slug="beta")
        response = api.get("/api/v1/comparisons/alpha-vs-beta/", HTTP_ORIGIN=self.ORIGIN)
        assert response.status_code == 200
        assert response["Access-Control-Allow-Origin"] == self.ORIGIN
        assert response["ETag"]
        exposed = {name.strip().lower() for name in response["Access-Control-Expose-Headers"].split(",")}
        assert {"etag", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "retry-after"} <= exposed
        assert "origin" in response["Vary"].lower()

    @pytest.mark.usefixtures("small_limits")
    def test_a_429_is_readable_by_the_frontend(self, api: APIClient) -> None:
        for _ in range(3):
            api.get(TOOLS, HTTP_ORIGIN=self.ORIGIN)
        response = api.get(TOOLS, HTTP_ORIGIN=self.ORIGIN)
        assert response.status_code == 429
        assert response["Access-Control-Allow-Origin"] == self.ORIGIN
        assert "retry-after" in response["Access-Control-Expose-Headers"].lower()


class TestHeaders:
    """`X-API-Key` (what generated clients send) and `Authorization: Api-Key` are the same key;
    an Authorization header in any other scheme is refused, never served as anonymous."""

    @pytest.mark.parametrize("value", ["{key}", "Api-Key {key}"])
    def test_x_api_key_is_the_key_at_its_tier(self, api: APIClient, value: str) -> None:
        _, key = partner_key(tier=Tier.PREMIUM)
        response = api.get(TOOLS, HTTP_X_API_KEY=value.format(key=key))
        assert (response.status_code, response["RateLimit-Limit"]) == (200, "5000")

    def test_a_revoked_key_in_x_api_key_is_a_403(self, api: APIClient) -> None:
        _, key = partner_key(revoked=True)
        response = api.get(TOOLS, HTTP_X_API_KEY=key)
        assert (response.status_code, response.json()) == (403, error("permission_denied", REVOKED))

    def test_both_headers_is_a_401(self, api: APIClient) -> None:
        _, key = partner_key()
        response = api.get(TOOLS, HTTP_X_API_KEY=key, **api_key(key))
        assert (response.status_code, response.json()) == (
            401,
            error("authentication_failed", "Send one credential: `X-API-Key` or `Authorization`, not both."),
        )

    @pytest.mark.parametrize(("header", "named"), [("Token abc", "'Token'"), ("abc", "'abc'"), ("", "(empty)")])
    def test_an_unknown_authorization_scheme_is_a_401(self, api: APIClient, header: str, named: str) -> None:
        response = api.get(TOOLS, HTTP_AUTHORIZATION=header)
        assert (response.status_code, response.json(), response["WWW-Authenticate"]) == (
            401,
            error("authentication_failed", f"Unknown authorization scheme {named}: use `Api-Key` or `Bearer`."),
            "Api-Key",
        )
