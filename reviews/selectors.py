"""The comparison document: a read across tools, reviews and votes.

A fixed number of queries whatever the size of the panel or the number of votes,
each compiled once per process (compare_api.compiled) for each number of tools:
1. the tools, with category, vendor and panel counts (community counters live
   on the tool row);
2. the panel, one row per active reviewer, with that reviewer's review of each
   tool joined in (NULL where there is none, so rows always line up);
3. the disclosures of the whole panel (one query whatever its size: a handful of rows);
4. for two tools only, the curated comparison of the pair, if staff wrote one
   (curation is per pair: three or four tools have no editorial text).
On PostgreSQL the four run as one statement, one round trip (DOCUMENT, a
compare_api.compiled.CompiledStatement): the scorecard and the curation find the
tools' ids by slug within it. SQLite runs them one by one.
The document is assembled as plain data, in the shape ComparisonSerializer
declares for the schema.

A preview (reviews.views.PreviewView) builds the same document with the same
query builders, told to treat some drafts as published (`Preview`); it runs them
through the ORM rather than the compiled statements, whose SQL shows published
rows only. Draft reviews stay out of a preview: they are published one by one.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import F, FilteredRelation, Q, QuerySet, Subquery
from rest_framework.fields import DateTimeField

from compare_api.compiled import CompiledQuery, CompiledStatement
from compare_api.slugs import COMPARISON_MAX_TOOLS, COMPARISON_SEPARATOR
from reviews.models import Comparison, Reviewer, ReviewerDisclosure
from tools.models import Tool
from tools.serializers import TOOL_COLUMNS, tool_document

REVIEWER_COLUMNS = ("slug", "name", "lens", "bio", "position")
REVIEW_COLUMNS = ("verdict", "body", "reviewed_at", "correction", "corrected_at")
DISCLOSURE_COLUMNS = ("reviewer__slug", "vendor__slug", "vendor__name", "relationship", "since")


class UnknownTool(Exception):
    def __init__(self, slug: str) -> None:
        super().__init__(slug)
        self.slug = slug


@dataclass(frozen=True)
class Preview:
    """Drafts to show as if published: tools by id, and at most one curated comparison."""

    tool_ids: frozenset[int] = frozenset()
    comparison_id: int | None = None


def _tools(preview: Preview | None = None, **slugs: str) -> QuerySet:
    if preview is None:
        tools = Tool.objects.for_api()
    else:
        tools = Tool.objects.for_document().filter(Q(is_published=True) | Q(pk__in=preview.tool_ids))
    return tools.filter(slug__in=list(slugs.values())).values_list("id", *TOOL_COLUMNS).order_by()


def _scorecard(**tool_ids: int) -> QuerySet:
    # One join per tool, named after its position in the request (tool_ids keeps that order).
    joins = {
        f"review_{index}": FilteredRelation(
            "reviews", condition=Q(reviews__tool_id=tool_id, reviews__is_published=True)
        )
        for index, tool_id in enumerate(tool_ids.values())
    }
    return (
        Reviewer.objects.panel()
        .annotate(**joins)
        .values_list(*REVIEWER_COLUMNS, *(F(f"{join}__{column}") for join in joins for column in REVIEW_COLUMNS))
    )


def _disclosures() -> QuerySet:
    return (
        ReviewerDisclosure.objects.filter(reviewer__is_active=True)
        .order_by("reviewer_id", "vendor__name", "since", "id")
        .values_list(*DISCLOSURE_COLUMNS)
    )


def panel_disclosures() -> dict[str, list[dict]]:
    """Each active reviewer's disclosures by reviewer slug, as the scorecard and the reviewers API show them."""
    return _by_reviewer(DISCLOSURES.rows())


def _by_reviewer(rows: Sequence[Sequence]) -> dict[str, list[dict]]:
    disclosures: dict[str, list[dict]] = {}
    for reviewer, vendor_slug, vendor_name, relationship, since in rows:
        disclosures.setdefault(reviewer, []).append(
            {"vendor": {"slug": vendor_slug, "name": vendor_name}, "relationship": relationship, "since": str(since)}
        )
    return disclosures


