"""Writes to votes. Each keeps the tool's community counters exact.

Every write first locks the tool row. That serialises the votes on one tool
(cheap: a vote is a few short statements, on PostgreSQL a single one), so the
read-modify-write of "what was this voter's verdict before" can never
interleave, and all writers take their locks in the same order (the voter's
row, then tool rows in id order, then vote rows), so they cannot deadlock.

A vote counts (is in its tool's counters) only while its voter's address is
verified and the account active: Voter.votes_count, copied onto each vote as
`counted`. A vote reads it under a share lock on the voter's row; the services
that change it hold that row exclusively while they flip the voter's votes and
move the counters, so a vote never lands in between with a stale answer.
"""

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Count
from django.utils import timezone
from knox.models import AuthToken

from compare_api import caching, failures, metrics
from compare_api.breakers import Cooldown
from compare_api.compiled import CompiledQuery
from compare_api.exceptions import LOCK_NOT_AVAILABLE, sqlstate
from compare_api.stats import Tally
from tools.models import COMMUNITY_COUNTERS, Tool, Verdict
from votes import accounts, emails
from votes.models import Subscriber, SubscriberStatus, Vote, Voter
from votes.tasks import email_send, newsletter_confirmation_send

logger = logging.getLogger(__name__)


def _count(outcome: str) -> None:
    """Count a vote write in the metrics once it has committed (at once outside a transaction)."""
    transaction.on_commit(lambda: metrics.count_vote(outcome))


@dataclass(frozen=True)
class LockedTool:
    id: int
    slug: str
    community: Tally  # exact while the lock is held


@dataclass(frozen=True)
class VoteResult:
    vote: Vote | None  # None: there was no vote to withdraw
    created: bool
    community: Tally  # the tool's community tally after the write


# A vote is the hot write path: its statements are compiled once per process
# (compare_api.compiled) or written out, not rebuilt by the ORM on every request.
_LOCK_PUBLISHED = CompiledQuery(
    lambda slug: (
        Tool.objects.published().select_for_update().filter(slug=slug).values_list("id", "slug", *COMMUNITY_COUNTERS)
    ),
    slug="\x00tool-slug",
)
_LOCK_BY_ID = CompiledQuery(
    lambda tool_id: Tool.objects.select_for_update().filter(pk=tool_id).values_list("id", "slug", *COMMUNITY_COUNTERS),
    tool_id=-7_100_001,
)
_CURRENT_VOTE = CompiledQuery(
    lambda voter_id, tool_id: (
        Vote.objects.filter(voter_id=voter_id, tool_id=tool_id)
        .order_by()
        .values_list("id", "verdict", "counted", "created_at", "updated_at")
    ),
    voter_id=-7_100_002,
    tool_id=-7_100_003,
)
# The steps' voter lock (the one statement takes a share lock instead; the steps are
# SQLite's, which has no row locks, and PostgreSQL's rare fallback).
_LOCK_VOTER = CompiledQuery(
    lambda voter_id: Voter.objects.select_for_update().filter(pk=voter_id).values_list("votes_count"),
    voter_id=-7_100_004,
)
_INSERT_VOTE = (
    "INSERT INTO votes_vote (voter_id, tool_id, verdict, counted, created_at, updated_at)"
    " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id"
)
_CHANGE_VOTE = "UPDATE votes_vote SET verdict = %s, updated_at = %s WHERE id = %s"
_DELETE_VOTE = "DELETE FROM votes_vote WHERE id = %s"
_MOVE_COUNTERS = (
    "UPDATE tools_tool SET community_ship_count = community_ship_count + %s,"
    " community_skip_count = community_skip_count + %s WHERE id = %s"
)


def _locked(rows: list[tuple]) -> LockedTool:
    if not rows:
        raise Tool.DoesNotExist
    tool_id, slug, ship, skip = rows[0]
    return LockedTool(id=tool_id, slug=slug, community=Tally(ship, skip))


