"""The OpenAPI document partners build on, and the offline Swagger UI."""

import json
import os
import re
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent


def test_schema_validates_without_warnings(tmp_path: Path) -> None:
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    schema = yaml.safe_load((tmp_path / "schema.yml").read_text())
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/comparisons/{pair}/" in schema["paths"]


@pytest.mark.django_db
def test_schema_is_served(api) -> None:
    response = api.get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    schema = yaml.safe_load(response.content)
    comparison = schema["paths"]["/api/v1/comparisons/{pair}/"]["get"]
    assert comparison["operationId"] == "comparisons_retrieve"
    assert set(comparison["responses"]) >= {"200", "400", "404", "405"}
    assert schema["components"]["schemas"]["Tally"]["properties"]["ship_rate"] == {
        "type": "number",
        "format": "double",
        "maximum": 1,
        "minimum": 0,
        "nullable": True,
        "description": "ship / total; null when total is 0 (no data, not 0%).",
    }


@pytest.mark.django_db
def test_swagger_ui_loads_nothing_from_another_host(api) -> None:
    response = api.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "the docs page must not reach the internet"
    assets = re.findall(r"""(?:src|href)=["'](/static/[^"']+)["']""", page)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    for asset in assets:
        assert api.get(asset).status_code == 200, asset


@pytest.mark.django_db
def test_the_served_schema_is_the_committed_schema_yml(api) -> None:
    """Partners build on schema.yml; an API change must update it on purpose (`make schema`)."""
    served = yaml.safe_load(api.get("/api/schema/").content)
    committed = yaml.safe_load((ROOT / "schema.yml").read_text())
    assert served == committed, "the API changed: run `make schema` and review the diff of schema.yml"


@pytest.mark.django_db
def test_security_schemes_let_generated_clients_authenticate(api) -> None:
    schema = yaml.safe_load(api.get("/api/schema/").content)
    assert schema["components"]["securitySchemes"] == {
        "partnerKey": {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "A partner key, sent as `X-API-Key: <key>` (or, equivalently, as "
            "`Authorization: Api-Key <key>`; not both). Staff issue keys in the admin. A revoked or "
            "expired key is a 403.",
        },
        "voterToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "A voter token from POST /api/v1/auth/token/, sent as `Authorization: Bearer <token>`.",
        },
    }
    vote = schema["paths"]["/api/v1/tools/{slug}/vote/"]["put"]
    assert vote["security"] == [{"voterToken": []}]


# Each response example in the schema, the file it is read from, and the live document it shows.
SEED_EXAMPLES = [
    (
        "/api/v1/comparisons/{pair}/",
        "reviews/openapi_examples/comparison.json",
        "/api/v1/comparisons/code-llama-4-vs-mistral-large-3/",
    ),
    ("/api/v1/tools/{slug}/", "tools/openapi_examples/tool.json", "/api/v1/tools/code-llama-4/"),
    ("/api/v1/tools/", "tools/openapi_examples/tools.json", "/api/v1/tools/"),
    ("/api/v1/reviewers/", "reviews/openapi_examples/reviewers.json", "/api/v1/reviewers/"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("operation", "file", "url"), SEED_EXAMPLES)
def test_each_response_example_is_the_live_seed_document(api, seeded, operation, file, url) -> None:
    live = api.get(url).json()
    if os.environ.get("WRITE_EXAMPLES"):  # `make examples`, after a change to a document
        (ROOT / file).write_text(json.dumps(live, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return
    schema = yaml.safe_load(api.get("/api/schema/").content)
    response = schema["paths"][operation]["get"]["responses"]["200"]
    (example,) = response["content"]["application/json"]["examples"].values()
    assert example["value"] == json.loads((ROOT / file).read_text(encoding="utf-8")) == live


@pytest.mark.django_db
def test_redoc_loads_nothing_from_another_host(api) -> None:
    response = api.get("/api/redoc/")
    assert response.status_code == 200
    page = response.content.decode()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert 'spec-url="/api/schema/"' in page
    for asset in re.findall(r"""src=["'](/static/[^"']+)["']""", page):
        assert api.get(asset).status_code == 200, asset


@pytest.mark.django_db
def test_the_schema_is_built_once_per_process(api, monkeypatch) -> None:
    from drf_spectacular.generators import SchemaGenerator

    from compare_api import docs

    built = []
    original = SchemaGenerator.get_schema
    monkeypatch.setattr(docs, "_schemas", {})
    monkeypatch.setattr(SchemaGenerator, "get_schema", lambda self, **kw: built.append(1) or original(self, **kw))
    first, second = api.get("/api/schema/"), api.get("/api/schema/")
    assert (first.status_code, second.status_code, len(built)) == (200, 200, 1)
    assert first.content == second.content
