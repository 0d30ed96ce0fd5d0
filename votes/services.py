"""Writes to votes. Each keeps the tool's community counters exact.

Every write first locks the tool row. That serialises the votes on one tool
(cheap: a vote is a few short statements), so the read-modify-write of "what
was this voter's verdict before" can never interleave, and all writers take
their locks in the same order, so they cannot deadlock.
"""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F

from reviews.models import Verdict
from tools.models import Tool
from votes.models import Vote

_COUNTER = {Verdict.SHIP: "community_ship_count", Verdict.SKIP: "community_skip_count"}


@dataclass(frozen=True)
class VoteResult:
    vote: Vote | None
    created: bool
    tool: Tool


def _locked_tool(tool_id: int) -> Tool:
    return Tool.objects.select_for_update().only("id").get(pk=tool_id)


def _bump(tool_id: int, **deltas: int) -> None:
    Tool.objects.filter(pk=tool_id).update(**{field: F(field) + delta for field, delta in deltas.items() if delta})


def _refreshed(tool_id: int) -> Tool:
    return Tool.objects.only("id", "slug", "community_ship_count", "community_skip_count").get(pk=tool_id)


@transaction.atomic
def vote_cast(*, voter: AbstractBaseUser, tool: Tool, verdict: str) -> VoteResult:
    """Cast or change `voter`'s vote on `tool`; repeating a vote changes nothing."""
    verdict = Verdict(verdict)
    _locked_tool(tool.pk)
    vote = Vote.objects.filter(voter=voter, tool_id=tool.pk).first()
    if vote is None:
        vote = Vote.objects.create(voter=voter, tool_id=tool.pk, verdict=verdict)
        _bump(tool.pk, **{_COUNTER[verdict]: 1})
        return VoteResult(vote=vote, created=True, tool=_refreshed(tool.pk))
    if vote.verdict != verdict:
        _bump(tool.pk, **{_COUNTER[Verdict(vote.verdict)]: -1, _COUNTER[verdict]: 1})
        vote.verdict = verdict
        vote.save(update_fields=["verdict", "updated_at"])
    return VoteResult(vote=vote, created=False, tool=_refreshed(tool.pk))


@transaction.atomic
def vote_withdraw(*, voter: AbstractBaseUser, tool: Tool) -> VoteResult:
    """Remove `voter`'s vote on `tool`; `vote` is None when there was none."""
    _locked_tool(tool.pk)
    vote = Vote.objects.filter(voter=voter, tool_id=tool.pk).first()
    if vote is not None:
        vote.delete()
        _bump(tool.pk, **{_COUNTER[Verdict(vote.verdict)]: -1})
    return VoteResult(vote=vote, created=False, tool=_refreshed(tool.pk))


@transaction.atomic
def votes_remove(*, votes: "list[Vote]") -> int:
    """Moderation: delete these votes (any voters, any tools) and correct the counters."""
    removed = 0
    for tool_id in sorted({vote.tool_id for vote in votes}):
        _locked_tool(tool_id)
        ids = [vote.pk for vote in votes if vote.tool_id == tool_id]
        # Re-read under the lock: a vote may have changed or gone meanwhile.
        current = list(Vote.objects.filter(pk__in=ids).values_list("verdict", flat=True))
        Vote.objects.filter(pk__in=ids).delete()
        _bump(
            tool_id,
            community_ship_count=-current.count(Verdict.SHIP),
            community_skip_count=-current.count(Verdict.SKIP),
        )
        removed += len(current)
    return removed
