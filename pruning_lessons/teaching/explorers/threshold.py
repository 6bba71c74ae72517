"""Lesson 07's slider: a magnitude threshold in, sparsity, accuracy and the cut histogram out."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import ipywidgets as widgets
from torch import nn
from torch.utils.data import TensorDataset

from ...core.train import evaluate
from ...weights.magnitude import magnitude_prune, prunable_parameters, sparsity
from .ui import CutHistogram, float_slider, png_image, result_label, wired


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
    slider = float_slider(start, 0.0, top, top / steps, "threshold", ".3f")
    label = result_label()
    picture = png_image()
    histogram = CutHistogram(model)

    def redraw(change: dict | None = None) -> None:
        effect = threshold_effect(model, dataset, slider.value)
        label.value = f"<b>{effect}</b>"
        picture.value = histogram.cut(slider.value)

    return wired(slider, redraw, label, picture)
