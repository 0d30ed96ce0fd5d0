"""The methodology document: how every number the API returns is made, stated once.

Built from the same constants and settings the computations use (and the panel as
it stands), so the statement cannot drift from the code.
"""

from django.conf import settings

from compare_api.stats import RANKING_METHOD, Z95, wilson_interval
from reviews.models import Reviewer

TIED_WITH_SHOWN_NOTE = "Each board entry names up to 5 of its ties (nearest on the board first) and counts all of them."


def methodology_get() -> dict:
    reviewers = list(Reviewer.objects.panel().values("slug", "name", "lens"))
    minimum = settings.LEADERBOARD_MIN_TOTAL
    size = len(reviewers)
    widest = wilson_interval(size, size) or (0.0, 1.0)
    return {
        "method": RANKING_METHOD,
        "panel": {
            "description": (
                "The panel is the active reviewers, in panel order. Each gives a tool at most one verdict, "
                "ship or skip, in a published review; a reviewer leaving the panel leaves every count."
            ),
            "size": size,
            "reviewers": reviewers,
        },
        "community": {
            "description": (
                "One vote per voter per tool, ship or skip. A vote counts only while its voter's email is "
                "verified and the account active; uncounted votes are kept but in no tally, rate or interval."
            ),
            "min_total": minimum,
        },
        "ship_rate": "ship / (ship + skip), rounded to 4 decimal places; null, never 0, when nobody has a say yet.",
        "interval": {
            "name": "Wilson score interval",
            "confidence": 0.95,
            "z": Z95,
            "description": (
                "(p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n) for p = ship/n over n = ship + skip, "
                "clamped to [0, 1] and rounded to 4 decimal places; null when n is 0. Unlike p ± z·sqrt(p(1-p)/n) "
                "it stays within [0, 1] and is honest about small samples."
            ),
        },
        "ranking": {
            "method": RANKING_METHOD,
            "rule": (
                "rank = 1 + the number of ranked tools whose interval's lower bound is above this tool's upper "
                "bound (LMArena's rule, from FastChat). Tools whose intervals overlap cannot be told apart: they "
                "count as tied, and may share a rank."
            ),
            "order": (
                "By rank, then by the lower bound (the most certain first), then by name. Tools below the "
                "minimum are listed after the ranked ones, unranked (rank null), by their number of votes."
            ),
            "ties": TIED_WITH_SHOWN_NOTE,
            "min_total": {"community": minimum, "panel": 1},
            "panel_note": (
                f"With one verdict per reviewer the panel's intervals are wide ({size} ship of {size} is only known "
                f"to lie in [{widest[0]}, {widest[1]}]), so on the panel board most tools share a rank; it is "
                "never a ranking by raw ship rate."
            ),
        },
        "picks": {
            "panel_pick": (
                "On a comparison, the tool with the highest panel ship rate when it is the only one; null on a "
                "tie for the top or when any tool has no panel review."
            ),
            "community_pick": (
                "On a comparison of three or four tools, the tool whose community interval lies entirely above "
                f"every other tool's; null otherwise, and when any tool has fewer than {minimum} counted votes."
            ),
        },
        "badges": (
            "Panel: ship verdicts / reviews (`3/4 ship`). Community: the rounded share of counted votes that say "
            f"ship with their number (`72% · 1,240 votes`), only the number below {minimum} counted votes, `—` "
            "with none. Colour: green when the 95% interval lies wholly above one half, red wholly below, amber "
            "across it, grey with no rate."
        ),
        "alternatives": (
            "Tools in the same category first, then those staff curated a comparison against; each group by the "
            f"community interval's lower bound where the tool has at least {minimum} counted votes, else the "
            "panel's, tools with neither last."
        ),
    }
