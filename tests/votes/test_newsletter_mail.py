"""The confirmation email goes through the task queue: written with the sign-up, sent by the worker, retried."""

import logging
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from compare_api import tasks
from tests.helpers import free_port
from votes import services
from votes.models import Subscriber, SubscriberStatus

pytestmark = pytest.mark.django_db

SUBSCRIBE = "/api/v1/newsletter/subscriptions/"
ACCEPTED = {"detail": "If that address can receive mail, a confirmation link is on its way."}
TASK = "votes.tasks.newsletter_confirmation_send"
SMTP = "django.core.mail.backends.smtp.EmailBackend"
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"
# Attempt n failing waits 2^n minutes (the jitter fixed at the middle of its band).
GAPS = [timedelta(minutes=m) for m in (2, 4, 8, 16, 32)]


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
def middle_jitter(monkeypatch) -> None:
    monkeypatch.setattr(tasks, "_jitter", lambda: 0.5)


@pytest.fixture
def clock(monkeypatch) -> Callable[[timedelta], None]:
    """Move the clock on (every timezone.now(): the queue's idea of "due" included), never sleeping."""
    offset = timedelta(0)
    real_now = timezone.now

    def now() -> datetime:
        return real_now() + offset

    monkeypatch.setattr(timezone, "now", now)

    def advance(by: timedelta) -> None:
        nonlocal offset
        offset += by

    return advance


@pytest.fixture
def smtp_refused(settings) -> None:
    """A real SMTP connection to a port nobody listens on: every send fails with ConnectionRefusedError."""
    settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT = SMTP, "127.0.0.1", free_port()


def _link(kind: str, token: str) -> str:
    return f"http://127.0.0.1:8000/api/v1/newsletter/{kind}/?token={token}"


def _rows() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.order_by("enqueued_at"))


class TestEnqueuedWithTheSignUp:
    def test_a_sign_up_queues_one_task_that_the_worker_sends_once(self, api, mailoutbox, run_tasks) -> None:
        response = api.post(SUBSCRIBE, {"email": "reader@example.com"}, format="json")
        assert (response.status_code, response.json()) == (202, ACCEPTED)
        subscriber = Subscriber.objects.get()
        [row] = _rows()
        confirm = _link("confirm", services.subscription_token(subscriber=subscriber, salt=services.CONFIRM_SALT))
        unsubscribe = _link(
            "unsubscribe", services.subscription_token(subscriber=subscriber, salt=services.UNSUBSCRIBE_SALT)
        )
        assert (row.task_path, row.queue_name, row.status) == (TASK, "default", TaskResultStatus.READY)
        assert row.args_kwargs == {
            "args": [],
            "kwargs": {"subscriber_id": subscriber.pk, "confirm": confirm, "unsubscribe": unsubscribe},
        }
        assert mailoutbox == []

        assert run_tasks() == 1
        [message] = mailoutbox
        assert message.to == ["reader@example.com"]
        assert f"\n{confirm}\n" in message.body and f"\n{unsubscribe}\n" in message.body
        row.refresh_from_db()
        assert (row.status, row.return_value, len(row.worker_ids)) == (TaskResultStatus.SUCCESSFUL, "sent", 1)

        assert run_tasks() == 0
        assert len(mailoutbox) == 1

    def test_a_rolled_back_sign_up_leaves_no_task_and_sends_nothing(self, mailoutbox, run_tasks) -> None:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.newsletter_subscribe(email="reader@example.com")
            assert DBTaskResult.objects.count() == 1  # written in the sign-up's transaction ...
            raise RuntimeError("the request failed after the sign-up")
        assert not Subscriber.objects.exists()
        assert not DBTaskResult.objects.exists()  # ... and rolled back with it
        assert run_tasks() == 0
        assert mailoutbox == []

    def test_the_sign_up_request_costs_one_insert_more_for_the_task(
        self, api, django_assert_num_queries, mailoutbox
    ) -> None:
        # A new address: the service's savepoint, the lookup, get_or_create's savepoint
        # around the INSERT of the subscriber, the address's daily email claimed (one
        # upsert), and the INSERT of the task row.
        with django_assert_num_queries(8) as captured:
            assert api.post(SUBSCRIBE, {"email": "reader@example.com"}, format="json").status_code == 202
        statements = [query["sql"].split()[0] for query in captured.captured_queries]
        assert statements == ["SAVEPOINT", "SELECT", "SAVEPOINT", "INSERT", "RELEASE", "INSERT", "INSERT", "RELEASE"]
        assert "INTO votes_mailrecipient" in captured.captured_queries[5]["sql"]
        assert 'INTO "django_tasks_database_dbtaskresult"' in captured.captured_queries[6]["sql"]
        # A confirmed address: the lookup only; no task, no email.
        Subscriber.objects.update(status=SubscriberStatus.CONFIRMED)
        with django_assert_num_queries(3):
            assert api.post(SUBSCRIBE, {"email": "reader@example.com"}, format="json").status_code == 202
        assert DBTaskResult.objects.count() == 1

    def test_an_address_confirmed_before_the_worker_ran_gets_no_email(self, api, mailoutbox, run_tasks) -> None:
        api.post(SUBSCRIBE, {"email": "reader@example.com"}, format="json")
        subscriber = Subscriber.objects.get()
        services.newsletter_confirm(
            token=services.subscription_token(subscriber=subscriber, salt=services.CONFIRM_SALT)
        )
        assert run_tasks() == 1
        assert mailoutbox == []
        assert _rows()[0].return_value == "skipped"


