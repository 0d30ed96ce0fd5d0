"""Load the seed data in seeds/*.json, idempotently.

Rows are matched on their natural keys (slugs; reviewer x tool for reviews;
the tool pair for comparisons) and updated in place: loading twice leaves the
same rows with the same ids, so votes and history attached to them survive.
"""

import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction
from django.db.models import Q
from tqdm import tqdm

from compare_api import caching
from reviews.models import Comparison, Review, Reviewer
from seeds.scale import ScaleSize, scale_load
from tools.models import Category, Tool, Vendor

SEEDS_DIR = Path(__file__).resolve().parents[2]  # the seeds app: its data files sit beside its code


class Command(BaseCommand):
    help = "Load the seed comparison (seeds/*.json) idempotently."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="*", type=Path, help="Seed files (default: every seeds/*.json).")
        scale = parser.add_argument_group("scale dataset (benchmarks)")
        scale.add_argument("--scale", action="store_true", help="Also add the synthetic catalogue of seeds/scale.py.")
        scale.add_argument("--tools", type=int, default=ScaleSize.tools)
        scale.add_argument("--reviewers", type=int, default=ScaleSize.reviewers)
        scale.add_argument("--voters", type=int, default=ScaleSize.voters)
        scale.add_argument("--votes-per-voter", type=int, default=ScaleSize.votes_per_voter)
        scale.add_argument("--no-progress", action="store_true", help="No progress bar even on a terminal.")

    def handle(self, *args: Any, files: list[Path], scale: bool, **options: Any) -> None:
        for path in files or sorted(SEEDS_DIR.glob("*.json")):
            outcome = seed_load(data=json.loads(path.read_text(encoding="utf-8")))
            summary = ", ".join(f"{count} {what}" for what, count in sorted(outcome.items()))
            if options["verbosity"]:
                self.stdout.write(f"{path.name}: {summary}")
        if scale:
            self._scale(options)

    def _scale(self, options: dict) -> None:
        size = ScaleSize(
            tools=options["tools"],
            reviewers=options["reviewers"],
            voters=options["voters"],
            votes_per_voter=options["votes_per_voter"],
        )
        rows = size.tools * size.reviewers + size.voters * (1 + size.votes_per_voter)
        started = time.monotonic()
        with tqdm(total=rows, unit="row", disable=options["no_progress"] or not sys.stderr.isatty()) as bar:
            try:
                created = scale_load(size=size, progress=bar.update)
            except ValueError as error:
                raise CommandError(str(error)) from None
        caching.bump_now(caching.CATALOG, caching.VOTES)
        summary = ", ".join(f"{count:,} {what}" for what, count in created.items())
        self.stdout.write(f"scale dataset: {summary} in {time.monotonic() - started:.0f} s")


def _upsert(model: type[models.Model], outcome: Counter, lookup: dict, values: dict) -> models.Model:
    obj = (model.objects.filter(**lookup).first() if lookup else None) or model(**lookup)
    created = obj.pk is None
    changed = created
    for field, value in values.items():
        if field.startswith("_"):
            continue
        if created or getattr(obj, field) != value:
            setattr(obj, field, value)
            changed = True
    if changed:
        obj.full_clean(validate_unique=False, validate_constraints=False)
        obj.save()
    state = "created" if created else "updated" if changed else "unchanged"
    outcome[f"{model._meta.verbose_name_plural} {state}"] += 1
    return obj


@transaction.atomic
def seed_load(*, data: dict) -> Counter:
    outcome: Counter = Counter()
    categories = {
        row["slug"]: _upsert(Category, outcome, {"slug": row["slug"]}, row) for row in data.get("categories", [])
    }
    vendors = {row["slug"]: _upsert(Vendor, outcome, {"slug": row["slug"]}, row) for row in data.get("vendors", [])}

    def category(slug: str) -> Category:
        return categories.get(slug) or Category.objects.get(slug=slug)

    def vendor(slug: str) -> Vendor:
        return vendors.get(slug) or Vendor.objects.get(slug=slug)

    tools = {
        row["slug"]: _upsert(
            Tool,
            outcome,
            {"slug": row["slug"]},
            {**row, "category": category(row["category"]), "vendor": vendor(row["vendor"])},
        )
        for row in data.get("tools", [])
    }

    def tool(slug: str) -> Tool:
        return tools.get(slug) or Tool.objects.get(slug=slug)

    reviewers = {
        row["slug"]: _upsert(Reviewer, outcome, {"slug": row["slug"]}, row) for row in data.get("reviewers", [])
    }
    for row in data.get("reviews", []):
        reviewer = reviewers.get(row["reviewer"]) or Reviewer.objects.get(slug=row["reviewer"])
        _upsert(Review, outcome, {"reviewer": reviewer, "tool": tool(row["tool"])}, _without(row, "reviewer", "tool"))

    for row in data.get("comparisons", []):
        left, right = tool(row["left_tool"]), tool(row["right_tool"])
        existing = Comparison.objects.filter(
            Q(left_tool=left, right_tool=right) | Q(left_tool=right, right_tool=left)
        ).first()
        lookup = {"pk": existing.pk} if existing else {}
        _upsert(
            Comparison,
            outcome,
            lookup,
            {**_without(row, "left_tool", "right_tool"), "left_tool": left, "right_tool": right},
        )
    return outcome


def _without(row: dict, *keys: str) -> dict:
    return {key: value for key, value in row.items() if key not in keys}
