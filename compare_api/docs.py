"""The schema and the two documentation pages, answering only GET and HEAD, with JSON errors.

The schema is built once per process (building it takes a few tenths of a second and it
changes only with the code); the docs pages load nothing from any host but this one.
"""

import functools
import threading

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.request import Request
from rest_framework.response import Response

from compare_api.errors import error_body
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


_schemas: dict[tuple, dict] = {}
_schemas_lock = threading.Lock()


class SchemaView(_DocsView, SpectacularAPIView):
    def _get_schema_response(self, request: Request) -> Response:
        version = self.api_version or request.version or self._get_version_parameter(request)
        key = (version, request.GET.get("lang"))
        with _schemas_lock:
            if key not in _schemas:
                # Built without the request, exactly as `manage.py spectacular` writes schema.yml.
                generator = self.generator_class(urlconf=self.urlconf, api_version=version, patterns=self.patterns)
                _schemas[key] = generator.get_schema(request=None, public=self.serve_public)
        return Response(
            data=_schemas[key],
            headers={"Content-Disposition": f'inline; filename="{self._get_filename(request, version)}"'},
        )


class SwaggerView(_DocsView, SpectacularSwaggerView):
    pass


class RedocView(_DocsView, SpectacularRedocView):
    template_name = "redoc_offline.html"

    @staticmethod
    def _redoc_standalone() -> str:
        return reverse("redoc-bundle")


REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
# The sidebar's "API docs by Redocly" footer loads this image from Redocly's CDN, with no
# option to turn it off; an image that fails to load is hidden by ReDoc itself.
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


@functools.cache
def redoc_bundle() -> bytes:
    path = finders.find(REDOC_BUNDLE)
    bundle = open(path, "rb").read()  # noqa: SIM115 (read once per process)
    if REDOC_LOGO not in bundle:
        raise RuntimeError(f"{REDOC_BUNDLE} no longer loads {REDOC_LOGO!r}: check what it loads now")
    return bundle.replace(REDOC_LOGO, b"data:,").replace(b"//# sourceMappingURL=", b"//# sourceMapping=")


def redoc_bundle_view(request: HttpRequest) -> HttpResponse:
    """ReDoc's bundle from drf-spectacular-sidecar, with its one outside request (the logo) taken out."""
    if request.method not in ("GET", "HEAD"):
        detail = f'Method "{request.method}" not allowed.'
        response = JsonResponse(error_body(405, "method_not_allowed", detail), status=405)
        response["Allow"] = "GET, HEAD"
        return response
    response = HttpResponse(redoc_bundle(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    return response