def _editorial(left_id: int, right_id: int, preview: Preview | None = None) -> QuerySet:
    shown = Q(is_published=True)
    if preview is not None and preview.comparison_id is not None:
        shown |= Q(pk=preview.comparison_id)
    return (
        Comparison.objects.filter(shown)
        .filter(Q(left_tool_id=left_id, right_tool_id=right_id) | Q(left_tool_id=right_id, right_tool_id=left_id))
        .order_by()
        .values_list("left_tool_id", "title", "headline", "summary")[:1]
    )


# Sentinel names and values per number of tools: the SQL differs only in how many there are.
TOOL_COUNTS = range(2, COMPARISON_MAX_TOOLS + 1)
SLUG_NAMES = {count: tuple(f"slug_{index}" for index in range(count)) for count in TOOL_COUNTS}
ID_NAMES = {count: tuple(f"tool_id_{index}" for index in range(count)) for count in TOOL_COUNTS}
TOOLS = {
    count: CompiledQuery(_tools, **{name: f"\x00slug-{index}" for index, name in enumerate(SLUG_NAMES[count])})
    for count in TOOL_COUNTS
}
SCORECARD = {
    count: CompiledQuery(_scorecard, **{name: -7_000_001 - index for index, name in enumerate(ID_NAMES[count])})
    for count in TOOL_COUNTS
}
DISCLOSURES = CompiledQuery(_disclosures)
EDITORIAL = CompiledQuery(_editorial, left_id=-7_000_001, right_id=-7_000_002)


def _tool_id(slug: str) -> Subquery:
    # Slugs are unique, and the document is only built when every slug names a published tool.
    return Subquery(Tool.objects.filter(slug=slug).order_by().values("id"))


def _scorecard_by_slug(**slugs: str) -> QuerySet:
    return _scorecard(**{name: _tool_id(slug) for name, slug in slugs.items()})


def _editorial_by_slug(slug_0: str, slug_1: str) -> QuerySet:
    return _editorial(_tool_id(slug_0), _tool_id(slug_1))


# PostgreSQL's one statement per number of tools: the same four queries, the ids found by slug.
DOCUMENT = {
    count: CompiledStatement(
        tools=TOOLS[count],
        scorecard=CompiledQuery(_scorecard_by_slug, **TOOLS[count].sentinels),
        disclosures=DISCLOSURES,
        **({"editorial": CompiledQuery(_editorial_by_slug, **TOOLS[count].sentinels)} if count == 2 else {}),
    )
    for count in TOOL_COUNTS
}


_timestamp = DateTimeField()


def _rows(query: CompiledQuery, preview: Preview | None, **values: object) -> Sequence[tuple]:
    if preview is None:
        return query.rows(**values)
    return list(query.build(preview=preview, **values))  # a preview: rare, so built each time


def _review(
    slug: str, verdict: str | None, body: str | None, reviewed_at: object, correction: str | None, corrected_at: object
) -> dict:
    return {
        "tool": slug,
        "verdict": verdict,
        "body": body,
        "reviewed_at": None if reviewed_at is None else str(reviewed_at),
        "correction": correction or None,
        "updated_at": None if corrected_at is None else _timestamp.to_representation(_aware(corrected_at)),
    }


def _aware(timestamp: object) -> object:
    # PostgreSQL's one statement returns a timestamp as JSON text (ISO 8601, with its offset):
    # made a datetime again, it is shown exactly as one read from a column.
    return datetime.fromisoformat(timestamp) if isinstance(timestamp, str) else timestamp


def _panel_pick(tools: list[dict]) -> str | None:
    """The tool with the highest panel ship rate, if it alone has it and every tool has a rate."""
    rates = [tool["panel"]["ship_rate"] for tool in tools]
    if None in rates:
        return None
    top = max(rates)
    return tools[rates.index(top)]["slug"] if rates.count(top) == 1 else None


