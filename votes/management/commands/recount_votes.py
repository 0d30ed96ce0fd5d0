"""Check every tool's community counters against its counted votes (those of verified, active voters);
repair drift on request."""

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Count, Q
from tqdm import tqdm

from compare_api import caching
from tools.models import Tool
from votes.models import Vote

BATCH = 500

Comparison = tuple[int, str, tuple[int, int], tuple[int, int], int]


# A vote counts when its voter's address is verified and the account active; the
# vote's `counted` flag must say the same (votes.services keeps both in step).
_COUNTS = Q(votes__voter__is_active=True, votes__voter__voter__email_verified_at__isnull=False)
_DOES_NOT_COUNT = Q(votes__voter__is_active=False) | Q(votes__voter__voter__email_verified_at__isnull=True)


def _compare(tool_ids: list[int]) -> list[Comparison]:
    """(id, slug, counters, recount, misflagged votes) per tool, read in one statement so all see the same votes."""
    rows = (
        Tool.objects.filter(id__in=tool_ids)
        .annotate(
            ship=Count("votes", filter=Q(votes__verdict="ship") & _COUNTS),
            skip=Count("votes", filter=Q(votes__verdict="skip") & _COUNTS),
            misflagged=Count(
                "votes", filter=(Q(votes__counted=True) & _DOES_NOT_COUNT) | Q(votes__counted=False) & _COUNTS
            ),
        )
        .values_list("id", "slug", "community_ship_count", "community_skip_count", "ship", "skip", "misflagged")
    )
    return [
        (tool_id, slug, (ship, skip), (rows_ship, rows_skip), misflagged)
        for tool_id, slug, ship, skip, rows_ship, rows_skip, misflagged in rows
    ]


def _reflag(tool_id: int) -> None:
    """Set the tool's votes' `counted` from their voters' standing (the tool row is locked)."""
    votes = Vote.objects.filter(tool_id=tool_id)
    counts = Q(voter__is_active=True, voter__voter__email_verified_at__isnull=False)
    votes.filter(counted=False).filter(pk__in=votes.filter(counts).values("pk")).update(counted=True)
    votes.filter(counted=True).exclude(pk__in=votes.filter(counts).values("pk")).update(counted=False)


class Command(BaseCommand):
    help = "Verify every tool's community counters against a recount of its votes (--repair fixes drift)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--repair", action="store_true", help="Set drifted counters to the recount.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar even on a terminal.")

    def handle(self, *args: Any, repair: bool, no_progress: bool, **options: Any) -> None:
        tool_ids = list(Tool.objects.order_by("id").values_list("id", flat=True))
        progress = tqdm(
            total=len(tool_ids), unit="tool", disable=no_progress or not sys.stderr.isatty(), file=sys.stderr
        )
        drifted: list[int] = []
        for start in range(0, len(tool_ids), BATCH):
            batch = tool_ids[start : start + BATCH]
            for tool_id, slug, (ship, skip), (rows_ship, rows_skip), misflagged in _compare(batch):
                if (ship, skip) != (rows_ship, rows_skip) or misflagged:
                    drifted.append(tool_id)
                    self.stdout.write(
                        f"drift: {slug}: counters ship={ship} skip={skip}, rows ship={rows_ship} skip={rows_skip}"
                        + (f", {misflagged} votes flagged against their voter's standing" if misflagged else "")
                    )
            progress.update(len(batch))
        progress.close()

        if drifted and repair:
            for tool_id in drifted:
                with transaction.atomic():
                    # Lock as the vote service does, so no vote lands between recount and write.
                    Tool.objects.select_for_update().filter(pk=tool_id).first()
                    _reflag(tool_id)
                    ((_, slug, _, (ship, skip), _),) = _compare([tool_id])
                    Tool.objects.filter(pk=tool_id).update(community_ship_count=ship, community_skip_count=skip)
                    caching.bump(caching.VOTES, caching.tool_version(slug))
            self.stdout.write(self.style.SUCCESS(f"repaired {len(drifted)} of {len(tool_ids)} tools"))
        elif drifted:
            raise CommandError(f"{len(drifted)} of {len(tool_ids)} tools drifted; run with --repair to fix them")
        else:
            self.stdout.write(self.style.SUCCESS(f"all {len(tool_ids)} tools match their vote rows"))
