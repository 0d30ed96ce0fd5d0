"""The backup procedure of docs/backups.md, end to end: pg_dump -Fc, createdb, pg_restore --no-owner.

The restored database must hold the same votes (count and checksum over the
ordered rows), the same tool counters (still equal to a recount), the same
sequence positions, and the constraints that keep votes honest: one vote per
voter per tool (a duplicate insert is refused) and a valid verdict.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from tests.factories import ReviewerFactory, ReviewFactory, ToolFactory, UserFactory
from tests.helpers import requires_postgres
from tools.models import Verdict
from votes.services import vote_cast, vote_withdraw

pytestmark = [
    requires_postgres,
    pytest.mark.skipif(shutil.which("pg_dump") is None, reason="needs the PostgreSQL client tools"),
    pytest.mark.django_db(transaction=True),
]

VOTE_CHECKSUM = (
    "SELECT count(*), md5(string_agg(id || ':' || voter_id || ':' || tool_id || ':' || verdict, ',' ORDER BY id)) "
    "FROM votes_vote"
)
COUNTERS = (
    "SELECT t.slug, t.community_ship_count, t.community_skip_count, "
    "count(v.id) FILTER (WHERE v.verdict = 'ship'), count(v.id) FILTER (WHERE v.verdict = 'skip') "
    "FROM tools_tool t LEFT JOIN votes_vote v ON v.tool_id = t.id GROUP BY t.id ORDER BY t.id"
)
REVIEW_CHECKSUM = (
    "SELECT count(*), md5(string_agg(id || ':' || reviewer_id || ':' || tool_id || ':' || verdict || ':' || body, "
    "',' ORDER BY id)) FROM reviews_review"
)
CONSTRAINTS = (
    "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE conrelid = 'votes_vote'::regclass AND conname IN ('one_vote_per_voter_per_tool', 'vote_verdict_valid') "
    "ORDER BY conname"
)
VOTE_SEQUENCE = "SELECT last_value FROM votes_vote_id_seq"


def _libpq_env() -> dict[str, str]:
    """The test database's connection settings, as the PostgreSQL client tools read them."""
    db = connection.settings_dict
    env = {**os.environ, "PGHOST": db["HOST"] or "127.0.0.1", "PGPORT": str(db["PORT"] or 5432), "PGUSER": db["USER"]}
    if db["PASSWORD"]:
        env["PGPASSWORD"] = db["PASSWORD"]
    return env


@contextmanager
def _connect(name: str) -> Iterator[psycopg.Connection]:
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=name,
        autocommit=True,
    ) as conn:
        yield conn


