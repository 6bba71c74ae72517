"""Lesson 06's slider: per-layer amounts chosen from a sensitivity scan, applied together."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass

import ipywidgets as widgets
from matplotlib.axes import Axes
from torch import nn
from torch.utils.data import TensorDataset

from ...core.train import evaluate
from ...weights.analysis import Sensitivity, amounts_for_budget
from ...weights.magnitude import magnitude_prune, sparsity
from .ui import Canvas, float_slider, png_image, result_label, wired


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
    from ..plots import _axes

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
    slider = float_slider(start, 0.0, 0.2, 0.005, "max drop", ".1%")
    label, picture, canvas = result_label(), png_image(), Canvas()

    def redraw(change: dict | None = None) -> None:
        effect = layer_ratio_effect(model, dataset, scan, slider.value)
        label.value = f"<b>{effect}</b>"
        picture.value = canvas.png(draw_sensitivity, scan, effect.amounts)

    return wired(slider, redraw, label, picture)
