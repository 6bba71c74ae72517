"""When to prune: one-shot, iterative, gradual (cubic) and the lottery-ticket rounds.

A schedule is just the list of sparsity targets to reach, one per pruning step; fine-tuning
happens between the steps. Because ``amount`` is a target (see ``select.py``), each step
prunes only what is needed to go from the current sparsity to the next level.
"""

from __future__ import annotations

from ..core.checks import check_fraction

SCHEDULES = ("one-shot", "iterative", "cubic")


def _check_sparsity(value: object, name: str) -> float:
    return check_fraction(value, name, below_one=True)


def _check_steps(steps: object) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    return steps


def cubic_sparsity(
    t: float,
    final: float,
    *,
    initial: float = 0.0,
    start: int = 0,
    frequency: int = 1,
    steps: int = 10,
) -> float:
    """Zhu & Gupta (2017), "To prune, or not to prune":

    ``s_t = s_f + (s_i - s_f) * (1 - (t - t_0) / (n * dt)) ** 3``, clamped to [s_i, s_f].

    Sparsity rises quickly at first, when there are many redundant weights, and slowly near
    the end. ``t`` is the training step, ``start`` is t_0, ``frequency`` is dt (steps between
    pruning events) and ``steps`` is n (number of pruning events). Same values as
    ``torch.ao.pruning.CubicSL``.
    """
    s_t = final + (initial - final) * (1.0 - (t - start) / (frequency * steps)) ** 3
    low, high = min(initial, final), max(initial, final)
    return min(max(s_t, low), high)


def sparsity_schedule(kind: str, final: float, steps: int = 5) -> list[float]:
    """The sparsity targets of each pruning step, ending at ``final``.

    * ``"one-shot"``: ``[final]``.
    * ``"iterative"``: each step prunes the same fraction of the weights that remain
      (Han et al. 2015; Frankle & Carbin 2019), ``1 - (1 - final) ** (k / steps)``.
    * ``"cubic"``: Zhu & Gupta's curve sampled at the end of each of ``steps`` intervals.
    """
    final = _check_sparsity(final, "final")
    steps = _check_steps(steps)
    if kind == "one-shot":
        return [final]
    if kind == "iterative":
        return [1.0 - (1.0 - final) ** (k / steps) for k in range(1, steps + 1)]
    if kind == "cubic":
        return [cubic_sparsity(k, final, steps=steps) for k in range(1, steps + 1)]
    raise ValueError(f"schedule must be one of {SCHEDULES}, got {kind!r}")
