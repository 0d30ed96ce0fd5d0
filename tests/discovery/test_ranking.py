"""The ranking rule, checked against its definition on random boards.

RankedBoard computes ranks with sorts and binary searches over whole columns; here every
figure is recounted the slow way, tool against tool, straight from the rule's words.
"""

import random

import pytest

from compare_api.stats import wilson_interval
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
def test_ranks_order_and_ties_follow_the_rule(seed) -> None:
    keys, lows, highs = _random_board(seed, size=random.Random(seed).randint(0, 120))
    board = RankedBoard(keys, lows, highs)
    interval = {key: (low, high) for key, low, high in zip(keys, lows, highs, strict=True)}

    # Every tool once, with its own interval.
    assert sorted(board.keys) == sorted(keys)
    assert [(low, high) for low, high in zip(board.lows, board.highs, strict=True)] == [interval[k] for k in board.keys]

    for position, key in enumerate(board.keys):
        low, high = interval[key]
        # rank = 1 + the number of tools whose lower bound is above this one's upper bound.
        assert board.ranks[position] == 1 + sum(other_low > high for other_low in lows)
        # Ties: every other tool whose interval overlaps this one's.
        overlapping = [other for other in board.keys if other != key and _overlap(interval[other], (low, high))]
        assert board.tied_count(position) == len(overlapping)
        named = [board.keys[other] for other in board.tied_with(position)]
        assert len(named) == min(TIED_WITH_SHOWN, len(overlapping))
        assert set(named) <= set(overlapping)
        # The nearest on the board first.
        distances = [abs(board.keys.index(other) - position) for other in named]
        assert distances == sorted(distances)

    # Board order: by rank, then the higher lower bound, then the order the caller gave.
    given = {key: index for index, key in enumerate(keys)}
    expected = sorted(keys, key=lambda k: (board.ranks[board.keys.index(k)], -interval[k][0], given[k]))
    assert board.keys == expected
    assert all(type(rank) is int for rank in board.ranks)  # JSON integers, not numpy's


def test_an_empty_board_ranks_nothing() -> None:
    board = RankedBoard([], [], [])
    assert (len(board), board.ranks, board.keys) == (0, [], [])
