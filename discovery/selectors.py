from compare_api.stats import Tally
from tools.models import COMMUNITY_COUNTERS, PANEL_COUNTERS, Tool


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
