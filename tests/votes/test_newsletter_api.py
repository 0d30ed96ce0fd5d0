"""Weekly AI Tool Verdicts: sign-up that reveals nothing, double opt-in by signed links, staff view."""

import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core import mail, signing
from django.core.cache import cache
from django.db.models import F
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from rest_framework.test import APIClient

from compare_api import throttling
from votes import services
from votes.models import MailRecipient, Subscriber, SubscriberStatus

pytestmark = pytest.mark.django_db

SUBSCRIBE = "/api/v1/newsletter/subscriptions/"
CONFIRM = "/api/v1/newsletter/confirm/"
UNSUBSCRIBE = "/api/v1/newsletter/unsubscribe/"
ACCEPTED = {"detail": "If that address can receive mail, a confirmation link is on its way."}
CONFIRMED = {"detail": "Subscription confirmed."}
UNSUBSCRIBED = {"detail": "Unsubscribed. You will get no more email from us."}
BAD_LINK = {
    "type": "validation_error",
    "errors": [{"code": "invalid", "detail": "This link is invalid or has expired.", "attr": "token"}],
}
LINK = re.compile(r"http://127\.0\.0\.1:8000(/api/v1/newsletter/(confirm|unsubscribe)/)\?token=(\S+)")
WEEK = 7 * 24 * 3600


@pytest.fixture(autouse=True)
def fresh_throttles(settings) -> Iterator[None]:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "newsletter": "100/min"},
    }
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def subscribe(api, run_tasks) -> Callable[[str], bytes]:
    """Sign up, then let the task worker run: the email leaves through the queue, not the request."""

    def post(email: str) -> bytes:
        response = api.post(SUBSCRIBE, {"email": email}, format="json")
        assert response.status_code == 202
        run_tasks()
        return response.content

    return post


def _links(message: mail.EmailMessage) -> dict[str, str]:
    """The email's links by kind ('confirm', 'unsubscribe'): the token each carries."""
    return {kind: token for _, kind, token in LINK.findall(message.body)}


def _a_day_passes() -> None:
    """Every address's last email is now a day old, so it may be sent another."""
    MailRecipient.objects.update(last_mailed_at=F("last_mailed_at") - timedelta(hours=24))


def _subscriber(email: str = "reader@example.com") -> Subscriber:
    return Subscriber.objects.get(email=email)


