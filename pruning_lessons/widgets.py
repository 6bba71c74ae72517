"""Slider explorers: thin ipywidgets wrappers over pure, tested functions.

Each ``*_effect`` function computes what a slider shows; the explorer only wires a slider
(``continuous_update=False``: it recomputes when you let go) to that function and a plot.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.utils.data import TensorDataset

from .train import evaluate
from .unstructured import magnitude_prune, prunable_parameters, sparsity
from .viz import png, weight_histogram


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
    slider = widgets.FloatSlider(
        value=start,
        min=0.0,
        max=top,
        step=top / steps,
        readout_format=".3f",
        description="threshold",
        continuous_update=False,
    )
    label = widgets.HTML()
    picture = widgets.Image(format="png", layout=widgets.Layout(width="560px"))

    def redraw(change: dict | None = None) -> None:
        effect = threshold_effect(model, dataset, slider.value)
        label.value = f"<b>{effect}</b>"
        picture.value = png(weight_histogram, model, slider.value)

    slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([slider, label, picture])


@dataclass(frozen=True)
class UnitsEffect:
    fraction: float
    parameters: int
    accuracy: float
    milliseconds: float

    def __str__(self) -> str:
        return (
            f"{self.fraction:.0%} of the units removed: {self.parameters:,} parameters, "
            f"accuracy {self.accuracy:.1%}, {self.milliseconds:.2f} ms per batch of 256"
        )


def units_effect(
    model: nn.Module, dataset: TensorDataset, fraction: float, *, importance: str = "l1"
) -> UnitsEffect:
    """Remove ``fraction`` of every hidden layer's units (no fine-tuning) and measure it."""
    from .metrics import count_parameters, measure_latency
    from .structured import prune_units

    smaller = prune_units(model, fraction, importance=importance) if fraction > 0 else model
    example = dataset.tensors[0][:1]
    latency = measure_latency(smaller, example, batch_size=256, min_run_time=0.1)
    return UnitsEffect(
        fraction, count_parameters(smaller), evaluate(smaller, dataset), 1e3 * latency.median
    )


def units_explorer(
    model: nn.Module, dataset: TensorDataset, *, start: float = 0.5, importance: str = "l1"
) -> widgets.VBox:
    """A slider over the fraction of neurons/filters removed: parameters, accuracy, latency."""
    slider = widgets.FloatSlider(
        value=start,
        min=0.0,
        max=0.9,
        step=0.1,
        readout_format=".0%",
        description="removed",
        continuous_update=False,
    )
    label = widgets.HTML()

    def redraw(change: dict | None = None) -> None:
        label.value = f"<b>{units_effect(model, dataset, slider.value, importance=importance)}</b>"

    slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([slider, label])


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

    from .masks import bake_masks, save_sparse
    from .metrics import count_nonzero, count_parameters, file_size

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
    from .viz import bars

    slider = widgets.FloatSlider(
        value=start,
        min=0.0,
        max=0.99,
        step=0.01,
        readout_format=".0%",
        description="pruned",
        continuous_update=False,
    )
    label = _result_label()
    output = widgets.Output()

    def redraw(change: dict | None = None) -> None:
        effect = amount_effect(model, dataset, slider.value)
        label.value = f"<b>{effect}</b>"
        with output:
            output.clear_output(wait=True)
            figure, (left, right) = plt.subplots(
                1, 2, figsize=(9, 3.2), width_ratios=(2, 1), layout="constrained"
            )
            weight_histogram(model, effect.cut, ax=left)
            bars(
                {"dense": effect.dense_bytes / 1e3, "sparse": effect.sparse_bytes / 1e3},
                ylabel="kB on disk",
                ax=right,
            )
            plt.show()

    slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([slider, label, output])


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
    from .metrics import measure_latency

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
    from .dependency import unit_groups
    from .structured import select_units

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
    from .masks import bake_masks, get_masks
    from .metrics import count_parameters
    from .structured import prune_units

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
    from .viz import mask_heatmap

    slider = widgets.FloatSlider(
        value=start,
        min=0.1,
        max=0.9,
        step=0.1,
        readout_format=".0%",
        description="units off",
        continuous_update=False,
    )
    label = _result_label()
    output = widgets.Output()

    def redraw(change: dict | None = None) -> None:
        effect = granularity_effect(model, dataset, slider.value)
        label.value = "<b>" + str(effect).replace("\n", "<br>") + "</b>"
        with output:
            output.clear_output(wait=True)
            figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
            mask_heatmap(effect.weight_masks[layer], ax=left, title=f"{layer}: weight pruning")
            mask_heatmap(effect.unit_masks[layer], ax=right, title=f"{layer}: structured")
            plt.show()

    slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([slider, label, output])


# --- lesson 03: prune to fit a budget ----------------------------------------------------------

BUDGET_MEASURES = ("macs", "parameters", "latency")
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
    amounts: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
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
    from .dependency import unit_groups
    from .metrics import count_macs, count_parameters
    from .structured import prune_units

    if measure not in BUDGET_MEASURES:
        raise ValueError(f"measure must be one of {BUDGET_MEASURES}, got {measure!r}")
    if isinstance(budget, bool) or not isinstance(budget, int | float) or not budget > 0:
        raise ValueError(f"budget must be a positive fraction of the dense cost, got {budget!r}")
    if not amounts:
        raise ValueError("amounts is empty: give the fractions of units to try")
    example = dataset.tensors[0][:1]

    def cost(m: nn.Module) -> float:
        if measure == "macs":
            return float(count_macs(m, example))
        if measure == "parameters":
            return float(count_parameters(m))
        return side_by_side_ms({"model": m}, example)["model"]

    sizes = [g.size for g in unit_groups(model) if g.pinned is None]
    dense_cost = cost(model)
    curve, chosen = [], None
    for amount in sorted(amounts):
        if any(round(amount * size) >= size for size in sizes):
            continue  # this amount would remove every unit of some layer
        candidate = prune_units(model, amount, importance=importance) if amount > 0 else model
        spent = dense_cost if candidate is model else cost(candidate)
        curve.append((amount, spent))
        if chosen is None and spent <= budget * dense_cost:
            chosen = (amount, candidate, spent)
    if not curve:
        raise ValueError(f"every amount in {amounts} would remove all units of some layer")
    fits = chosen is not None
    if not fits:
        chosen = (curve[-1][0], candidate, curve[-1][1])
    amount, smaller, spent = chosen
    return BudgetFit(
        measure=measure,
        budget=float(budget),
        dense_cost=dense_cost,
        amount=amount,
        cost=spent,
        fits=fits,
        parameters=count_parameters(smaller),
        accuracy=evaluate(smaller, dataset),
        curve=tuple(curve),
        model=smaller,
    )


def budget_explorer(
    model: nn.Module, dataset: TensorDataset, *, measure: str = "macs", start: float = 0.5
) -> widgets.VBox:
    """A slider over the budget (a fraction of the dense cost): what fits, and what it costs."""
    from .viz import budget_curve

    slider = widgets.FloatSlider(
        value=start,
        min=0.05,
        max=1.0,
        step=0.05,
        readout_format=".0%",
        description="budget",
        continuous_update=False,
    )
    label = _result_label()
    output = widgets.Output()

    def redraw(change: dict | None = None) -> None:
        fit = fit_to_budget(model, dataset, slider.value, measure=measure)
        label.value = f"<b>{fit}</b>"
        with output:
            output.clear_output(wait=True)
            budget_curve(fit)
            plt.show()

    slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([slider, label, output])
