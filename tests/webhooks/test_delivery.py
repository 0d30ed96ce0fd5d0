"""Deliveries: written with their event, signed per Standard Webhooks, retried on schedule, kept off inner addresses."""

import json
import socket
from datetime import timedelta

import pytest
from django.db import connection, transaction
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from events.services import event_record
from partners.models import PartnerKey
from tests.factories import UserFactory
from tests.helpers import free_port
from webhooks import clock as webhook_clock
from webhooks import delivery
from webhooks.models import Attempt, Delivery, DeliveryStatus, Endpoint
from webhooks.services import endpoint_secret_rotate, endpoint_test_send
from webhooks.worker import deliveries_send_due

pytestmark = pytest.mark.django_db


def _attempts(endpoint: Endpoint) -> list[tuple[int | None, str]]:
    return list(Attempt.objects.filter(delivery__endpoint=endpoint).values_list("status_code", "error"))


class TestOutbox:
    def test_each_enabled_subscribed_endpoint_gets_one_delivery_in_the_events_transaction(
        self, endpoint_for, django_assert_num_queries
    ) -> None:
        every = endpoint_for("https://a.example/hooks")
        tools_only = endpoint_for("https://b.example/hooks", ["tool.updated"])
        endpoint_for("https://c.example/hooks", ["review.updated"])
        disabled = endpoint_for("https://d.example/hooks")
        Endpoint.objects.filter(pk=disabled.pk).update(disabled_at=webhook_clock.now(), disabled_reason="test")
        revoked_key, _ = PartnerKey.objects.create_key(name="Gone", owner=UserFactory(), revoked=True)
        Endpoint.objects.create(key=revoked_key, url="https://e.example/hooks")
        # SAVEPOINT, the event's INSERT (and, on PostgreSQL, its txid read back), the enabled endpoints,
        # one INSERT of the deliveries, RELEASE.
        with django_assert_num_queries(6 if connection.vendor == "postgresql" else 5), transaction.atomic():
            event = event_record("tool.updated", {"slug": "alpha"})
        assert list(Delivery.objects.values_list("endpoint_id", "event_id", "status", "attempt_count")) == [
            (every.pk, event.pk, "pending", 0),
            (tools_only.pk, event.pk, "pending", 0),
        ]

    def test_a_rolled_back_change_leaves_no_delivery(self, endpoint_for) -> None:
        endpoint_for("https://a.example/hooks")
        with pytest.raises(RuntimeError), transaction.atomic():
            event_record("tool.updated", {"slug": "alpha"})
            raise RuntimeError("the change failed")
        assert not Delivery.objects.exists()


class TestSignature:
    def test_the_receiver_gets_the_event_signed_and_verifiable(self, receiver, endpoint_for) -> None:
        endpoint = endpoint_for(receiver.url)
        event = event_record("review.updated", {"tool": "alpha", "reviewer": "the-builder", "verdict": "ship"})
        assert deliveries_send_due() == 1
        (request,) = receiver.received
        headers = request["headers"]
        assert request["path"] == "/hooks"
        assert headers["webhook-id"] == f"msg_{Delivery.objects.get().pk}"
        assert headers["Content-Type"] == "application/json"
        assert Webhook(endpoint.secret).verify(request["body"], headers) == {
            "type": "review.updated",
            "timestamp": event.created_at.isoformat().replace("+00:00", "Z"),
            "data": {"tool": "alpha", "reviewer": "the-builder", "verdict": "ship"},
            "event_id": event.pk,
            "schema_version": 1,
        }
        assert Delivery.objects.get().status == DeliveryStatus.SUCCEEDED
        assert _attempts(endpoint) == [(204, "")]

    def test_a_wrong_secret_fails_verification(self, receiver, endpoint_for) -> None:
        endpoint_for(receiver.url)
        event_record("tool.updated", {"slug": "alpha"})
        deliveries_send_due()
        (request,) = receiver.received
        other = Endpoint(url="https://x.example/").secret
        with pytest.raises(WebhookVerificationError, match="No matching signature"):
            Webhook(other).verify(request["body"], request["headers"])

    def test_a_replayed_old_message_fails_verification(self, receiver, endpoint_for, clock) -> None:
        endpoint = endpoint_for(receiver.url)
        clock.advance(minutes=-6)  # sent six minutes ago: what a replay of a captured request looks like now
        event_record("tool.updated", {"slug": "alpha"})
        deliveries_send_due()
        (request,) = receiver.received
        with pytest.raises(WebhookVerificationError, match="too old"):
            Webhook(endpoint.secret).verify(request["body"], request["headers"])

    def test_the_id_is_the_same_on_every_attempt(self, receiver, endpoint_for, clock) -> None:
        endpoint_for(receiver.url)
        receiver.answers = [(500, {})]
        event_record("tool.updated", {"slug": "alpha"})
        deliveries_send_due()
        clock.advance(seconds=5)
        deliveries_send_due()
        first, second = (request["headers"]["webhook-id"] for request in receiver.received)
        assert first == second == Delivery.objects.get().message_id

    def test_after_a_rotation_both_secrets_sign_until_the_grace_period_ends(
        self, receiver, endpoint_for, clock, settings
    ) -> None:
        endpoint = endpoint_for(receiver.url)
        old = endpoint.secret
        endpoint_secret_rotate(endpoint=endpoint)
        Endpoint.objects.filter(pk=endpoint.pk).update(previous_secret_expires_at=clock.now + timedelta(hours=1))
        endpoint.refresh_from_db()
        event_record("tool.updated", {"slug": "alpha"})
        deliveries_send_due()
        clock.advance(hours=1)
        event_record("tool.updated", {"slug": "beta"})
        deliveries_send_due()
        during, after = (request["headers"]["webhook-signature"].split(" ") for request in receiver.received)
        assert len(during) == 2 and len(after) == 1
        body = receiver.received[0]["body"].decode()
        at = clock.now - timedelta(hours=1)
        assert during == [
            Webhook(s).sign(receiver.received[0]["headers"]["webhook-id"], at, body) for s in (endpoint.secret, old)
        ]
        assert old != endpoint.secret

    def test_a_test_message_goes_to_that_endpoint_only(self, receiver, endpoint_for) -> None:
        endpoint = endpoint_for(receiver.url)
        endpoint_for(receiver.url.replace("/hooks", "/other"))
        test = endpoint_test_send(endpoint=endpoint)
        deliveries_send_due()
        (request,) = receiver.received
        assert json.loads(request["body"]) == {
            "type": "webhook.test",
            "timestamp": test.created_at.isoformat().replace("+00:00", "Z"),
            "data": {"endpoint_id": endpoint.pk},
            "event_id": None,
            "schema_version": 1,
        }
        assert Webhook(endpoint.secret).verify(request["body"], request["headers"])["type"] == "webhook.test"


