"""Slider explorers: thin ipywidgets wrappers over pure, tested functions.

Each ``*_effect`` function computes what a slider shows; the explorer only wires a slider
(``continuous_update=False``: it recomputes when you let go) to that function and a plot.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import ipywidgets as widgets
import torch
from torch import nn
from torch.utils.data import TensorDataset

from ..core.train import evaluate
from ..weights.magnitude import magnitude_prune, prunable_parameters, sparsity
from ..weights.select import check_fraction


def _slider(
    value: float, low: float, high: float, step: float, description: str, fmt: str
) -> widgets.FloatSlider:
    """A float slider that reports only when let go (``continuous_update=False``)."""
    return widgets.FloatSlider(
        value=value,
        min=low,
        max=high,
        step=step,
        readout_format=fmt,
        description=description,
        continuous_update=False,
    )


class _Canvas:
    """One figure kept for the life of a slider, redrawn in place (see :func:`_cut_histogram`).

    Creating a figure and laying it out (constrained layout) costs more than drawing a small
    plot, so an explorer keeps its figure: the first draw lays it out, later draws clear the
    axes, draw again into the same place and save a PNG.
    """

    def __init__(self, size: tuple[float, float] = (6, 3.2)) -> None:
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=size, layout="constrained")
        self.ax = self.figure.subplots()
        self._laid_out = False

    def png(self, draw=None, *args, **kwargs) -> bytes:
        """PNG of the figure after ``draw(*args, ax=..., **kwargs)`` on the cleared axes."""
        import io

        if draw is not None:
            self.ax.clear()
            draw(*args, ax=self.ax, **kwargs)
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=90)
        if not self._laid_out:  # keep the first layout: the plots change little between moves
            self.figure.set_layout_engine("none")
            self._laid_out = True
        return buffer.getvalue()


class _CutHistogram(_Canvas):
    """The weight histogram, drawn once; each move only shifts the shaded cut ``|w| <= t``.

    The same picture as :func:`~.plots.weight_histogram`, drawn as one filled
    outline instead of 120 bars and labelled by a text instead of a legend box, which makes
    each new PNG several times cheaper.
    """

    def __init__(self, model: nn.Module, size: tuple[float, float] = (6, 3.2)) -> None:
        import numpy as np

        super().__init__(size)
        values = torch.cat(
            [p.detach().flatten().cpu() for p in prunable_parameters(model).values()]
        )
        counts, edges = np.histogram(values.float().numpy(), bins=120)
        self.ax.stairs(counts, edges, fill=True, color="#4c72b0")
        self.ax.set(xlabel="weight value", ylabel="count", title="Weights of all prunable layers")
        self.span = self.ax.axvspan(0.0, 0.0, color="#dd8452", alpha=0.3)
        self.note = self.ax.text(0.98, 0.95, "", transform=self.ax.transAxes, ha="right", va="top")

    def cut(self, threshold: float) -> bytes:
        self.span.set_x(-threshold)
        self.span.set_width(2 * threshold)
        self.note.set_text(f"shaded: |w| <= {threshold:.3g}")
        return self.png()


def _wired(slider: widgets.ValueWidget, redraw, *parts: widgets.Widget) -> widgets.VBox:
    """Redraw whenever ``slider`` moves, draw once now, and stack the slider over ``parts``."""
    slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([slider, *parts])


@dataclass(frozen=True)
class ThresholdEffect:
    threshold: float
    sparsity: float
    accuracy: float

    def __str__(self) -> str:
        return (
            f"threshold {self.threshold:.3f}: {self.sparsity:.1%} of the weights pruned, "
            f"accuracy {self.accuracy:.1%}"
        )


def threshold_effect(model: nn.Module, dataset: TensorDataset, threshold: float) -> ThresholdEffect:
    """Prune a copy of ``model`` at ``|w| <= threshold`` (no fine-tuning) and measure it."""
    pruned = copy.deepcopy(model)
    magnitude_prune(pruned, threshold=threshold)
    return ThresholdEffect(threshold, sparsity(pruned), evaluate(pruned, dataset))


def largest_magnitude(model: nn.Module) -> float:
    return max(float(p.detach().abs().max()) for p in prunable_parameters(model).values())


def threshold_explorer(
    model: nn.Module, dataset: TensorDataset, *, start: float = 0.05, steps: int = 50
) -> widgets.VBox:
    """A threshold slider: accuracy and sparsity in words, the weight histogram with the cut."""
    top = round(largest_magnitude(model) / 2, 3)
    slider = _slider(start, 0.0, top, top / steps, "threshold", ".3f")
    label = _result_label()
    picture = _picture()
    histogram = _CutHistogram(model)

    def redraw(change: dict | None = None) -> None:
        effect = threshold_effect(model, dataset, slider.value)
        label.value = f"<b>{effect}</b>"
        picture.value = histogram.cut(slider.value)

    return _wired(slider, redraw, label, picture)


@dataclass(frozen=True)
class UnitsEffect:
    fraction: float
    parameters: int
    accuracy: float  # on the dataset given, the test split in the lessons
    milliseconds: float  # per batch of 256, fastest of alternating rounds with the dense model
    speedup: float = 1.0  # dense time / this time, measured side by side
    mac_ratio: float = 1.0  # dense MACs / these MACs

    def __str__(self) -> str:
        from .narrate import speedup_verdict

        return (
            f"{self.fraction:.0%} of the units removed: {self.parameters:,} parameters, "
            f"test accuracy {self.accuracy:.1%}, {self.milliseconds:.2f} ms per batch of 256: "
            f"{speedup_verdict(self.speedup, self.mac_ratio)}"
        )


def units_effect(
    model: nn.Module, dataset: TensorDataset, fraction: float, *, importance: str = "l1"
) -> UnitsEffect:
    """Remove ``fraction`` of every hidden layer's units (no fine-tuning) and measure it."""
    from ..core.metrics import count_macs, count_parameters
    from ..structured import prune_units

    smaller = prune_units(model, fraction, importance=importance) if fraction > 0 else model
    example = dataset.tensors[0][:1]
    ms = side_by_side_ms({"dense": model, "pruned": smaller}, example, rounds=3)
    return UnitsEffect(
        fraction,
        count_parameters(smaller),
        evaluate(smaller, dataset),
        ms["pruned"],
        ms["dense"] / ms["pruned"],
        count_macs(model, example) / count_macs(smaller, example),
    )


