"""The partners' webhook API: their key's endpoints only, the secret shown once, deliveries with their attempts."""

import pytest
from rest_framework.test import APIClient

from events.services import event_record
from partners.models import PartnerKey
from tests.factories import UserFactory
from webhooks.models import Delivery, Endpoint
from webhooks.worker import deliveries_send_due

pytestmark = pytest.mark.django_db

ENDPOINTS = "/api/v1/webhooks/endpoints/"


@pytest.fixture
def partner(partner_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=partner_key[1])
    return client


def _iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_create_shows_the_secret_once(partner: APIClient, settings) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    response = partner.post(
        ENDPOINTS, {"url": "https://hooks.example/in", "event_types": ["tool.updated"]}, format="json"
    )
    assert response.status_code == 201
    endpoint = Endpoint.objects.get()
    assert response.json() == {
        "id": endpoint.pk,
        "url": "https://hooks.example/in",
        "event_types": ["tool.updated"],
        "enabled": True,
        "disabled_at": None,
        "disabled_reason": None,
        "created_at": _iso(endpoint.created_at),
        "secret": endpoint.secret,
    }
    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) == len("whsec_") + 44
    detail = partner.get(f"{ENDPOINTS}{endpoint.pk}/").json()
    assert "secret" not in detail and endpoint.secret not in str(detail)


def test_an_endpoint_can_be_created_paused(partner: APIClient) -> None:
    response = partner.post(ENDPOINTS, {"url": "https://hooks.example/in", "enabled": False}, format="json")
    assert (response.json()["enabled"], response.json()["disabled_reason"]) == (False, "Disabled by the partner.")


def test_list_and_detail_show_only_this_keys_endpoints(
    partner: APIClient, partner_key, django_assert_num_queries
) -> None:
    other_key, _ = PartnerKey.objects.create_key(name="Other", owner=UserFactory())
    theirs = Endpoint.objects.create(key=other_key, url="https://other.example/in")
    mine = [Endpoint.objects.create(key=partner_key[0], url=f"https://hooks.example/{n}") for n in range(3)]
    with django_assert_num_queries(3):  # the key, the count, the page
        response = partner.get(ENDPOINTS)
    assert [row["id"] for row in response.json()["results"]] == [e.pk for e in mine]
    for method in ("get", "patch", "delete"):
        assert getattr(partner, method)(f"{ENDPOINTS}{theirs.pk}/", {}, format="json").status_code == 404
    for action in ("rotate-secret", "test"):
        assert partner.post(f"{ENDPOINTS}{theirs.pk}/{action}/").status_code == 404
    assert partner.get(f"{ENDPOINTS}{theirs.pk}/deliveries/").status_code == 404
    assert Endpoint.objects.filter(pk=theirs.pk, url="https://other.example/in").exists()


def test_a_disabled_endpoint_says_why_and_can_be_enabled_again(partner: APIClient, partner_key, endpoint_for, receiver):
    endpoint = endpoint_for(receiver.url)
    receiver.answers = [(410, {})]
    event_record("tool.updated", {"slug": "alpha"})
    deliveries_send_due()
    body = partner.get(f"{ENDPOINTS}{endpoint.pk}/").json()
    assert body["enabled"] is False
    assert body["disabled_reason"] == (
        f"The endpoint answered 410 Gone to msg_{Delivery.objects.get().pk}: it asked for no more deliveries."
    )
    response = partner.patch(f"{ENDPOINTS}{endpoint.pk}/", {"enabled": True}, format="json")
    assert (response.json()["enabled"], response.json()["disabled_reason"], response.json()["disabled_at"]) == (
        True,
        None,
        None,
    )


def test_update_changes_url_and_types(partner: APIClient, endpoint_for) -> None:
    endpoint = endpoint_for("https://hooks.example/in")
    response = partner.patch(
        f"{ENDPOINTS}{endpoint.pk}/",
        {"url": "https://hooks.example/v2", "event_types": ["review.updated", "tool.updated"]},
        format="json",
    )
    assert response.status_code == 200
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.event_types) == ("https://hooks.example/v2", ["review.updated", "tool.updated"])
    assert partner.patch(f"{ENDPOINTS}{endpoint.pk}/", {"enabled": False}, format="json").json()["disabled_reason"] == (
        "Disabled by the partner."
    )


def test_delete(partner: APIClient, endpoint_for) -> None:
    endpoint = endpoint_for("https://hooks.example/in")
    assert partner.delete(f"{ENDPOINTS}{endpoint.pk}/").status_code == 204
    assert not Endpoint.objects.exists()


def test_rotate_shows_the_new_secret_once_and_keeps_the_old_one_for_a_day(partner: APIClient, endpoint_for) -> None:
    endpoint = endpoint_for("https://hooks.example/in")
    old = endpoint.secret
    response = partner.post(f"{ENDPOINTS}{endpoint.pk}/rotate-secret/")
    endpoint.refresh_from_db()
    assert response.status_code == 200
    assert response.json() == {
        "secret": endpoint.secret,
        "previous_secret_expires_at": _iso(endpoint.previous_secret_expires_at),
    }
    assert endpoint.previous_secret == old != endpoint.secret
    assert round((endpoint.previous_secret_expires_at - endpoint.created_at).total_seconds() / 3600) == 24


