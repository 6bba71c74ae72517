"""Sentences generated from measured numbers, so what a lesson says follows what it measured.

A lesson never types a conclusion about a number it measures live: it calls one of these
functions, each a plain condition on the numbers, tested in ``tests/test_narrate.py``.
"""

from __future__ import annotations

#: A speed-up may exceed the MAC ratio by this factor before it is called a measurement
#: problem (caches can give a little more than the arithmetic saves, never much more).
SPEEDUP_SLACK = 1.2


def speedup_verdict(speedup: float, mac_ratio: float, *, slack: float = SPEEDUP_SLACK) -> str:
    """What a measured speed-up means next to the MAC ratio (dense MACs / MACs still done).

    Pruning can save at most the work it removes, so a speed-up clearly above the MAC ratio is
    not a result: it says the two timings were disturbed (another program, a cold cache, the
    memory allocator). Such a number is flagged, not reported.
    """
    if speedup <= 0 or mac_ratio <= 0:
        raise ValueError(f"speedup and mac_ratio must be positive, got {speedup}, {mac_ratio}")
    if speedup > slack * mac_ratio:
        return (
            f"MEASUREMENT PROBLEM: {speedup:.2f}x faster for {mac_ratio:.2f}x fewer MACs. "
            "Removing work cannot speed a model up by more than the work removed, so one of "
            "the timings was disturbed; rerun the cell instead of quoting this number"
        )
    if speedup < 1 / slack:
        return (
            f"{speedup:.2f}x: slower than dense, although it does {mac_ratio:.2f}x fewer MACs "
            "(the runtime spends the time elsewhere: memory traffic, overheads)"
        )
    if speedup < 1 + (slack - 1) / 2:
        return f"{speedup:.2f}x: no real speed-up ({mac_ratio:.2f}x fewer MACs)"
    share = speedup / mac_ratio
    return (
        f"{speedup:.2f}x faster for {mac_ratio:.2f}x fewer MACs "
        f"({share:.0%} of what the MAC count promises)"
    )


def gap_verdict(
    first: str,
    first_mean: float,
    first_std: float,
    second: str,
    second_mean: float,
    second_std: float,
) -> str:
    """Compare two means over seeds: a gap counts only beyond the sum of their spreads."""
    gap = first_mean - second_mean
    points = f"{100 * abs(gap):.1f} points"
    if abs(gap) <= first_std + second_std:
        return f"{first} and {second} end within the spread of each other ({points} apart)"
    leader, other = (first, second) if gap > 0 else (second, first)
    return f"{leader} beats {other} by {points}, more than the spread over seeds"


def one_image(test_size: int) -> str:
    """How much one test image weighs in an accuracy, for the caveat next to a conclusion."""
    if test_size < 1:
        raise ValueError(f"test_size must be positive, got {test_size}")
    return (
        f"the test split has {test_size} images, so one image is {100 / test_size:.2f} points "
        "of accuracy: a difference of a point or less is a handful of images"
    )