class TestRetries:
    def test_failures_follow_the_schedule_then_disable_the_endpoint(self, receiver, endpoint_for, clock) -> None:
        receiver.default = 500
        endpoint = endpoint_for(receiver.url)
        event_record("tool.updated", {"slug": "alpha"})
        started = clock.now
        sent_at = []
        for wait in delivery.SCHEDULE:
            clock.advance(seconds=wait - 1)
            deliveries_send_due()
            assert len(receiver.received) == len(sent_at), "not before its time"
            clock.advance(seconds=1)
            deliveries_send_due()
            sent_at.append(int((clock.now - started).total_seconds()))
            assert len(receiver.received) == len(sent_at)
        assert sent_at == [0, 5, 305, 2105, 9305, 27305, 63305, 99305]  # the last one 27.6 hours in
        endpoint.refresh_from_db()
        assert (Delivery.objects.get().status, Delivery.objects.get().attempt_count) == ("failed", 8)
        assert endpoint.disabled_at == clock.now
        assert endpoint.disabled_reason == (
            f"msg_{Delivery.objects.get().pk} failed all 8 attempts since {started:%Y-%m-%d %H:%M} UTC "
            "(the last: HTTP 500)."
        )
        clock.advance(hours=30)
        event_record("tool.updated", {"slug": "beta"})
        deliveries_send_due()
        assert len(receiver.received) == 8, "a disabled endpoint gets nothing"

    def test_jitter_spreads_each_wait_by_ten_percent(self, monkeypatch, settings) -> None:
        monkeypatch.setattr(webhook_clock, "jitter", lambda: 0.0)
        assert delivery.retry_wait(attempt=2, retry_after=None) == timedelta(seconds=270)
        monkeypatch.setattr(webhook_clock, "jitter", lambda: 0.999999)
        assert round(delivery.retry_wait(attempt=2, retry_after=None).total_seconds()) == 330

    def test_retry_after_lengthens_a_wait_up_to_its_bound(self, receiver, endpoint_for, clock, settings) -> None:
        settings.WEBHOOK_RETRY_AFTER_MAX_SECONDS = 3600
        endpoint_for(receiver.url)
        receiver.answers = [
            (503, {"Retry-After": "120"}),
            (429, {"Retry-After": "999999"}),
            (503, {"Retry-After": "1"}),
        ]
        event_record("tool.updated", {"slug": "alpha"})
        waits = []
        for _ in range(3):
            before = clock.now
            deliveries_send_due()
            clock.now = Delivery.objects.get().next_attempt_at
            waits.append((clock.now - before).total_seconds())
        assert waits == [120, 3600, 1800]  # Retry-After, bounded, and never shorter than the schedule
        deliveries_send_due()
        assert Delivery.objects.get().status == "succeeded"

    def test_a_410_disables_the_endpoint_at_once(self, receiver, endpoint_for) -> None:
        endpoint = endpoint_for(receiver.url)
        receiver.answers = [(410, {})]
        event_record("tool.updated", {"slug": "alpha"})
        deliveries_send_due()
        endpoint.refresh_from_db()
        assert Delivery.objects.get().status == "failed"
        assert endpoint.disabled_reason == (
            f"The endpoint answered 410 Gone to msg_{Delivery.objects.get().pk}: it asked for no more deliveries."
        )

    def test_any_2xx_is_a_success_and_a_redirect_is_not_followed(self, receiver, endpoint_for) -> None:
        endpoint = endpoint_for(receiver.url)
        receiver.answers = [(202, {}), (302, {"Location": receiver.url.replace("/hooks", "/elsewhere")})]
        event_record("tool.updated", {"slug": "alpha"})
        event_record("tool.updated", {"slug": "beta"})
        deliveries_send_due()
        assert [request["path"] for request in receiver.received] == ["/hooks", "/hooks"]
        assert _attempts(endpoint) == [(202, ""), (302, "")]
        assert list(Delivery.objects.values_list("status", flat=True)) == ["succeeded", "pending"]

    def test_a_failing_delivery_holds_the_later_ones_back_then_all_go_in_order(
        self, receiver, endpoint_for, clock
    ) -> None:
        endpoint_for(receiver.url)
        receiver.answers = [(500, {})]
        for slug in ("a", "b", "c"):
            event_record("tool.updated", {"slug": slug})
        deliveries_send_due()
        assert len(receiver.received) == 1
        clock.advance(seconds=5)
        deliveries_send_due()
        slugs = [json.loads(request["body"])["data"]["slug"] for request in receiver.received]
        assert slugs == ["a", "a", "b", "c"]

    def test_an_unreachable_receiver_is_a_failed_attempt(self, endpoint_for) -> None:
        endpoint = endpoint_for(f"http://127.0.0.1:{free_port()}/hooks")  # nothing listens there
        event_record("tool.updated", {"slug": "alpha"})
        deliveries_send_due()
        ((status, error),) = _attempts(endpoint)
        assert status is None and error.startswith("ConnectionRefusedError")


