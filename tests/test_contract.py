"""schema.yml as partners' tools read it: valid for every validator, readable, and exact about
what the server sends (each rule checked on every operation, so new operations are covered)."""

import copy
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
from openapi_spec_validator import validate as validate_openapi

from tests import openapi

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT / "tests" / "contract"
DOCUMENT = openapi.load()
OPERATIONS = list(openapi.operations(DOCUMENT))
IDS = [f"{method} {path}" for path, method, _ in OPERATIONS]


def test_openapi_spec_validator_passes() -> None:
    validate_openapi(DOCUMENT)


def _nodes(node: object, where: str = "#"):
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from _nodes(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _nodes(item, f"{where}/{index}")


def _validate(instance: object, schema: dict) -> None:
    # The schema itself is checked by the spec validator; checking it again per value costs minutes.
    validator = jsonschema.Draft202012Validator(
        openapi.json_schema(DOCUMENT, schema), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    validator.validate(instance)


def test_every_default_and_example_is_valid_against_its_own_schema() -> None:
    checked = 0
    for where, node in _nodes(DOCUMENT):
        if "/examples/" in where or not ("type" in node or "$ref" in node or "enum" in node):
            continue
        for key in ("default", "example"):
            if key in node:
                _validate(node[key], node)
                checked += 1
    # Response examples (the comparison's, the errors') against their response's schema.
    for _, _, operation in OPERATIONS:
        for response in operation["responses"].values():
            for media in response.get("content", {}).values():
                for example in media.get("examples", {}).values():
                    _validate(example["value"], media["schema"])
                    checked += 1
    assert checked > 100


def test_the_check_of_defaults_can_fail() -> None:
    bad = {"type": "string", "format": "email", "default": 7}
    with pytest.raises(jsonschema.ValidationError):
        _validate(bad["default"], bad)


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS, ids=IDS)
def test_every_operation_has_a_summary_a_description_and_a_declared_tag(path, method, operation) -> None:
    """An operation added without them fails here: give it extend_schema(summary=..., description=...)
    and its tag a line in SPECTACULAR_SETTINGS["TAGS"]."""
    assert operation.get("summary"), "no summary"
    assert len(operation["summary"]) <= 60
    assert operation.get("description"), "no description"
    declared = {tag["name"]: tag.get("description") for tag in DOCUMENT["tags"]}
    for tag in operation["tags"]:
        assert declared.get(tag), f"tag {tag!r} is not declared with a description"


def test_summaries_are_unique() -> None:
    summaries = [operation["summary"] for _, _, operation in OPERATIONS]
    assert len(summaries) == len(set(summaries))


def test_servers_come_from_public_base_url(settings) -> None:
    assert DOCUMENT["servers"] == [
        {
            "url": "http://127.0.0.1:8000",
            "description": "This deployment's PUBLIC_BASE_URL (local development by default; production sets its own).",
            "x-internal": False,
        }
    ]
    assert settings.PUBLIC_BASE_URL == "http://127.0.0.1:8000"


def test_nullable_enums_are_one_plain_component_each() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    assert "NullEnum" not in schemas
    assert "NullEnum" not in str(DOCUMENT)
    assert schemas["NullableVerdictEnum"] == {
        "enum": ["ship", "skip", None],
        "type": "string",
        "description": "* `ship` - Ship\n* `skip` - Skip\n* null - none",
        "nullable": True,
    }
    assert schemas["ScorecardEntry"]["properties"]["verdict"] == {"$ref": "#/components/schemas/NullableVerdictEnum"}
    for where, node in _nodes(DOCUMENT):
        if node.get("nullable"):
            assert "type" in node, f"{where}: nullable without a type"
        if "$ref" in node:
            assert set(node) == {"$ref"}, f"{where}: a $ref with siblings (ignored by OpenAPI 3.0)"


def test_component_names_read_well() -> None:
    assert [name for name in DOCUMENT["components"]["schemas"] if "RequestRequest" in name] == []
    assert {"TokenRequest", "VoteRequest", "SubscriptionRequest"} <= set(DOCUMENT["components"]["schemas"])


def test_ordering_and_page_size_publish_their_real_values() -> None:
    parameters = {p["name"]: p for p in DOCUMENT["paths"]["/api/v1/tools/"]["get"]["parameters"]}
    assert parameters["ordering"]["schema"]["enum"] == [
        order
        for name in ("name", "panel_ship_rate", "community_ship_rate", "panel_ci95_low", "community_ci95_low")
        + ("created_at",)
        for order in (name, f"-{name}")
    ]
    assert parameters["page_size"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
        "default": 25,
        "format": "int32",
    }


RATE_LIMITS = {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"}


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS, ids=IDS)
def test_every_operation_documents_the_statuses_and_headers_it_can_send(path, method, operation) -> None:
    responses = operation["responses"]
    assert {"405", "500", "503"} <= set(responses)
    for code, response in responses.items():
        assert response["description"], code
        assert set(response["headers"]) >= RATE_LIMITS, code
    for code in ("429", "503"):
        if code in responses:
            assert "Retry-After" in responses[code]["headers"]
    if "401" in responses:
        assert "WWW-Authenticate" in responses["401"]["headers"]
    if operation.get("requestBody"):
        assert {"400", "413", "415"} <= set(responses)
    else:
        assert not {"413", "415"} & set(responses), "no body, so no 413 or 415"
    security = {name for requirement in operation.get("security", []) for name in requirement}
    if "partnerKey" in security:
        assert {"401", "403"} <= set(responses), "a revoked partner key is a 403"
    if "304" in responses:
        assert method == "GET"
        assert {"ETag", "Cache-Control"} <= set(responses["200"]["headers"]) & set(responses["304"]["headers"])
        assert "If-None-Match" in {p["name"] for p in operation["parameters"]}
    for code, response in responses.items():
        if code >= "400":
            schema = openapi.resolve(DOCUMENT, response["content"]["application/json"]["schema"])
            assert schema.get("oneOf") or {"type", "errors"} <= set(schema["properties"]), code


def test_every_cached_read_documents_its_304() -> None:
    cached = {f"{method} {path}" for path, method, operation in OPERATIONS if "304" in operation["responses"]}
    reads = {f"{method} {path}" for path, method, _ in OPERATIONS if method == "GET"}
    # The caller's own vote, the email links, a partner's own webhook endpoints and a draft's preview
    # (private, no-store) are not cached documents; every other read is.
    assert reads - cached == {
        "GET /api/v1/webhooks/endpoints/",
        "GET /api/v1/webhooks/endpoints/{id}/",
        "GET /api/v1/webhooks/endpoints/{id}/deliveries/",
        "GET /api/v1/tools/{slug}/vote/",
        "GET /api/v1/newsletter/confirm/",
        "GET /api/v1/newsletter/unsubscribe/",
        "GET /api/v1/auth/verify/",
        "GET /api/v1/auth/password-reset/confirm/",
        "GET /api/v1/previews/{token}/",
    }


def test_partner_keys_have_a_scheme_a_generator_can_wire() -> None:
    scheme = DOCUMENT["components"]["securitySchemes"]["partnerKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-API-Key")
    tools = DOCUMENT["paths"]["/api/v1/tools/"]["get"]
    assert tools["security"] == [{"partnerKey": []}, {"voterToken": []}, {}]


# --- the linters partners run ---


def _npm_tools() -> Path:
    npm = shutil.which("npm")
    assert npm, "Node.js and npm are needed (Debian packages nodejs, npm)"
    bin_dir = CONTRACT / "node_modules" / ".bin"
    if not all((bin_dir / tool).exists() for tool in ("redocly", "spectral", "openapi-ts", "tsc")):
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=CONTRACT, check=True, timeout=600)
    return bin_dir


