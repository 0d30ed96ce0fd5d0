from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.settings import api_settings


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, with its answer for the usual Accept headers given at once.

    Nearly every request sends no Accept, `*/*` or `application/json`; for those DRF
    would pick the view's first renderer (or its JSON one) after parsing the header
    and matching media types, a measurable share of a vote's time.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        accept = request.META.get("HTTP_ACCEPT")  # absent is */*; present but empty accepts nothing
        if format_suffix is None and api_settings.URL_FORMAT_OVERRIDE not in request.query_params:
            first = renderers[0]
            if accept in (None, "*/*") or (accept == "application/json" and first.media_type == accept):
                return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)
