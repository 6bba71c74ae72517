"""Slider explorers: thin ipywidgets wrappers over pure, tested functions.

Each ``*_effect`` function computes what a slider shows; the explorer only wires a slider
(``continuous_update=False``: it recomputes when you let go) to that function and a plot.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import ipywidgets as widgets
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
