"""Lesson 08's slider: share of neurons or filters removed in; parameters, accuracy, latency out."""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
from torch import nn
from torch.utils.data import TensorDataset

from ...core.train import evaluate
from .timing import side_by_side_ms
from .ui import float_slider, result_label, wired


@dataclass(frozen=True)
class UnitsEffect:
    fraction: float
    parameters: int
    accuracy: float  # on the dataset given, the test split in the lessons
    milliseconds: float  # per batch of 256, fastest of alternating rounds with the dense model
    speedup: float = 1.0  # dense time / this time, measured side by side
    mac_ratio: float = 1.0  # dense MACs / these MACs

    def __str__(self) -> str:
        from ..narrate import speedup_verdict

        return (
            f"{self.fraction:.0%} of the units removed: {self.parameters:,} parameters, "
            f"test accuracy {self.accuracy:.1%}, {self.milliseconds:.2f} ms per batch of 256: "
            f"{speedup_verdict(self.speedup, self.mac_ratio)}"
        )


def units_effect(
    model: nn.Module, dataset: TensorDataset, fraction: float, *, importance: str = "l1"
) -> UnitsEffect:
    """Remove ``fraction`` of every hidden layer's units (no fine-tuning) and measure it."""
    from ...core.metrics import count_macs, count_parameters
    from ...structured import prune_units

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
    slider = float_slider(start, 0.0, 0.9, 0.1, "removed", ".0%")
    label = result_label()

    def redraw(change: dict | None = None) -> None:
        label.value = f"<b>{units_effect(model, dataset, slider.value, importance=importance)}</b>"

    return wired(slider, redraw, label)
