"""The stuffing run of issue 12, replayed against the production server (gunicorn, 3 workers, one
Redis), with the limits as configured: 30 accounts from 3 client addresses, registering, logging in
and voting as fast as the limits allow. Their votes are kept, and do not move the tally until an
account follows its emailed link; then it moves by exactly that one vote. And 25 newsletter
sign-ups for one victim from 5 addresses mail the victim once."""

import email
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
from io import StringIO
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.management import call_command

from tests.factories import UserFactory
from tests.helpers import database_url, gunicorn_server, redis_server, requires_postgres, run_together
from votes.services import vote_cast

pytestmark = [requires_postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLIENTS = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]  # three loopback addresses, as the attacker had
PUBLIC_BASE_URL = "https://verdicts.example"
TOOL = "mistral-large-3"
LINK = re.compile(re.escape(PUBLIC_BASE_URL) + r"(/api/v1/auth/verify/\?token=\S+)")


def _request(
    base_url: str, method: str, path: str, body: dict | None = None, *, source: str, token: str = ""
) -> tuple[int, dict]:
    """One HTTP request from the client address `source`; returns (status, JSON body)."""
    target = urlsplit(base_url)
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60, source_address=(source, 0))
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    try:
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else {}
    finally:
        connection.close()


def _community(base_url: str) -> dict:
    status, body = _request(base_url, "GET", f"/api/v1/tools/{TOOL}/", source="127.0.0.9")
    assert status == 200
    return {key: body["community"][key] for key in ("ship", "skip", "total", "ship_rate")}


def _sent(mail_dir: Path) -> list[email.message.Message]:
    """Every email the servers sent (the file backend writes each connection's messages to a file)."""
    messages = []
    for path in sorted(mail_dir.iterdir()):
        for chunk in path.read_text().split("-" * 79 + "\n"):
            if chunk.strip():
                messages.append(email.message_from_string(chunk))
    return messages


def test_thirty_accounts_from_three_addresses_move_the_tally_only_by_the_one_verified() -> None:
    call_command("seed", verbosity=0)
    for _ in range(2):  # two real, verified voters say ship: 2 of 2
        vote_cast(voter=UserFactory(), slug=TOOL, verdict="ship")
    with (
        tempfile.TemporaryDirectory() as mail_dir,
        redis_server() as redis,
        gunicorn_server(
            workers=3,
            REDIS_URL=redis.url,
            PUBLIC_BASE_URL=PUBLIC_BASE_URL,
            EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
            EMAIL_FILE_PATH=mail_dir,
        ) as base_url,
    ):
        before = _community(base_url)
        assert before == {"ship": 2, "skip": 0, "total": 2, "ship_rate": 1.0}

        def stuff(client: int) -> list[tuple[str, int, bool]]:
            """One attacker address: as many accounts as it may register, each logging in and voting skip."""
            source, made = CLIENTS[client], []
            for n in range(11):
                username = f"bot-{client}-{n}"
                status, _ = _request(
                    base_url,
                    "POST",
                    "/api/v1/auth/register/",
                    {"username": username, "email": f"{username}@example.com", "password": "stuffing-run-2026"},
                    source=source,
                )
                if status == 429:  # the per-address registration limit (10 an hour)
                    break
                assert status == 201
                status, body = _request(
                    base_url,
                    "POST",
                    "/api/v1/auth/token/",
                    {"username": username, "password": "stuffing-run-2026"},
                    source=source,
                )
                assert status == 200
                status, vote = _request(
                    base_url,
                    "PUT",
                    f"/api/v1/tools/{TOOL}/vote/",
                    {"verdict": "skip"},
                    source=source,
                    token=body["token"],
                )
                made.append((username, status, vote["counted"]))
            return made

        runs = run_together([lambda client=client: stuff(client) for client in range(len(CLIENTS))])
        made = [account for run in runs for account in run]
        assert len(made) == 30  # 10 per address: the registration limit
        assert {(status, counted) for _, status, counted in made} == {(201, False)}
        # One address, however spelled, backs one account.
        status, body = _request(
            base_url,
            "POST",
            "/api/v1/auth/register/",
            {"username": "bot-extra", "email": "BOT-0-0+again@example.com", "password": "stuffing-run-2026"},
            source="127.0.0.4",
        )
        assert (status, body["errors"][0]["code"], body["errors"][0]["attr"]) == (400, "unique", "email")

        assert _community(base_url) == before  # 30 votes kept, none counted

        # The verification emails are queued: the task worker sends them, with the servers' settings.
        worker_env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "SECRET_KEY": "test-only-not-secret",
            "DEBUG": "0",
            "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": mail_dir,
        }
        subprocess.run(
            [sys.executable, "manage.py", "db_worker", "--batch", "--no-reload"],
            cwd=settings.BASE_DIR,
            env=worker_env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        messages = _sent(Path(mail_dir))
        assert sorted(message["To"] for message in messages) == sorted(f"{name}@example.com" for name, _, _ in made)
        [mail] = [message for message in messages if message["To"] == "bot-1-3@example.com"]
        [path] = LINK.findall(mail.get_payload())
        status, body = _request(base_url, "GET", path, source=CLIENTS[1])  # the click, on this server
        assert (status, body) == (200, {"detail": "Email address verified: your votes count."})

        assert _community(base_url) == {"ship": 2, "skip": 1, "total": 3, "ship_rate": 0.6667}
    out = StringIO()
    call_command("recount_votes", "--no-progress", stdout=out)
    assert "tools match their vote rows" in out.getvalue()


def test_twenty_five_sign_ups_for_one_victim_from_five_addresses_mail_it_once(run_tasks, mailoutbox) -> None:
    with (
        redis_server() as redis,
        gunicorn_server(workers=3, REDIS_URL=redis.url) as base_url,
    ):
        sources = [f"127.0.0.{n}" for n in range(1, 6)]
        calls = [
            lambda source=source, n=n: _request(
                base_url,
                "POST",
                "/api/v1/newsletter/subscriptions/",
                {"email": f"victim+{source[-1]}{n}@example.com"},
                source=source,
            )
            for source in sources
            for n in range(5)  # the per-address newsletter limit (5 an hour)
        ]
        results = run_together(calls)
        assert {status for status, _ in results} == {202}
        assert {json.dumps(body) for _, body in results} == {
            '{"detail": "If that address can receive mail, a confirmation link is on its way."}'
        }
    # The newsletter's email is a queued task: one was queued, for the first sign-up; the worker sends it.
    assert run_tasks() == 1
    [message] = mailoutbox
    assert re.fullmatch(r"victim\+\d+@example\.com", message.to[0])
