"""Lesson 03's slider: the least structured pruning that fits a MACs, parameter or time budget."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import ipywidgets as widgets
from torch import nn
from torch.utils.data import TensorDataset

from ...core.train import evaluate
from ...weights.select import check_fraction
from .timing import side_by_side_ms
from .ui import Canvas, float_slider, png_image, result_label, wired

BUDGET_MEASURES = ("macs", "parameters", "latency")
FIT_AMOUNTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
_MEASURE_UNITS = {"macs": "MACs", "parameters": "parameters", "latency": "ms per batch"}


@dataclass(frozen=True)
class BudgetFit:
    """The least structured pruning that fits a budget (see :func:`fit_to_budget`)."""

    measure: str
    budget: float  # allowed cost, as a fraction of the dense model's
    dense_cost: float
    amount: float  # fraction of every prunable layer's units removed
    cost: float
    fits: bool
    parameters: int
    accuracy: float
    curve: tuple[tuple[float, float], ...] = field(repr=False)  # (amount, cost) per amount tried
    model: nn.Module = field(repr=False, compare=False)

    def _number(self, value: float) -> str:
        return f"{value:.3g}" if self.measure == "latency" else f"{value:,.0f}"

    def __str__(self) -> str:
        unit = _MEASURE_UNITS[self.measure]
        limit = self.budget * self.dense_cost
        head = f"budget {self._number(limit)} {unit} ({self.budget:.0%} of dense): "
        found = (
            f"removing {self.amount:.0%} of the units fits"
            if self.fits
            else f"nothing tried fits; the most pruned ({self.amount:.0%} of the units removed)"
        )
        return (
            f"{head}{found} with {self._number(self.cost)} {unit} "
            f"({self.cost / self.dense_cost:.0%}), {self.parameters:,} parameters, "
            f"accuracy {self.accuracy:.1%} before fine-tuning"
        )


def fit_to_budget(
    model: nn.Module,
    dataset: TensorDataset,
    budget: float,
    *,
    measure: str = "macs",
    amounts: tuple[float, ...] = FIT_AMOUNTS,
    importance: str = "l1",
) -> BudgetFit:
    """Remove the smallest fraction of units (from ``amounts``) whose cost fits the budget.

    ``measure``: ``"macs"`` (one forward pass of one sample, :func:`count_macs`),
    ``"parameters"`` or ``"latency"`` (milliseconds per batch of 256, the fastest of a few
    rounds of :func:`side_by_side_ms`, measured now, so it varies a little between runs).
    ``budget`` is the allowed cost as a fraction of the dense model's. Every amount is tried,
    smallest first, so the whole cost curve is returned too (amounts that would empty a layer
    are skipped); ``fits`` is False when even the largest amount costs too much (then that
    one is returned).
    """
    _check_budget(budget)
    curve = _budget_curve(model, dataset, measure, amounts, importance)
    return curve.fit(dataset, budget)


def _budget_curve(
    model: nn.Module,
    dataset: TensorDataset,
    measure: str,
    amounts: Sequence[float],
    importance: str,
) -> _BudgetCurve:
    """Prune ``model`` at each of ``amounts`` and measure each result (the slow part, cached)."""
    from ...core.metrics import count_macs, count_parameters
    from ...structured import prune_units, unit_groups

    if measure not in BUDGET_MEASURES:
        raise ValueError(f"measure must be one of {BUDGET_MEASURES}, got {measure!r}")
    if not amounts:
        raise ValueError("amounts is empty: give the fractions of units to try")
    amounts = [check_fraction(a, "each of amounts", below_one=True) for a in amounts]
    example = dataset.tensors[0][:1]

    def cost(m: nn.Module) -> float:
        if measure == "macs":
            return float(count_macs(m, example))
        if measure == "parameters":
            return float(count_parameters(m))
        return side_by_side_ms({"model": m}, example)["model"]

    sizes = [g.size for g in unit_groups(model) if g.pinned is None]
    dense_cost = cost(model)
    tried = []
    for amount in sorted(amounts):
        if any(round(amount * size) >= size for size in sizes):
            continue  # this amount would remove every unit of some layer
        candidate = prune_units(model, amount, importance=importance) if amount > 0 else model
        tried.append((amount, candidate, dense_cost if candidate is model else cost(candidate)))
    if not tried:
        raise ValueError(f"every amount in {amounts} would remove all units of some layer")
    return _BudgetCurve(measure, dense_cost, tuple(tried))


@dataclass(frozen=True)
class _BudgetCurve:
    """Every amount tried, its pruned model and its cost: all a budget slider needs."""

    measure: str
    dense_cost: float
    tried: tuple[tuple[float, nn.Module, float], ...]

    def fit(self, dataset: TensorDataset, budget: float) -> BudgetFit:
        from ...core.metrics import count_parameters

        _check_budget(budget)
        fitting = [t for t in self.tried if t[2] <= budget * self.dense_cost]
        amount, smaller, spent = fitting[0] if fitting else self.tried[-1]
        return BudgetFit(
            measure=self.measure,
            budget=float(budget),
            dense_cost=self.dense_cost,
            amount=amount,
            cost=spent,
            fits=bool(fitting),
            parameters=count_parameters(smaller),
            accuracy=evaluate(smaller, dataset),
            curve=tuple((a, c) for a, _, c in self.tried),
            model=smaller,
        )


def _check_budget(budget: object) -> None:
    if isinstance(budget, bool) or not isinstance(budget, int | float) or not budget > 0:
        raise ValueError(f"budget must be a positive fraction of the dense cost, got {budget!r}")


def budget_explorer(
    model: nn.Module, dataset: TensorDataset, *, measure: str = "macs", start: float = 0.5
) -> widgets.VBox:
    """A slider over the budget (a fraction of the dense cost): what fits, and what it costs."""
    from ..plots import budget_curve

    slider = float_slider(start, 0.05, 1.0, 0.05, "budget", ".0%")
    label, picture, canvas = result_label(), png_image(), Canvas()

    curve = _budget_curve(model, dataset, measure, FIT_AMOUNTS, "l1")  # the same for every budget

    def redraw(change: dict | None = None) -> None:
        fit = curve.fit(dataset, slider.value)
        label.value = f"<b>{fit}</b>"
        picture.value = canvas.png(budget_curve, fit)

    return wired(slider, redraw, label, picture)
