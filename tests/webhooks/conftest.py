from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from partners.models import PartnerKey
from tests.factories import UserFactory
from tests.helpers import WebhookReceiver
from webhooks import clock as webhook_clock
from webhooks.models import Endpoint


@pytest.fixture(autouse=True)
def loopback_allowed(settings) -> None:
    """The receivers here are on loopback, which production refuses (tests of that turn it off)."""
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


@pytest.fixture
def partner_key(db) -> tuple[PartnerKey, str]:
    """A partner's key and its raw value."""
    return PartnerKey.objects.create_key(name="Acme", owner=UserFactory())


@pytest.fixture
def endpoint_for(partner_key) -> Callable[..., Endpoint]:
    def create(url: str, event_types: list[str] | None = None) -> Endpoint:
        return Endpoint.objects.create(key=partner_key[0], url=url, event_types=event_types or [])

    return create


class Clock:
    """The delivery code's clock, moved by hand; jitter pinned to the middle of its band (no jitter)."""

    def __init__(self) -> None:
        self.now = timezone.now().replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fixed = Clock()
    monkeypatch.setattr(webhook_clock, "now", fixed)
    monkeypatch.setattr(webhook_clock, "jitter", lambda: 0.5)
    return fixed
