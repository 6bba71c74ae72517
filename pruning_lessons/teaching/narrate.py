"""Sentences generated from measured numbers, so what a lesson says follows what it measured.

A lesson never types a conclusion about a number it measures live: it calls one of these
functions, each a plain condition on the numbers, tested in ``tests/test_narrate.py``.
"""

from __future__ import annotations

#: A speed-up may exceed the MAC ratio by this factor before it is called "more than the MACs
#: predict" (timing noise alone moves a ratio by a few per cent either way).
SPEEDUP_SLACK = 1.2


def speedup_verdict(speedup: float, mac_ratio: float, *, slack: float = SPEEDUP_SLACK) -> str:
    """What a measured speed-up means next to the MAC ratio (dense MACs / MACs still done).

    A MAC count ignores memory traffic, so a pruned model can run faster than its MAC ratio
    says: a smaller working set may now fit in a cache, or a kernel may switch to a better
    path for the new shape. Such a *superlinear* speed-up is possible, but it is also what a
    disturbed timing (another program, a cold cache, the allocator) looks like. So it is
    neither reported as a result nor called wrong: the verdict says to re-measure it and, if
    it holds, to explain it.
    """
    if speedup <= 0 or mac_ratio <= 0:
        raise ValueError(f"speedup and mac_ratio must be positive, got {speedup}, {mac_ratio}")
    if speedup > slack * mac_ratio:
        return (
            f"RE-MEASURE AND EXPLAIN: {speedup:.2f}x faster for {mac_ratio:.2f}x fewer MACs, "
            "more than the arithmetic saved. That can be real (a smaller working set that now "
            "fits in cache; MACs ignore memory traffic) or a disturbed timing: rerun the cell, "
            "and quote the number only with the reason it holds"
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


def stale_bn_verdict(stale: float, recalibrated: float, dense: float, classes: int) -> str:
    """Say what BatchNorm recalibration changed, in the numbers measured, never more.

    ``stale``: accuracy right after pruning, with the dense network's running statistics;
    ``recalibrated``: after re-estimating them (no weight changed); ``dense``: before pruning;
    ``classes``: for the chance level ``1 / classes``. "Near chance" is said only when the
    stale accuracy is within twice the chance level.
    """
    for name, value in (("stale", stale), ("recalibrated", recalibrated), ("dense", dense)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be an accuracy in [0, 1], got {value}")
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 2:
        raise ValueError(f"classes must be an int >= 2, got {classes!r}")
    chance = 1 / classes
    where = "near chance" if stale <= 2 * chance else "well below dense"
    gain = recalibrated - stale
    effect = (
        f"recalibration alone adds {100 * gain:.1f} points"
        if gain > 0
        else f"recalibration does not help here ({100 * gain:+.1f} points)"
    )
    return (
        f"stale statistics {stale:.1%} ({where}; chance is {chance:.0%}), recalibrated "
        f"{recalibrated:.1%}, dense {dense:.1%}: {effect}, and {100 * (dense - recalibrated):.1f} "
        "points are still missing before any fine-tuning"
    )


def rank_among(name: str, value: float, others: dict[str, float]) -> str:
    """Where one result (e.g. random channels) lands among others measured the same way."""
    if not others:
        raise ValueError("others must name at least one result to compare with")
    below = sum(value < v for v in others.values())
    n = len(others)
    low, high = min(others.values()), max(others.values())
    spread = f"{low:.1%} to {high:.1%}"
    if below == n:
        return f"{name} ({value:.1%}) is below all {n} ({spread})"
    if below == 0:
        return f"{name} ({value:.1%}) is above all {n} ({spread})"
    return f"{name} ({value:.1%}) lands among the {n} ({spread}), above {n - below} of them"