def _execute(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _fetch_one(sql: str, params: list | dict) -> tuple | None:
    """The first row a statement that returns rows (SELECT, RETURNING) gives, or None."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _move_counters(tool: LockedTool, deltas: dict[str, int]) -> Tally:
    """Move the locked tool's counters by verdict ({"ship": 1, "skip": -1}); its documents go
    stale at commit. Returns the new tally."""
    ship, skip = deltas.get(Verdict.SHIP, 0), deltas.get(Verdict.SKIP, 0)
    if not (ship or skip):
        return tool.community
    _execute(_MOVE_COUNTERS, [ship, skip, tool.id])
    caching.bump(caching.VOTES, caching.tool_version(tool.slug))
    return Tally(tool.community.ship + ship, tool.community.skip + skip)


def _current_vote(voter_id: int, tool_id: int) -> Vote | None:
    rows = _CURRENT_VOTE.rows(voter_id=voter_id, tool_id=tool_id)
    if not rows:
        return None
    vote_id, verdict, counted, created_at, updated_at = rows[0]
    return Vote(
        id=vote_id,
        voter_id=voter_id,
        tool_id=tool_id,
        verdict=verdict,
        counted=counted,
        created_at=created_at,
        updated_at=updated_at,
    )


class ToolBusy(Exception):
    """Votes on this tool are waiting on its row lock, held by another write; try again in `retry_after` seconds."""

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


# A vote that gave up waiting for its tool's row (lock_timeout) means something holds that
# row far longer than any vote does. With sync workers, each further vote on that tool would
# hold a worker for the whole lock timeout, and enough of them would starve every other
# request; so for VOTE_BUSY_SECONDS this process answers them at once. Per process, so
# the hot path pays a dict lookup for it and no round trip.
_busy_tools = Cooldown()


@contextmanager
def _tool_lock(slug: str) -> Iterator[None]:
    if wait := _busy_tools.remaining(slug):
        raise ToolBusy(retry_after=math.ceil(wait))
    try:
        yield
    except OperationalError as error:
        if sqlstate(error) != LOCK_NOT_AVAILABLE:
            raise
        _busy_tools.start(slug, settings.VOTE_BUSY_SECONDS)
        failures.report("database", error, f"votes on {slug} answered 503 for {settings.VOTE_BUSY_SECONDS} s")
        raise ToolBusy(retry_after=max(1, settings.VOTE_BUSY_SECONDS)) from error


def vote_cast(*, voter: AbstractBaseUser, slug: str, verdict: str) -> VoteResult:
    """Cast or change `voter`'s vote on the published tool `slug`; repeating a vote changes nothing.

    The vote is kept whoever casts it; `vote.counted` says whether the tally includes it.

    Raises Tool.DoesNotExist when no published tool has that slug, ToolBusy when its row stays locked.
    """
    return vote_cast_by_id(voter_id=voter.pk, slug=slug, verdict=verdict)


def vote_cast_by_id(*, voter_id: int, slug: str, verdict: str, token: tuple[str, str] | None = None) -> VoteResult:
    """vote_cast for the account `voter_id`, for a caller that has its id and no user object
    (the vote fast path, votes.fastpath).

    `token` (PostgreSQL only): the (key, digest) of the voter token the vote comes with, for a
    caller that has not checked it. The vote's own statement then casts it only while that
    token is `voter_id`'s, unexpired, and the account active; else it raises Tool.DoesNotExist
    as for an unknown tool, having changed nothing.
    """
    verdict = Verdict(verdict).value
    with _tool_lock(slug):
        if connection.vendor == "postgresql":
            return _cast_in_one_statement(voter_id, slug, verdict, token)
        if token is not None:
            raise ValueError("a vote checks its token in its statement on PostgreSQL only")
        return _cast_in_steps(voter_id, slug, verdict)


# On PostgreSQL a vote is one statement, atomic on its own: no BEGIN/COMMIT round
# trips. It takes the same locks in the same order as the steps below (the voter's
# row, shared, then the tool row, then the vote row): `tool` joins `voter`, so its
# row is locked only once the voter's is. The upsert alone says what changed,
# because a verdict has two values: a new row (xmax = 0) adds one to its verdict;
# an updated row was the other verdict before, so it also takes one from that; no
# row returned is a repeat. The counters move only for a counted vote: a new vote
# takes `counted` from the voter's row; an existing one already equals it (the
# voter services flip every vote of the voter while holding that row), which is
# also why the answer's `counted` is the voter's, read under the lock.
# Both locked rows are read as locked, not as the statement's snapshot saw them:
# the snapshot may predate the lock, and PostgreSQL checks constraints (counts >= 0)
# on the snapshot's row before it moves to the latest one. The voter's row is
# locked FOR SHARE, which waits for any UPDATE of it (KEY SHARE would wait only for
# the services' explicit FOR UPDATE, and let a plain UPDATE of the row pass). Two
# votes of one voter share the lock; only a change of standing waits, and is
# waited for. Tested with real threads in tests/votes/test_standing_concurrency.py
# (without the lock, all of them fail). An account without a Voter row
# (staff made by createsuperuser) votes uncounted, with no voter lock to take.
# With a token (the fast path's), `tool` yields its row only while the token is the voter's
# (knox's checks: its key and digest, not expired, an active account), so nothing is locked or
# cast for a token that is not; the digest is a hash, so comparing it in SQL leaks nothing.
# `commit_mode` sets synchronous_commit for this statement's own transaction
# (settings.VOTE_SYNCHRONOUS_COMMIT; see the README on durability), and its lock_timeout
# (settings.VOTE_LOCK_TIMEOUT). `tool` joins it, so it has run before the tool's row lock
# is requested (PostgreSQL locks the rows a join yields, and reads lock_timeout as a wait
# begins); the voter's share lock, taken first, waits under the connection's lock_timeout.
_CAST_SQL = """
WITH commit_mode AS (
    SELECT set_config('synchronous_commit', %(synchronous_commit)s, true),
        set_config('lock_timeout', %(lock_timeout)s, true)
), voter AS MATERIALIZED (
    SELECT votes_count FROM votes_voter WHERE user_id = %(voter)s FOR SHARE
), tool AS (
    SELECT tools_tool.id, community_ship_count, community_skip_count, COALESCE(voter.votes_count, false) AS counts
    FROM tools_tool CROSS JOIN commit_mode LEFT JOIN voter ON true
    WHERE slug = %(slug)s AND is_published AND (%(token_key)s::text IS NULL OR EXISTS (
        SELECT FROM {token} JOIN {user} ON {user}.id = {token}.user_id
        WHERE {token}.token_key = %(token_key)s AND {token}.digest = %(digest)s AND {token}.user_id = %(voter)s
            AND ({token}.expiry IS NULL OR {token}.expiry >= %(now)s) AND {user}.is_active
    ))
    FOR UPDATE OF tools_tool
), cast_vote AS (
    INSERT INTO votes_vote AS vote (voter_id, tool_id, verdict, counted, created_at, updated_at)
    SELECT %(voter)s, id, %(verdict)s, counts, %(now)s, %(now)s FROM tool
    ON CONFLICT (voter_id, tool_id) DO UPDATE SET verdict = EXCLUDED.verdict, updated_at = EXCLUDED.updated_at
        WHERE vote.verdict <> EXCLUDED.verdict
    RETURNING vote.id, vote.created_at, vote.updated_at, vote.xmax = 0 AS created, vote.counted
), counters AS (
    UPDATE tools_tool SET
        community_ship_count = tool.community_ship_count
            + CASE WHEN %(verdict)s = 'ship' THEN 1 WHEN cast_vote.created THEN 0 ELSE -1 END,
        community_skip_count = tool.community_skip_count
            + CASE WHEN %(verdict)s = 'skip' THEN 1 WHEN cast_vote.created THEN 0 ELSE -1 END
    FROM tool, cast_vote WHERE tools_tool.id = tool.id AND cast_vote.counted
    RETURNING tools_tool.community_ship_count, tools_tool.community_skip_count
)
SELECT tool.id, cast_vote.id, cast_vote.created, cast_vote.created_at, cast_vote.updated_at,
    COALESCE(counters.community_ship_count, tool.community_ship_count),
    COALESCE(counters.community_skip_count, tool.community_skip_count),
    tool.counts, earlier.id, earlier.created_at, earlier.updated_at
FROM tool
LEFT JOIN cast_vote ON true
LEFT JOIN counters ON true
LEFT JOIN votes_vote earlier ON earlier.voter_id = %(voter)s AND earlier.tool_id = tool.id
""".format(token=AuthToken._meta.db_table, user=get_user_model()._meta.db_table)


def _cast_in_one_statement(voter_id: int, slug: str, verdict: str, token: tuple[str, str] | None) -> VoteResult:
    now = timezone.now()
    token_key, digest = token or (None, None)
    row = _fetch_one(
        _CAST_SQL,
        {
            "slug": slug,
            "voter": voter_id,
            "verdict": verdict,
            "now": now,
            "synchronous_commit": settings.VOTE_SYNCHRONOUS_COMMIT,
            "lock_timeout": settings.VOTE_LOCK_TIMEOUT,
            "token_key": token_key,
            "digest": digest,
        },
    )
    if row is None:
        raise Tool.DoesNotExist
    (
        tool_id,
        vote_id,
        created,
        created_at,
        updated_at,
        ship,
        skip,
        counted,
        earlier_id,
        earlier_created,
        earlier_updated,
    ) = row
    community = Tally(ship, skip)
    if vote_id is None:  # a repeat: the vote stands as it was
        if earlier_id is None:  # cast by a request that committed while this one waited for the lock
            return _cast_in_steps(voter_id, slug, verdict)
        vote_id, created_at, updated_at = earlier_id, earlier_created, earlier_updated
        _count("repeat")
    else:
        if counted:  # an uncounted vote changes no document
            caching.bump(caching.VOTES, caching.tool_version(slug))
        _count("created" if created else "changed")
    vote = Vote(
        id=vote_id,
        voter_id=voter_id,
        tool_id=tool_id,
        verdict=verdict,
        counted=counted,
        created_at=created_at,
        updated_at=updated_at,
    )
    return VoteResult(vote=vote, created=bool(created), community=community)


@transaction.atomic
def _cast_in_steps(voter_id: int, slug: str, verdict: str) -> VoteResult:
    voter_rows = _LOCK_VOTER.rows(voter_id=voter_id)
    counts = bool(voter_rows and voter_rows[0][0])
    tool = _locked(_LOCK_PUBLISHED.rows(slug=slug))
    vote = _current_vote(voter_id, tool.id)
    now = timezone.now()
    stamp = connection.ops.adapt_datetimefield_value(now)
    if vote is None:
        (vote_id,) = _fetch_one(_INSERT_VOTE, [voter_id, tool.id, verdict, counts, stamp, stamp])
        vote = Vote(
            id=vote_id,
            voter_id=voter_id,
            tool_id=tool.id,
            verdict=verdict,
            counted=counts,
            created_at=now,
            updated_at=now,
        )
        _count("created")
        return VoteResult(vote=vote, created=True, community=_move_counters(tool, {verdict: 1} if counts else {}))
    if vote.verdict == verdict:
        _count("repeat")
        return VoteResult(vote=vote, created=False, community=tool.community)
    _execute(_CHANGE_VOTE, [verdict, stamp, vote.pk])
    _count("changed")
    community = _move_counters(tool, {vote.verdict: -1, verdict: 1} if vote.counted else {})
    vote.verdict, vote.updated_at = verdict, now
    return VoteResult(vote=vote, created=False, community=community)


def vote_withdraw(*, voter: AbstractBaseUser, slug: str) -> VoteResult:
    """Remove `voter`'s vote on the published tool `slug`; `vote` is None when there was none.

    Raises Tool.DoesNotExist when no published tool has that slug, ToolBusy when its row stays locked.
    """
    with _tool_lock(slug):
        return _withdraw(voter.pk, slug)


@transaction.atomic
def _withdraw(voter_id: int, slug: str) -> VoteResult:
    tool = _locked(_LOCK_PUBLISHED.rows(slug=slug))
    vote = _current_vote(voter_id, tool.id)
    if vote is None:
        return VoteResult(vote=None, created=False, community=tool.community)
    _execute(_DELETE_VOTE, [vote.pk])
    _count("withdrawn")
    return VoteResult(
        vote=vote, created=False, community=_move_counters(tool, {vote.verdict: -1} if vote.counted else {})
    )


@transaction.atomic
def votes_remove(*, votes: list[Vote]) -> int:
    """Moderation: delete these votes (any voters, any tools) and correct the counters."""
    removed = 0
    for tool_id in sorted({vote.tool_id for vote in votes}):
        tool = _locked(_LOCK_BY_ID.rows(tool_id=tool_id))
        ids = [vote.pk for vote in votes if vote.tool_id == tool_id]
        # Count under the lock: a vote may have changed, gone or been (un)counted meanwhile.
        current = dict(
            Vote.objects.filter(pk__in=ids, counted=True).order_by().values_list("verdict").annotate(n=Count("id"))
        )
        removed += Vote.objects.filter(pk__in=ids).delete()[0]
        _move_counters(tool, {verdict: -count for verdict, count in current.items()})
    return removed


def _lock_voter(user: AbstractBaseUser) -> Voter | None:
    """Hold the account's Voter row (first in the lock order) for a change of its standing."""
    return Voter.objects.select_for_update().filter(pk=user.pk).first()


def _set_votes_count(voter: Voter, counts: bool) -> None:
    """Make the (locked) voter's votes count or not, moving every counter they are in."""
    if voter.votes_count == counts:
        return
    voter.votes_count = counts
    Voter.objects.filter(pk=voter.pk).update(votes_count=counts)
    # No vote of this voter can appear meanwhile (a cast needs the voter row), so
    # the tools read here are all of them; they are locked in id order, as votes_remove does.
    tools = [
        _locked([row])
        for row in Tool.objects.select_for_update()
        .filter(id__in=Vote.objects.filter(voter_id=voter.pk).values("tool_id"))
        .order_by("id")
        .values_list("id", "slug", *COMMUNITY_COUNTERS)
    ]
    flipping = Vote.objects.filter(voter_id=voter.pk, counted=not counts)
    verdicts = dict(flipping.values_list("tool_id", "verdict"))
    flipping.update(counted=counts)
    sign = 1 if counts else -1
    for tool in tools:
        if tool.id in verdicts:
            _move_counters(tool, {verdicts[tool.id]: sign})


@transaction.atomic
def voter_delete(*, voter: AbstractBaseUser) -> None:
    """Delete an account; its votes go through moderation first so counters stay exact."""
    _lock_voter(voter)
    votes_remove(votes=list(Vote.objects.filter(voter=voter)))
    voter.delete()


@transaction.atomic
def voter_set_active(*, user: AbstractBaseUser, active: bool) -> None:
    """(De)activate an account: an inactive account cannot log in, and its votes stop counting."""
    voter = _lock_voter(user)
    user.is_active = active
    get_user_model().objects.filter(pk=user.pk).update(is_active=active)
    if voter is not None:
        _set_votes_count(voter, active and voter.email_verified_at is not None)


# Voter accounts: registration, and the verified address that makes their votes count.

VERIFY_SALT = "voter.verify"
VERIFY_MAX_AGE = 48 * 3600


class AddressTaken(Exception):
    """Another account already has this address (compared normalised)."""


class UsernameTaken(Exception):
    """Another account already has this username."""


@transaction.atomic
def voter_register(*, username: str, email: str, password: str) -> AbstractBaseUser:
    """Create an account, unverified (its votes do not count yet), and email it a verification link.

    The caller has checked the username and address; a concurrent registration may
    still take either first, which raises UsernameTaken or AddressTaken.
    """
    User = get_user_model()
    normalised = emails.normalise_address(email)
    # Checked again here, in the transaction, so the unique constraints below are the
    # last word only for a true race, which the caller answers the same way.
    if Voter.objects.filter(email_normalised=normalised).exists():
        raise AddressTaken
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email.strip(), password=password)
            accounts.username_claim(user=user)  # its canonical form and skeleton: look-alikes refused
    except IntegrityError:
        raise UsernameTaken from None
    try:
        with transaction.atomic():
            voter = Voter.objects.create(user=user, email_normalised=normalised)
    except IntegrityError:
        raise AddressTaken from None
    _send_verification(voter=voter, user=user)
    return user


