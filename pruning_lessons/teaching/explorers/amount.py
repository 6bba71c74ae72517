"""Lesson 01's slider: how much to prune by global magnitude: accuracy and file size."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import ipywidgets as widgets
from torch import nn
from torch.utils.data import TensorDataset

from ...core.train import evaluate
from ...weights.magnitude import magnitude_prune, prunable_parameters
from .ui import Canvas, CutHistogram, float_slider, png_image, result_label, wired


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

    from ...core.metrics import count_nonzero, count_parameters, file_size
    from ...weights.masks import bake_masks, save_sparse

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


def amount_explorer(
    model: nn.Module, dataset: TensorDataset, *, start: float = 0.9
) -> widgets.VBox:
    """A slider over the fraction of weights pruned: accuracy, non-zeros, file size, histogram."""
    from ..plots import bars

    slider = float_slider(start, 0.0, 0.99, 0.01, "pruned", ".0%")
    label, histogram, sizes = result_label(), png_image("540px"), png_image("280px")
    cut_histogram, size_bars = CutHistogram(model, (6, 3.2)), Canvas((3, 3.2))

    def redraw(change: dict | None = None) -> None:
        effect = amount_effect(model, dataset, slider.value)
        label.value = f"<b>{effect}</b>"
        histogram.value = cut_histogram.cut(effect.cut)
        kilobytes = {"dense": effect.dense_bytes / 1e3, "sparse": effect.sparse_bytes / 1e3}
        sizes.value = size_bars.png(bars, kilobytes, ylabel="kB on disk")

    return wired(slider, redraw, label, widgets.HBox([histogram, sizes]))