def units_explorer(
    model: nn.Module, dataset: TensorDataset, *, start: float = 0.5, importance: str = "l1"
) -> widgets.VBox:
    """A slider over the fraction of neurons/filters removed: parameters, accuracy, latency."""
    slider = _slider(start, 0.0, 0.9, 0.1, "removed", ".0%")
    label = _result_label()

    def redraw(change: dict | None = None) -> None:
        label.value = f"<b>{units_effect(model, dataset, slider.value, importance=importance)}</b>"

    return _wired(slider, redraw, label)


# --- lesson 01: how much to prune ------------------------------------------------------------


@dataclass(frozen=True)
class AmountEffect:
    """What pruning a fraction of the smallest weights did (see :func:`amount_effect`)."""

    amount: float
    cut: float  # the largest |w| that was pruned (0.0 when nothing was)
    parameters: int
    nonzero: int
    accuracy: float
    dense_bytes: int  # torch.save of the state_dict: every zero still costs 4 bytes
    sparse_bytes: int  # save_sparse: 1 bit per weight plus the kept values

    def __str__(self) -> str:
        return (
            f"{self.amount:.0%} of the weights pruned: {self.nonzero:,} of {self.parameters:,} "
            f"parameters non-zero, accuracy {self.accuracy:.1%}, file {self.dense_bytes:,} bytes "
            f"dense or {self.sparse_bytes:,} bytes sparse"
        )


