"""The rules of the public OpenAPI document, applied to every operation.

Partners generate clients from schema.yml, so what the server sends must be in
it: the rate-limit fields on every response, Retry-After on 429 and 503, the
validators on cached reads and their 304, the errors each operation can answer.
These are rules here (an AutoSchema and postprocessing hooks), not annotations
on each view, so an operation added later is covered without anyone
remembering to.
"""

import copy
import json
from collections.abc import Iterator
from pathlib import Path

from drf_spectacular.plumbing import build_examples_list
from drf_spectacular.utils import OpenApiExample, OpenApiParameter
from drf_standardized_errors.openapi import AutoSchema as StandardizedErrorsAutoSchema
from drf_standardized_errors.openapi_serializers import ClientErrorEnum, ServerErrorEnum
from drf_standardized_errors.openapi_utils import get_example_from_exception
from rest_framework import serializers

from compare_api.caching import CachedReadMixin
from compare_api.exceptions import DatabaseUnavailable, RequestTooLarge
from compare_api.ordering import NullsLastOrderingFilter


class SeedExample(OpenApiExample):
    """A whole 200 response as served from the seed data, list pages included (their page
    envelope is real, not one drf-spectacular makes up around an item)."""


def seed_example(path: Path, name: str) -> SeedExample:
    """The SeedExample read from `path`; tests/test_openapi.py keeps each file equal to what
    the server answers (`make examples` rewrites them)."""
    value = json.loads(path.read_text(encoding="utf-8"))
    return SeedExample(name, value=value, response_only=True, status_codes=["200"])


HEADERS: dict[str, dict] = {
    "RateLimit-Limit": {
        "description": "Requests allowed per window to this client on this route: the tier's limit "
        "(anonymous, voter, partner standard or premium; for anonymous badge requests, the per-IP badge limit), "
        "or a tighter one the route adds. Not sent (nor the two "
        "fields below) on an anonymous read the production stack's edge cache answers from its copy: no limit "
        "counts it.",
        "schema": {"type": "integer", "format": "int32", "minimum": 0, "maximum": 2147483647},
    },
    "RateLimit-Remaining": {
        "description": "Requests left in the current window.",
        "schema": {"type": "integer", "format": "int32", "minimum": 0, "maximum": 2147483647},
    },
    "RateLimit-Reset": {
        "description": "Seconds until the current window ends and the whole allowance comes back.",
        "schema": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 86400},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "format": "int32", "minimum": 0, "maximum": 86400},
    },
    "ETag": {
        "description": "Strong validator of this document; send it back in If-None-Match to get a 304 "
        "while it is unchanged.",
        "schema": {"type": "string", "maxLength": 64, "example": '"0f6f2b1c9d1e4a7b8c3d5e6f7a8b9c0d"'},
    },
    "Cache-Control": {
        "description": "May be stored, but revalidate each use (a 304 is cheap). A read the API answers shows every "
        "vote committed before it; behind the production stack's edge cache an anonymous read may be the edge's "
        "copy, which shows every vote committed more than `EDGE_CACHE_SECONDS` before it.",
        "schema": {"type": "string", "maxLength": 200, "example": "public, no-cache"},
    },
    "WWW-Authenticate": {
        "description": "The scheme the credential was expected in: `Api-Key` or `Bearer`.",
        "schema": {"type": "string", "maxLength": 100},
    },
    "Allow": {
        "description": "The methods this path answers.",
        "schema": {"type": "string", "maxLength": 100},
    },
    "X-Request-ID": {
        "description": "This request's id, in every log line written while serving it: the client's own if it "
        "sent a well-formed one (1 to 128 of `A-Z a-z 0-9 . _ -`), otherwise a new one. Quote it when reporting "
        "a problem.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[A-Za-z0-9._-]{1,128}$"},
    },
}
RATE_LIMIT_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")

IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    str,
    OpenApiParameter.HEADER,
    description="An ETag from an earlier answer: a 304 without a body while the document is unchanged.",
)

BODY_METHODS = ("POST", "PUT", "PATCH")


class ErrorCode413Enum:
    choices = [(RequestTooLarge.default_code, "Request too large")]


class ErrorCode503Enum:
    choices = [(DatabaseUnavailable.default_code, "Service unavailable")]


class Error413Serializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=ErrorCode413Enum.choices)
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)


class ErrorResponse413Serializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=ClientErrorEnum.choices)
    errors = Error413Serializer(many=True)


class Error503Serializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=ErrorCode503Enum.choices)
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)


class ErrorResponse503Serializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=ServerErrorEnum.choices)
    errors = Error503Serializer(many=True)


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/headers/{name}"}