def _redocly(schema: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_npm_tools() / "redocly", "lint", schema, "--config", CONTRACT / "redocly.yaml", "--format", "summary"],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "1"},
    )


def _spectral(schema: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_npm_tools() / "spectral", "lint", schema, "--ruleset", CONTRACT / ".spectral.yaml", "--fail-severity=error"],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_redocly_lint_recommended_has_no_errors() -> None:
    result = _redocly(ROOT / "schema.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in result.stdout.replace("0 errors", "")


def test_spectral_oas_and_owasp_have_no_errors() -> None:
    result = _spectral(ROOT / "schema.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(0 errors," in result.stdout or "No results" in result.stdout


def test_the_linters_can_fail(tmp_path: Path) -> None:
    """A summary missing, an unbounded request string: each linter names what it found."""
    import yaml

    broken = copy.deepcopy(DOCUMENT)
    del broken["paths"]["/api/v1/tools/"]["get"]["summary"]
    broken["components"]["schemas"]["VoteRequest"]["properties"]["note"] = {"type": "string"}
    (tmp_path / "schema.yml").write_text(yaml.safe_dump(broken, sort_keys=False))
    redocly = _redocly(tmp_path / "schema.yml")
    assert redocly.returncode != 0 and "operation-summary" in redocly.stdout
    spectral = _spectral(tmp_path / "schema.yml")
    assert spectral.returncode != 0 and "request-string-limit" in spectral.stdout