def _community_pick(tools: list[dict]) -> str | None:
    """The tool whose community interval lies entirely above every other tool's (at most one can).

    A tool under LEADERBOARD_MIN_TOTAL counted votes has no usable interval: it can be
    neither picked nor ruled out, so nobody is picked.
    """
    tallies = [tool["community"] for tool in tools]
    if any(tally["total"] < settings.LEADERBOARD_MIN_TOTAL or tally["ci95"] is None for tally in tallies):
        return None
    for tool, tally in zip(tools, tallies, strict=True):
        others = [other for other in tallies if other is not tally]
        if all(tally["ci95"][0] > other["ci95"][1] for other in others):
            return tool["slug"]
    return None


def comparison_get(*, slugs: Sequence[str], preview: Preview | None = None) -> dict:
    """The comparison of two to four different published tools in the requested order, as plain data;
    with `preview`, as it will be once those drafts are published.

    Raises UnknownTool for a slug that names no published tool.
    """
    count = len(slugs)
    by_name = dict(zip(SLUG_NAMES[count], slugs, strict=True))
    # PostgreSQL: the four queries as one statement, one round trip. SQLite, and a preview, one by one.
    one_statement = preview is None and connection.vendor == "postgresql"
    if one_statement:
        parts = DOCUMENT[count].rows(**by_name)
        tool_rows = parts["tools"]
    else:
        tool_rows = _rows(TOOLS[count], preview, **by_name)
    found = {row[1]: row for row in tool_rows}
    for slug in slugs:
        if slug not in found:
            raise UnknownTool(slug)
    ids = [found[slug][0] for slug in slugs]
    tools = [tool_document(dict(zip(TOOL_COLUMNS, found[slug][1:], strict=True))) for slug in slugs]
    if one_statement:
        scorecard_rows, disclosure_rows = parts["scorecard"], parts["disclosures"]
        editorial = parts.get("editorial", [])
    else:
        scorecard_rows = SCORECARD[count].rows(**dict(zip(ID_NAMES[count], ids, strict=True)))
        disclosure_rows = DISCLOSURES.rows()
        editorial = _rows(EDITORIAL, preview, left_id=ids[0], right_id=ids[1]) if count == 2 else []

    scorecard = []
    width = len(REVIEW_COLUMNS)
    offsets = range(len(REVIEWER_COLUMNS), len(REVIEWER_COLUMNS) + count * width, width)
    disclosures = _by_reviewer(disclosure_rows)
    for row in scorecard_rows:
        reviewer = dict(zip(REVIEWER_COLUMNS, row[: len(REVIEWER_COLUMNS)], strict=True))
        reviewer["bio"] = reviewer["bio"] or None
        reviewer["disclosures"] = disclosures.get(reviewer["slug"], [])
        reviews = [_review(slug, *row[offset : offset + width]) for slug, offset in zip(slugs, offsets, strict=True)]
        # A split needs two verdicts that differ; a missing review neither splits a row nor heals one.
        split = len({review["verdict"] for review in reviews} - {None}) > 1
        scorecard.append({"reviewer": reviewer, "reviews": reviews, "split": split})

    slug = COMPARISON_SEPARATOR.join(slugs)
    if editorial:
        curated_left, *text = editorial[0]
        # Editorial text staff left empty is absent, as for an uncurated pair: null, never "".
        title, headline, summary = (value or None for value in text)
        canonical = slug if curated_left == ids[0] else COMPARISON_SEPARATOR.join(slugs[::-1])
    else:
        title = headline = summary = None
        canonical = slug

    document = {
        "slug": slug,
        "canonical_slug": canonical,
        "curated": bool(editorial),
        "title": title,
        "headline": headline,
        "summary": summary,
        "tools": tools,
        "scorecard": scorecard,
        "reviewer_split": [row["reviewer"]["slug"] for row in scorecard if row["split"]],
        "panel_pick": _panel_pick(tools),
    }
    if count > 2:
        # Only here: the two-tool document stays as it always was, byte for byte.
        document["community_pick"] = _community_pick(tools)
    return document