class AutoSchema(StandardizedErrorsAutoSchema):
    """drf-standardized-errors' schema (every error response in the one error shape),
    plus the statuses and headers this server adds."""

    def _is_cached_read(self) -> bool:
        return self.method == "GET" and isinstance(self.view, CachedReadMixin)

    def _has_request_body(self) -> bool:
        return self.method in BODY_METHODS and self.get_request_serializer() is not None

    def get_override_parameters(self) -> list:
        parameters = super().get_override_parameters()
        return [*parameters, IF_NONE_MATCH] if self._is_cached_read() else parameters

    def _should_add_error_response(self, responses: dict, status_code: str) -> bool:
        if status_code in ("413", "415"):
            # Only a body is parsed (or measured): an operation without one never answers these.
            return status_code not in responses and self._has_request_body()
        # A credential can be refused with a 403 (a revoked partner key) on any operation that reads it.
        if status_code == "403" and status_code not in responses and self._may_refuse_with_403():
            return True
        return super()._should_add_error_response(responses, status_code)

    def _may_refuse_with_403(self) -> bool:
        return any(getattr(auth, "may_refuse_with_403", False) for auth in self.view.get_authenticators())

    def _get_extra_validation_errors(self) -> dict[str, set[str]]:
        errors = super()._get_extra_validation_errors()
        if self.method == "GET":
            for backend in self.get_filter_backends():
                if issubclass(backend, NullsLastOrderingFilter):
                    errors.setdefault(backend.ordering_param, set()).add("invalid_choice")
        return errors

    def _get_error_response_examples(self) -> list[OpenApiExample]:
        return [
            *super()._get_error_response_examples(),
            get_example_from_exception(RequestTooLarge()),
            get_example_from_exception(DatabaseUnavailable()),
        ]

    def _get_examples(self, serializer, direction, media_type, status_code=None, extras=None) -> dict:
        examples = super()._get_examples(serializer, direction, media_type, status_code, extras)
        for example in self.get_examples():
            if isinstance(example, SeedExample) and direction == "response" and status_code == "200":
                (named,) = build_examples_list([example]).items()
                examples[named[0]]["value"] = example.value
        return examples

    def _get_response_bodies(self, direction: str = "response") -> dict:
        responses = super()._get_response_bodies(direction=direction)
        if direction != "response":
            return responses
        if self._is_cached_read():
            # A 304 carries what the 200 would (RFC 9110), so the headers an operation declares for its 200.
            declared = copy.deepcopy(responses.get("200", {}).get("headers", {}))
            responses["304"] = {
                "description": "Not modified: the document still has the ETag sent in If-None-Match.",
                **({"headers": declared} if declared else {}),
            }
        for code, response in responses.items():
            if not response.get("description"):
                response["description"] = DESCRIPTIONS.get(code, "")
            headers = response.setdefault("headers", {})
            # Sent on every answer the rate limiter counted (all but a 406, which is refused before).
            headers.update({name: _ref(name) for name in RATE_LIMIT_HEADERS})
            headers["X-Request-ID"] = _ref("X-Request-ID")  # on every answer (compare_api/logs.py)
            if code in ("429", "503"):
                headers["Retry-After"] = _ref("Retry-After")
            if code == "401":
                headers["WWW-Authenticate"] = _ref("WWW-Authenticate")
            if code == "405":
                headers["Allow"] = _ref("Allow")
            if self._is_cached_read() and code in ("200", "304"):
                headers["ETag"] = _ref("ETag")
                headers.setdefault("Cache-Control", _ref("Cache-Control"))  # unless the operation says its own
        return dict(sorted(responses.items()))


DESCRIPTIONS = {
    "200": "OK.",
    "201": "Created.",
    "202": "Accepted.",
    "204": "Done; no body.",
    "400": "The request is malformed or a field is invalid; `attr` names the field.",
    "401": "The credential is missing, malformed or unknown, or sent in a scheme this API does not know.",
    "403": "The credential is known but refused (a revoked or expired partner key).",
    "404": "No such resource, or no such page.",
    "405": "The path does not answer this method.",
    "406": "The Accept header rules out JSON.",
    "410": "Gone: what the request points at was pruned; the error says how to start again.",
    "413": "The request body is larger than the server accepts.",
    "415": "The request body is not JSON.",
    "429": "Over the rate limit; try again after Retry-After seconds.",
    "500": "A server error; nothing was changed.",
    "503": "The database is briefly unavailable (nothing was written); try again after Retry-After seconds.",
}


# --- postprocessing hooks: run on the whole document, after drf-spectacular's own ---