def amount_effect(model: nn.Module, dataset: TensorDataset, amount: float) -> AmountEffect:
    """Prune ``amount`` of a copy's weights by global magnitude (no fine-tuning) and measure it.

    Global magnitude pruning (Han et al. 2015) zeroes the ``round(amount * n)`` weights with the
    smallest ``|w|`` over all Linear/Conv layers. ``model`` itself is not changed.
    """
    import io

    from ..core.metrics import count_nonzero, count_parameters, file_size
    from ..weights.masks import bake_masks, save_sparse

    pruned = copy.deepcopy(model)
    masks = magnitude_prune(pruned, amount, scope="global")
    originals = prunable_parameters(model)
    pruned_magnitudes = [originals[n].detach().abs()[~keep] for n, keep in masks.items()]
    cut = max((float(m.max()) for m in pruned_magnitudes if m.numel()), default=0.0)
    accuracy = evaluate(pruned, dataset)
    buffer = io.BytesIO()
    save_sparse(pruned, buffer)
    bake_masks(pruned)  # plain tensors holding the zeros, as torch.save would store them
    return AmountEffect(
        amount=amount,
        cut=cut,
        parameters=count_parameters(pruned),
        nonzero=count_nonzero(pruned),
        accuracy=accuracy,
        dense_bytes=file_size(pruned),
        sparse_bytes=buffer.getbuffer().nbytes,
    )


def _result_label() -> widgets.HTML:
    """The slider's result line; the CSS class lets a browser test find it on the page."""
    label = widgets.HTML()
    label.add_class("pl-result")
    return label


def amount_explorer(
    model: nn.Module, dataset: TensorDataset, *, start: float = 0.9
) -> widgets.VBox:
    """A slider over the fraction of weights pruned: accuracy, non-zeros, file size, histogram."""
    from .plots import bars

    slider = _slider(start, 0.0, 0.99, 0.01, "pruned", ".0%")
    label, histogram, sizes = _result_label(), _picture("540px"), _picture("280px")
    cut_histogram, size_bars = _CutHistogram(model, (6, 3.2)), _Canvas((3, 3.2))

    def redraw(change: dict | None = None) -> None:
        effect = amount_effect(model, dataset, slider.value)
        label.value = f"<b>{effect}</b>"
        histogram.value = cut_histogram.cut(effect.cut)
        kilobytes = {"dense": effect.dense_bytes / 1e3, "sparse": effect.sparse_bytes / 1e3}
        sizes.value = size_bars.png(bars, kilobytes, ylabel="kB on disk")

    return _wired(slider, redraw, label, widgets.HBox([histogram, sizes]))


# --- lesson 02: weight vs structured pruning at the same budget ------------------------------


def side_by_side_ms(
    models: dict[str, nn.Module],
    example: torch.Tensor,
    *,
    rounds: int = 5,
    batch_size: int = 256,
    min_run_time: float = 0.02,
) -> dict[str, float]:
    """Milliseconds per batch of each model: the fastest of ``rounds`` alternating rounds.

    Round after round every model is timed once with :func:`~pruning_lessons.measure_latency`
    (one thread), so a burst of load from another program hits all of them alike. Each model
    keeps its fastest round: other programs, page faults of the memory allocator and the like
    can only add time, never remove it, so the minimum is the steadiest estimate on a busy
    machine.
    """
    from ..core.metrics import measure_latency

    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be a positive int, got {rounds!r}")
    seconds: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            latency = measure_latency(
                model, example, batch_size=batch_size, min_run_time=min_run_time
            )
            seconds[name].append(latency.median)
    return {name: 1e3 * min(values) for name, values in seconds.items()}


def unit_keep_masks(
    model: nn.Module, fraction: float, *, importance: str = "l1"
) -> dict[str, torch.Tensor]:
    """What :func:`~pruning_lessons.prune_units` removes, drawn on the original weights.

    One keep-mask per prunable weight, in the *original* shapes: a removed unit clears its row
    in the layer that produces it and its column(s) in every layer that reads it. So a
    structured mask is made of whole stripes, where a magnitude mask is scattered.
    """
    from ..structured import select_units, unit_groups

    removed = select_units(model, fraction, importance=importance)
    masks = {
        name: torch.ones_like(p, dtype=torch.bool) for name, p in prunable_parameters(model).items()
    }
    for group in unit_groups(model):
        drop = torch.tensor(removed.get(group.name, []), dtype=torch.long)
        if drop.numel() == 0:
            continue
        for member in group.producers:
            masks[f"{member.name}.weight"][drop.to(masks[f"{member.name}.weight"].device)] = False
        for member in group.consumers:
            columns = (drop[:, None] * member.per_unit + torch.arange(member.per_unit)).flatten()
            mask = masks[f"{member.name}.weight"]
            mask[:, columns.to(mask.device)] = False
    return masks


