"""Ship/skip tallies and the numbers derived from them."""

import math
from dataclasses import dataclass
from functools import lru_cache

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
