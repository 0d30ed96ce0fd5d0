"""Leaderboards and alternatives: reads across the catalog's counters.

Both rank every candidate tool before a page can be cut, so each reads the
counters of all candidates in one narrow query (id, slug, two counters per
tool: flat in the number of votes, which live on the tool row), orders them in
Python, and then reads the full documents of the page's tools only, in one
more query. A board costs three queries (two for the overall board), the
alternatives four, whatever the page or the catalog's size.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from rest_framework.fields import DateTimeField

from compare_api.slugs import COMPARISON_SEPARATOR
from compare_api.stats import RANKING_METHOD, Tally, wilson_interval
from discovery.ranking import Placed, Ties, board
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


def _candidates(tools, counters: tuple[str, str]) -> list[_Candidate]:
    ship, skip = counters
    return [
        _Candidate(id, slug, Tally(ships, skips))
        for id, slug, ships, skips in tools.values_list("id", "slug", ship, skip).order_by("name", "id")
    ]


def _documents(ids: list[int]) -> dict[int, dict]:
    rows = Tool.objects.published().filter(id__in=ids).values("id", *TOOL_COLUMNS)
    return {row["id"]: tool_document(row) for row in rows}


@dataclass
class Board:
    metric: str
    category: dict | None
    placed: list[Placed]  # ranked, in board order; keys are _Candidates
    unranked: list[_Candidate]
    ties: Ties = field(init=False)

    def __post_init__(self) -> None:
        self.ties = Ties(self.placed)

    @property
    def entries(self) -> list[Placed | _Candidate]:
        """What the board lists, in order: the ranked tools, then those not ranked yet."""
        return [*self.placed, *self.unranked]

    def meta(self) -> dict:
        return {
            "metric": self.metric,
            "method": RANKING_METHOD,
            "min_total": min_total(self.metric),
            "as_of": _timestamp.to_representation(timezone.now()),
            "category": self.category,
            "ranked_count": len(self.placed),
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
        most = max((entry.key.tally.total for entry in self.placed), default=0)
        example = wilson_interval(most, most)
        honest = f" Even {most} ship of {most} is only known to lie in [{example[0]}, {example[1]}]." if example else ""
        return (
            f"The panel gives a tool at most one verdict per reviewer, so its intervals are wide and most "
            f"tools share a rank: ranks separate only tools whose 95% intervals do not overlap, never by the "
            f"raw ship rate.{honest} Within a rank, the higher lower bound is listed first."
        )

    def page_document(self, page: list[Placed | _Candidate]) -> list[dict]:
        """The entries of one page, with the tools' documents (one query)."""
        documents = _documents([_candidate(entry).id for entry in page])
        results = []
        for entry in page:
            candidate = _candidate(entry)
            if isinstance(entry, Placed):
                nearest = [other.key.slug for other in self.ties.nearest(entry)]
                rank, status, tied_count = entry.rank, RANKED, self.ties.count(entry)
            else:
                nearest, rank, status, tied_count = [], None, UNRANKED_STATUS[self.metric], 0
            results.append(
                {
                    "rank": rank,
                    "status": status,
                    "tied_with": nearest,
                    "tied_count": tied_count,
                    "tally": candidate.tally.as_dict(),
                    "tool": documents[candidate.id],
                }
            )
        return results


def _candidate(entry: Placed | _Candidate) -> _Candidate:
    return entry.key if isinstance(entry, Placed) else entry


def board_get(*, category: str | None, metric: str) -> Board:
    """A leaderboard of the published tools (of one category), ranked by `metric`'s intervals.

    Raises UnknownCategory for a category slug that names none.
    """
    tools = Tool.objects.published()
    category_document = None
    if category is not None:
        found = Category.objects.filter(slug=category).values("id", "slug", "name").first()
        if found is None:
            raise UnknownCategory(category)
        category_document = {"slug": found["slug"], "name": found["name"]}
        tools = tools.filter(category_id=found["id"])

    enough, unranked = [], []
    for candidate in _candidates(tools, METRICS[metric]):
        interval = candidate.tally.ci95
        if interval is not None and candidate.tally.total >= min_total(metric):
            enough.append((candidate, *interval))
        else:
            unranked.append(candidate)
    # Not ranked yet: the nearest to ranking first, then by name (the query's order).
    unranked.sort(key=lambda candidate: -candidate.tally.total)
    return Board(metric=metric, category=category_document, placed=board(enough), unranked=unranked)


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
