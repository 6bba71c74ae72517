"""Exercise 06: per-layer amounts within a parameter budget."""

from __future__ import annotations

from ....weights.analysis import Sensitivity
from ..core import Exercise


def _remaining(amounts: dict[str, float], sizes: dict[str, int]) -> int:
    return sum(sizes[name] - round(a * sizes[name]) for name, a in amounts.items())


def amounts_for_tolerance(scan: Sensitivity, tolerance: float) -> dict[str, float]:
    """Each layer's largest scanned amount whose accuracy drop is at most ``tolerance``."""
    return {
        name: max(
            (
                a
                for a, acc in zip(scan.amounts, accs, strict=True)
                if scan.baseline - acc <= tolerance
            ),
            default=0.0,
        )
        for name, accs in scan.accuracy.items()
    }


def amounts_within_budget(
    scan: Sensitivity, sizes: dict[str, int], max_remaining: int
) -> dict[str, float]:
    """The smallest accuracy tolerance (one of the scan's drops) whose per-layer amounts leave
    at most ``max_remaining`` weights; each layer gets its largest amount within it."""
    drops = sorted({0.0} | {scan.baseline - acc for accs in scan.accuracy.values() for acc in accs})
    for tolerance in drops:
        amounts = amounts_for_tolerance(scan, tolerance)
        if _remaining(amounts, sizes) <= max_remaining:
            return amounts
    raise ValueError(f"no tolerance meets the budget of {max_remaining} weights")


# Values are multiples of 1/64, so every difference is exact in floating point.
def _scan():
    """A fresh copy each call: a learner's function may edit what it gets."""
    return Sensitivity(
        amounts=(0.0, 0.25, 0.5, 0.75),
        accuracy={
            "fc1": [0.9375, 0.9375, 0.921875, 0.875],  # robust
            "fc2": [0.9375, 0.90625, 0.8125, 0.5],  # sensitive
            "fc3": [0.9375, 0.921875, 0.875, 0.75],
        },
        baseline=0.9375,
    )


def _sizes():
    """A fresh copy each call (640 weights): a learner's function may edit what it gets."""
    return {"fc1": 400, "fc2": 200, "fc3": 40}


def _budget_dict(fn):
    got = fn(_scan(), _sizes(), 400)
    if not isinstance(got, dict) or set(got) != set(_sizes()):
        return "return a dict with one amount per layer of the scan"
    if any(a not in _scan().amounts for a in got.values()):
        return "each amount must be one of the scanned amounts"
    return None


def _budget_met(fn):
    for budget in (500, 400, 250, 160):
        got = fn(_scan(), _sizes(), budget)
        left = _remaining(got, _sizes())
        if left > budget:
            return (
                f"with a budget of {budget} weights your amounts leave {left}: the budget is on "
                "the weights that remain (n - round(amount * n) per layer)"
            )
    return None


def _budget_minimal(fn):
    scan = _scan()
    for budget in (500, 400, 250, 160):
        got, want = fn(_scan(), _sizes(), budget), amounts_within_budget(scan, _sizes(), budget)
        if got == want:
            continue
        worst = max(scan.baseline - scan.accuracy[n][scan.amounts.index(a)] for n, a in got.items())
        best = max(scan.baseline - scan.accuracy[n][scan.amounts.index(a)] for n, a in want.items())
        if worst > best:
            return (
                f"with a budget of {budget} some layer loses more accuracy than needed: a "
                "smaller tolerance already meets the budget"
            )
        return (
            f"with a budget of {budget}, some layer is pruned less than the tolerance you "
            "reached allows: give every layer the largest amount whose drop is within it"
        )
    return None


def _budget_odd_sizes(fn):
    """Layer sizes where amount * n ends in .5 or is fractional: the rounding rule shows."""
    sizes = {"fc1": 402, "fc2": 202, "fc3": 42}
    scan = _scan()
    drops = sorted({0.0} | {scan.baseline - a for accs in scan.accuracy.values() for a in accs})
    budgets = set()
    for tolerance in drops:
        left = _remaining(amounts_for_tolerance(scan, tolerance), sizes)
        budgets |= {left, left - 1}
    for budget in sorted(budgets):
        try:
            want = amounts_within_budget(scan, sizes, budget)
        except ValueError:
            continue
        if fn(_scan(), dict(sizes), budget) != want:
            return (
                f"with layers of 402, 202 and 42 weights and a budget of {budget}, your amounts "
                "differ: count the weights left as n - round(amount * n) per layer, with "
                "Python's round (0.25 * 402 = 100.5 rounds to 100, halves go to the even "
                "number), not int() and not rounding halves up"
            )
    return None


def _budget_impossible(fn):
    try:
        fn(_scan(), _sizes(), 100)
    except ValueError:
        return None
    return "no tolerance can leave only 100 weights here: raise ValueError instead of returning"


lesson06 = Exercise(
    "06.ex1",
    "per-layer amounts within a parameter budget",
    amounts_within_budget,
    [_budget_dict, _budget_met, _budget_minimal, _budget_odd_sizes, _budget_impossible],
    [
        "Each scanned (layer, amount) pair has an accuracy drop: baseline - accuracy. Pick "
        "one tolerance for all layers and give each layer the largest amount within it.",
        "Try the tolerances in increasing order (0 and every drop of the scan); count the "
        "weights left, n - round(amount * n) per layer, and stop at the first that fits.",
        "`pl.amounts_for_budget(scan, tolerance)` gives the amounts for one tolerance; raise "
        "ValueError when even the largest tolerance does not fit.",
    ],
)
