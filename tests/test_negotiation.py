"""compare_api/negotiation.py answers the usual Accept headers at once; its answers must be DRF's."""

import pytest
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from compare_api.docs import SchemaView
from compare_api.negotiation import ContentNegotiation
from compare_api.renderers import ORJSONRenderer

ACCEPTS = [None, "", "*/*", "application/json", "application/json; indent=2", "text/html", "application/*"]


def _select(negotiation, renderers, accept, query=""):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get("/x/" + query, **headers))
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers)
    except Exception as error:  # noqa: BLE001 - compared as is
        return type(error)
    return type(renderer), media_type


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize(
    "renderer_classes",
    [[ORJSONRenderer], SchemaView.renderer_classes],  # the API's, and the schema view's (YAML first, JSON second)
    ids=["api", "schema"],
)
@pytest.mark.parametrize("query", ["", "?format=json"])
def test_the_same_renderer_as_drf(accept, renderer_classes, query) -> None:
    renderers = [renderer() for renderer in renderer_classes]
    expected = _select(DefaultContentNegotiation(), renderers, accept, query)
    assert _select(ContentNegotiation(), renderers, accept, query) == expected