@dataclass(frozen=True)
class GranularityEffect:
    """One budget, two granularities (see :func:`granularity_effect`)."""

    fraction: float  # of every hidden layer's units removed by structured pruning
    dense_parameters: int
    parameters: int  # stored by both pruned models: the smaller one, and the non-zeros
    weight_amount: float  # fraction of the weights zeroed so that the budgets match
    dense_accuracy: float
    weight_accuracy: float
    unit_accuracy: float
    dense_ms: float
    weight_ms: float
    unit_ms: float
    batch_size: int
    weight_masks: dict = field(repr=False, compare=False)
    unit_masks: dict = field(repr=False, compare=False)

    def __str__(self) -> str:
        return (
            f"budget {self.parameters:,} of {self.dense_parameters:,} parameters: "
            f"structured removes {self.fraction:.0%} of the hidden units, weight pruning "
            f"zeroes {self.weight_amount:.1%} of the weights\n"
            f"accuracy without fine-tuning: dense {self.dense_accuracy:.1%}, "
            f"weight-pruned {self.weight_accuracy:.1%}, structured {self.unit_accuracy:.1%}\n"
            f"latency per batch of {self.batch_size}: dense {self.dense_ms:.2f} ms, "
            f"weight-pruned {self.weight_ms:.2f} ms, structured {self.unit_ms:.2f} ms"
        )


def granularity_effect(
    model: nn.Module,
    dataset: TensorDataset,
    fraction: float,
    *,
    importance: str = "l1",
    batch_size: int = 256,
) -> GranularityEffect:
    """Prune copies of ``model`` both ways to the same parameter budget and measure them.

    Structured: remove ``fraction`` of every hidden layer's units (L1 norm, Li et al. 2017),
    giving a model with ``P`` parameters. Weight pruning: zero the smallest weights globally
    (Han et al. 2015) until exactly ``P`` parameters are left non-zero. No fine-tuning.
    Latency is measured side by side (:func:`side_by_side_ms`), on the weight-pruned model with
    its masks baked in, as you would export it: a plain dense model that happens to hold zeros.
    """
    from ..core.metrics import count_parameters
    from ..structured import prune_units
    from ..weights.masks import bake_masks, get_masks

    smaller = prune_units(model, fraction, importance=importance)
    parameters = count_parameters(smaller)
    weights = prunable_parameters(model)
    total = sum(p.numel() for p in weights.values())
    kept = parameters - (count_parameters(model) - total)  # biases and norms stay dense
    weight_amount = (total - kept) / total
    zeroed = copy.deepcopy(model)
    magnitude_prune(zeroed, weight_amount, scope="global")
    weight_masks = {name: keep.clone() for name, keep in get_masks(zeroed).items()}
    weight_accuracy = evaluate(zeroed, dataset)
    bake_masks(zeroed)
    ms = side_by_side_ms(
        {"dense": model, "weight": zeroed, "unit": smaller},
        dataset.tensors[0][:1],
        batch_size=batch_size,
    )
    return GranularityEffect(
        fraction=fraction,
        dense_parameters=count_parameters(model),
        parameters=parameters,
        weight_amount=weight_amount,
        dense_accuracy=evaluate(model, dataset),
        weight_accuracy=weight_accuracy,
        unit_accuracy=evaluate(smaller, dataset),
        dense_ms=ms["dense"],
        weight_ms=ms["weight"],
        unit_ms=ms["unit"],
        batch_size=batch_size,
        weight_masks=weight_masks,
        unit_masks=unit_keep_masks(model, fraction, importance=importance),
    )


