"""Settings come from the environment; each case imports the settings in a clean interpreter."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import json; from compare_api import settings as s; "
    "print(json.dumps({'debug': s.DEBUG, 'db': s.DATABASES['default'], 'hosts': s.ALLOWED_HOSTS}, default=str))"
)


def _settings(**env: str) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "SECRET_KEY", "DEBUG"}}
    clean.setdefault("PUBLIC_BASE_URL", "http://testserver")
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def _loaded(**env: str) -> dict:
    result = _settings(**env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_defaults_are_production_safe_and_use_the_sqlite_file() -> None:
    loaded = _loaded(SECRET_KEY="x")
    assert loaded["debug"] is False
    assert loaded["db"]["ENGINE"] == "django.db.backends.sqlite3"
    assert loaded["db"]["NAME"] == str(ROOT / "db.sqlite3")
    assert loaded["hosts"] == ["127.0.0.1", "localhost"]


def test_an_empty_database_url_counts_as_unset() -> None:
    assert _loaded(SECRET_KEY="x", DATABASE_URL="")["db"]["NAME"] == str(ROOT / "db.sqlite3")


def test_postgres_connections_are_health_checked_and_reused() -> None:
    db = _loaded(SECRET_KEY="x", DATABASE_URL="postgres://app:pw@db.example:5433/verdicts")["db"]
    assert db["ENGINE"] == "compare_api.postgresql"  # Django's, with a health check free of round trips
    assert (db["HOST"], db["PORT"], db["NAME"], db["USER"]) == ("db.example", 5433, "verdicts", "app")
    assert db["CONN_HEALTH_CHECKS"] is True
    assert db["CONN_MAX_AGE"] == 60


def test_a_secret_key_is_required_unless_debugging() -> None:
    missing = _settings()
    assert missing.returncode != 0
    assert "Set SECRET_KEY" in missing.stderr
    assert _loaded(DEBUG="1")["debug"] is True


def test_allowed_hosts_from_the_environment() -> None:
    assert _loaded(SECRET_KEY="x", ALLOWED_HOSTS="api.example.com,.example.org")["hosts"] == [
        "api.example.com",
        ".example.org",
    ]


def test_the_vote_commit_mode_defaults_to_off_and_must_be_a_postgresql_value() -> None:
    probe = "from compare_api import settings as s; print(s.VOTE_SYNCHRONOUS_COMMIT)"
    clean = {key: value for key, value in os.environ.items() if key != "VOTE_SYNCHRONOUS_COMMIT"}
    run = lambda **env: subprocess.run(  # noqa: E731
        [sys.executable, "-c", probe], cwd=ROOT, env={**clean, "SECRET_KEY": "x", **env}, capture_output=True, text=True
    )
    assert run().stdout.strip() == "off"
    assert run(VOTE_SYNCHRONOUS_COMMIT="on").stdout.strip() == "on"
    refused = run(VOTE_SYNCHRONOUS_COMMIT="sometimes")
    assert refused.returncode != 0
    assert "VOTE_SYNCHRONOUS_COMMIT must be" in refused.stderr


def test_postgres_connections_are_bounded_and_database_url_options_win() -> None:
    bounded = _loaded(SECRET_KEY="x", DATABASE_URL="postgres://app@db.example/verdicts")["db"]["OPTIONS"]
    assert bounded == {
        "server_side_binding": True,
        "prepare_threshold": 5,
        "connect_timeout": 3,
        "options": "-c lock_timeout=2s -c statement_timeout=5s -c random_page_cost=1.1",
    }
    url = "postgres://app@db.example/verdicts?connect_timeout=10&sslmode=require&options=-c%20statement_timeout%3D30s"
    merged = _loaded(SECRET_KEY="x", DATABASE_URL=url, DB_LOCK_TIMEOUT="750ms")["db"]["OPTIONS"]
    assert merged["connect_timeout"] == 10
    assert merged["sslmode"] == "require"
    # Ours first: PostgreSQL applies -c options in order, so the URL's statement_timeout wins.
    assert merged["options"] == (
        "-c lock_timeout=750ms -c statement_timeout=5s -c random_page_cost=1.1 -c statement_timeout=30s"
    )


def test_management_commands_run_without_the_request_timeouts() -> None:
    unbounded = _loaded(SECRET_KEY="x", DATABASE_URL="postgres://app@db.example/verdicts", DB_REQUEST_TIMEOUTS="0")
    assert unbounded["db"]["OPTIONS"]["options"] == "-c random_page_cost=1.1"
    assert unbounded["db"]["OPTIONS"]["connect_timeout"] == 3


def test_the_planner_cost_is_ours_unless_left_to_the_server() -> None:
    url = "postgres://app@db.example/verdicts"
    assert _loaded(SECRET_KEY="x", DATABASE_URL=url, DB_RANDOM_PAGE_COST="2")["db"]["OPTIONS"]["options"] == (
        "-c lock_timeout=2s -c statement_timeout=5s -c random_page_cost=2"
    )
    servers = _loaded(SECRET_KEY="x", DATABASE_URL=url, DB_RANDOM_PAGE_COST="", DB_REQUEST_TIMEOUTS="0")
    assert "options" not in servers["db"]["OPTIONS"]
    refused = _settings(SECRET_KEY="x", DATABASE_URL=url, DB_RANDOM_PAGE_COST="cheap")
    assert refused.returncode != 0
    assert "DB_RANDOM_PAGE_COST must be a number" in refused.stderr


def test_a_timeout_postgresql_would_refuse_is_refused_at_start_up() -> None:
    refused = _settings(SECRET_KEY="x", DATABASE_URL="postgres://app@db.example/verdicts", DB_STATEMENT_TIMEOUT="5 s")
    assert refused.returncode != 0
    assert "DB_STATEMENT_TIMEOUT must be a duration" in refused.stderr


def test_public_base_url_is_required_in_production_and_must_be_an_http_url() -> None:
    probe = "from compare_api import settings as s; print(s.PUBLIC_BASE_URL)"
    clean = {key: value for key, value in os.environ.items() if key not in {"PUBLIC_BASE_URL", "DEBUG"}}
    run = lambda **env: subprocess.run(  # noqa: E731
        [sys.executable, "-c", probe], cwd=ROOT, env={**clean, "SECRET_KEY": "x", **env}, capture_output=True, text=True
    )
    missing = run()
    assert missing.returncode != 0
    assert "Set PUBLIC_BASE_URL" in missing.stderr
    assert run(DEBUG="1").stdout.strip() == "http://127.0.0.1:8000"
    assert run(PUBLIC_BASE_URL="https://verdicts.example/").stdout.strip() == "https://verdicts.example"
    for bad in ("verdicts.example", "javascript:alert(1)", "https://", "https://a b.example"):
        refused = run(PUBLIC_BASE_URL=bad)
        assert refused.returncode != 0, bad
        assert "PUBLIC_BASE_URL must be an http(s) URL" in refused.stderr
