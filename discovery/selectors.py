"""Leaderboards and alternatives: reads across the catalog's counters.

Both rank every candidate tool before a page can be cut, so each reads the
counters of all candidates in one narrow query (id, slug, two counters per
tool: flat in the number of votes, which live on the tool row), orders them in
Python, and then reads the full documents of the page's tools only, in one
more query. A board costs three queries (two for the overall board), the
alternatives four, whatever the page or the catalog's size.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from operator import itemgetter

import numpy as np
from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from rest_framework.fields import DateTimeField

from compare_api.compiled import CompiledQuery
from compare_api.slugs import COMPARISON_SEPARATOR
from compare_api.stats import RANKING_METHOD, Tally, wilson_columns, wilson_interval
from discovery.ranking import RankedBoard, RankedEntry
from reviews.models import Comparison
from tools.models import COMMUNITY_COUNTERS, PANEL_COUNTERS, Category, Tool
from tools.serializers import TOOL_COLUMNS, tool_document

COMMUNITY = "community"
PANEL = "panel"
METRICS = {COMMUNITY: COMMUNITY_COUNTERS, PANEL: PANEL_COUNTERS}
RANKED = "ranked"
# Why a tool is on a board but not ranked: too few counted votes, or no review at all.
UNRANKED_STATUS = {COMMUNITY: "not_enough_votes", PANEL: "not_reviewed"}
_timestamp = DateTimeField()


class UnknownCategory(Exception):
    pass


class UnknownTool(Exception):
    pass


def min_total(metric: str) -> int:
    """The fewest counted verdicts a tool needs to be ranked on `metric`'s board."""
    return settings.LEADERBOARD_MIN_TOTAL if metric == COMMUNITY else 1


@dataclass(frozen=True, slots=True)
class _Candidate:
    id: int
    slug: str
    tally: Tally


def _all_counters(counters: tuple[str, str]) -> QuerySet:
    return Tool.objects.published().values_list("id", "slug", *counters).order_by("name", "id")


def _category_counters(counters: tuple[str, str], category_id: int) -> QuerySet:
    return _all_counters(counters).filter(category_id=category_id)


# (id, slug, ship, skip) of every candidate by name, per metric: of every published tool, of one category.
ALL_COUNTERS = {metric: CompiledQuery(partial(_all_counters, counters)) for metric, counters in METRICS.items()}
CATEGORY_COUNTERS = {
    metric: CompiledQuery(partial(_category_counters, counters), category_id=-7_000_001)
    for metric, counters in METRICS.items()
}


def _documents(ids: list[int]) -> dict[int, dict]:
    rows = Tool.objects.published().filter(id__in=ids).values("id", *TOOL_COLUMNS)
    return {row["id"]: tool_document(row) for row in rows}


class Board(Sequence):
    """A leaderboard's entries in order, the ranked tools then those not ranked yet; an entry's
    document (with its ties, found on the whole board) is built only for the page asked for."""

    def __init__(
        self,
        metric: str,
        category: dict | None,
        rows: Sequence[tuple],
        totals: np.ndarray,
        ranked: RankedBoard,
        unranked: list[int],
    ) -> None:
        self.metric = metric
        self.category = category
        self.rows, self.totals = rows, totals  # (id, slug, ship, skip) of every candidate; ship + skip
        self.ranked = ranked  # ranks rows
        self.unranked = unranked  # where in rows the others are, in board order

    def __len__(self) -> int:
        return len(self.ranked) + len(self.unranked)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[position] for position in range(*index.indices(len(self)))]
        return index  # a position on the board; page_document() reads it

    def meta(self) -> dict:
        return {
            "metric": self.metric,
            "method": RANKING_METHOD,
            "min_total": min_total(self.metric),
            "as_of": _timestamp.to_representation(timezone.now()),
            "category": self.category,
            "ranked_count": len(self.ranked),
            "unranked_count": len(self.unranked),
            "note": self._note(),
        }

    def _note(self) -> str:
        if self.metric == COMMUNITY:
            return (
                f"Ranked: tools with at least {min_total(COMMUNITY)} counted votes. A tool's rank is 1 + the "
                "number of tools whose 95% interval lies entirely above its own, so tools that cannot be "
                "told apart share a rank; within a rank, the higher lower bound is listed first."
            )
        most = int(self.totals[self.ranked.order].max(initial=0))
        example = wilson_interval(most, most)
        honest = f" Even {most} ship of {most} is only known to lie in [{example[0]}, {example[1]}]." if example else ""
        return (
            f"The panel gives a tool at most one verdict per reviewer, so its intervals are wide and most "
            f"tools share a rank: ranks separate only tools whose 95% intervals do not overlap, never by the "
            f"raw ship rate.{honest} Within a rank, the higher lower bound is listed first."
        )

    def page_document(self, positions: list[int]) -> list[dict]:
        """The entries at these positions, with the tools' documents (one query)."""
        ranked = len(self.ranked)
        # The ranked come before the unranked on the board, and so on any page.
        entries = self.ranked.entries([p for p in positions if p < ranked])
        entries += [RankedEntry(self.rows[self.unranked[p - ranked]], None, 0, []) for p in positions if p >= ranked]
        documents = _documents([entry.key[0] for entry in entries])
        results = []
        for entry in entries:
            id, _, ship, skip = entry.key
            results.append(
                {
                    "rank": entry.rank,
                    "status": RANKED if entry.rank is not None else UNRANKED_STATUS[self.metric],
                    "tied_with": [slug for _, slug, _, _ in entry.tied_with],
                    "tied_count": entry.tied_count,
                    "tally": Tally(ship, skip).as_dict(),
                    "tool": documents[id],
                }
            )
        return results