class TestSubscribe:
    def test_a_new_address_is_202_and_pending(self, api, mailoutbox, run_tasks) -> None:
        response = api.post(SUBSCRIBE, {"email": "reader@example.com"}, format="json")
        assert response.status_code == 202
        assert response.json() == ACCEPTED
        assert mailoutbox == []  # queued, not sent by the request
        assert run_tasks() == 1
        assert [message.to for message in mailoutbox] == [["reader@example.com"]]
        subscriber = _subscriber()
        assert (subscriber.status, subscriber.confirmed_at, subscriber.unsubscribed_at) == (
            SubscriberStatus.PENDING,
            None,
            None,
        )

    def test_the_answer_is_byte_identical_whatever_the_address_state(self, subscribe, mailoutbox) -> None:
        bodies = {"new": subscribe("reader@example.com")}
        bodies["pending"] = subscribe("reader@example.com")
        services.newsletter_confirm(token=_links(mailoutbox[0])["confirm"])
        bodies["confirmed"] = subscribe("reader@example.com")
        services.newsletter_unsubscribe(token=_links(mailoutbox[0])["unsubscribe"])
        bodies["unsubscribed"] = subscribe("reader@example.com")
        assert set(bodies.values()) == {
            b'{"detail":"If that address can receive mail, a confirmation link is on its way."}'
        }

    def test_case_and_whitespace_variants_are_one_subscriber(self, subscribe) -> None:
        for email in ("reader@example.com", "  Reader@Example.COM ", "READER@EXAMPLE.COM"):
            subscribe(email)
        assert list(Subscriber.objects.values_list("email", flat=True)) == ["reader@example.com"]

    def test_the_email_carries_a_signed_confirm_link_and_an_unsubscribe_link(self, subscribe, mailoutbox) -> None:
        subscribe("Reader@Example.com")
        [message] = mailoutbox
        assert message.to == ["reader@example.com"]
        assert message.from_email == "Weekly AI Tool Verdicts <verdicts@localhost>"
        assert message.subject == "Confirm your Weekly AI Tool Verdicts subscription"
        links = _links(message)
        assert set(links) == {"confirm", "unsubscribe"}
        assert message.body == (
            "New AI tools ship daily. We compare them before you waste an afternoon.\n\n"
            "Confirm your subscription (the link works for 7 days):\n"
            f"http://127.0.0.1:8000{CONFIRM}?token={links['confirm']}\n\n"
            "Didn't ask for this? Ignore this email, or unsubscribe:\n"
            f"http://127.0.0.1:8000{UNSUBSCRIBE}?token={links['unsubscribe']}\n"
        )
        payload = {"id": _subscriber().pk, "email": "reader@example.com"}
        assert signing.loads(links["confirm"], salt=services.CONFIRM_SALT) == payload
        assert signing.loads(links["unsubscribe"], salt=services.UNSUBSCRIBE_SALT) == payload

    def test_a_pending_address_is_sent_the_link_again_a_day_later(self, subscribe, mailoutbox) -> None:
        subscribe("reader@example.com")
        subscribe("reader@example.com")
        assert len(mailoutbox) == 1  # one email a day per address
        _a_day_passes()
        subscribe("reader@example.com")
        assert [message.to for message in mailoutbox] == [["reader@example.com"]] * 2

    def test_a_confirmed_address_gets_no_second_email(self, api, subscribe, mailoutbox) -> None:
        subscribe("reader@example.com")
        api.get(CONFIRM, {"token": _links(mailoutbox[0])["confirm"]})
        subscribe("reader@example.com")
        assert len(mailoutbox) == 1
        assert _subscriber().status == SubscriberStatus.CONFIRMED

    def test_an_unsubscribed_address_can_sign_up_again(self, api, subscribe, mailoutbox) -> None:
        subscribe("reader@example.com")
        api.get(UNSUBSCRIBE, {"token": _links(mailoutbox[0])["unsubscribe"]})
        _a_day_passes()
        subscribe("reader@example.com")
        assert len(mailoutbox) == 2
        assert _subscriber().status == SubscriberStatus.PENDING
        assert api.get(CONFIRM, {"token": _links(mailoutbox[1])["confirm"]}).json() == CONFIRMED
        assert _subscriber().status == SubscriberStatus.CONFIRMED

    @pytest.mark.parametrize(
        ("body", "errors"),
        [
            ({"email": "not-an-address"}, [("invalid", "Enter a valid email address.", "email")]),
            ({"email": ""}, [("blank", "This field may not be blank.", "email")]),
            ({"email": None}, [("null", "This field may not be null.", "email")]),
            (
                {"email": "a\x00b@example.com"},
                [
                    ("null_characters_not_allowed", "Null characters are not allowed.", "email"),
                    ("invalid", "Enter a valid email address.", "email"),
                ],
            ),
            (
                {"email": "a" * 250 + "@example.com"},
                [("max_length", "Ensure this field has no more than 254 characters.", "email")],
            ),
            ({}, [("required", "This field is required.", "email")]),
            (
                [{"email": "reader@example.com"}],
                [("invalid", "Invalid data. Expected a dictionary, but got list.", "non_field_errors")],
            ),
        ],
        ids=["invalid", "blank", "null", "nul-byte", "too-long", "missing", "array"],
    )
    def test_a_bad_body_is_400_and_stores_nothing(
        self, api, mailoutbox, body: dict | list, errors: list[tuple[str, str, str]]
    ) -> None:
        response = api.post(SUBSCRIBE, body, format="json")
        assert response.status_code == 400
        assert response.json() == {
            "type": "validation_error",
            "errors": [{"code": code, "detail": detail, "attr": attr} for code, detail, attr in errors],
        }
        assert not Subscriber.objects.exists()
        assert not DBTaskResult.objects.exists()
        assert mailoutbox == []

    def test_an_address_whose_domain_cannot_be_encoded_is_400_not_500(self, mailoutbox) -> None:
        api = APIClient(raise_request_exception=False)
        response = api.post(SUBSCRIBE, {"email": "reader@\u00e9" + "a" * 58 + ".com"}, format="json")
        assert response.status_code == 400
        assert response.json()["errors"][0]["attr"] == "email"
        assert not Subscriber.objects.exists()

    def test_an_address_that_grows_when_lower_cased_is_never_stored_over_long(self, mailoutbox) -> None:
        domain = "\u0130b." + ".".join(["c" * 40] * 5) + ".com"
        email = "a" * (254 - 1 - len(domain)) + "@" + domain
        assert (len(email), len(email.lower())) == (254, 255)
        response = APIClient(raise_request_exception=False).post(SUBSCRIBE, {"email": email}, format="json")
        assert response.status_code in {202, 400}
        assert all(len(stored) <= 254 for stored in Subscriber.objects.values_list("email", flat=True))

    def test_sign_ups_are_limited_per_client_ip(self, api, settings, monkeypatch, mailoutbox, run_tasks) -> None:
        monkeypatch.setattr(throttling, "time", SimpleNamespace(time=lambda: 1_699_999_200.0))
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "newsletter": "2/hour"},
        }
        codes = [api.post(SUBSCRIBE, {"email": f"r{n}@example.com"}, format="json").status_code for n in range(3)]
        assert codes == [202, 202, 429]
        assert run_tasks() == 2
        assert Subscriber.objects.count() == len(mailoutbox) == 2