def _walk(node: object) -> Iterator[dict]:
    if isinstance(node, dict):
        yield node
        for value in list(node.values()):
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def postprocess_nullable_enums(result: dict, **kwargs: object) -> dict:
    """`oneOf: [X, NullEnum]` becomes `$ref: NullableX`, one plain nullable enum component
    (`type`, `enum` with null, `nullable: true`): the shape every generator we test reads as
    "this enum or null" (the oneOf made some emit a broken class, others `never`)."""
    schemas = result["components"]["schemas"]
    null_ref = "#/components/schemas/NullEnum"
    for node in _walk(result):
        alternatives = node.get("oneOf")
        if not (isinstance(alternatives, list) and len(alternatives) == 2 and {"$ref": null_ref} in alternatives):
            continue
        (other,) = [item for item in alternatives if item != {"$ref": null_ref}]
        name = other["$ref"].rpartition("/")[2]
        nullable_name = f"Nullable{name}"
        if nullable_name not in schemas:
            component = copy.deepcopy(schemas[name])
            component["enum"] = [*component["enum"], None]
            component["nullable"] = True
            component["description"] = f"{component.get('description', '')}\n* null - none".lstrip()
            schemas[nullable_name] = component
        node.clear()  # a $ref takes no siblings: the field's own description goes
        node["$ref"] = f"#/components/schemas/{nullable_name}"
    if null_ref not in str(result):
        schemas.pop("NullEnum", None)
    return result


def postprocess_nullable_objects(result: dict, **kwargs: object) -> dict:
    """A nullable nested serializer (drf-spectacular's `allOf: [$ref X]` beside `nullable: true`)
    becomes `$ref: NullableX`, a copy of X that is nullable: OpenAPI 3.0 ignores a $ref's siblings
    and a `nullable` without a `type`, so generators read the allOf form as never null."""
    schemas = result["components"]["schemas"]
    for node in _walk(result):
        branches = node.get("allOf")
        if not (node.get("nullable") and isinstance(branches, list) and len(branches) == 1 and "$ref" in branches[0]):
            continue
        name = branches[0]["$ref"].rpartition("/")[2]
        nullable_name = f"Nullable{name}"
        if nullable_name not in schemas:
            schemas[nullable_name] = {**copy.deepcopy(schemas[name]), "nullable": True}
        node.clear()
        node["$ref"] = f"#/components/schemas/{nullable_name}"
    return result


def postprocess_blank_strings(result: dict, **kwargs: object) -> dict:
    """A field that takes a formatted string or "" (drf-spectacular's `oneOf: [{format: email},
    {maxLength: 0}]`) becomes one plain string: generators could not tell the branches apart
    ("multiple matches" on ""), and a `default: ''` beside `format: email` is invalid."""
    for node in _walk(result):
        alternatives = node.get("oneOf")
        if not (isinstance(alternatives, list) and len(alternatives) == 2):
            continue
        formatted = [item for item in alternatives if item.get("type") == "string" and "format" in item]
        blank = [item for item in alternatives if item == {"type": "string", "maxLength": 0}]
        if len(formatted) == 1 and len(blank) == 1:
            merged = {key: value for key, value in formatted[0].items() if key != "format"}
            node.pop("oneOf")
            node.update(merged)
            own = node.get("description", "")
            node["description"] = f"An {formatted[0]['format']} address or an empty string. {own}".strip()
    return result


def postprocess_request_component_names(result: dict, **kwargs: object) -> dict:
    """`TokenRequestRequest` (a `*RequestSerializer` split for requests) is published as `TokenRequest`."""
    schemas = result["components"]["schemas"]
    renames = {
        name: name.removesuffix("Request")
        for name in schemas
        if name.endswith("RequestRequest") and name.removesuffix("Request") not in schemas
    }
    for old, new in renames.items():
        schemas[new] = schemas.pop(old)
    old_refs = {f"#/components/schemas/{old}": f"#/components/schemas/{new}" for old, new in renames.items()}
    for node in _walk(result):
        if node.get("$ref") in old_refs:
            node["$ref"] = old_refs[node["$ref"]]
    result["components"]["schemas"] = dict(sorted(schemas.items()))
    return result


_BOUNDS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def postprocess_integers(result: dict, **kwargs: object) -> dict:
    """Every integer says its width: int32 where both bounds fit, else int64."""
    for node in _walk(result):
        if node.get("type") == "integer" and "format" not in node:
            low, high = node.get("minimum"), node.get("maximum")
            fits = low is not None and high is not None and _BOUNDS["int32"][0] <= low and high <= _BOUNDS["int32"][1]
            node["format"] = "int32" if fits else "int64"
    return result


def postprocess_headers(result: dict, **kwargs: object) -> dict:
    """The response header components the AutoSchema refers to."""
    result["components"]["headers"] = copy.deepcopy(HEADERS)
    return result
