import pytest
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.test import APIClient

from compare_api import caching
from tests.factories import UserFactory
from tools.models import Tool, Verdict
from votes.services import vote_cast


@pytest.fixture(autouse=True)
def isolated_cache(settings) -> None:
    """Each test starts with an empty cache (throttle counters, documents) and the document
    cache off: writes inside a test's transaction never commit, so they could not invalidate it.
    Caching tests turn it on and commit for real."""
    settings.DOCUMENT_CACHE = False
    cache.clear()
    caching.breaker._down_until, caching.breaker._lost_bumps = 0.0, False


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
