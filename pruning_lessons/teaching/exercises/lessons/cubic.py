"""Exercise 05: the cubic sparsity schedule of Zhu & Gupta."""

from __future__ import annotations

import torch

from ..core import Exercise


def cubic(t: float, final: float, steps: int, initial: float = 0.0) -> float:
    """Zhu & Gupta (2017): s_t = s_f + (s_i - s_f)(1 - t / n)^3 for 0 <= t <= n, flat outside."""
    t = min(max(t, 0), steps)
    return final + (initial - final) * (1 - t / steps) ** 3


def _cubic_float(fn):
    value = fn(5, 0.9, 10)
    if isinstance(value, torch.Tensor) or not isinstance(value, float):
        return f"return a Python float, got {type(value).__name__}"
    return None


def _cubic_ends(fn):
    if abs(fn(0, 0.9, 10) - 0.0) > 1e-9:
        return "at t = 0 the sparsity should still be the initial one"
    if abs(fn(10, 0.9, 10) - 0.9) > 1e-9:
        return "at t = steps the sparsity should have reached the final one"
    return None


def _cubic_middle(fn):
    got = fn(5, 0.8, 10)
    if abs(got - 0.7) < 1e-9:
        return None
    if abs(got - 0.4) < 1e-9:
        return "halfway you are at half the target: that is a linear schedule, not a cubic one"
    if abs(got - 0.6) < 1e-9:
        return "halfway your schedule has reached 3/4 of the target: the exponent is 3, not 2"
    if abs(got - 80) < 1e-6 or abs(got - 70) < 1e-6:
        return "return a fraction between 0 and 1, not a percentage"
    return (
        "halfway through, the cubic schedule should already be far along: check where the "
        "power of 3 goes (1 - t/n is cubed)"
    )


def _cubic_initial(fn):
    if abs(fn(0, 0.9, 4, initial=0.5) - 0.5) > 1e-9 or abs(fn(2, 0.9, 4, 0.5) - 0.85) > 1e-9:
        return "with an initial sparsity, the schedule starts from it and rises to the final one"
    return None


def _cubic_clamped(fn):
    if abs(fn(15, 0.9, 10) - 0.9) > 1e-9:
        return "after the last step the sparsity stays at the final value"
    if abs(fn(-3, 0.9, 10) - 0.0) > 1e-9:
        return "before the first step the sparsity stays at the initial value"
    return None


def _cubic_fractional(fn):
    if abs(fn(1, 0.9, 3) - (0.9 - 0.9 * (2 / 3) ** 3)) > 1e-9:
        return "with 3 steps, t = 1 gives a wrong value: is t / n computed as a fraction?"
    return None


lesson05 = Exercise(
    "05.ex1",
    "the cubic sparsity schedule",
    cubic,
    [_cubic_float, _cubic_ends, _cubic_middle, _cubic_initial, _cubic_clamped, _cubic_fractional],
    [
        "Zhu & Gupta's schedule starts at the initial sparsity and reaches the final one after "
        "`steps` pruning steps, fast at first and slowly at the end.",
        "s_t = s_f + (s_i - s_f) * (1 - t / n) ** 3, with n = steps.",
        "Clamp t into [0, steps] first (`min(max(t, 0), steps)`), so the value stays flat "
        "before and after the schedule.",
    ],
)
