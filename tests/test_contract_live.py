"""Live requests through the whole stack, each answer checked against schema.yml: its status is
declared for the operation, every header it carries is declared for that status, and its body
validates against the declared schema (so each error has the shape the schema says)."""

import json
import time

import jsonschema
import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from events.serializers import EVENT_TYPES
from partners.models import PartnerKey
from tests import openapi
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
DOCUMENT = openapi.load()
SEED = "/api/v1/comparisons/code-llama-4-vs-mistral-large-3/"

# Headers every HTTP response may carry whatever the operation: framing, content negotiation,
# and the security middleware's fixed page policies. Anything else must be in the schema.
GENERIC = {
    "content-type",
    "content-length",
    "vary",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
    "cross-origin-opener-policy",
}


def check(method: str, path: str, response) -> tuple[int, set[str]]:
    """Assert the answer is declared; returns (status, headers sent) for the caller's own checks."""
    operation = openapi.operation_for(DOCUMENT, method, path.partition("?")[0])
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {path}: {status} is not declared"
    declared = operation["responses"][status]
    sent = {name.lower() for name in response.headers}
    allowed = {name.lower() for name in declared.get("headers", {})} | GENERIC
    if status != "405":
        allowed.add("allow")  # DRF sends Allow on every answer; documented where it means something
    assert sent - allowed == set(), f"{method} {path} {status}: undeclared headers"
    content = declared.get("content", {}).get("application/json")
    if response.content:
        assert content is not None, f"{method} {path} {status}: a body the schema does not declare"
        jsonschema.Draft202012Validator(openapi.json_schema(DOCUMENT, content["schema"])).validate(
            json.loads(response.content)
        )
    else:
        assert content is None or status == "204", f"{method} {path} {status}: the declared body is missing"
    return response.status_code, sent


@pytest.fixture
def keys(seeded) -> dict[str, str]:
    owner = UserFactory()
    _, standard = PartnerKey.objects.create_key(name="standard", owner=owner, tier="standard")
    _, premium = PartnerKey.objects.create_key(name="premium", owner=owner, tier="premium")
    revoked_key, revoked = PartnerKey.objects.create_key(name="revoked", owner=owner)
    revoked_key.revoked = True
    revoked_key.save()
    return {"standard": standard, "premium": premium, "revoked": revoked}


READS = [
    "/api/v1/tools/",
    "/api/v1/tools/?ordering=-panel_ship_rate&page_size=1",
    "/api/v1/tools/code-llama-4/",
    "/api/v1/tools/code-llama-4/reviews/",
    SEED,
    "/api/v1/comparisons/",
    "/api/v1/categories/",
    "/api/v1/categories/developer-tools/",
    "/api/v1/vendors/",
    "/api/v1/reviewers/",
    "/api/v1/reviewers/the-buyer/",
    "/api/v1/reviewers/the-buyer/reviews/",
    "/api/v1/changes/",
    "/api/v1/changes/?types=tool.published,review.published&limit=2",
    "/api/v1/tools/code-llama-4/history/",
    "/api/v1/tools/code-llama-4/history/?from=2026-01-01&to=2026-12-31",
]


def test_reads_their_304s_and_their_errors(api: APIClient, keys: dict[str, str]) -> None:
    for path in READS:
        status, sent = check("GET", path, api.get(path))
        assert (status, {"etag", "cache-control", "ratelimit-limit"} <= sent) == (200, True), path
        etag = api.get(path).headers["ETag"]
        status, sent = check("GET", path, api.get(path, HTTP_IF_NONE_MATCH=etag))
        assert (status, "etag" in sent) == (304, True), path
    refusals = {
        "/api/v1/tools/?ordering=bogus": 400,
        "/api/v1/tools/?page_size=101": 404,
        "/api/v1/tools/?page=99": 404,
        "/api/v1/tools/nope/": 404,
        "/api/v1/comparisons/code-llama-4-vs-code-llama-4/": 400,
        "/api/v1/comparisons/code-llama-4-vs-nope/": 404,
        "/api/v1/categories/?search=" + "a " * 11: 400,
        "/api/v1/changes/?after=bogus": 400,
        "/api/v1/changes/?limit=501": 400,
        "/api/v1/changes/?types=vote.cast": 400,
        "/api/v1/tools/code-llama-4/history/?from=2026-13-01": 400,
        "/api/v1/tools/code-llama-4/history/?from=2026-02-01&to=2026-01-01": 400,
        "/api/v1/tools/nope/history/": 404,
    }
    for path, expected in refusals.items():
        assert check("GET", path, api.get(path))[0] == expected, path
    assert check("POST", "/api/v1/tools/", api.post("/api/v1/tools/", {}, format="json"))[0] == 405
    assert check("GET", "/api/v1/tools/", api.get("/api/v1/tools/", HTTP_ACCEPT="text/html"))[0] == 406


def test_partner_keys_and_refused_credentials(api: APIClient, keys: dict[str, str]) -> None:
    for tier, limit in (("standard", "1000"), ("premium", "5000")):
        response = api.get(SEED, HTTP_X_API_KEY=keys[tier])
        assert (check("GET", SEED, response)[0], response["RateLimit-Limit"]) == (200, limit)
    response = api.get(SEED, HTTP_AUTHORIZATION=f"Api-Key {keys['premium']}")
    assert (check("GET", SEED, response)[0], response["RateLimit-Limit"]) == (200, "5000")
    assert check("GET", SEED, api.get(SEED, HTTP_X_API_KEY=keys["revoked"]))[0] == 403
    for headers in (
        {"HTTP_X_API_KEY": "not a key"},
        {"HTTP_AUTHORIZATION": f"Token {keys['standard']}"},
        {"HTTP_AUTHORIZATION": "Bearer nothex"},
        {"HTTP_X_API_KEY": keys["standard"], "HTTP_AUTHORIZATION": f"Api-Key {keys['standard']}"},
    ):
        status, sent = check("GET", SEED, api.get(SEED, **headers))
        assert (status, "www-authenticate" in sent) == (401, True), headers


