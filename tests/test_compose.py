"""Static checks of docker-compose.yml and the Dockerfile.

Docker isn't available where the suite runs, so these tests catch what
`docker compose up` would otherwise find late: a file the Compose spec rejects,
a service started before its database is healthy, or a server started without
gunicorn.conf.py. No database is needed.
"""

import copy
import json
import re
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from jsonschema.validators import validator_for

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = ["gunicorn", "compare_api.wsgi", "--config", "gunicorn.conf.py"]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    """A validator for the Compose spec schema that check-jsonschema vendors."""
    path = files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def test_compose_file_matches_compose_spec(compose: dict[str, Any], validator: jsonschema.protocols.Validator) -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []
    assert "version" not in compose, "top-level `version` is obsolete in the Compose spec"


@pytest.mark.parametrize(
    "break_it",
    [
        pytest.param(lambda data: data["services"]["web"].update(ports=8000), id="ports-not-a-list"),
        pytest.param(lambda data: data.update(not_a_compose_key=True), id="unknown-top-level-key"),
        pytest.param(lambda data: data["services"]["db"].update(helthcheck={}), id="misspelt-service-key"),
    ],
)
def test_invalid_compose_fails_validation(
    compose: dict[str, Any], validator: jsonschema.protocols.Validator, break_it: Callable[[dict[str, Any]], None]
) -> None:
    broken = copy.deepcopy(compose)
    break_it(broken)
    assert not validator.is_valid(broken)


def test_dependencies_wait_for_healthy_services(compose: dict[str, Any]) -> None:
    services: dict[str, Any] = compose["services"]
    assert services["web"].get("depends_on"), "web should wait for db and redis"
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: the list form of depends_on can't wait for health"
        for target, spec in depends_on.items():
            assert target in services, f"{name} depends on unknown service {target}"
            assert spec.get("condition") == "service_healthy", f"{name} should wait for {target} to be healthy"
            assert "healthcheck" in services[target], f"{target} has no healthcheck, so it can never be healthy"


def test_gunicorn_runs_with_its_config(compose: dict[str, Any]) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
    cmds = [json.loads(line.removeprefix("CMD")) for line in dockerfile if line.startswith("CMD ")]
    assert cmds == [GUNICORN]
    assert "ENV BIND=0.0.0.0:8000" in dockerfile, "gunicorn.conf.py binds to 127.0.0.1 unless BIND is set"

    shell, flag, script = compose["services"]["web"]["command"]
    assert (shell, flag) == ("sh", "-c")
    assert script == "python manage.py migrate --noinput && python manage.py seed && exec " + " ".join(GUNICORN)


def test_only_nginx_is_published_and_it_fronts_gunicorn(compose: dict[str, Any]) -> None:
    services: dict[str, Any] = compose["services"]
    assert [name for name, service in services.items() if "ports" in service] == ["nginx"]
    assert services["nginx"]["ports"] == ["8000:8000"]
    command = services["nginx"]["command"]
    assert command[:4] == ["python", "-m", "deploy.stack", "nginx"]
    assert command[command.index("--upstream") + 1] == "web:8000"
    assert services["web"]["expose"] == ["8000"]
    assert services["nginx"]["depends_on"] == {"web": {"condition": "service_healthy"}}
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "apt-get install -y --no-install-recommends nginx" in dockerfile


def test_web_and_worker_run_behind_one_proxy_with_the_same_settings(compose: dict[str, Any]) -> None:
    web, worker, webhooks = (compose["services"][name] for name in ("web", "worker", "webhooks"))
    assert worker["command"] == ["python", "manage.py", "db_worker", "--no-reload"]
    assert webhooks["command"] == ["python", "manage.py", "webhooks_deliver"]
    assert web["environment"] is worker["environment"] is webhooks["environment"]  # one YAML anchor
    assert web["environment"]["NUM_PROXIES"] == "1"
    assert web["healthcheck"]["test"][-1].endswith("urlopen('http://127.0.0.1:8000/readyz', timeout=5)")


def test_secrets_have_no_defaults(compose: dict[str, Any]) -> None:
    """Compose refuses to start (`${NAME:?...}`) unless SECRET_KEY and POSTGRES_PASSWORD are set."""
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    uses = re.findall(r"\$\{(SECRET_KEY|POSTGRES_PASSWORD)([^}]*)\}", text)
    assert {name for name, _ in uses} == {"SECRET_KEY", "POSTGRES_PASSWORD"}
    assert all(modifier.startswith(":?") for _, modifier in uses), uses
    assert "change-me" not in text