def granularity_explorer(
    model: nn.Module, dataset: TensorDataset, *, start: float = 0.5, layer: str = "fc2.weight"
) -> widgets.VBox:
    """A slider over the budget: both sparsity patterns of ``layer``, accuracy and latency."""
    from .plots import mask_heatmap

    slider = _slider(start, 0.1, 0.9, 0.1, "units off", ".0%")
    label, weights, units = _result_label(), _picture("410px"), _picture("410px")
    canvases = {"weight pruning": _Canvas((4.5, 3.2)), "structured": _Canvas((4.5, 3.2))}

    effects: dict[float, GranularityEffect] = {}  # a slider has 9 positions: measure each once

    def redraw(change: dict | None = None) -> None:
        if slider.value not in effects:
            effects[slider.value] = granularity_effect(model, dataset, slider.value)
        effect = effects[slider.value]
        label.value = "<b>" + str(effect).replace("\n", "<br>") + "</b>"
        for picture, masks, kind in (
            (weights, effect.weight_masks, "weight pruning"),
            (units, effect.unit_masks, "structured"),
        ):
            picture.value = canvases[kind].png(mask_heatmap, masks[layer], title=f"{layer}: {kind}")

    return _wired(slider, redraw, label, widgets.HBox([weights, units]))


# --- lesson 03: prune to fit a budget ----------------------------------------------------------

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
    from ..core.metrics import count_macs, count_parameters
    from ..structured import prune_units, unit_groups

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
        from ..core.metrics import count_parameters

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
    from .plots import budget_curve

    slider = _slider(start, 0.05, 1.0, 0.05, "budget", ".0%")
    label, picture, canvas = _result_label(), _picture(), _Canvas()

    curve = _budget_curve(model, dataset, measure, FIT_AMOUNTS, "l1")  # the same for every budget

    def redraw(change: dict | None = None) -> None:
        fit = curve.fit(dataset, slider.value)
        label.value = f"<b>{fit}</b>"
        picture.value = canvas.png(budget_curve, fit)

    return _wired(slider, redraw, label, picture)


# --- lessons 04-06: criteria, schedules, layer ratios, robustness ----------------------------

# Imports for this section only (functions import the rest where they need it), so that the
# section does not depend on what the top of the module imports.
from collections.abc import Mapping, Sequence  # noqa: E402

from matplotlib.axes import Axes  # noqa: E402

from ..core.data import Splits  # noqa: E402
from ..weights.analysis import Sensitivity, amounts_for_budget, perturb, perturbed_accuracy  # noqa: E402
from ..weights.schedules import cubic_sparsity, sparsity_schedule  # noqa: E402

#: The weight criteria the lesson-04 slider compares (all score a trained model; SNIP and
#: movement need a different recipe, see the lesson).
LESSON_CRITERIA = ("magnitude", "lamp", "taylor", "random")


def _picture(width: str = "560px") -> widgets.Image:
    return widgets.Image(format="png", layout=widgets.Layout(width=width))


@dataclass(frozen=True)
class CriteriaEffect:
    """Test accuracy right after pruning the same share of weights by several criteria."""

    amount: float
    dense: float
    accuracy: dict[str, float]

    def __str__(self) -> str:
        ranked = sorted(self.accuracy.items(), key=lambda item: -item[1])
        parts = ", ".join(f"{name} {accuracy:.1%}" for name, accuracy in ranked)
        return (
            f"{self.amount:.0%} of the weights pruned, no fine-tuning: {parts} "
            f"(dense {self.dense:.1%})"
        )


def criteria_effect(
    model: nn.Module,
    data: Splits,
    amount: float,
    *,
    criteria: Sequence[str] = LESSON_CRITERIA,
    scope: str = "global",
    seed: int = 1,
    scores: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
) -> CriteriaEffect:
    """Prune a copy of ``model`` to ``amount`` with each criterion (no fine-tuning) and test it.

    Each criterion is a name in :data:`~pruning_lessons.weights.criteria.WEIGHT_CRITERIA`; the ones
    that need gradients (``"taylor"``, ``"snip"``) read batches of ``data.train``. Accuracy is
    measured on ``data.test``. ``model`` itself is not changed.

    ``seed`` seeds the ``"random"`` criterion (its stream is independent of the model's
    initialisation, see :func:`~pruning_lessons.core.device.independent_generator`).
    ``scores`` (optional): each criterion's precomputed scores (:func:`criteria_scores`), so a
    slider does not score the same model again at every move.
    """
    from ..weights.criteria import prune_weights

    accuracy = {}
    for criterion in criteria:
        pruned = copy.deepcopy(model)
        how = scores[criterion] if scores is not None else criterion
        prune_weights(pruned, amount, criterion=how, scope=scope, data=data, seed=seed)
        accuracy[criterion] = evaluate(pruned, data.test)
    return CriteriaEffect(amount, evaluate(model, data.test), accuracy)


