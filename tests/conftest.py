from collections.abc import Callable
from datetime import datetime

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django_tasks_db.management.commands import db_worker
from rest_framework.test import APIClient

from compare_api import caching
from tests.factories import UserFactory
from tools.models import Tool, Verdict
from votes import services as vote_services
from votes.services import vote_cast


@pytest.fixture(autouse=True)
def isolated_cache(settings) -> None:
    """Each test starts with an empty cache (throttle counters, documents) and the document
    cache off: writes inside a test's transaction never commit, so they could not invalidate it.
    Caching tests turn it on and commit for real."""
    settings.DOCUMENT_CACHE = False
    cache.clear()
    caching.breaker.reset()
    vote_services._busy_tools.clear()


@pytest.fixture(autouse=True)
def plain_admin_login(settings) -> None:
    """Admin tests log staff in with force_login; the two-factor login (on by default when DEBUG is
    off, as in `make test`) has its own tests, which turn it on (tests/test_admin_login.py)."""
    settings.ADMIN_REQUIRE_2FA = False


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    """Hashing passwords properly is slow by design; tests create hundreds of voters."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api() -> APIClient:
    """A client that goes through the full middleware stack, as frontends do."""
    return APIClient()


@pytest.fixture
def seeded(db) -> None:
    """The seed comparison from seeds/, loaded by the real `seed` command."""
    call_command("seed", verbosity=0)


@pytest.fixture
def cast_votes(db):
    """Cast `ship` and `skip` votes on a tool from fresh voters, through the vote service."""

    def cast(tool: Tool, *, ship: int = 0, skip: int = 0) -> None:
        for verdict, count in ((Verdict.SHIP, ship), (Verdict.SKIP, skip)):
            for _ in range(count):
                vote_cast(voter=UserFactory(), slug=tool.slug, verdict=verdict)

    return cast


@pytest.fixture
def run_tasks(monkeypatch) -> Callable[[], int]:
    """Run every due task with django-tasks-db's own worker loop, as `db_worker --batch` does; returns how many ran.

    Tasks are rows in the test's database, so what a test enqueued in a rolled-back
    transaction is simply not there. The loop's close_old_connections() is switched
    off: inside a test's transaction it would see autocommit off and drop the
    connection, dooming the test's transaction (the real command runs in autocommit).
    """
    monkeypatch.setattr(db_worker, "close_old_connections", lambda: None)

    def run() -> int:
        worker = db_worker.Worker(
            queue_names=["*"],
            interval=0,
            batch=True,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id="test-worker",
            excluded_queue_names=[],
        )
        worker.run()
        return worker._run_tasks

    return run


@pytest.fixture
def run_periodic(run_tasks) -> Callable[..., list[str]]:
    """Enqueue the periodic jobs due at `now` (the clock under the test's control), then run every due task;
    returns the jobs enqueued."""
    from compare_api.periodic import periodic_enqueue_due

    def run(*, now: datetime) -> list[str]:
        enqueued = periodic_enqueue_due(now=now)
        run_tasks()
        return enqueued

    return run