def board_get(*, category: str | None, metric: str) -> Board:
    """A leaderboard of the published tools (of one category), ranked by `metric`'s intervals.

    Raises UnknownCategory for a category slug that names none.
    """
    category_document = None
    if category is None:
        rows = ALL_COUNTERS[metric].rows()
    else:
        found = Category.objects.filter(slug=category).values("id", "slug", "name").first()
        if found is None:
            raise UnknownCategory(category)
        category_document = {"slug": found["slug"], "name": found["name"]}
        rows = CATEGORY_COUNTERS[metric].rows(category_id=found["id"])

    ships, totals = counter_columns(rows)
    least = max(1, min_total(metric))
    enough = np.flatnonzero(totals >= least)
    # Not ranked yet: the nearest to ranking first, then by name (the query's order).
    waiting = np.flatnonzero(totals < least)
    unranked = waiting[np.argsort(-totals[waiting], kind="stable")].tolist()
    lows, highs = wilson_columns(ships[enough], totals[enough])
    return Board(metric, category_document, rows, totals, RankedBoard(rows, lows, highs, members=enough), unranked)


def counter_columns(rows: Sequence[tuple]) -> tuple[np.ndarray, np.ndarray]:
    """The ships and the totals of (id, slug, ship, skip) rows, as two columns.

    Every candidate's counters go through the same steps, whether it has votes or not, so a
    board costs the same at 0 votes as at a million but for the ranked tools' sorts."""
    ships = np.fromiter(map(itemgetter(2), rows), dtype=np.int64, count=len(rows))
    skips = np.fromiter(map(itemgetter(3), rows), dtype=np.int64, count=len(rows))
    return ships, ships + skips


@dataclass(frozen=True, slots=True)
class Alternative:
    candidate: _Candidate
    reasons: list[str]
    comparison: str
    ranked_by: str | None
    lower_bound: float | None


SAME_CATEGORY = "same_category"
CURATED = "curated"


def _standing(community: Tally, panel: Tally) -> tuple[str | None, float | None]:
    """What orders an alternative: the community's lower bound where it has enough votes,
    else the panel's, else nothing (listed last)."""
    if community.total >= min_total(COMMUNITY):
        return COMMUNITY, community.ci95[0]
    if panel.total:
        return PANEL, panel.ci95[0]
    return None, None


def alternatives_get(*, slug: str) -> list[Alternative]:
    """Tools a reader of `slug` should also consider: its category first, then the tools staff
    curated a comparison against it, each group by lower bound (see _standing), then by name.

    Raises UnknownTool when no published tool has the slug.
    """
    tool = Tool.objects.published().filter(slug=slug).values("id", "category_id").first()
    if tool is None:
        raise UnknownTool(slug)
    curated = {}  # the other tool's id -> the curated comparison's slug (staff's order)
    pairs = (
        Comparison.objects.published()
        .filter(Q(left_tool_id=tool["id"]) | Q(right_tool_id=tool["id"]))
        .values_list("left_tool_id", "left_tool__slug", "right_tool_id", "right_tool__slug")
    )
    for left_id, left_slug, right_id, right_slug in pairs:
        other = right_id if left_id == tool["id"] else left_id
        curated[other] = f"{left_slug}{COMPARISON_SEPARATOR}{right_slug}"

    rows = (
        Tool.objects.published()
        .filter(Q(category_id=tool["category_id"]) | Q(id__in=list(curated)))
        .exclude(id=tool["id"])
        .values_list("id", "slug", "category_id", *COMMUNITY_COUNTERS, *PANEL_COUNTERS)
        .order_by("name", "id")
    )
    alternatives = []
    for id, other_slug, category_id, c_ship, c_skip, p_ship, p_skip in rows:
        reasons = [
            reason
            for reason, holds in ((SAME_CATEGORY, category_id == tool["category_id"]), (CURATED, id in curated))
            if holds
        ]
        community = Tally(c_ship, c_skip)
        ranked_by, lower_bound = _standing(community, Tally(p_ship, p_skip))
        alternatives.append(
            Alternative(
                candidate=_Candidate(id, other_slug, community),
                reasons=reasons,
                comparison=curated.get(id, f"{slug}{COMPARISON_SEPARATOR}{other_slug}"),
                ranked_by=ranked_by,
                lower_bound=lower_bound,
            )
        )
    alternatives.sort(
        key=lambda alternative: (
            SAME_CATEGORY not in alternative.reasons,
            alternative.lower_bound is None,
            -(alternative.lower_bound or 0.0),
        )
    )
    return alternatives


def alternatives_page_document(page: list[Alternative]) -> list[dict]:
    documents = _documents([alternative.candidate.id for alternative in page])
    return [
        {
            "reasons": alternative.reasons,
            "comparison": alternative.comparison,
            "ranked_by": alternative.ranked_by,
            "lower_bound": alternative.lower_bound,
            "tool": documents[alternative.candidate.id],
        }
        for alternative in page
    ]


def badge_tallies_get(*, slug: str) -> tuple[Tally, Tally] | None:
    """A published tool's panel and community tallies, from the counters on its row: one
    query; None when no published tool has the slug."""
    row = Tool.objects.published().filter(slug=slug).values_list(*PANEL_COUNTERS, *COMMUNITY_COUNTERS).first()
    if row is None:
        return None
    panel_ship, panel_skip, community_ship, community_skip = row
    return Tally(panel_ship, panel_skip), Tally(community_ship, community_skip)


def badge_tool_name_get(*, slug: str) -> str | None:
    """A published tool's name (for the embed snippet's alt text): one query."""
    return Tool.objects.published().filter(slug=slug).values_list("name", flat=True).first()