def test_voter_flow_and_its_errors(api: APIClient, seeded) -> None:
    register = "/api/v1/auth/register/"
    body = {"username": "live-voter", "email": "live@example.com", "password": "a long enough passphrase"}
    assert check("POST", register, api.post(register, body, format="json"))[0] == 201
    assert check("POST", register, api.post(register, {"username": ""}, format="json"))[0] == 400
    login = "/api/v1/auth/token/"
    assert check("POST", login, api.post(login, {"username": "live-voter", "password": "x"}, format="json"))[0] == 400
    response = api.post(login, {"username": "live-voter", "password": body["password"]}, format="json")
    assert check("POST", login, response)[0] == 200
    voter = {"HTTP_AUTHORIZATION": f"Bearer {response.json()['token']}"}
    vote = "/api/v1/tools/code-llama-4/vote/"
    assert check("GET", vote, api.get(vote, **voter))[0] == 404
    assert check("PUT", vote, api.put(vote, {"verdict": "ship"}, format="json", **voter))[0] == 201
    assert check("PUT", vote, api.put(vote, {"verdict": "ship"}, format="json", **voter))[0] == 200
    assert check("PUT", vote, api.put(vote, {"verdict": "maybe"}, format="json", **voter))[0] == 400
    assert check("PUT", vote, api.put(vote, "verdict=ship", content_type="text/plain", **voter))[0] == 415
    big = json.dumps({"verdict": "ship", "pad": "x" * 300_000})
    assert check("PUT", vote, api.put(vote, big, content_type="application/json", **voter))[0] == 413
    assert check("GET", vote, api.get(vote, **voter))[0] == 200
    assert check("PUT", vote, api.put(vote, {"verdict": "ship"}, format="json"))[0] == 401
    assert check("DELETE", vote, api.delete(vote, **voter))[0] == 204
    logout = "/api/v1/auth/logout/"
    assert check("POST", logout, api.post(logout, **voter))[0] == 204
    assert check("POST", logout, api.post(logout, **voter))[0] == 401


def test_newsletter_answers(api: APIClient, db) -> None:
    path = "/api/v1/newsletter/subscriptions/"
    assert check("POST", path, api.post(path, {"email": "reader@example.com"}, format="json"))[0] == 202
    assert check("POST", path, api.post(path, {"email": "nope"}, format="json"))[0] == 400
    for link in ("/api/v1/newsletter/confirm/", "/api/v1/newsletter/unsubscribe/"):
        assert check("GET", link, api.get(f"{link}?token=bogus"))[0] == 400
        assert check("POST", link, api.post(link, {"token": "bogus"}, format="json"))[0] == 400


def test_throttled_answers_carry_retry_after(api: APIClient, settings, seeded) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "anon": "2/min"},
    }
    cache.clear()
    for _ in range(2):
        assert check("GET", SEED, api.get(SEED))[0] == 200
    status, sent = check("GET", SEED, api.get(SEED))
    assert (status, "retry-after" in sent) == (429, True)


def test_the_check_can_fail(api: APIClient, seeded) -> None:
    response = api.get(SEED)
    response.headers["X-Undeclared"] = "1"
    with pytest.raises(AssertionError, match="undeclared headers"):
        check("GET", SEED, response)
    response = api.get(SEED)
    response.status_code = 418
    with pytest.raises(AssertionError, match="is not declared"):
        check("GET", SEED, response)


@pytest.mark.django_db(transaction=True)  # PostgreSQL's feed shows committed events only
def test_every_event_type_validates_against_its_component_and_a_pruned_cursor_is_a_410(api: APIClient) -> None:
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from events.models import Event
    from events.tasks import events_prune, tallies_emit
    from reviews.models import Comparison, Review, Reviewer
    from tools.models import Tool

    call_command("seed", verbosity=0)
    tallies_emit.call()
    tool = Tool.objects.get(slug="code-llama-4")
    tool.tagline = "Changed"
    tool.save()
    review = Review.objects.filter(tool=tool).first()
    review.verdict = "skip" if review.verdict == "ship" else "ship"
    review.save()
    comparison = Comparison.objects.get()
    comparison.summary = "Changed"
    comparison.save()
    Reviewer.objects.filter(pk=review.reviewer_id).first().delete()  # review.withdrawn, reviewer.left
    Comparison.objects.get().delete()
    Tool.objects.get(slug="mistral-large-3").delete()
    Reviewer.objects.create(slug="new", name="New", lens="Price", position=99)
    assert set(Event.objects.values_list("type", flat=True)) == set(EVENT_TYPES)
    path = "/api/v1/changes/?limit=500"
    deadline = time.monotonic() + 30  # PostgreSQL: until other sessions' older transactions finish
    while len(api.get(path).json()["results"]) < Event.objects.count() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert check("GET", path, api.get(path))[0] == 200
    first = api.get("/api/v1/changes/?limit=1").json()["next"]
    Event.objects.update(created_at=timezone.now() - timedelta(days=31))
    events_prune.call()
    gone = f"/api/v1/changes/?after={first}"
    assert check("GET", gone, api.get(gone))[0] == 410
