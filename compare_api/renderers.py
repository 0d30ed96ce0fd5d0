from decimal import Decimal
from typing import Any

import orjson
from rest_framework.renderers import JSONRenderer


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return str(value)  # lazy translation strings and the like


def render_json(data: Any) -> bytes:
    return orjson.dumps(data, default=_default)


class ORJSONRenderer(JSONRenderer):
    """DRF's JSON renderer with orjson: the same compact UTF-8 JSON, several times faster."""

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: dict | None = None) -> bytes:
        return b"" if data is None else render_json(data)
