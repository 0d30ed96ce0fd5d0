"""The hot paths build documents as plain data; the schema is declared by serializers. They must agree."""

import json
from decimal import Decimal

import jsonschema
import pytest

from tests.factories import ReviewerFactory, ReviewFactory, ToolFactory
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
    )
    third = ToolFactory(slug="third")
    reviewer = ReviewerFactory(position=50)
    ReviewFactory(reviewer=reviewer, tool=priced, verdict="skip")
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
        jsonschema.validate(response.json(), _json_schema(component))


def test_the_check_can_fail(api, tools: list[Tool]) -> None:
    document = api.get("/api/v1/tools/priced/").json()
    document["panel"]["ship_rate"] = "0.75"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, _json_schema("Tool"))
