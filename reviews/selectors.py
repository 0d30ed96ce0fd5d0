"""The comparison document: a read across tools, reviews and votes.

Three queries whatever the size of the panel or the number of votes:
1. both tools, with category, vendor and panel counts (community counters live
   on the tool row);
2. the panel, one row per active reviewer, with that reviewer's review of each
   tool joined in (NULL where there is none, so rows always line up);
3. the curated comparison of the pair, if staff wrote one.
"""

from dataclasses import dataclass

from django.db.models import F, FilteredRelation, Q

from compare_api.slugs import COMPARISON_SEPARATOR
from reviews.models import Comparison, Reviewer
from tools.models import Tool


class UnknownTool(Exception):
    def __init__(self, slug: str) -> None:
        super().__init__(slug)
        self.slug = slug


@dataclass(frozen=True)
class ScorecardEntry:
    tool: str
    verdict: str | None
    body: str | None
    reviewed_at: object | None


@dataclass(frozen=True)
class ScorecardRow:
    reviewer: Reviewer
    reviews: list[ScorecardEntry]

    @property
    def split(self) -> bool:
        """True when the reviewer gave the two tools different verdicts."""
        verdicts = [entry.verdict for entry in self.reviews]
        return None not in verdicts and len(set(verdicts)) > 1


@dataclass(frozen=True)
class ComparisonDocument:
    tools: list[Tool]
    scorecard: list[ScorecardRow]
    editorial: Comparison | None

    @property
    def curated(self) -> bool:
        return self.editorial is not None

    @property
    def title(self) -> str | None:
        return self.editorial.title if self.editorial else None

    @property
    def headline(self) -> str | None:
        return self.editorial.headline if self.editorial else None

    @property
    def summary(self) -> str | None:
        return self.editorial.summary if self.editorial else None

    @property
    def slug(self) -> str:
        return COMPARISON_SEPARATOR.join(tool.slug for tool in self.tools)

    @property
    def canonical_slug(self) -> str:
        """The curated order when staff curated the pair the other way round."""
        return self.editorial.slug if self.editorial else self.slug

    @property
    def reviewer_split(self) -> list[str]:
        return [row.reviewer.slug for row in self.scorecard if row.split]

    @property
    def panel_pick(self) -> str | None:
        """The tool with the higher panel ship rate; None on a tie or when a side has no reviews."""
        left, right = (tool.panel.ship_rate for tool in self.tools)
        if left is None or right is None or left == right:
            return None
        return self.tools[0].slug if left > right else self.tools[1].slug


def comparison_get(*, left: str, right: str) -> ComparisonDocument:
    """The comparison of two published tools in the requested order.

    Raises UnknownTool for a slug that names no published tool.
    """
    found = {tool.slug: tool for tool in Tool.objects.for_api().filter(slug__in=[left, right])}
    for slug in (left, right):
        if slug not in found:
            raise UnknownTool(slug)
    tools = [found[left], found[right]]
    left_id, right_id = (tool.pk for tool in tools)

    rows = (
        Reviewer.objects.panel()
        .annotate(
            left_review=FilteredRelation("reviews", condition=Q(reviews__tool_id=left_id)),
            right_review=FilteredRelation("reviews", condition=Q(reviews__tool_id=right_id)),
        )
        .annotate(
            left_verdict=F("left_review__verdict"),
            left_body=F("left_review__body"),
            left_reviewed_at=F("left_review__reviewed_at"),
            right_verdict=F("right_review__verdict"),
            right_body=F("right_review__body"),
            right_reviewed_at=F("right_review__reviewed_at"),
        )
    )
    scorecard = [
        ScorecardRow(
            reviewer=row,
            reviews=[
                ScorecardEntry(tools[0].slug, row.left_verdict, row.left_body, row.left_reviewed_at),
                ScorecardEntry(tools[1].slug, row.right_verdict, row.right_body, row.right_reviewed_at),
            ],
        )
        for row in rows
    ]

    editorial = (
        Comparison.objects.filter(is_published=True)
        .filter(Q(left_tool_id=left_id, right_tool_id=right_id) | Q(left_tool_id=right_id, right_tool_id=left_id))
        .first()
    )
    if editorial is not None:
        # Both tools are already loaded: name them without another query.
        editorial.left_tool, editorial.right_tool = sorted(tools, key=lambda tool: tool.pk != editorial.left_tool_id)
    return ComparisonDocument(tools=tools, scorecard=scorecard, editorial=editorial)
