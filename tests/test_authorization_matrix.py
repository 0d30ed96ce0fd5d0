"""Who may do what: every route under /api/, every method, four callers, against one explicit table.

A new route fails test_every_api_route_is_in_the_table until someone writes down its
answers; a removed one fails it too. Staff have no API powers beyond a voter's: the
API has no staff writes (staff write in the admin).
"""

import json
import re
from collections.abc import Iterator

import pytest
from django.contrib.admindocs.views import simplify_regex
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from compare_api.previews import preview_token
from partners import usage
from partners.models import PartnerKey
from tests.factories import UserFactory
from tests.helpers import bearer
from tools.models import Tool
from votes.accounts import password_reset_token
from votes.models import Subscriber
from votes.services import CONFIRM_SALT, UNSUBSCRIBE_SALT, subscription_token, verification_token, vote_cast
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db

CALLERS = ("anonymous", "voter", "partner", "staff")
METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")

# Answers in METHODS order. One tuple: the same for every caller; else one per caller.
#                  GET  HEAD OPTIONS POST PUT  PATCH DELETE
READ = (200, 200, 200, 405, 405, 405, 405)
# No voter token: refused before the method is looked at.
REFUSED = (401, 401, 401, 401, 401, 401, 401)
# The schema and documentation pages answer GET and HEAD only.
DOCS = (200, 200, 405, 405, 405, 405, 405)  # fmt: skip