def _run(*command: str) -> None:
    result = subprocess.run(command, env=_libpq_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{' '.join(command)} failed ({result.returncode}): {result.stderr}"


def _snapshot(name: str) -> dict[str, object]:
    with _connect(name) as conn:
        return {
            "votes": conn.execute(VOTE_CHECKSUM).fetchone(),
            "counters": conn.execute(COUNTERS).fetchall(),
            "reviews": conn.execute(REVIEW_CHECKSUM).fetchone(),
            "constraints": conn.execute(CONSTRAINTS).fetchall(),
            "vote_sequence": conn.execute(VOTE_SEQUENCE).fetchone()[0],
            "users": conn.execute("SELECT count(*) FROM auth_user").fetchone()[0],
        }


def _make_data() -> None:
    """Tools, panel reviews and votes cast, changed and withdrawn through the vote service."""
    tools = ToolFactory.create_batch(3)
    builder, buyer = ReviewerFactory(), ReviewerFactory()
    ReviewFactory(reviewer=builder, tool=tools[0], verdict=Verdict.SHIP)
    ReviewFactory(reviewer=builder, tool=tools[1], verdict=Verdict.SKIP)
    ReviewFactory(reviewer=buyer, tool=tools[0], verdict=Verdict.SKIP, body="Too pricey; it's a 'maybe'.")
    voters = UserFactory.create_batch(15)
    for index, voter in enumerate(voters):
        vote_cast(voter=voter, slug=tools[index % 3].slug, verdict=Verdict.SHIP if index % 3 else Verdict.SKIP)
        if index % 2:
            vote_cast(voter=voter, slug=tools[(index + 1) % 3].slug, verdict=Verdict.SHIP)
    vote_cast(voter=voters[0], slug=tools[0].slug, verdict=Verdict.SHIP)  # changed
    vote_cast(voter=voters[1], slug=tools[1].slug, verdict=Verdict.SKIP)  # changed
    vote_withdraw(voter=voters[2], slug=tools[2].slug)  # withdrawn


def test_pg_dump_and_pg_restore_round_trip(tmp_path: Path) -> None:
    _make_data()
    source = connection.settings_dict["NAME"]
    restored = f"{source}_restored_{os.getpid()}"[:63]
    dump = tmp_path / "verdicts.dump"

    # The commands of docs/backups.md.
    _run("pg_dump", "--format=custom", "--file", str(dump), source)
    try:
        _run("createdb", restored)
        _run("pg_restore", "--no-owner", "--exit-on-error", "--dbname", restored, str(dump))

        before, after = _snapshot(source), _snapshot(restored)
        count, checksum = after["votes"]
        assert count == before["votes"][0] > 20
        assert checksum == before["votes"][1] is not None
        assert after["counters"] == before["counters"]
        assert all((ship, skip) == (rows_ship, rows_skip) for _, ship, skip, rows_ship, rows_skip in after["counters"])
        assert after["reviews"] == before["reviews"]
        assert after["users"] == before["users"]
        assert after["vote_sequence"] == before["vote_sequence"]
        assert [(name, kind) for name, kind, _ in after["constraints"]] == [
            ("one_vote_per_voter_per_tool", "u"),
            ("vote_verdict_valid", "c"),
        ]
        # The unique constraint comes back verbatim; the CHECK is re-parsed on restore, so its text may be
        # spelled differently (ARRAY[...]::text[] vs ARRAY[...::text]): the insert below proves it still bites.
        assert after["constraints"][0] == before["constraints"][0]
        assert "'ship'" in after["constraints"][1][2] and "'skip'" in after["constraints"][1][2]

        with _connect(restored) as conn:
            # A second vote by the same voter on the same tool is refused by the restored unique constraint.
            with pytest.raises(psycopg.errors.UniqueViolation):
                conn.execute(
                    "INSERT INTO votes_vote (voter_id, tool_id, verdict, created_at, updated_at) "
                    "SELECT voter_id, tool_id, 'ship', now(), now() FROM votes_vote ORDER BY id LIMIT 1"
                )
            # So is a verdict that is neither ship nor skip (for a pair with no vote yet).
            with pytest.raises(psycopg.errors.CheckViolation):
                conn.execute(
                    "INSERT INTO votes_vote (voter_id, tool_id, verdict, created_at, updated_at) "
                    "SELECT u.id, t.id, 'meh', now(), now() FROM auth_user u CROSS JOIN tools_tool t "
                    "WHERE NOT EXISTS (SELECT 1 FROM votes_vote v WHERE v.voter_id = u.id AND v.tool_id = t.id) "
                    "LIMIT 1"
                )

        # The verification step of the procedure: recount_votes against the restored database.
        db = connection.settings_dict
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        recount = subprocess.run(
            [sys.executable, "manage.py", "recount_votes", "--no-progress"],
            cwd=settings.BASE_DIR,
            env={
                **os.environ,
                "DATABASE_URL": f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{restored}",
                "SECRET_KEY": "test-only-not-secret",
                "PUBLIC_BASE_URL": "http://testserver",
                "REDIS_URL": "",
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert recount.returncode == 0, recount.stderr
        assert "all 3 tools match their vote rows" in recount.stdout
    finally:
        _run("dropdb", "--if-exists", "--force", restored)
