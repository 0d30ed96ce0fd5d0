"""The ranking rule, checked against its definition on random boards.

RankedBoard computes ranks with sorts and binary searches over whole columns; here every
figure is recounted the slow way, tool against tool, straight from the rule's words.
"""

import random

import numpy as np
import pytest

from compare_api import stats
from compare_api.stats import wilson_columns, wilson_interval
from discovery import ranking
from discovery.ranking import TIED_WITH_SHOWN, RankedBoard


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def _random_board(seed: int, size: int) -> tuple[list[tuple], list[float], list[float]]:
    chooser = random.Random(seed)
    # Few distinct counts, so equal intervals (and touching bounds) are common.
    keys = [(index, f"tool-{index}", chooser.randint(0, 40), chooser.randint(0, 40)) for index in range(size)]
    keys = [key for key in keys if key[2] + key[3]]
    intervals = [wilson_interval(ship, ship + skip) for _, _, ship, skip in keys]
    return keys, [low for low, _ in intervals], [high for _, high in intervals]


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("window", [ranking.TIE_WINDOW, 0])  # 0: every named tie lies past it
def test_ranks_order_and_ties_follow_the_rule(seed, window, monkeypatch) -> None:
    monkeypatch.setattr(ranking, "TIE_WINDOW", window)
    keys, lows, highs = _random_board(seed, size=random.Random(seed).randint(0, 120))
    board = RankedBoard(keys, lows, highs)
    interval = {key: (low, high) for key, low, high in zip(keys, lows, highs, strict=True)}
    order = [board.key(position) for position in range(len(board))]
    entries = board.entries(list(range(len(board))))

    # Every tool once, in its place on the board.
    assert sorted(order) == sorted(keys)
    assert [entry.key for entry in entries] == order

    for position, (key, entry) in enumerate(zip(order, entries, strict=True)):
        low, high = interval[key]
        # rank = 1 + the number of tools whose lower bound is above this one's upper bound.
        assert entry.rank == 1 + sum(other_low > high for other_low in lows)
        # Ties: every other tool whose interval overlaps this one's.
        overlapping = [other for other in order if other != key and _overlap(interval[other], (low, high))]
        assert entry.tied_count == len(overlapping)
        # Named: the nearest on the board, the one above first at equal distance.
        nearest = sorted(overlapping, key=lambda other: (abs(order.index(other) - position), order.index(other)))
        assert entry.tied_with == nearest[:TIED_WITH_SHOWN]

    # Board order: by rank, then the higher lower bound, then the order the caller gave.
    given = {key: index for index, key in enumerate(keys)}
    rank = {entry.key: entry.rank for entry in entries}
    assert order == sorted(keys, key=lambda k: (rank[k], -interval[k][0], given[k]))
    assert all(type(entry.rank) is int and type(entry.tied_count) is int for entry in entries)  # JSON, not numpy


def test_a_page_is_ranked_on_the_whole_board() -> None:
    keys, lows, highs = _random_board(seed=7, size=100)
    board = RankedBoard(keys, lows, highs)
    whole = board.entries(list(range(len(board))))
    assert board.entries([10, 11, 12]) == whole[10:13]
    assert board.entries([]) == []


def test_an_empty_board_ranks_nothing() -> None:
    board = RankedBoard([], [], [])
    assert (len(board), board.entries([])) == (0, [])


def test_wilson_columns_are_wilson_interval_bit_for_bit() -> None:
    """Every count up to 300, and random counts up to the counters' limit: the same floats as the
    scalar function (the board's rounding is the documents' rounding)."""
    pairs = [(ship, total) for total in range(1, 301) for ship in range(total + 1)]
    chooser = random.Random(3)
    pairs += [(chooser.randint(0, total), total) for total in (chooser.randint(1, 2**31 - 1) for _ in range(5_000))]
    ships, totals = (np.array(column, dtype=np.int64) for column in zip(*pairs, strict=True))
    lows, highs = wilson_columns(ships, totals)
    assert list(zip(lows.tolist(), highs.tolist(), strict=True)) == [wilson_interval(*pair) for pair in pairs]


def test_bounds_next_to_a_rounding_half_are_left_to_wilson_interval(monkeypatch) -> None:
    # None of the counts above lands within 1e-9 of a half; make every bound look as if it did.
    monkeypatch.setattr(stats, "_NEAR_HALF", 1.0)
    calls = []
    monkeypatch.setattr(stats, "wilson_interval", lambda ship, total: calls.append((ship, total)) or (0.25, 0.75))
    lows, highs = wilson_columns(np.array([3, 0]), np.array([4, 9]))
    assert calls == [(3, 4), (0, 9)]
    assert (lows.tolist(), highs.tolist()) == ([0.25, 0.25], [0.75, 0.75])