def criteria_scores(
    model: nn.Module, data: Splits, *, criteria: Sequence[str] = LESSON_CRITERIA, seed: int = 1
) -> dict[str, dict[str, torch.Tensor]]:
    """Each criterion's scores of ``model``'s weights, as :func:`criteria_effect` computes them."""
    from ..weights.criteria import weight_scores

    return {c: dict(weight_scores(model, c, data=data, seed=seed)) for c in criteria}


def draw_criteria(effect: CriteriaEffect, *, ax: Axes | None = None) -> Axes:
    """Bars of each criterion's accuracy, with the dense model as a dashed line."""
    from .plots import bars

    ax = bars({k: 100 * v for k, v in effect.accuracy.items()}, ylabel="test accuracy (%)", ax=ax)
    ax.axhline(100 * effect.dense, color="grey", linestyle="--")
    ax.set(
        ylim=(0, 105),
        title=f"{effect.amount:.0%} of the weights pruned, no fine-tuning (dashed: dense)",
    )
    return ax


def criteria_explorer(
    model: nn.Module,
    data: Splits,
    *,
    start: float = 0.9,
    criteria: Sequence[str] = LESSON_CRITERIA,
) -> widgets.VBox:
    """A slider over the share of weights pruned: every criterion's accuracy at that amount."""
    slider = _slider(start, 0.0, 0.99, 0.01, "pruned", ".0%")
    label, picture, canvas = _result_label(), _picture(), _Canvas()
    scores = criteria_scores(model, data, criteria=criteria)  # they do not depend on the amount

    def redraw(change: dict | None = None) -> None:
        effect = criteria_effect(model, data, slider.value, criteria=criteria, scores=scores)
        label.value = f"<b>{effect}</b>"
        picture.value = canvas.png(draw_criteria, effect)

    return _wired(slider, redraw, label, picture)


@dataclass(frozen=True)
class ScheduleEffect:
    """The sparsity after each pruning step of the one-shot, iterative and cubic schedules."""

    final: float
    steps: int
    levels: dict[str, list[float]]

    def __str__(self) -> str:
        parts = [
            f"{kind}: " + " -> ".join(f"{level:.1%}" for level in levels)
            for kind, levels in self.levels.items()
        ]
        return f"to {self.final:.0%} in {self.steps} step(s) | " + " | ".join(parts)

    def first_step(self, kind: str) -> float:
        """The share of all weights removed by the first pruning step of ``kind``."""
        return self.levels[kind][0]

    def last_step(self, kind: str) -> float:
        """The share of all weights removed by the last pruning step of ``kind``."""
        levels = [0.0, *self.levels[kind]]
        return levels[-1] - levels[-2]


def schedule_effect(final: float, steps: int) -> ScheduleEffect:
    """The levels :func:`~.schedules.sparsity_schedule` gives each schedule."""
    kinds = ("one-shot", "iterative", "cubic")
    return ScheduleEffect(final, steps, {k: sparsity_schedule(k, final, steps) for k in kinds})


def draw_schedules(effect: ScheduleEffect, *, ax: Axes | None = None) -> Axes:
    """Sparsity against pruning step for each schedule, with Zhu & Gupta's cubic curve."""
    from .plots import _axes

    ax = _axes(ax)
    for kind, levels in effect.levels.items():
        padded = levels + levels[-1:] * (effect.steps - len(levels))  # one-shot stays there
        xs = list(range(len(padded) + 1))
        ax.step(xs, [0.0, *(100 * level for level in padded)], where="post", marker="o", label=kind)
    fine = [i / 20 for i in range(20 * effect.steps + 1)]
    curve = [100 * cubic_sparsity(t, effect.final, steps=effect.steps) for t in fine]
    ax.plot(fine, curve, color="grey", linestyle=":", label="cubic curve s(t)")
    ax.set(
        xlabel="pruning step",
        ylabel="sparsity (%)",
        ylim=(0, 100),
        title=f"Reaching {effect.final:.0%} in {effect.steps} step(s)",
    )
    ax.legend(loc="lower right")
    return ax


