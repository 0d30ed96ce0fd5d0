"""Ship/skip tallies and the numbers derived from them."""

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# z for a two-sided 95% interval.
Z95 = 1.959963984540054
# The ranking rule's versioned name, carried by every leaderboard, badge and the
# methodology document: Wilson 95% intervals, rank = 1 + the number of tools whose
# lower bound is above this one's upper bound (LMArena's rule), so tools whose
# intervals overlap can share a rank. A change to the rule is a new version.
RANKING_METHOD = "wilson-overlap-v1"


# Remembered: a pure function of two counts, asked for every tool on every uncached board
# and document, and most tools' counts are the same from one read to the next.
@lru_cache(maxsize=16_384)
def wilson_interval(successes: int, total: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for a binomial proportion; None without observations.

    Unlike the normal approximation it stays inside [0, 1] and is honest about
    small samples: 3 ships of 4 gives roughly [0.30, 0.95], not a bare 75%.
    """
    if total <= 0:
        return None
    p = successes / total
    z2 = z * z
    denominator = 1 + z2 / total
    centre = (p + z2 / (2 * total)) / denominator
    margin = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total)) / denominator
    return (round(max(0.0, centre - margin), 4), round(min(1.0, centre + margin), 4))


# Where wilson_columns leaves the arithmetic to wilson_interval: totals whose 4 * total * total
# is no longer exact in a double, and bounds within this much of a rounding half (the scaled
# bound's own error is below 1e-11, so every other bound rounds the same either way).
_EXACT_TOTALS = 2**25
_NEAR_HALF = 1e-9


def _near_half(scaled: np.ndarray, rounded: np.ndarray) -> np.ndarray:
    return np.abs(scaled - rounded) > 0.5 - _NEAR_HALF


def wilson_columns(ships: np.ndarray, totals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """wilson_interval of every (ships[i], totals[i]), every total > 0, as two columns: the lower
    bounds and the upper bounds, equal bit for bit to wilson_interval's.

    A leaderboard needs the intervals of every tool in its category (a thousand) on every
    uncached read, so they are computed over whole columns: the same IEEE operations in the
    same order as wilson_interval, hence the same doubles; numpy's rounding (scale, round half
    to even, unscale) differs from round()'s correct rounding only next to a half, so those
    bounds, and huge totals, are computed by wilson_interval itself.
    """
    total = totals.astype(np.float64)
    p = ships / total
    z2 = Z95 * Z95
    denominator = 1 + z2 / total
    centre = (p + z2 / (2 * total)) / denominator
    margin = Z95 * np.sqrt(p * (1 - p) / total + z2 / (4 * total * total)) / denominator
    scaled_lows = np.maximum(0.0, centre - margin) * 10_000
    scaled_highs = np.minimum(1.0, centre + margin) * 10_000
    lows, highs = np.rint(scaled_lows), np.rint(scaled_highs)
    doubtful = (totals >= _EXACT_TOTALS) | _near_half(scaled_lows, lows) | _near_half(scaled_highs, highs)
    lows /= 10_000
    highs /= 10_000
    for index in np.flatnonzero(doubtful).tolist():
        lows[index], highs[index] = wilson_interval(int(ships[index]), int(totals[index]))
    return lows, highs


@dataclass(frozen=True, slots=True)
class Tally:
    ship: int
    skip: int

    @property
    def total(self) -> int:
        return self.ship + self.skip

    @property
    def ship_rate(self) -> float | None:
        # null, never 0, when nobody has a say yet: 0 would read as "all skip".
        return round(self.ship / self.total, 4) if self.total else None

    @property
    def ci95(self) -> tuple[float, float] | None:
        return wilson_interval(self.ship, self.total)

    def as_dict(self) -> dict:
        interval = self.ci95
        return {
            "ship": self.ship,
            "skip": self.skip,
            "total": self.total,
            "ship_rate": self.ship_rate,
            "ci95": list(interval) if interval else None,
        }
