"""Writes to votes. Each keeps the tool's community counters exact.

Every write first locks the tool row. That serialises the votes on one tool
(cheap: a vote is a few short statements), so the read-modify-write of "what
was this voter's verdict before" can never interleave, and all writers take
their locks in the same order, so they cannot deadlock.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from compare_api import caching
from reviews.models import Verdict
from tools.models import COMMUNITY_COUNTERS, Tool
from votes.models import Subscriber, SubscriberStatus, Vote

logger = logging.getLogger(__name__)

_COUNTER = {Verdict.SHIP: "community_ship_count", Verdict.SKIP: "community_skip_count"}


@dataclass(frozen=True)
class VoteResult:
    vote: Vote | None
    created: bool
    tool: Tool


def _locked_tool(tool_id: int) -> Tool:
    """Lock the tool row and read its counters: under the lock they are exact until commit."""
    return Tool.objects.select_for_update().only("id", "slug", *COMMUNITY_COUNTERS).get(pk=tool_id)


def _apply(tool: Tool, **deltas: int) -> Tool:
    """Move the locked tool's counters in the database and in `tool`; its documents go stale at commit."""
    deltas = {field: delta for field, delta in deltas.items() if delta}
    if deltas:
        Tool.objects.filter(pk=tool.pk).update(**{field: F(field) + delta for field, delta in deltas.items()})
        for field, delta in deltas.items():
            setattr(tool, field, getattr(tool, field) + delta)
        caching.bump(caching.VOTES, caching.tool_version(tool.slug))
    return tool


@transaction.atomic
def vote_cast(*, voter: AbstractBaseUser, tool: Tool, verdict: str) -> VoteResult:
    """Cast or change `voter`'s vote on `tool`; repeating a vote changes nothing."""
    verdict = Verdict(verdict)
    locked = _locked_tool(tool.pk)
    vote = Vote.objects.filter(voter=voter, tool_id=tool.pk).first()
    if vote is None:
        vote = Vote.objects.create(voter=voter, tool_id=tool.pk, verdict=verdict)
        return VoteResult(vote=vote, created=True, tool=_apply(locked, **{_COUNTER[verdict]: 1}))
    if vote.verdict != verdict:
        _apply(locked, **{_COUNTER[Verdict(vote.verdict)]: -1, _COUNTER[verdict]: 1})
        vote.verdict = verdict
        vote.save(update_fields=["verdict", "updated_at"])
    return VoteResult(vote=vote, created=False, tool=locked)


@transaction.atomic
def vote_withdraw(*, voter: AbstractBaseUser, tool: Tool) -> VoteResult:
    """Remove `voter`'s vote on `tool`; `vote` is None when there was none."""
    locked = _locked_tool(tool.pk)
    vote = Vote.objects.filter(voter=voter, tool_id=tool.pk).first()
    if vote is not None:
        vote.delete()
        _apply(locked, **{_COUNTER[Verdict(vote.verdict)]: -1})
    return VoteResult(vote=vote, created=False, tool=locked)


@transaction.atomic
def votes_remove(*, votes: list[Vote]) -> int:
    """Moderation: delete these votes (any voters, any tools) and correct the counters."""
    removed = 0
    for tool_id in sorted({vote.tool_id for vote in votes}):
        locked = _locked_tool(tool_id)
        ids = [vote.pk for vote in votes if vote.tool_id == tool_id]
        # Count under the lock: a vote may have changed or gone meanwhile.
        current = dict(Vote.objects.filter(pk__in=ids).order_by().values_list("verdict").annotate(n=Count("id")))
        Vote.objects.filter(pk__in=ids).delete()
        _apply(locked, **{_COUNTER[Verdict(verdict)]: -count for verdict, count in current.items()})
        removed += sum(current.values())
    return removed


@transaction.atomic
def voter_delete(*, voter: AbstractBaseUser) -> None:
    """Delete an account; its votes go through moderation first so counters stay exact."""
    votes_remove(votes=list(Vote.objects.filter(voter=voter)))
    voter.delete()


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


def newsletter_subscribe(*, email: str, link: Callable[[str, str], str]) -> None:
    """Ask `email` to confirm; `link(kind, token)` builds the URLs the email carries.

    Says nothing about whether the address was known: the caller answers the
    same either way, and a confirmed address gets no second email.
    """
    subscriber, _ = Subscriber.objects.get_or_create(email=email.strip().lower())
    if subscriber.status == SubscriberStatus.CONFIRMED:
        return
    if subscriber.status == SubscriberStatus.UNSUBSCRIBED:
        subscriber.status = SubscriberStatus.PENDING
        subscriber.confirmed_at = subscriber.unsubscribed_at = None
        subscriber.save(update_fields=["status", "confirmed_at", "unsubscribed_at"])
    confirm = link("confirm", subscription_token(subscriber=subscriber, salt=CONFIRM_SALT))
    unsubscribe = link("unsubscribe", subscription_token(subscriber=subscriber, salt=UNSUBSCRIBE_SALT))
    try:
        _send_confirmation(subscriber=subscriber, confirm=confirm, unsubscribe=unsubscribe)
    except Exception:
        # The answer must not depend on the mail server either; asking again resends.
        logger.exception("newsletter confirmation to subscriber %s not sent", subscriber.pk)


def _send_confirmation(*, subscriber: Subscriber, confirm: str, unsubscribe: str) -> None:
    send_mail(
        subject="Confirm your Weekly AI Tool Verdicts subscription",
        message=(
            "New AI tools ship daily. We compare them before you waste an afternoon.\n\n"
            f"Confirm your subscription (the link works for 7 days):\n{confirm}\n\n"
            f"Didn't ask for this? Ignore this email, or unsubscribe:\n{unsubscribe}\n"
        ),
        from_email=None,
        recipient_list=[subscriber.email],
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
