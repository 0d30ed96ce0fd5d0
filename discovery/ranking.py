"""Ranks that say what the data can tell apart (compare_api.stats.RANKING_METHOD).

LMArena's rule (FastChat): a tool's rank is 1 + the number of tools whose 95%
interval lies entirely above its own (their lower bound above its upper bound).
Two tools whose intervals overlap cannot be told apart; each counts the other
as tied. Ranks are therefore shared, and can skip: three tools that all beat a
fourth rank it 4th, whatever their own ranks.
"""

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

TIED_WITH_SHOWN = 5  # how many of a tool's ties an entry names (nearest on the board first); all are counted


@dataclass(frozen=True, slots=True)
class Placed:
    key: object  # what the caller ranks (a row, an id)
    low: float
    high: float
    rank: int
    position: int  # on the board, from 0


def board(items: list[tuple[object, float, float]]) -> list[Placed]:
    """`(key, low, high)` triples, ranked and in board order: by rank, then by the lower
    bound (the most certain first), then as given (the caller's tiebreak)."""
    lows = sorted(low for _, low, _ in items)
    total = len(lows)
    ranked = [
        # Tools whose lower bound is above this one's upper bound: everything right of `high` in `lows`.
        (1 + total - bisect_right(lows, high), -low, index, key, low, high)
        for index, (key, low, high) in enumerate(items)
    ]
    ranked.sort(key=lambda entry: entry[:3])
    return [
        Placed(key=key, low=low, high=high, rank=rank, position=position)
        for position, (rank, _, _, key, low, high) in enumerate(ranked)
    ]


class Ties:
    """Which tools on a board each tool cannot be told apart from (intervals overlap)."""

    def __init__(self, placed: list[Placed]) -> None:
        self.placed = placed
        self.lows = sorted(entry.low for entry in placed)
        self.highs = sorted(entry.high for entry in placed)

    def count(self, entry: Placed) -> int:
        """Every other tool on the board whose interval overlaps this one's: all but those
        entirely above it and those entirely below it."""
        above = len(self.lows) - bisect_right(self.lows, entry.high)
        below = bisect_left(self.highs, entry.low)
        return len(self.placed) - 1 - above - below

    def nearest(self, entry: Placed, limit: int = TIED_WITH_SHOWN) -> list[Placed]:
        """Up to `limit` of them, nearest on the board first (the one above before the one below)."""
        wanted = min(limit, self.count(entry))
        found: list[Placed] = []
        distance = 1
        while len(found) < wanted and distance < len(self.placed):
            for position in (entry.position - distance, entry.position + distance):
                if 0 <= position < len(self.placed) and len(found) < wanted:
                    other = self.placed[position]
                    if other.low <= entry.high and other.high >= entry.low:
                        found.append(other)
            distance += 1
        return found
