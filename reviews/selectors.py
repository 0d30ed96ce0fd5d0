"""The comparison document: a read across tools, reviews and votes.

Three queries whatever the size of the panel or the number of votes, each
compiled once per process (compare_api.compiled):
1. both tools, with category, vendor and panel counts (community counters live
   on the tool row);
2. the panel, one row per active reviewer, with that reviewer's review of each
   tool joined in (NULL where there is none, so rows always line up);
3. the curated comparison of the pair, if staff wrote one.
The document is assembled as plain data, in the shape ComparisonSerializer
declares for the schema.
"""

from django.db.models import F, FilteredRelation, Q, QuerySet

from compare_api.compiled import CompiledQuery
from compare_api.slugs import COMPARISON_SEPARATOR
from reviews.models import Comparison, Reviewer
from tools.models import Tool
from tools.serializers import TOOL_COLUMNS, tool_document

REVIEWER_COLUMNS = ("slug", "name", "lens", "bio", "position")
REVIEW_COLUMNS = ("verdict", "body", "reviewed_at")


class UnknownTool(Exception):
    def __init__(self, slug: str) -> None:
        super().__init__(slug)
        self.slug = slug


def _tools(left: str, right: str) -> QuerySet:
    return Tool.objects.for_api().filter(slug__in=[left, right]).values_list("id", *TOOL_COLUMNS).order_by()


def _scorecard(left_id: int, right_id: int) -> QuerySet:
    return (
        Reviewer.objects.panel()
        .annotate(
            left_review=FilteredRelation("reviews", condition=Q(reviews__tool_id=left_id)),
            right_review=FilteredRelation("reviews", condition=Q(reviews__tool_id=right_id)),
        )
        .values_list(
            *REVIEWER_COLUMNS,
            *(F(f"left_review__{column}") for column in REVIEW_COLUMNS),
            *(F(f"right_review__{column}") for column in REVIEW_COLUMNS),
        )
    )


def _editorial(left_id: int, right_id: int) -> QuerySet:
    return (
        Comparison.objects.filter(is_published=True)
        .filter(Q(left_tool_id=left_id, right_tool_id=right_id) | Q(left_tool_id=right_id, right_tool_id=left_id))
        .order_by()
        .values_list("left_tool_id", "title", "headline", "summary")[:1]
    )


TOOLS = CompiledQuery(_tools, left="\x00left-slug", right="\x00right-slug")
SCORECARD = CompiledQuery(_scorecard, left_id=-7_000_001, right_id=-7_000_002)
EDITORIAL = CompiledQuery(_editorial, left_id=-7_000_001, right_id=-7_000_002)


def _review(slug: str, verdict: str | None, body: str | None, reviewed_at: object) -> dict:
    return {
        "tool": slug,
        "verdict": verdict,
        "body": body,
        "reviewed_at": None if reviewed_at is None else str(reviewed_at),
    }


def comparison_get(*, left: str, right: str) -> dict:
    """The comparison of two published tools in the requested order, as plain data.

    Raises UnknownTool for a slug that names no published tool.
    """
    found = {row[1]: row for row in TOOLS.rows(left=left, right=right)}
    for slug in (left, right):
        if slug not in found:
            raise UnknownTool(slug)
    left_id, right_id = found[left][0], found[right][0]
    tools = [tool_document(dict(zip(TOOL_COLUMNS, found[slug][1:], strict=True))) for slug in (left, right)]

    scorecard = []
    for row in SCORECARD.rows(left_id=left_id, right_id=right_id):
        reviewer = dict(zip(REVIEWER_COLUMNS, row[:5], strict=True))
        reviewer["bio"] = reviewer["bio"] or None
        reviews = [_review(left, *row[5:8]), _review(right, *row[8:11])]
        verdicts = {review["verdict"] for review in reviews}
        split = None not in verdicts and len(verdicts) > 1
        scorecard.append({"reviewer": reviewer, "reviews": reviews, "split": split})

    slug = f"{left}{COMPARISON_SEPARATOR}{right}"
    editorial = EDITORIAL.rows(left_id=left_id, right_id=right_id)
    if editorial:
        curated_left, *text = editorial[0]
        # Editorial text staff left empty is absent, as for an uncurated pair: null, never "".
        title, headline, summary = (value or None for value in text)
        canonical = slug if curated_left == left_id else f"{right}{COMPARISON_SEPARATOR}{left}"
    else:
        title = headline = summary = None
        canonical = slug

    left_rate, right_rate = (tool["panel"]["ship_rate"] for tool in tools)
    pick = None
    if left_rate is not None and right_rate is not None and left_rate != right_rate:
        pick = left if left_rate > right_rate else right
    return {
        "slug": slug,
        "canonical_slug": canonical,
        "curated": bool(editorial),
        "title": title,
        "headline": headline,
        "summary": summary,
        "tools": tools,
        "scorecard": scorecard,
        "reviewer_split": [row["reviewer"]["slug"] for row in scorecard if row["split"]],
        "panel_pick": pick,
    }
