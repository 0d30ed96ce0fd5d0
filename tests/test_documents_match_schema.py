"""The hot paths build documents as plain data; the schema is declared by serializers. They must agree."""

import datetime
import json
from decimal import Decimal

import jsonschema
import pytest
from django.utils import timezone

from reviews.models import Reviewer
from tests.factories import ReviewerDisclosureFactory, ReviewerFactory, ReviewFactory, ToolFactory
from tests.openapi import json_schema, load
from tools.models import Tool
from tools.serializers import TOOL_COLUMNS, ToolSerializer, tool_document

pytestmark = pytest.mark.django_db
SCHEMA = load()


def _json_schema(component: str) -> dict:
    return json_schema(SCHEMA, {"$ref": f"#/components/schemas/{component}"})


@pytest.fixture
def tools() -> list[Tool]:
    plain = ToolFactory(slug="plain")
    priced = ToolFactory(
        slug="priced",
        pricing_tier="paid",
        pricing_label="From $20",
        price_from_usd=Decimal("19.99"),
        price_unit="per seat per month",
        licence="Apache-2.0",
        open_weights=True,
        context_window_tokens=200_000,
        homepage_url="https://example.com/priced",
        pricing_source_url="https://example.com/priced/pricing",
        pricing_verified_at=datetime.date(2026, 11, 30),
        licence_source_url="https://example.com/priced/licence",
        licence_verified_at=datetime.date(2026, 11, 1),
    )
    third = ToolFactory(slug="third")
    reviewer = ReviewerFactory(position=50)
    ReviewerDisclosureFactory(reviewer=reviewer, vendor=priced.vendor, relationship="investor")
    ReviewFactory(
        reviewer=reviewer,
        tool=priced,
        verdict="skip",
        correction="Retested on the release.",
        corrected_at=timezone.now(),
    )
    ReviewFactory(reviewer=reviewer, tool=third, verdict="ship")
    return [plain, priced, third]


def test_tool_document_equals_the_tool_serializer(tools: list[Tool]) -> None:
    for tool in Tool.objects.for_api().order_by("slug"):
        row = Tool.objects.for_api().filter(pk=tool.pk).values(*TOOL_COLUMNS).get()
        assert json.loads(json.dumps(tool_document(row))) == json.loads(
            json.dumps(ToolSerializer(tool).data, default=float)
        )


def test_served_documents_validate_against_the_schema(api, tools: list[Tool], seeded) -> None:
    checks = {
        "/api/v1/comparisons/code-llama-4-vs-mistral-large-3/": "Comparison",
        "/api/v1/comparisons/plain-vs-priced/": "Comparison",
        "/api/v1/comparisons/plain-vs-priced-vs-third/": "Comparison",  # with community_pick
        "/api/v1/comparisons/third-vs-code-llama-4-vs-priced-vs-mistral-large-3/": "Comparison",
        "/api/v1/tools/priced/": "Tool",
        "/api/v1/tools/priced/reviews/": None,  # a list of Review
        "/api/v1/reviewers/": "PaginatedReviewerList",
        f"/api/v1/reviewers/{Reviewer.objects.get(position=50).slug}/": "Reviewer",
        "/api/v1/tools/": "PaginatedToolList",
        "/api/v1/leaderboards/": "LeaderboardPage",
        "/api/v1/leaderboards/?metric=panel": "LeaderboardPage",
        "/api/v1/tools/priced/alternatives/": "AlternativesPage",
        "/api/v1/methodology/": "Methodology",
        "/api/v1/badges/tools/priced.json": "ShieldsEndpoint",
        "/api/v1/badges/tools/priced.json?metric=community": "ShieldsEndpoint",
        "/api/v1/badges/tools/priced/": "BadgeEmbed",
    }
    for url, component in checks.items():
        response = api.get(url)
        assert response.status_code == 200
        schema = (
            _json_schema(component)
            if component
            else json_schema(SCHEMA, {"type": "array", "items": {"$ref": "#/components/schemas/Review"}})
        )
        jsonschema.validate(response.json(), schema)


def test_provenance_corrections_and_disclosures_are_in_the_checked_documents(api, tools: list[Tool]) -> None:
    # So the check above sees them filled in, not only as nulls.
    comparison = api.get("/api/v1/comparisons/priced-vs-third/").json()
    assert comparison["tools"][0]["pricing"]["verified_at"] == "2026-11-30"
    assert comparison["tools"][0]["licence_source"]["url"] == "https://example.com/priced/licence"
    row = next(row for row in comparison["scorecard"] if row["reviewer"]["position"] == 50)
    assert row["reviewer"]["disclosures"][0]["relationship"] == "investor"
    assert row["reviews"][0]["correction"] == "Retested on the release."


def test_the_check_can_fail(api, tools: list[Tool]) -> None:
    document = api.get("/api/v1/tools/priced/").json()
    document["panel"]["ship_rate"] = "0.75"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, _json_schema("Tool"))
