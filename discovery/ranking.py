"""Ranks that say what the data can tell apart (compare_api.stats.RANKING_METHOD).

LMArena's rule (FastChat): a tool's rank is 1 + the number of tools whose 95%
interval lies entirely above its own (their lower bound above its upper bound).
Two tools whose intervals overlap cannot be told apart; each counts the other
as tied. Ranks are therefore shared, and can skip: three tools that all beat a
fourth rank it 4th, whatever their own ranks.

"""

from bisect import bisect_left, bisect_right
from collections.abc import Sequence

import numpy as np

TIED_WITH_SHOWN = 5  # how many of a tool's ties an entry names (nearest on the board first); all are counted


class RankedBoard:
    """Tools (`keys`) with their intervals (`lows`, `highs`), ranked and in board order: by rank,
    then by the lower bound (the most certain first), then as given (the caller's tiebreak).

    A board of a thousand tools is ranked on every uncached read (after every vote in its
    category), so the columns are ranked by numpy: a sort, a binary search per tool and a
    stable sort on two keys, in C (a third of the time of the same steps over Python lists).
    """

    def __init__(self, keys: Sequence, lows: Sequence[float], highs: Sequence[float]) -> None:
        low, high = np.array(lows, dtype=np.float64), np.array(highs, dtype=np.float64)
        sorted_lows = np.sort(low)
        # The tools above one are those whose lower bound is right of its upper bound in sorted_lows.
        ranks = len(keys) + 1 - np.searchsorted(sorted_lows, high, side="right")
        # lexsort's last key is the first: by rank, then the higher lower bound; it is stable,
        # so the caller's order stays among equals.
        order = np.lexsort((-low, ranks))
        self.ranks, self.lows, self.highs = ranks[order].tolist(), low[order].tolist(), high[order].tolist()
        self.keys = [keys[index] for index in order.tolist()]
        self.sorted_lows = sorted_lows.tolist()
        self.sorted_highs = np.sort(high).tolist()

    def __len__(self) -> int:
        return len(self.keys)

    def tied_count(self, position: int) -> int:
        """Every other tool on the board whose interval overlaps this one's: all but those
        entirely above it and those entirely below it."""
        above = len(self.sorted_lows) - bisect_right(self.sorted_lows, self.highs[position])
        below = bisect_left(self.sorted_highs, self.lows[position])
        return len(self.keys) - 1 - above - below

    def tied_with(self, position: int, limit: int = TIED_WITH_SHOWN) -> list[int]:
        """Positions of up to `limit` of them, nearest on the board first (the one above first)."""
        wanted = min(limit, self.tied_count(position))
        low, high = self.lows[position], self.highs[position]
        found: list[int] = []
        distance = 1
        while len(found) < wanted and distance < len(self.keys):
            for other in (position - distance, position + distance):
                if (
                    0 <= other < len(self.keys)
                    and len(found) < wanted
                    and self.lows[other] <= high
                    and self.highs[other] >= low
                ):
                    found.append(other)
            distance += 1
        return found
