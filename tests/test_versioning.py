"""Retirement notices: Deprecation and Sunset headers on a route staff mark as deprecated."""

from datetime import UTC, datetime

import pytest

pytestmark = pytest.mark.django_db


def test_nothing_is_deprecated_today(api) -> None:
    response = api.get("/api/v1/tools/")
    assert "Deprecation" not in response
    assert "Sunset" not in response


def test_a_deprecated_route_announces_its_sunset(api, settings) -> None:
    settings.API_DEPRECATIONS = {
        "tool-list": {
            "deprecated_at": datetime(2026, 12, 1, tzinfo=UTC),
            "sunset_at": datetime(2027, 6, 30, 23, 59, 59, tzinfo=UTC),
            "link": "https://example.com/api/v2-migration",
        }
    }
    response = api.get("/api/v1/tools/")
    assert response.status_code == 200
    assert response["Deprecation"] == "@1796083200"
    assert response["Sunset"] == "Wed, 30 Jun 2027 23:59:59 GMT"
    assert response["Link"] == '<https://example.com/api/v2-migration>; rel="deprecation"'
    assert "Deprecation" not in api.get("/api/v1/categories/")
