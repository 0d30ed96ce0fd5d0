"""Clients generated from the committed schema.yml by standard generators work against the API."""

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from partners.models import PartnerKey
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent
TYPESCRIPT = ROOT / "tests" / "clients" / "typescript"


@pytest.mark.django_db(transaction=True)
def test_a_generated_python_client_fetches_the_comparison_with_an_api_key(tmp_path: Path, live_server) -> None:
    """openapi-python-client builds a client from schema.yml; it authenticates with a partner key."""
    call_command("seed", verbosity=0)
    _, key = PartnerKey.objects.create_key(name="client test", owner=UserFactory())
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [bin_dir / "openapi-python-client", "generate", "--path", ROOT / "schema.yml", "--meta", "none",
         "--output-path", tmp_path / "verdicts_client"],
        check=True,
        capture_output=True,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
    )  # fmt: skip
    sys.path.insert(0, str(tmp_path))
    try:
        client_module = importlib.import_module("verdicts_client")
        retrieve = importlib.import_module("verdicts_client.api.comparisons.comparisons_retrieve")
        client = client_module.AuthenticatedClient(
            base_url=live_server.url, token=key, prefix="Api-Key", raise_on_unexpected_status=True
        )
        with client:
            comparison = retrieve.sync(client=client, pair="code-llama-4-vs-mistral-large-3")
            missing = retrieve.sync_detailed(client=client, pair="code-llama-4-vs-nope")
        bad_key = client_module.AuthenticatedClient(
            base_url=live_server.url, token="x" * 8 + "." + "y" * 32, prefix="Api-Key"
        )
        with bad_key:
            refused = retrieve.sync_detailed(client=bad_key, pair="code-llama-4-vs-mistral-large-3")
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
    assert refused.status_code == 401


def test_generated_typescript_types_compile_against_a_typed_client(tmp_path: Path) -> None:
    """openapi-typescript turns schema.yml into types; tsc --strict checks a client written against them."""
    npm = shutil.which("npm")
    assert npm, "Node.js and npm are needed (Debian packages nodejs, npm)"
    if not (TYPESCRIPT / "node_modules" / ".bin" / "tsc").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=TYPESCRIPT, check=True, timeout=300)
    bin_dir = TYPESCRIPT / "node_modules" / ".bin"
    subprocess.run(
        [bin_dir / "openapi-typescript", ROOT / "schema.yml", "-o", TYPESCRIPT / "schema.d.ts"],
        check=True,
        capture_output=True,
    )
    result = subprocess.run([bin_dir / "tsc", "-p", TYPESCRIPT], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

    # And the check is real: a client that reads a field the schema does not have fails to compile.
    broken = (TYPESCRIPT / "client.ts").read_text().replace("tool.panel.ship_rate", "tool.panel.shipRate")
    (tmp_path / "client.ts").write_text(broken)
    (tmp_path / "schema.d.ts").write_text((TYPESCRIPT / "schema.d.ts").read_text())
    (tmp_path / "tsconfig.json").write_text((TYPESCRIPT / "tsconfig.json").read_text())
    failed = subprocess.run([bin_dir / "tsc", "-p", tmp_path], capture_output=True, text=True)
    assert failed.returncode != 0
    assert "shipRate" in failed.stdout
