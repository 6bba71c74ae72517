"""Lesson 06's slider: pruned and dense models on noisy or shifted digits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import ipywidgets as widgets
import torch
from matplotlib.axes import Axes
from torch import nn
from torch.utils.data import TensorDataset

from ...weights.analysis import perturb, perturbed_accuracy
from .ui import Canvas, png_image, result_label, wired


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

    from ..plots import _axes

    ax = _axes(ax, (6, 1.6))
    images = perturb(dataset.tensors[0][:count], kind, strength, seed).cpu()
    blank = torch.ones(images.shape[-2], 1)
    row = torch.cat([torch.cat([image[0], blank], dim=1) for image in images], dim=1)
    ax.imshow(row.numpy(), cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    return ax


def draw_noise(effect: NoiseEffect, *, ax: Axes | None = None) -> Axes:
    """Bars of each model's accuracy on the perturbed images."""
    from ..plots import bars

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
    label = result_label()
    digits_picture, bars_picture = png_image("480px"), png_image("420px")
    digits_canvas, bars_canvas = Canvas((6, 1.6)), Canvas((5, 3))

    def redraw(change: dict | None = None) -> None:
        effect = noise_effect(models, dataset, slider.value, kind=kind)
        label.value = f"<b>{effect}</b>"
        digits_picture.value = digits_canvas.png(
            draw_noisy_digits, dataset, slider.value, kind=kind
        )
        bars_picture.value = bars_canvas.png(draw_noise, effect)

    return wired(slider, redraw, label, digits_picture, bars_picture)