def verification_token(*, voter: Voter) -> str:
    return signing.dumps({"id": voter.pk, "email": voter.email_normalised}, salt=VERIFY_SALT)


def _send_verification(*, voter: Voter, user: AbstractBaseUser) -> bool:
    return _send_email(
        to=user.email,
        kind="verification",
        params={"username": user.get_username(), "token": verification_token(voter=voter)},
    )


class NothingToVerify(Exception):
    """The account is verified already (`code` "already_verified") or has no address to verify ("no_email")."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@transaction.atomic
def voter_resend_verification(*, user: AbstractBaseUser) -> None:
    """Email the account a fresh verification link (within the one-a-day mail limit).

    Raises NothingToVerify when the account is verified already or has no address.
    """
    voter = Voter.objects.filter(pk=user.pk).first()
    if voter is None or voter.email_normalised is None or not user.email:
        raise NothingToVerify("This account has no email address to verify.", code="no_email")
    if voter.email_verified_at is not None:
        raise NothingToVerify("This account's email address is verified already.", code="already_verified")
    _send_verification(voter=voter, user=user)


@transaction.atomic
def voter_verify(*, token: str) -> bool:
    """Mark the token's address verified; from now on (and retroactively) the account's votes count.

    False for a bad or expired token, or one for an address the account no longer has.
    A token is good for 48 hours and has one effect: using it again changes nothing.
    """
    try:
        payload = signing.loads(token, salt=VERIFY_SALT, max_age=VERIFY_MAX_AGE)
    except (signing.BadSignature, TypeError, ValueError):
        return False
    if not isinstance(payload, dict):
        return False
    voter = (
        Voter.objects.select_for_update()
        .select_related("user")
        .filter(pk=payload.get("id"), email_normalised=payload.get("email"))
        .first()
    )
    if voter is None:
        return False
    if voter.email_verified_at is None:
        voter.email_verified_at = timezone.now()
        Voter.objects.filter(pk=voter.pk).update(email_verified_at=voter.email_verified_at)
        _set_votes_count(voter, voter.user.is_active)
    return True


# Mail: at most one newsletter or verification email per address per day, whoever
# asks and from wherever, counted in the database (so it holds without Redis).

MAIL_INTERVAL = timedelta(hours=24)

# Claims the address's daily email: a row for a new address, or the timestamp moved
# on when the last email is at least MAIL_INTERVAL old; no row back means no email.
# One statement, so two requests for one address cannot both claim it.
_CLAIM_MAIL = (
    "INSERT INTO votes_mailrecipient (address, last_mailed_at) VALUES (%s, %s)"
    " ON CONFLICT (address) DO UPDATE SET last_mailed_at = EXCLUDED.last_mailed_at"
    " WHERE votes_mailrecipient.last_mailed_at <= %s RETURNING id"
)


def _claim_daily_email(to: str) -> bool:
    """Whether `to` may be sent a newsletter or verification email now; if so, its day starts now."""
    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    if _fetch_one(_CLAIM_MAIL, [emails.normalise_address(to), adapt(now), adapt(now - MAIL_INTERVAL)]) is None:
        logger.info("email not sent: the address had one in the last %s", MAIL_INTERVAL)
        return False
    return True


def _send_email(*, to: str, kind: str, params: dict[str, str]) -> bool:
    """Services send the emails of votes/emails.py through this: claims the address's daily
    email, then enqueues it (votes.tasks.email_send) in the same transaction, so the claim and
    the task commit together or not at all. Returns whether an email was queued."""
    if not _claim_daily_email(to):
        return False
    email_send.enqueue(kind=kind, to=to, params=params)
    return True


# Newsletter ("Weekly AI Tool Verdicts"): double opt-in by a signed link.

CONFIRM_SALT = "newsletter.confirm"
UNSUBSCRIBE_SALT = "newsletter.unsubscribe"
CONFIRM_MAX_AGE = 7 * 24 * 3600


def subscription_token(*, subscriber: Subscriber, salt: str) -> str:
    return signing.dumps({"id": subscriber.pk, "email": subscriber.email}, salt=salt)


def _subscriber_from_token(token: str, *, salt: str, max_age: int | None) -> Subscriber | None:
    try:
        payload = signing.loads(token, salt=salt, max_age=max_age)
    except (signing.BadSignature, TypeError, ValueError):
        return None
    return Subscriber.objects.filter(pk=payload.get("id"), email=payload.get("email")).first()


@transaction.atomic
def newsletter_subscribe(*, email: str) -> None:
    """Ask `email` to confirm.

    Says nothing about whether the address was known: the caller answers the
    same either way, a confirmed address gets no second email, and no address
    gets more than one email a day (_claim_daily_email). The email is a task row
    written in this transaction: a rolled-back sign-up sends nothing, a committed
    one is mailed by the worker even if this process dies now, and the answer
    never waits for (or depends on) the mail server. Its links are built from
    PUBLIC_BASE_URL, never from the request.
    """
    subscriber, _ = Subscriber.objects.get_or_create(email=email.strip().lower())
    if subscriber.status == SubscriberStatus.CONFIRMED:
        return
    if subscriber.status == SubscriberStatus.UNSUBSCRIBED:
        subscriber.status = SubscriberStatus.PENDING
        subscriber.confirmed_at = subscriber.unsubscribed_at = None
        subscriber.save(update_fields=["status", "confirmed_at", "unsubscribed_at"])
    if not _claim_daily_email(subscriber.email):
        return
    newsletter_confirmation_send.enqueue(
        subscriber_id=subscriber.pk,
        confirm=emails.link("newsletter-confirm", subscription_token(subscriber=subscriber, salt=CONFIRM_SALT)),
        unsubscribe=emails.link(
            "newsletter-unsubscribe", subscription_token(subscriber=subscriber, salt=UNSUBSCRIBE_SALT)
        ),
    )


def newsletter_confirm(*, token: str) -> bool:
    subscriber = _subscriber_from_token(token, salt=CONFIRM_SALT, max_age=CONFIRM_MAX_AGE)
    if subscriber is None or subscriber.status == SubscriberStatus.UNSUBSCRIBED:
        return False
    if subscriber.status == SubscriberStatus.PENDING:
        subscriber.status = SubscriberStatus.CONFIRMED
        subscriber.confirmed_at = timezone.now()
        subscriber.save(update_fields=["status", "confirmed_at"])
    return True


def newsletter_unsubscribe(*, token: str) -> bool:
    subscriber = _subscriber_from_token(token, salt=UNSUBSCRIBE_SALT, max_age=None)
    if subscriber is None:
        return False
    if subscriber.status != SubscriberStatus.UNSUBSCRIBED:
        subscriber.status = SubscriberStatus.UNSUBSCRIBED
        subscriber.unsubscribed_at = timezone.now()
        subscriber.save(update_fields=["status", "unsubscribed_at"])
    return True
