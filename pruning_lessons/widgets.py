"""Slider explorers: thin ipywidgets wrappers over pure, tested functions.

Each ``*_effect`` function computes what a slider shows; the explorer only wires a slider
(``continuous_update=False``: it recomputes when you let go) to that function and a plot.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import ipywidgets as widgets
import matplotlib.pyplot as plt
from torch import nn
from torch.utils.data import TensorDataset

from .train import evaluate
from .unstructured import magnitude_prune, prunable_parameters, sparsity
from .viz import weight_histogram


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
    output = widgets.Output()

    def redraw(change: dict | None = None) -> None:
        effect = threshold_effect(model, dataset, slider.value)
        label.value = f"<b>{effect}</b>"
        with output:
            output.clear_output(wait=True)
            weight_histogram(model, slider.value)
            plt.show()

    slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([slider, label, output])
