"""Schema-driven fuzzing: schemathesis calls every operation of our own OpenAPI schema in-process.

Checks: no 500s, every status is documented, every response matches its schema,
schema-violating input is refused, and authentication is never ignored. The
run passes because the schema is accurate: no check is turned off.
"""

from collections.abc import Iterator

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    ignored_auth,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from compare_api.wsgi import application
from partners.models import PartnerKey
from webhooks.models import Endpoint

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture
def fuzz_world(seeded, settings, django_user_model) -> Iterator[dict[str, dict[str, str]]]:
    """The seed comparison, generous limits, and credentials for the operations that need them."""
    from tests.helpers import bearer

    # Schemathesis calls the WSGI app directly, not through Django's test client, which
    # would stop each request from closing the test's database connection (and transaction).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)

    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {k: "1000000/min" for k in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]},
    }
    voter = django_user_model.objects.create_user("fuzz-voter", password="fuzz voter passphrase")
    partner_key, key = PartnerKey.objects.create_key(name="Fuzz partner", owner=voter)
    Endpoint.objects.create(key=partner_key, url="https://hooks.example/in")  # so {id} paths can hit a real one
    yield {"voter": {"Authorization": bearer(voter)["HTTP_AUTHORIZATION"]}, "partner": {"X-API-Key": key}}
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


CALLS: list[str] = []


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=60, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation(case, fuzz_world) -> None:
    CALLS.append(f"{case.method} {case.path}")
    headers = fuzz_world["voter"]
    if case.path.startswith("/api/v1/webhooks/"):
        # A partner key only: the real one where the case carries the header, none where a negative case
        # left the required header out (and a 401 is then the right answer).
        headers = fuzz_world["partner"] if "X-API-Key" in (case.headers or {}) else {}
    case.call_and_validate(headers=headers, checks=CHECKS)


def test_zz_every_operation_was_fuzzed() -> None:
    """Runs after the fuzzing (file order): every documented operation got many cases."""
    if not CALLS:
        pytest.skip("run with the fuzz test")
    operations = {f"{method.upper()} {path}" for path, item in schema.raw_schema["paths"].items() for method in item}
    # Schemathesis also tries undocumented methods on each path (they must be 405s).
    assert operations <= {call.upper().split(" ", 1)[0] + " " + call.split(" ", 1)[1] for call in CALLS}
    print(f"\nfuzzed {len(CALLS)} cases over {len(operations)} operations")
