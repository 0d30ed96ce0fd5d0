"""Check every tool's community counters against its vote rows; repair drift on request."""

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Count, Q
from tqdm import tqdm

from compare_api import caching
from tools.models import Tool

BATCH = 500

Comparison = tuple[int, str, tuple[int, int], tuple[int, int]]


def _compare(tool_ids: list[int]) -> list[Comparison]:
    """(id, slug, counters, recount) per tool, read in one statement so both sides see the same votes."""
    rows = (
        Tool.objects.filter(id__in=tool_ids)
        .annotate(
            ship=Count("votes", filter=Q(votes__verdict="ship")),
            skip=Count("votes", filter=Q(votes__verdict="skip")),
        )
        .values_list("id", "slug", "community_ship_count", "community_skip_count", "ship", "skip")
    )
    return [
        (tool_id, slug, (ship, skip), (rows_ship, rows_skip))
        for tool_id, slug, ship, skip, rows_ship, rows_skip in rows
    ]


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
            for tool_id, slug, (ship, skip), (rows_ship, rows_skip) in _compare(batch):
                if (ship, skip) != (rows_ship, rows_skip):
                    drifted.append(tool_id)
                    self.stdout.write(
                        f"drift: {slug}: counters ship={ship} skip={skip}, rows ship={rows_ship} skip={rows_skip}"
                    )
            progress.update(len(batch))
        progress.close()

        if drifted and repair:
            for tool_id in drifted:
                with transaction.atomic():
                    # Lock as the vote service does, so no vote lands between recount and write.
                    Tool.objects.select_for_update().filter(pk=tool_id).first()
                    ((_, slug, _, (ship, skip)),) = _compare([tool_id])
                    Tool.objects.filter(pk=tool_id).update(community_ship_count=ship, community_skip_count=skip)
                    caching.bump(caching.VOTES, caching.tool_version(slug))
            self.stdout.write(self.style.SUCCESS(f"repaired {len(drifted)} of {len(tool_ids)} tools"))
        elif drifted:
            raise CommandError(f"{len(drifted)} of {len(tool_ids)} tools drifted; run with --repair to fix them")
        else:
            self.stdout.write(self.style.SUCCESS(f"all {len(tool_ids)} tools match their vote rows"))