def partner_only(answers: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    return {"anonymous": REFUSED, "voter": REFUSED, "partner": answers, "staff": REFUSED}


MATRIX: dict[str, tuple[int, ...] | dict[str, tuple[int, ...]]] = {
    "category-list": READ,
    "category-detail": READ,
    "vendor-list": READ,
    "vendor-detail": READ,
    "tool-list": READ,
    "tool-detail": READ,
    "tool-reviews": READ,
    "reviewer-list": READ,
    "reviewer-detail": READ,
    "reviewer-reviews": READ,
    "comparison-list": READ,
    "comparison-detail": READ,
    # A draft's preview: the signed link is the credential, whoever follows it (the admin shows it to staff).
    "preview": READ,
    # Following changes: reads like the documents they follow.
    "changes": READ,
    "tool-history": READ,
    # Discovery: public reads, for any caller.
    "leaderboard": READ,
    "leaderboard-category": READ,
    "tool-alternatives": READ,
    "methodology": READ,
    "badge-svg": READ,
    "badge-json": READ,
    "badge-embed": READ,
    # Account endpoints ignore credentials: anyone may register or log in.
    "auth-register": (405, 405, 200, 201, 405, 405, 405),
    "auth-token": (405, 405, 200, 200, 405, 405, 405),
    "auth-logout": {
        "anonymous": REFUSED,
        "voter": (405, 405, 200, 204, 405, 405, 405),
        "partner": REFUSED,  # a partner key is not a voter account
        "staff": (405, 405, 200, 204, 405, 405, 405),
    },
    # A voter's own account: any voter token (staff included), never a partner key.
    "auth-logout-all": {
        "anonymous": REFUSED,
        "voter": (405, 405, 200, 204, 405, 405, 405),
        "partner": REFUSED,
        "staff": (405, 405, 200, 204, 405, 405, 405),
    },
    "auth-password": {
        "anonymous": REFUSED,
        "voter": (405, 405, 200, 204, 405, 405, 405),
        "partner": REFUSED,
        "staff": (405, 405, 200, 204, 405, 405, 405),
    },
    # Password reset ignores credentials: it is for those who cannot log in.
    "auth-password-reset": (405, 405, 200, 202, 405, 405, 405),
    "auth-password-reset-confirm": (200, 200, 200, 200, 405, 405, 405),
    # The voter and staff are verified already: a link for the voter's address is a 200 that changes nothing.
    "auth-verify": (200, 200, 200, 200, 405, 405, 405),
    "auth-verify-resend": {
        "anonymous": REFUSED,
        "voter": (405, 405, 200, 400, 405, 405, 405),  # 400: already verified
        "partner": REFUSED,
        "staff": (405, 405, 200, 400, 405, 405, 405),
    },
    # The path names the tool the voter voted on; staff have not voted on it and cannot see the voter's vote.
    "tool-vote": {
        "anonymous": REFUSED,
        "voter": (200, 200, 200, 405, 200, 405, 204),
        "partner": REFUSED,
        "staff": (404, 404, 200, 405, 201, 405, 404),
    },
    "newsletter-subscriptions": (405, 405, 200, 202, 405, 405, 405),
    "newsletter-confirm": (200, 200, 200, 200, 405, 405, 405),
    "newsletter-unsubscribe": (200, 200, 200, 200, 405, 405, 405),
    # A partner's own webhook endpoints: its key only (a voter's or staff's bearer token is no partner key).
    "webhook-endpoint-list": partner_only((200, 200, 200, 201, 405, 405, 405)),
    "webhook-endpoint-detail": partner_only((200, 200, 200, 405, 405, 200, 204)),
    "webhook-endpoint-rotate-secret": partner_only((405, 405, 200, 200, 405, 405, 405)),
    "webhook-endpoint-test": partner_only((405, 405, 200, 202, 405, 405, 405)),
    "webhook-endpoint-deliveries": partner_only((200, 200, 200, 405, 405, 405, 405)),
    "schema": DOCS,
    "swagger-ui": DOCS,
    "redoc": DOCS,
    "redoc-bundle": DOCS,
}
KNOWN_BUGS: dict = {}


def expected(name: str) -> dict[str, dict[str, int]]:
    row = MATRIX[name]
    by_caller = row if isinstance(row, dict) else dict.fromkeys(CALLERS, row)
    return {caller: dict(zip(METHODS, by_caller[caller], strict=True)) for caller in CALLERS}


def is_api_error(path: str, method: str, status: int) -> bool:
    return path.startswith("/api/v1/") and status >= 400 and method != "HEAD"


def walk(patterns: list, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from walk(entry.url_patterns, prefix + str(entry.pattern))
        else:
            yield prefix + str(entry.pattern), entry


def api_routes() -> dict[str, str]:
    """URL name -> OpenAPI-style path template (`/api/v1/tools/{slug}/`) of every route under /api/."""
    routes: dict[str, str] = {}
    for pattern, entry in walk(get_resolver().url_patterns):
        template = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", simplify_regex(pattern))
        if template.startswith("/api/"):
            assert entry.name and entry.name not in routes, f"routes need unique names: {template}"
            routes[entry.name] = template
    return routes


@pytest.fixture(autouse=True)
def high_limits(settings) -> None:
    """The matrix sends hundreds of requests; rate limits have their own tests."""
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": dict.fromkeys(rates, "100000/min")}


@pytest.fixture(autouse=True)
def no_usage_flushes(settings) -> Iterator[None]:
    """Partner usage counts stay in memory (a flush would write rows mid-matrix) and leave with the test."""
    settings.PARTNER_USAGE_FLUSH_EVERY = settings.PARTNER_USAGE_FLUSH_SECONDS = 10**9
    usage._pending.clear()
    yield
    usage._pending.clear()


@pytest.fixture
def voter() -> AbstractBaseUser:
    return UserFactory(username="ada")


@pytest.fixture
def partner_key(db) -> tuple[PartnerKey, str]:
    return PartnerKey.objects.create_key(name="Acme", owner=UserFactory())


@pytest.fixture
def callers(seeded, voter: AbstractBaseUser, partner_key: tuple[PartnerKey, str]) -> dict[str, dict[str, str]]:
    """Request headers per caller. The voter has voted on code-llama-4."""
    vote_cast(voter=voter, slug="code-llama-4", verdict="ship")
    key = partner_key[1]
    return {
        "anonymous": {},
        "voter": bearer(voter),
        "partner": {"HTTP_AUTHORIZATION": f"Api-Key {key}"},
        "staff": bearer(UserFactory(is_staff=True, is_superuser=True)),
    }


@pytest.fixture
def targets(seeded, voter: AbstractBaseUser, partner_key: tuple[PartnerKey, str]) -> dict[str, tuple[str, dict]]:
    """URL name -> (concrete path, JSON body for POST/PUT/PATCH): real slugs, a valid body for each write."""
    endpoint = Endpoint.objects.create(key=partner_key[0], url="https://hooks.example/in")
    subscriber = Subscriber.objects.create(email="reader@example.com")
    confirm = subscription_token(subscriber=subscriber, salt=CONFIRM_SALT)
    unsubscribe = subscription_token(subscriber=subscriber, salt=UNSUBSCRIBE_SALT)
    kwargs = {
        "category-detail": {"slug": "developer-tools"},
        "vendor-detail": {"slug": "meta"},
        "tool-detail": {"slug": "code-llama-4"},
        "tool-reviews": {"slug": "code-llama-4"},
        "tool-history": {"slug": "code-llama-4"},
        "tool-vote": {"slug": "code-llama-4"},
        **{name: {"slug": "code-llama-4"} for name in ("badge-svg", "badge-json", "badge-embed", "tool-alternatives")},
        "leaderboard-category": {"category": "developer-tools"},
        "reviewer-detail": {"slug": "the-builder"},
        "reviewer-reviews": {"slug": "the-builder"},
        "comparison-detail": {"pair": "code-llama-4-vs-mistral-large-3"},
        "preview": {"token": preview_token(kind="tool", pk=Tool.objects.get(slug="code-llama-4").pk)},
        **{
            name: {"id": endpoint.pk}
            for name in (
                "webhook-endpoint-detail",
                "webhook-endpoint-rotate-secret",
                "webhook-endpoint-test",
                "webhook-endpoint-deliveries",
            )
        },
    }
    reset = password_reset_token(user=voter)
    verify = verification_token(voter=voter.voter)
    queries = {
        "newsletter-confirm": f"?token={confirm}",
        "newsletter-unsubscribe": f"?token={unsubscribe}",
        "auth-password-reset-confirm": f"?token={reset}",
        "auth-verify": f"?token={verify}",
    }
    bodies = {
        "auth-register": {"username": "newcomer", "email": "newcomer@example.com", "password": "a long passphrase 42"},
        "auth-verify": {"token": verify},
        "auth-token": {"username": voter.username, "password": "correct horse battery staple"},
        "tool-vote": {"verdict": "skip"},
        "newsletter-subscriptions": {"email": "new.reader@example.com"},
        "newsletter-confirm": {"token": confirm},
        "newsletter-unsubscribe": {"token": unsubscribe},
        "auth-password": {"old_password": "correct horse battery staple", "new_password": "a new long passphrase 9"},
        "auth-password-reset": {"email": "ada@example.com"},
        "auth-password-reset-confirm": {"token": reset, "new_password": "a new long passphrase 9"},
        "webhook-endpoint-list": {"url": "https://hooks.example/other", "event_types": ["tool.updated"]},
        "webhook-endpoint-detail": {"event_types": []},
    }
    return {
        name: (reverse(name, kwargs=kwargs.get(name)) + queries.get(name, ""), bodies.get(name, {}))
        for name in api_routes()
    }


def test_every_api_route_is_in_the_table() -> None:
    served = set(api_routes())
    assert served - set(MATRIX) == set(), "served but not in MATRIX: decide who may call them"
    assert set(MATRIX) - served == set(), "in MATRIX but no longer served: remove them"


def test_the_schema_documents_exactly_the_served_v1_routes(api: APIClient) -> None:
    response = api.get("/api/schema/?format=json")
    assert response.status_code == 200
    documented = {path: set(operations) for path, operations in response.json()["paths"].items()}
    served = {template: name for name, template in api_routes().items() if template.startswith("/api/v1/")}
    assert set(documented) == set(served)
    # ... and the methods each route answers (for some caller) are the documented operations.
    for template, name in served.items():
        answered = {
            m.lower() for row in expected(name).values() for m, status in row.items() if status not in (401, 405)
        }
        assert documented[template] == answered - {"head", "options"}, template


@pytest.mark.parametrize("name", [pytest.param(name, marks=KNOWN_BUGS.get(name, ())) for name in MATRIX])
def test_route_answers_each_caller_and_method_as_the_table_says(
    name: str, callers: dict[str, dict[str, str]], targets: dict[str, tuple[str, dict]]
) -> None:
    api = APIClient(raise_request_exception=False)
    path, body = targets[name]
    table = expected(name)
    wrong: dict[str, str] = {}
    for caller, headers in callers.items():
        for method in METHODS:
            data = json.dumps(body) if method in {"POST", "PUT", "PATCH"} else ""
            with transaction.atomic():  # every cell sees the same data: undo whatever it wrote
                response = api.generic(method, path, data, content_type="application/json", **headers)
                transaction.set_rollback(True)
            if response.status_code != table[caller][method]:
                wrong[f"{caller} {method}"] = f"{response.status_code}, table says {table[caller][method]}"
            elif is_api_error(path, method, response.status_code) and set(response.json()) != {"type", "errors"}:
                wrong[f"{caller} {method}"] = f"error not in the one JSON shape: {response.content!r}"
    assert wrong == {}