def schedule_explorer(*, final: float = 0.9, steps: int = 5) -> widgets.VBox:
    """Sliders over the final sparsity and the number of steps: the schedules, redrawn."""
    final_slider = _slider(final, 0.5, 0.98, 0.01, "final", ".0%")
    steps_slider = widgets.IntSlider(
        value=steps, min=1, max=10, description="steps", continuous_update=False
    )
    label, picture, canvas = _result_label(), _picture(), _Canvas()

    def redraw(change: dict | None = None) -> None:
        effect = schedule_effect(final_slider.value, steps_slider.value)
        label.value = f"<b>{effect}</b>"
        picture.value = canvas.png(draw_schedules, effect)

    final_slider.observe(redraw, names="value")
    steps_slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([final_slider, steps_slider, label, picture])


@dataclass(frozen=True)
class LayerRatioEffect:
    """Per-layer amounts chosen from a sensitivity scan, and what they do all together."""

    max_drop: float
    amounts: dict[str, float]
    sparsity: float
    accuracy: float
    baseline: float
    split: str = "validation"  # the dataset the scan and this measurement used

    def __str__(self) -> str:
        chosen = ", ".join(f"{name} {amount:.0%}" for name, amount in self.amounts.items())
        return (
            f"allowing {self.max_drop:.1%} per layer: {chosen}; all pruned together: "
            f"{self.sparsity:.1%} of the weights, {self.split} accuracy {self.accuracy:.1%} "
            f"(unpruned {self.baseline:.1%} {self.split})"
        )


def layer_ratio_effect(
    model: nn.Module, dataset: TensorDataset, scan: Sensitivity, max_drop: float
) -> LayerRatioEffect:
    """Per-layer amounts from ``scan`` for ``max_drop``, applied together to a copy of ``model``.

    :func:`~pruning_lessons.weights.analysis.amounts_for_budget` picks, for each layer, the largest
    scanned amount whose accuracy stayed within ``max_drop`` of the baseline when that layer
    alone was pruned. Here every layer is then pruned by magnitude to its amount at once (what
    the default scan did to one layer at a time) and measured on ``dataset``: the drops of
    the single layers do not simply add up. ``model`` is not changed.
    """
    amounts = amounts_for_budget(scan, max_drop)
    pruned = copy.deepcopy(model)
    for name, amount in amounts.items():
        magnitude_prune(pruned, amount, parameters=[name])
    return LayerRatioEffect(
        max_drop,
        amounts,
        sparsity(pruned, list(amounts)),
        evaluate(pruned, dataset),
        scan.baseline,
    )


def draw_sensitivity(
    scan: Sensitivity,
    amounts: Mapping[str, float] | None = None,
    *,
    ax: Axes | None = None,
    split: str = "validation",
) -> Axes:
    """Accuracy against the amount each layer alone is pruned; chosen ``amounts`` as stars.

    ``split`` names the data the scan ran on (the lessons scan the validation split).
    """
    from .plots import _axes

    ax = _axes(ax)
    xs = [100 * a for a in scan.amounts]
    for name, accuracies in scan.accuracy.items():
        (line,) = ax.plot(xs, [100 * a for a in accuracies], marker="o", label=name)
        if amounts is not None and name in amounts:
            i = scan.amounts.index(amounts[name])
            ax.plot(
                xs[i],
                100 * accuracies[i],
                marker="*",
                markersize=18,
                markeredgecolor="black",
                color=line.get_color(),
            )
    ax.axhline(100 * scan.baseline, color="grey", linestyle="--", label="unpruned")
    ax.set(
        xlabel="share of this layer's weights pruned (%)",
        ylabel=f"{split} accuracy (%)",
        title="Pruning one layer at a time",
    )
    ax.legend(loc="lower left")
    return ax


