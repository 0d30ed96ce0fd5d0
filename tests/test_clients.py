"""Clients generated from the committed schema.yml by standard generators work against the API."""

import importlib
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import call_command

from events.models import Event
from partners.models import PartnerKey
from tests.factories import UserFactory
from tests.helpers import bearer

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


# --- openapi-generator (the Java generator, from its PyPI package) and @hey-api/openapi-ts ---

CONTRACT = ROOT / "tests" / "contract"
SEED_PAIR = "code-llama-4-vs-mistral-large-3"


def _partner_keys() -> tuple[str, str]:
    """A premium key and a revoked one, as the admin issues them."""
    owner = UserFactory()
    _, premium = PartnerKey.objects.create_key(name="premium", owner=owner, tier="premium")
    revoked, revoked_key = PartnerKey.objects.create_key(name="revoked", owner=owner)
    PartnerKey.objects.filter(pk=revoked.pk).update(revoked=True)
    return premium, revoked_key


def _openapi_generator(generator: str, output: Path, *options: str) -> None:
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [bin_dir / "openapi-generator-cli", "generate", "-i", ROOT / "schema.yml", "-g", generator, "-o", output,
         *options],
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(output.parent)},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.clients
@pytest.mark.django_db(transaction=True)
def test_openapi_generator_python_client_installs_and_runs_the_flows(tmp_path: Path, live_server) -> None:
    call_command("seed", verbosity=0)
    premium, revoked = _partner_keys()
    _openapi_generator("python", tmp_path / "generated", "--package-name", "verdicts_generated",
                       "--additional-properties=projectName=verdicts-generated")  # fmt: skip
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", site, tmp_path / "generated"],
        check=True,
        capture_output=True,
        timeout=300,
    )  # fmt: skip
    sys.path.insert(0, str(site))
    try:
        results = _python_flows(importlib.import_module("verdicts_generated"), live_server.url, premium, revoked)
    finally:
        sys.path.remove(str(site))
        for name in [name for name in sys.modules if name.startswith("verdicts_generated")]:
            del sys.modules[name]
    assert results == {
        "ship_rates": [0.75, 1.0],
        "fourth_reviewer_on_code_llama": "skip",
        "paged_slugs": ["code-llama-4", "mistral-large-3"],
        "feed": {"comparison.published": 1, "review.published": 8, "reviewer.joined": 4, "tool.published": 2},
        "vote": (201, "ship", "ship"),
        "not_found": (404, "not_found", "No published tool has the slug 'nope'."),
        "bad_request": (400, "validation_error", "pair"),
        "partner_limit": "5000",
        "revoked": (403, "permission_denied", "This API key has been revoked or has expired."),
    }


def _python_flows(client, base_url: str, premium: str, revoked: str) -> dict:
    from verdicts_generated import models
    from verdicts_generated.exceptions import ApiException

    def api(**configuration):
        return client.ApiClient(client.Configuration(host=base_url, **configuration))

    results: dict = {}
    anonymous = api()
    comparison = client.ComparisonsApi(anonymous).comparisons_retrieve(pair=SEED_PAIR)
    assert isinstance(comparison, models.Comparison)
    results["ship_rates"] = [tool.panel.ship_rate for tool in comparison.tools]
    verdict = comparison.scorecard[3].reviews[0].verdict
    assert verdict is models.NullableVerdictEnum.SKIP
    results["fourth_reviewer_on_code_llama"] = verdict.value

    tools, slugs, page = client.ToolsApi(anonymous), [], 1
    while page:
        listing = tools.tools_list(page=page, page_size=1)
        slugs += [tool.slug for tool in listing.results]
        page = page + 1 if listing.next else None
    results["paged_slugs"] = slugs
    results["feed"] = _follow_the_feed(client.ChangesApi(anonymous))

    auth = client.AuthApi(anonymous)
    # Sent with an email address: registration may require one (verified voters).
    auth.auth_register(models.RegisterRequest(username="generated", email="generated@example.com",
                                              password="a long enough passphrase"))  # fmt: skip
    token = auth.auth_token_create(models.TokenRequest(username="generated", password="a long enough passphrase"))
    voter_tools = client.ToolsApi(api(access_token=token.token))
    cast = voter_tools.tools_vote_update_with_http_info("code-llama-4", models.VoteRequest(verdict="ship"))
    read_back = voter_tools.tools_vote_retrieve("code-llama-4")
    results["vote"] = (cast.status_code, cast.data.verdict.value, read_back.verdict.value)

    try:
        client.ComparisonsApi(anonymous).comparisons_retrieve(pair="code-llama-4-vs-nope")
    except ApiException as error:
        missing = models.ErrorResponse404.from_json(error.body)
        results["not_found"] = (error.status, missing.errors[0].code.value, missing.errors[0].detail)
    try:
        client.ComparisonsApi(anonymous).comparisons_retrieve(pair="code-llama-4-vs-code-llama-4")
    except ApiException as error:
        invalid = models.ValidationErrorResponse.from_json(error.body)
        results["bad_request"] = (error.status, invalid.type.value, invalid.errors[0].attr)

    partner = client.ComparisonsApi(api(api_key={"partnerKey": premium}))
    results["partner_limit"] = partner.comparisons_retrieve_with_http_info(pair=SEED_PAIR).headers["RateLimit-Limit"]
    try:
        client.ComparisonsApi(api(api_key={"partnerKey": revoked})).comparisons_retrieve(pair=SEED_PAIR)
    except ApiException as error:
        refused = models.ErrorResponse403.from_json(error.body)
        results["revoked"] = (error.status, refused.errors[0].code.value, refused.errors[0].detail)
    return results