class TestRetries:
    def test_the_answer_is_the_same_202_when_the_mail_server_is_down(self, api, smtp_refused, run_tasks) -> None:
        response = api.post(SUBSCRIBE, {"email": "reader@example.com"}, format="json")
        assert (response.status_code, response.content) == (
            202,
            b'{"detail":"If that address can receive mail, a confirmation link is on its way."}',
        )

    def test_an_smtp_failure_is_retried_later_and_then_sent(
        self, api, settings, smtp_refused, middle_jitter, clock, run_tasks
    ) -> None:
        api.post(SUBSCRIBE, {"email": "reader@example.com"}, format="json")
        assert run_tasks() == 1
        first, retry = _rows()
        assert first.status == TaskResultStatus.SUCCESSFUL  # the attempt ran and scheduled its successor
        assert first.return_value == {
            "failed_attempt": 1,
            "error": "builtins.ConnectionRefusedError: [Errno 111] Connection refused",
            "retry_at": retry.run_after.isoformat(),
        }
        assert (retry.status, retry.task_path, retry.args_kwargs["kwargs"]["_attempt"]) == (
            TaskResultStatus.READY,
            TASK,
            2,
        )
        assert {k: v for k, v in retry.args_kwargs["kwargs"].items() if k != "_attempt"} == first.args_kwargs["kwargs"]
        assert first.started_at + GAPS[0] <= retry.run_after <= first.finished_at + GAPS[0]

        clock(GAPS[0] - timedelta(seconds=5))
        assert run_tasks() == 0  # not due yet
        settings.EMAIL_BACKEND = LOCMEM  # the mail server is back
        clock(timedelta(seconds=10))
        assert run_tasks() == 1
        assert [message.to for message in mail.outbox] == [["reader@example.com"]]
        retry.refresh_from_db()
        assert (retry.status, retry.return_value) == (TaskResultStatus.SUCCESSFUL, "sent")

    def test_it_gives_up_after_six_attempts_over_an_hour_and_logs_one_traceback(
        self, api, smtp_refused, middle_jitter, clock, run_tasks, caplog
    ) -> None:
        api.post(SUBSCRIBE, {"email": "reader@example.com"}, format="json")
        caplog.set_level(logging.INFO)
        for gap in [*GAPS, None]:
            assert run_tasks() == 1
            if gap is not None:
                clock(gap)
        rows = _rows()
        assert [row.status for row in rows] == [TaskResultStatus.SUCCESSFUL] * 5 + [TaskResultStatus.FAILED]
        assert [row.args_kwargs["kwargs"].get("_attempt", 1) for row in rows] == [1, 2, 3, 4, 5, 6]
        gaps = [later.run_after - earlier.finished_at for earlier, later in zip(rows, rows[1:], strict=False)]
        assert all(
            timedelta(0) <= expected - gap < timedelta(seconds=2) for gap, expected in zip(gaps, GAPS, strict=True)
        )
        assert sum(GAPS, timedelta(0)) == timedelta(minutes=62)
        assert rows[-1].exception_class_path == "builtins.ConnectionRefusedError"
        assert "ConnectionRefusedError" in rows[-1].traceback

        clock(timedelta(days=1))
        assert run_tasks() == 0
        assert mail.outbox == []
        ours = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "compare_api.tasks"]
        assert [level for level, _ in ours] == ["WARNING"] * 5 + ["ERROR"]
        assert ours[-1][1] == (
            f"task {TASK} gave up after 6 attempts: builtins.ConnectionRefusedError: [Errno 111] Connection refused"
        )
        assert [r.name for r in caplog.records if r.exc_info] == ["django_tasks"]  # one traceback, at the end

    def test_a_mail_server_that_never_answers_fails_the_attempt_after_email_timeout(
        self, api, settings, middle_jitter, run_tasks
    ) -> None:
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen()
            accepted: list[socket.socket] = []
            threading.Thread(target=lambda: accepted.append(silent.accept()[0]), daemon=True).start()
            settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT = SMTP, *silent.getsockname()
            settings.EMAIL_TIMEOUT = 1
            api.post(SUBSCRIBE, {"email": "reader@example.com"}, format="json")
            started = timezone.now()
            assert run_tasks() == 1
            assert timezone.now() - started < timedelta(seconds=5)
            for connection in accepted:
                connection.close()
        first, retry = _rows()
        assert (
            first.return_value["error"] == "smtplib.SMTPServerDisconnected: Connection unexpectedly closed: timed out"
        )
        assert retry.status == TaskResultStatus.READY


class TestPolicy:
    @pytest.mark.parametrize(
        ("attempt", "rand", "seconds"),
        [(1, 0.0, 96), (1, 0.5, 120), (1, 0.999999, 144), (2, 0.5, 240), (5, 0.5, 1920), (6, 0.5, 3600), (9, 0, 2880)],
    )
    def test_the_delay_doubles_within_a_jitter_band_up_to_an_hour(self, attempt: int, rand: float, seconds) -> None:
        assert tasks.RetryPolicy().delay(attempt, rand=rand).total_seconds() == pytest.approx(seconds, abs=0.001)
