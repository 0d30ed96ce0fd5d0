"""Ranks that say what the data can tell apart (compare_api.stats.RANKING_METHOD).

LMArena's rule (FastChat): a tool's rank is 1 + the number of tools whose 95%
interval lies entirely above its own (their lower bound above its upper bound).
Two tools whose intervals overlap cannot be told apart; each counts the other
as tied. Ranks are therefore shared, and can skip: three tools that all beat a
fourth rank it 4th, whatever their own ranks.

"""

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

TIED_WITH_SHOWN = 5  # how many of a tool's ties an entry names (nearest on the board first); all are counted
# Where an entry's named ties are first looked for: this many places either side of it on the board.
# Nearly always enough (neighbours on a board have neighbouring intervals); if not, the whole board is.
TIE_WINDOW = 8


class RankedEntry(NamedTuple):
    key: object
    rank: int
    tied_count: int  # every other tool whose interval overlaps this one's
    tied_with: list  # the keys of up to TIED_WITH_SHOWN of them, nearest on the board first (the one above first)


class RankedBoard:
    """Tools (`keys`) with their intervals (`lows`, `highs`), ranked and in board order: by rank,
    then by the lower bound (the most certain first), then as given (the caller's tiebreak).

    A board of a thousand tools is ranked on every uncached read (after every vote in its
    category), so the columns stay numpy arrays: a sort, a binary search per tool and a stable
    sort on two keys, in C; Python objects are made only for the entries of the page asked for.
    """

    def __init__(
        self, keys: Sequence, lows: Sequence[float], highs: Sequence[float], members: np.ndarray | None = None
    ) -> None:
        """`members`: where in `keys` the ranked tools are (lows[i], highs[i] are keys[members[i]]'s);
        all of `keys` when None."""
        low, high = np.asarray(lows, dtype=np.float64), np.asarray(highs, dtype=np.float64)
        self.keys = keys
        self.sorted_lows = np.sort(low)
        self.sorted_highs = np.sort(high)
        # The tools above one are those whose lower bound is right of its upper bound in sorted_lows.
        ranks = len(low) + 1 - np.searchsorted(self.sorted_lows, high, side="right")
        # lexsort's last key is the first: by rank, then the higher lower bound; it is stable,
        # so the caller's order stays among equals.
        order = np.lexsort((-low, ranks))
        self.ranks, self.lows, self.highs = ranks[order], low[order], high[order]
        self.order = order if members is None else np.asarray(members, dtype=np.intp)[order]  # position -> key

    def __len__(self) -> int:
        return len(self.lows)

    def key(self, position: int):
        return self.keys[self.order[position]]

    def entries(self, positions: Sequence[int], shown: int = TIED_WITH_SHOWN) -> list[RankedEntry]:
        """The entries at these board positions (ascending, as a page's are), their ties counted on
        the whole board."""
        if not positions:
            return []
        at = np.asarray(positions, dtype=np.intp)
        low, high = self.lows[at], self.highs[at]
        # All but those entirely above and those entirely below.
        above = len(self) - np.searchsorted(self.sorted_lows, high, side="right")
        below = np.searchsorted(self.sorted_highs, low, side="left")
        counts = (len(self) - 1 - above - below).tolist()
        # The named ties are looked for in the stretch of the board around the page first.
        start, end = max(0, positions[0] - TIE_WINDOW), positions[-1] + TIE_WINDOW + 1
        stretch = (self.lows[start:end].tolist(), self.highs[start:end].tolist(), self.order[start:end].tolist())
        board = None
        entries = []
        for position, rank, count in zip(positions, self.ranks[at].tolist(), counts, strict=True):
            wanted = min(shown, count)
            lows, highs, keys = stretch
            tied = _nearest_overlapping(position - start, wanted, lows, highs)
            if len(tied) < wanted:  # some lie beyond the stretch: look over the whole board
                board = board or (self.lows.tolist(), self.highs.tolist(), self.order.tolist())
                lows, highs, keys = board
                tied = _nearest_overlapping(position, wanted, lows, highs)
            own = self.keys[stretch[2][position - start]]
            entries.append(RankedEntry(own, rank, count, [self.keys[keys[other]] for other in tied]))
        return entries


def _nearest_overlapping(position: int, wanted: int, lows: list[float], highs: list[float]) -> list[int]:
    """Up to `wanted` indexes of intervals that overlap the one at `position`, outwards from it:
    the nearest first, the one above first at equal distance."""
    low, high = lows[position], highs[position]
    found: list[int] = []
    distance = 1
    while len(found) < wanted and distance < len(lows):
        above, below = position - distance, position + distance
        if above >= 0 and lows[above] <= high and highs[above] >= low:
            found.append(above)
        if below < len(lows) and len(found) < wanted and lows[below] <= high and highs[below] >= low:
            found.append(below)
        distance += 1
    return found