def test_a_test_message_and_the_deliveries_with_their_attempts(
    partner: APIClient, endpoint_for, receiver, django_assert_num_queries
) -> None:
    endpoint = endpoint_for(receiver.url)
    receiver.answers = [(500, {})]
    response = partner.post(f"{ENDPOINTS}{endpoint.pk}/test/")
    assert response.status_code == 202
    test = Delivery.objects.get()
    assert response.json() == {
        "id": test.pk,
        "webhook_id": f"msg_{test.pk}",
        "event_type": "webhook.test",
        "event_id": None,
        "status": "pending",
        "attempt_count": 0,
        "next_attempt_at": _iso(test.next_attempt_at),
        "created_at": _iso(test.created_at),
        "attempts": [],
    }
    deliveries_send_due()
    for slug in ("a", "b", "c"):
        event_record("tool.updated", {"slug": slug})
    with django_assert_num_queries(5):  # the key, the endpoint, the count, the page (with events), the attempts
        page = partner.get(f"{ENDPOINTS}{endpoint.pk}/deliveries/").json()
    assert [row["event_type"] for row in page["results"]] == ["tool.updated"] * 3 + ["webhook.test"]
    test.refresh_from_db()
    (attempt,) = test.attempts.all()
    assert page["results"][-1] == {
        "id": test.pk,
        "webhook_id": f"msg_{test.pk}",
        "event_type": "webhook.test",
        "event_id": None,
        "status": "pending",
        "attempt_count": 1,
        "next_attempt_at": _iso(test.next_attempt_at),
        "created_at": _iso(test.created_at),
        "attempts": [
            {
                "attempted_at": _iso(attempt.attempted_at),
                "status_code": 500,
                "error": None,
                "duration_ms": attempt.duration_ms,
            }
        ],
    }


@pytest.mark.parametrize(
    ("body", "attr", "code"),
    [
        ({}, "url", "required"),
        ({"url": "not a url"}, "url", "invalid"),
        ({"url": "ftp://hooks.example/in"}, "url", "scheme"),
        ({"url": "http://127.0.0.1:8000/in"}, "url", "private_address"),
        ({"url": "http://[::1]/in"}, "url", "private_address"),
        ({"url": "http://169.254.169.254/latest/meta-data"}, "url", "private_address"),
        ({"url": "http://localhost/in"}, "url", "private_address"),
        ({"url": "https://hooks.example/in", "event_types": "tool.updated"}, "event_types", "not_a_list"),
        ({"url": "https://hooks.example/in", "event_types": ["Tool Updated"]}, "event_types", "invalid"),
        (
            {"url": "https://hooks.example/in", "event_types": ["tool.updated", "tool.updated"]},
            "event_types",
            "duplicate",
        ),
        (
            {"url": "https://hooks.example/in", "event_types": [f"t.e{n}" for n in range(51)]},
            "event_types",
            "max_length",
        ),
        ({"url": "https://hooks.example/in", "enabled": "maybe"}, "enabled", "invalid"),
    ],
)
def test_bad_input_is_a_400_in_the_one_shape_and_changes_nothing(
    partner: APIClient, settings, body, attr, code
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    response = partner.post(ENDPOINTS, body, format="json")
    assert response.status_code == 400
    ((error),) = response.json()["errors"]
    assert (response.json()["type"], error["attr"], error["code"]) == ("validation_error", attr, code)
    assert not Endpoint.objects.exists()


def test_a_key_has_at_most_twenty_endpoints(partner: APIClient, partner_key) -> None:
    Endpoint.objects.bulk_create([Endpoint(key=partner_key[0], url=f"https://hooks.example/{n}") for n in range(20)])
    response = partner.post(ENDPOINTS, {"url": "https://hooks.example/21"}, format="json")
    assert response.json() == {
        "type": "validation_error",
        "errors": [{"code": "too_many", "detail": "A key has at most 20 endpoints.", "attr": "non_field_errors"}],
    }


def test_a_voter_token_or_no_key_is_refused(api: APIClient) -> None:
    assert api.get(ENDPOINTS).json() == {
        "type": "client_error",
        "errors": [
            {"code": "not_authenticated", "detail": "Authentication credentials were not provided.", "attr": None}
        ],
    }
    assert api.get(f"{ENDPOINTS}99999999999999999999/").status_code == 404


class TestAdmin:
    @pytest.fixture
    def staff(self, client, django_user_model):
        client.force_login(django_user_model.objects.create_superuser("admin", "admin@example.com", "not-a-secret"))
        return client

    def test_staff_disable_an_endpoint_and_the_partner_sees_why(self, staff, partner: APIClient, endpoint_for) -> None:
        endpoint = endpoint_for("https://hooks.example/in")
        response = staff.post(
            "/admin/webhooks/endpoint/", {"action": "disable", "_selected_action": [endpoint.pk]}, follow=True
        )
        assert [str(m) for m in response.context["messages"]] == ["Disabled 1 endpoints."]
        assert partner.get(f"{ENDPOINTS}{endpoint.pk}/").json()["disabled_reason"] == "Disabled by staff."

    def test_staff_replay_a_delivery_under_the_same_id(self, staff, endpoint_for, receiver) -> None:
        endpoint_for(receiver.url)
        event_record("tool.updated", {"slug": "alpha"})
        deliveries_send_due()
        delivery = Delivery.objects.get()
        response = staff.post(
            "/admin/webhooks/delivery/", {"action": "replay", "_selected_action": [delivery.pk]}, follow=True
        )
        assert [str(m) for m in response.context["messages"]] == ["Queued 1 deliveries again."]
        deliveries_send_due()
        assert [r["headers"]["webhook-id"] for r in receiver.received] == [delivery.message_id] * 2
        assert list(delivery.attempts.values_list("status_code", flat=True)) == [204, 204]
        assert secret_not_in(staff.get(f"/admin/webhooks/endpoint/{delivery.endpoint_id}/change/"), delivery.endpoint)


def secret_not_in(response, endpoint: Endpoint) -> bool:
    return response.status_code == 200 and endpoint.secret not in response.content.decode()
