"""The schema and the two documentation pages, answering only GET and HEAD, with JSON errors."""

from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.request import Request
from rest_framework.response import Response

from compare_api.renderers import ORJSONRenderer


class _DocsView:
    http_method_names = ["get", "head"]
    authentication_classes: list = []

    def finalize_response(self, request: Request, response: Response, *args, **kwargs) -> Response:
        # These views render YAML or HTML; their errors are JSON like every other error.
        if response.status_code >= 400:
            request.accepted_renderer = ORJSONRenderer()
            request.accepted_media_type = ORJSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class SchemaView(_DocsView, SpectacularAPIView):
    pass


class SwaggerView(_DocsView, SpectacularSwaggerView):
    pass


class RedocView(_DocsView, SpectacularRedocView):
    template_name = "redoc_offline.html"
