"""Ranks that say what the data can tell apart (compare_api.stats.RANKING_METHOD).

LMArena's rule (FastChat): a tool's rank is 1 + the number of tools whose 95%
interval lies entirely above its own (their lower bound above its upper bound).
Two tools whose intervals overlap cannot be told apart; each counts the other
as tied. Ranks are therefore shared, and can skip: three tools that all beat a
fourth rank it 4th, whatever their own ranks.

"""

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from functools import partial
from itertools import repeat
from operator import itemgetter, mul, sub

TIED_WITH_SHOWN = 5  # how many of a tool's ties an entry names (nearest on the board first); all are counted


class RankedBoard:
    """Tools (`keys`) with their intervals (`lows`, `highs`), ranked and in board order: by rank,
    then by the lower bound (the most certain first), then as given (the caller's tiebreak).

    A board of a thousand tools is ranked on every uncached read, so the work is done by
    sorts, binary searches and maps over whole columns (C loops), not a Python step per tool.
    """

    def __init__(self, keys: Sequence, lows: Sequence[float], highs: Sequence[float]) -> None:
        count = len(keys)
        sorted_lows = sorted(lows)
        # The tools above one are those whose lower bound is right of its upper bound in sorted_lows.
        ranks = list(map((count + 1).__sub__, map(partial(bisect_right, sorted_lows), highs)))
        # Board order in one float per tool: a rank apart outweighs any two lower bounds (in [0, 1], halved),
        # and the stable sort keeps the caller's order among equals.
        order_keys = list(map(sub, ranks, map(mul, lows, repeat(0.5))))
        order = sorted(range(count), key=order_keys.__getitem__)
        self.ranks, self.keys, self.lows, self.highs = (_pick(column, order) for column in (ranks, keys, lows, highs))
        self.sorted_lows = sorted_lows
        self.sorted_highs = sorted(highs)

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


def _pick(column: list, order: list[int]) -> list:
    """column[order[0]], column[order[1]], ... (itemgetter does it in C; it returns a bare value for one index)."""
    if len(order) < 2:
        return [column[index] for index in order]
    return list(itemgetter(*order)(column))