class TestConfirm:
    @pytest.fixture
    def links(self, subscribe, mailoutbox) -> dict[str, str]:
        subscribe("reader@example.com")
        return _links(mailoutbox[0])

    def test_the_link_confirms_by_get(self, api, links: dict[str, str]) -> None:
        before = timezone.now()
        response = api.get(CONFIRM, {"token": links["confirm"]})
        assert (response.status_code, response.json()) == (200, CONFIRMED)
        subscriber = _subscriber()
        assert subscriber.status == SubscriberStatus.CONFIRMED
        assert subscriber.confirmed_at is not None and subscriber.confirmed_at >= before

    def test_the_token_confirms_by_post(self, api, links: dict[str, str]) -> None:
        response = api.post(CONFIRM, {"token": links["confirm"]}, format="json")
        assert (response.status_code, response.json()) == (200, CONFIRMED)
        assert _subscriber().status == SubscriberStatus.CONFIRMED
        assert _subscriber().confirmed_at is not None

    def test_confirming_twice_is_200_and_keeps_the_first_time(self, api, links: dict[str, str]) -> None:
        api.get(CONFIRM, {"token": links["confirm"]})
        first = _subscriber().confirmed_at
        response = api.post(CONFIRM, {"token": links["confirm"]}, format="json")
        assert (response.status_code, response.json()) == (200, CONFIRMED)
        assert _subscriber().confirmed_at == first

    def test_the_link_works_for_seven_days(self, api, links: dict[str, str], monkeypatch) -> None:
        issued = time.time()
        monkeypatch.setattr(signing, "time", SimpleNamespace(time=lambda: issued + WEEK - 60))
        assert api.get(CONFIRM, {"token": links["confirm"]}).status_code == 200

    def test_an_expired_link_is_400(self, api, links: dict[str, str], monkeypatch) -> None:
        issued = time.time()
        monkeypatch.setattr(signing, "time", SimpleNamespace(time=lambda: issued + WEEK + 60))
        response = api.get(CONFIRM, {"token": links["confirm"]})
        assert (response.status_code, response.json()) == (400, BAD_LINK)
        assert _subscriber().status == SubscriberStatus.PENDING

    @pytest.mark.parametrize(
        "tamper",
        [
            lambda links: links["confirm"][:-1] + ("A" if links["confirm"][-1] != "A" else "B"),
            lambda links: links["unsubscribe"],
            lambda links: signing.dumps({"id": 1, "email": "reader@example.com"}, salt="other"),
            lambda links: "not-a-token",
        ],
        ids=["tampered", "unsubscribe-token", "other-salt", "garbage"],
    )
    def test_a_bad_token_is_400_on_token(self, api, links: dict[str, str], tamper: Callable) -> None:
        token = tamper(links)
        for response in (api.get(CONFIRM, {"token": token}), api.post(CONFIRM, {"token": token}, format="json")):
            assert (response.status_code, response.json()) == (400, BAD_LINK)
        assert _subscriber().status == SubscriberStatus.PENDING

    def test_a_token_for_another_address_confirms_nothing(self, api, links: dict[str, str]) -> None:
        forged = signing.dumps({"id": _subscriber().pk, "email": "other@example.com"}, salt=services.CONFIRM_SALT)
        assert api.get(CONFIRM, {"token": forged}).json() == BAD_LINK
        assert _subscriber().status == SubscriberStatus.PENDING

    @pytest.mark.parametrize(
        ("query", "code", "detail"),
        [
            ({}, "null", "This field may not be null."),
            ({"token": ""}, "blank", "This field may not be blank."),
            ({"token": "a" * 1001}, "max_length", "Ensure this field has no more than 1000 characters."),
        ],
    )
    def test_a_missing_or_malformed_token_is_400_on_token(self, api, query: dict, code: str, detail: str) -> None:
        response = api.get(CONFIRM, query)
        assert response.status_code == 400
        assert response.json() == {
            "type": "validation_error",
            "errors": [{"code": code, "detail": detail, "attr": "token"}],
        }

    def test_a_post_whose_body_is_not_an_object_is_400_on_token(self, api) -> None:
        response = api.post(CONFIRM, ["token"], format="json")
        assert response.status_code == 400
        assert response.json()["errors"][0]["attr"] == "token"

    def test_an_unsubscribed_address_cannot_be_confirmed(self, api, links: dict[str, str]) -> None:
        api.get(UNSUBSCRIBE, {"token": links["unsubscribe"]})
        response = api.get(CONFIRM, {"token": links["confirm"]})
        assert (response.status_code, response.json()) == (400, BAD_LINK)
        assert _subscriber().status == SubscriberStatus.UNSUBSCRIBED


