"""A text fact staff left empty is null in every document that shows it, never "" (as for an uncurated pair)."""

import pytest

from tests.factories import (
    CategoryFactory,
    ComparisonFactory,
    ReviewerFactory,
    ReviewFactory,
    ToolFactory,
    VendorFactory,
)

pytestmark = pytest.mark.django_db


def _empty_strings(document, where: str = "$") -> list[str]:
    if isinstance(document, dict):
        return [found for key, value in document.items() for found in _empty_strings(value, f"{where}.{key}")]
    if isinstance(document, list):
        return [found for index, value in enumerate(document) for found in _empty_strings(value, f"{where}[{index}]")]
    return [where] if document == "" else []


def test_no_document_answers_an_empty_string(api) -> None:
    category, vendor = CategoryFactory(slug="bare", description=""), VendorFactory(slug="plain", homepage_url="")
    left = ToolFactory(slug="left", category=category, vendor=vendor, tagline="", description="", licence="")
    right = ToolFactory(slug="right", category=category, vendor=vendor, tagline="", description="")
    reviewer = ReviewerFactory(slug="quiet", bio="")
    ReviewFactory(reviewer=reviewer, tool=left)
    ComparisonFactory(left_tool=left, right_tool=right, headline="", summary="")
    urls = [
        "/api/v1/tools/",
        "/api/v1/tools/left/",
        "/api/v1/tools/left/reviews/",
        "/api/v1/categories/",
        "/api/v1/categories/bare/",
        "/api/v1/vendors/plain/",
        "/api/v1/reviewers/",
        "/api/v1/reviewers/quiet/",
        "/api/v1/reviewers/quiet/reviews/",
        "/api/v1/comparisons/",
        "/api/v1/comparisons/left-vs-right/",
        "/api/v1/comparisons/right-vs-left/",
    ]
    for url in urls:
        response = api.get(url)
        assert response.status_code == 200, url
        assert _empty_strings(response.json()) == [], url
    comparison = api.get("/api/v1/comparisons/left-vs-right/").json()
    assert [comparison[key] for key in ("headline", "summary")] == [None, None]
    assert comparison["tools"][0]["tagline"] is None
    assert comparison["scorecard"][0]["reviewer"]["bio"] is None