class TestConnections:
    def test_one_connection_carries_an_endpoints_deliveries(self, receiver, endpoint_for) -> None:
        endpoint_for(receiver.url)
        for slug in ("a", "b", "c"):
            event_record("tool.updated", {"slug": slug})
        deliveries_send_due()
        assert len({request["client"] for request in receiver.received}) == 1

    def test_a_connection_the_receiver_closed_is_replaced_without_a_failed_attempt(
        self, receiver, endpoint_for
    ) -> None:
        receiver.drop_connections = True
        endpoint = endpoint_for(receiver.url)
        for slug in ("a", "b", "c"):
            event_record("tool.updated", {"slug": slug})
        deliveries_send_due()
        assert len({request["client"] for request in receiver.received}) == 3
        assert _attempts(endpoint) == [(204, "")] * 3

    def test_connection_close_is_honoured(self, receiver, endpoint_for) -> None:
        endpoint_for(receiver.url)
        receiver.answers = [(200, {"Connection": "close"})]
        for slug in ("a", "b"):
            event_record("tool.updated", {"slug": slug})
        deliveries_send_due()
        assert len({request["client"] for request in receiver.received}) == 2


class TestAddresses:
    @pytest.mark.parametrize(
        "address",
        ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
         "224.0.0.1", "240.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "ff02::1"],
    )  # fmt: skip
    def test_inner_addresses_are_refused(self, address: str) -> None:
        assert delivery.address_refusal(address) == f"{address} is not a public address"

    @pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
    def test_public_addresses_are_taken(self, address: str) -> None:
        assert delivery.address_refusal(address) is None

    def test_loopback_is_refused_unless_the_setting_allows_it(self, receiver, endpoint_for, settings) -> None:
        settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
        endpoint = endpoint_for(receiver.url)
        event_record("tool.updated", {"slug": "alpha"})
        deliveries_send_due()
        assert receiver.received == []
        assert _attempts(endpoint) == [(None, "refused: 127.0.0.1 resolves to 127.0.0.1 is not a public address")]

    def test_every_resolved_address_is_checked(self, endpoint_for, monkeypatch, settings) -> None:
        settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
        answers = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, 443)) for ip in ("93.184.215.14", "10.0.0.7")]
        monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: answers)
        endpoint = endpoint_for("https://hooks.example/in")
        event_record("tool.updated", {"slug": "alpha"})
        deliveries_send_due()
        assert _attempts(endpoint) == [(None, "refused: hooks.example resolves to 10.0.0.7 is not a public address")]

    def test_the_connection_goes_to_the_checked_address(self, receiver, endpoint_for, monkeypatch) -> None:
        """The name is resolved once, by the check; the connection uses that answer, not a second lookup."""
        port = receiver.server.server_port
        lookups = []

        def resolve(host, *args, **kwargs):
            lookups.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

        monkeypatch.setattr(socket, "getaddrinfo", resolve)
        endpoint_for(f"http://hooks.example:{port}/in")
        event_record("tool.updated", {"slug": "alpha"})
        deliveries_send_due()
        (request,) = receiver.received
        assert (request["path"], request["headers"]["Host"]) == ("/in", f"hooks.example:{port}")
        # The name once; then only the checked address (create_connection's lookup of an IP literal).
        assert lookups == ["hooks.example", "127.0.0.1"]