def _follow_the_feed(changes) -> dict[str, int]:
    """Page through the change feed with the cursor, as a partner's sync job would, until it has every
    event written so far (PostgreSQL shows an event once every older transaction on the server ended)."""
    written, types, after = Event.objects.count(), [], None
    deadline = time.monotonic() + 30
    while len(types) < written and time.monotonic() < deadline:
        page = changes.changes_list(limit=5, **({"after": after} if after else {}))
        types += [getattr(event.actual_instance.type, "value", event.actual_instance.type) for event in page.results]
        after = page.next
        if not page.has_more and len(types) < written:
            time.sleep(0.2)
    return dict(sorted(Counter(types).items()))


def _npm_bin() -> Path:
    npm = shutil.which("npm")
    assert npm, "Node.js and npm are needed (Debian packages nodejs, npm)"
    bin_dir = CONTRACT / "node_modules" / ".bin"
    if not (bin_dir / "openapi-ts").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=CONTRACT, check=True, timeout=600)
    return bin_dir


@pytest.mark.clients
def test_openapi_generator_typescript_fetch_compiles_strict(tmp_path: Path) -> None:
    _openapi_generator("typescript-fetch", tmp_path / "generated")
    (tmp_path / "tsconfig.json").write_text(
        '{"compilerOptions": {"strict": true, "noEmit": true, "target": "ES2022", "module": "ES2022",'
        ' "moduleResolution": "bundler", "lib": ["ES2022", "DOM"], "skipLibCheck": true},'
        ' "include": ["generated/**/*.ts", "use.ts"]}'
    )
    (tmp_path / "use.ts").write_text(
        'import { ComparisonsApi, Configuration, NullableVerdictEnum } from "./generated";\n'
        'const api = new ComparisonsApi(new Configuration({ apiKey: "key" }));\n'
        "export async function fourthVerdict(): Promise<NullableVerdictEnum | null> {\n"
        '  const comparison = await api.comparisonsRetrieve({ pair: "code-llama-4-vs-mistral-large-3" });\n'
        "  const rate: number | null = comparison.tools[0].panel.shipRate;\n"
        "  void rate;\n"
        "  return comparison.scorecard[3].reviews[0].verdict;\n"
        "}\n"
    )
    result = subprocess.run([_npm_bin() / "tsc", "-p", tmp_path], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]


@pytest.mark.clients
@pytest.mark.django_db(transaction=True)
def test_hey_api_client_compiles_strict_and_sends_each_scheme_its_header(tmp_path: Path, live_server) -> None:
    """One auth callback: the SDK sends the partner key as X-API-Key and the voter token as Bearer."""
    call_command("seed", verbosity=0)
    premium, _ = _partner_keys()
    voter = UserFactory()
    token = bearer(voter)["HTTP_AUTHORIZATION"].removeprefix("Bearer ")
    # Built in a fresh directory (two runs of the suite may share the work tree), with the
    # committed client and the npm packages of tests/contract.
    bin_dir, hey = _npm_bin(), tmp_path / "hey"
    hey.mkdir()
    shutil.copy(CONTRACT / "hey" / "client.ts", hey)
    config = json.loads((CONTRACT / "hey" / "tsconfig.json").read_text())
    config["compilerOptions"]["typeRoots"] = [str(CONTRACT / "node_modules" / "@types")]
    (hey / "tsconfig.json").write_text(json.dumps(config))
    generated = subprocess.run(
        [bin_dir / "openapi-ts", "-i", ROOT / "schema.yml", "-o", hey / "generated"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    compiled = subprocess.run([bin_dir / "tsc", "-p", hey], capture_output=True, text=True, timeout=300)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    ran = subprocess.run(
        ["node", hey / "build" / "client.js", live_server.url, premium, token],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert json.loads(ran.stdout) == {
        "seed": 200,
        "tier_limit": "5000",
        "ship_rate": 0.75,
        "verdict": "skip",
        "cast": 201,
        "read_back": "ship",
    }