class TestUnsubscribe:
    @pytest.fixture
    def links(self, subscribe, mailoutbox) -> dict[str, str]:
        subscribe("reader@example.com")
        return _links(mailoutbox[0])

    def test_the_link_unsubscribes(self, api, links: dict[str, str]) -> None:
        api.get(CONFIRM, {"token": links["confirm"]})
        response = api.get(UNSUBSCRIBE, {"token": links["unsubscribe"]})
        assert (response.status_code, response.json()) == (200, UNSUBSCRIBED)
        subscriber = _subscriber()
        assert subscriber.status == SubscriberStatus.UNSUBSCRIBED
        assert subscriber.unsubscribed_at is not None

    def test_a_pending_address_can_unsubscribe_by_post(self, api, links: dict[str, str]) -> None:
        response = api.post(UNSUBSCRIBE, {"token": links["unsubscribe"]}, format="json")
        assert (response.status_code, response.json()) == (200, UNSUBSCRIBED)
        assert _subscriber().status == SubscriberStatus.UNSUBSCRIBED

    def test_the_link_never_expires(self, api, links: dict[str, str], monkeypatch) -> None:
        issued = time.time()
        monkeypatch.setattr(signing, "time", SimpleNamespace(time=lambda: issued + 400 * 24 * 3600))
        assert api.get(UNSUBSCRIBE, {"token": links["unsubscribe"]}).status_code == 200

    def test_a_confirm_token_does_not_unsubscribe(self, api, links: dict[str, str]) -> None:
        response = api.get(UNSUBSCRIBE, {"token": links["confirm"]})
        assert (response.status_code, response.json()) == (400, BAD_LINK)
        assert _subscriber().status == SubscriberStatus.PENDING


class TestAdmin:
    def test_staff_see_subscribers_in_the_changelist(self, admin_client, subscribe, mailoutbox) -> None:
        for email in ("first@example.com", "second@example.com", "third@example.com"):
            subscribe(email)
        services.newsletter_confirm(token=_links(mailoutbox[0])["confirm"])
        response = admin_client.get("/admin/votes/subscriber/")
        assert response.status_code == 200
        page = response.content.decode()
        for email in ("first@example.com", "second@example.com", "third@example.com"):
            assert email in page
        assert "3 subscribers" in page
        assert page.count("Pending confirmation") >= 2 and "Confirmed" in page

    def test_the_status_filter_narrows_the_list(self, admin_client, subscribe, mailoutbox) -> None:
        subscribe("first@example.com")
        subscribe("second@example.com")
        services.newsletter_confirm(token=_links(mailoutbox[0])["confirm"])
        page = admin_client.get("/admin/votes/subscriber/", {"status__exact": "confirmed"}).content.decode()
        assert "first@example.com" in page
        assert "second@example.com" not in page

    def test_the_admin_is_for_staff_only(self, client, subscribe) -> None:
        subscribe("first@example.com")
        response = client.get("/admin/votes/subscriber/")
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