def layer_ratio_explorer(
    model: nn.Module, dataset: TensorDataset, scan: Sensitivity, *, start: float = 0.01
) -> widgets.VBox:
    """A slider over the accuracy drop allowed per layer: the ratios it picks, and the result."""
    slider = _slider(start, 0.0, 0.2, 0.005, "max drop", ".1%")
    label, picture, canvas = _result_label(), _picture(), _Canvas()

    def redraw(change: dict | None = None) -> None:
        effect = layer_ratio_effect(model, dataset, scan, slider.value)
        label.value = f"<b>{effect}</b>"
        picture.value = canvas.png(draw_sensitivity, scan, effect.amounts)

    return _wired(slider, redraw, label, picture)


@dataclass(frozen=True)
class NoiseEffect:
    """Accuracy of several models on the same perturbed copy of a dataset."""

    kind: str
    strength: float
    accuracy: dict[str, float]

    @property
    def title(self) -> str:
        if self.kind == "noise":
            return f"Gaussian noise, std {self.strength:.2f}"
        return f"shifted by up to {self.strength:g} pixel(s)"

    def __str__(self) -> str:
        parts = ", ".join(f"{name} {accuracy:.1%}" for name, accuracy in self.accuracy.items())
        return f"{self.title}: {parts}"


def noise_effect(
    models: Mapping[str, nn.Module],
    dataset: TensorDataset,
    strength: float,
    *,
    kind: str = "noise",
    seed: int = 0,
) -> NoiseEffect:
    """Accuracy of each model on ``dataset`` perturbed by ``kind`` at ``strength``.

    All models see the very same perturbed images (:func:`~pruning_lessons.weights.analysis.perturb`
    with ``seed``): Gaussian noise of standard deviation ``strength`` for ``"noise"``, a random
    shift of ``strength`` whole pixels for ``"shift"``.
    """
    return NoiseEffect(
        kind,
        strength,
        {
            name: perturbed_accuracy(model, dataset, kind, strength, seed)
            for name, model in models.items()
        },
    )


def draw_noisy_digits(
    dataset: TensorDataset,
    strength: float,
    *,
    kind: str = "noise",
    count: int = 6,
    seed: int = 0,
    ax: Axes | None = None,
) -> Axes:
    """The first ``count`` images of ``dataset`` as the models see them after :func:`perturb`."""
    import torch

    from .plots import _axes

    ax = _axes(ax, (6, 1.6))
    images = perturb(dataset.tensors[0][:count], kind, strength, seed).cpu()
    blank = torch.ones(images.shape[-2], 1)
    row = torch.cat([torch.cat([image[0], blank], dim=1) for image in images], dim=1)
    ax.imshow(row.numpy(), cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    return ax


def draw_noise(effect: NoiseEffect, *, ax: Axes | None = None) -> Axes:
    """Bars of each model's accuracy on the perturbed images."""
    from .plots import bars

    ax = bars({k: 100 * v for k, v in effect.accuracy.items()}, ylabel="test accuracy (%)", ax=ax)
    ax.set(ylim=(0, 105), title=effect.title)
    return ax


def noise_explorer(
    models: Mapping[str, nn.Module],
    dataset: TensorDataset,
    *,
    start: float = 0.3,
    kind: str = "noise",
) -> widgets.VBox:
    """A slider over the noise (or shift) strength: the digits as seen, each model's accuracy."""
    if kind == "noise":
        slider = widgets.FloatSlider(
            value=start, min=0.0, max=0.8, step=0.05, readout_format=".2f", description="noise"
        )
    else:
        slider = widgets.IntSlider(value=int(start), min=0, max=3, description="shift (px)")
    slider.continuous_update = False
    label = _result_label()
    digits_picture, bars_picture = _picture("480px"), _picture("420px")
    digits_canvas, bars_canvas = _Canvas((6, 1.6)), _Canvas((5, 3))

    def redraw(change: dict | None = None) -> None:
        effect = noise_effect(models, dataset, slider.value, kind=kind)
        label.value = f"<b>{effect}</b>"
        digits_picture.value = digits_canvas.png(
            draw_noisy_digits, dataset, slider.value, kind=kind
        )
        bars_picture.value = bars_canvas.png(draw_noise, effect)

    return _wired(slider, redraw, label, digits_picture, bars_picture)
