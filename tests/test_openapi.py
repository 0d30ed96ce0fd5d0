"""The OpenAPI document partners build on, and the offline Swagger UI."""

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command


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


@pytest.mark.django_db(transaction=True)
def test_a_generated_python_client_fetches_the_comparison(tmp_path: Path, live_server) -> None:
    """openapi-python-client builds a client from our schema; it fetches and parses the seed comparison."""
    call_command("seed", verbosity=0)
    call_command("spectacular", "--file", str(tmp_path / "schema.yml"))
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [
            bin_dir / "openapi-python-client",
            "generate",
            "--path",
            tmp_path / "schema.yml",
            "--meta",
            "none",
            "--output-path",
            tmp_path / "verdicts_client",
        ],
        check=True,
        capture_output=True,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
    )
    sys.path.insert(0, str(tmp_path))
    try:
        client_module = importlib.import_module("verdicts_client")
        retrieve = importlib.import_module("verdicts_client.api.comparisons.comparisons_retrieve")
        with client_module.Client(base_url=live_server.url, raise_on_unexpected_status=True) as client:
            comparison = retrieve.sync(client=client, pair="code-llama-4-vs-mistral-large-3")
            missing = retrieve.sync_detailed(client=client, pair="code-llama-4-vs-nope")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.startswith("verdicts_client")]:
            del sys.modules[name]
    assert type(comparison).__name__ == "Comparison"
    assert [tool.slug for tool in comparison.tools] == ["code-llama-4", "mistral-large-3"]
    assert [tool.panel.ship_rate for tool in comparison.tools] == [0.75, 1.0]
    assert [tool.community.ship_rate for tool in comparison.tools] == [None, None]
    assert comparison.scorecard[3].reviews[0].verdict.value == "skip"
    assert comparison.panel_pick == "mistral-large-3"
    assert missing.status_code == 404
    assert missing.parsed.errors[0].detail == "No published tool has the slug 'nope'."
