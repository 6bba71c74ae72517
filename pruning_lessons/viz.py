"""Plots the lessons draw. Each takes an optional ``ax`` and returns it, so cells can compose."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import nn

from .unstructured import prunable_parameters


def _axes(ax: Axes | None, size: tuple[float, float] = (6, 3.2)) -> Axes:
    return ax if ax is not None else plt.subplots(figsize=size, layout="constrained")[1]


def png(draw, *args, size: tuple[float, float] = (6, 3.2), **kwargs) -> bytes:
    """Draw ``draw(*args, ax=..., **kwargs)`` on a fresh figure and return it as PNG bytes.

    Uses a bare ``Figure`` (not pyplot), so it works with any matplotlib backend and leaves
    no open figures behind: what slider widgets show in an ``ipywidgets.Image``.
    """
    figure = Figure(figsize=size, layout="constrained")
    draw(*args, ax=figure.subplots(), **kwargs)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


def weight_histogram(
    model: nn.Module, threshold: float | None = None, *, ax: Axes | None = None, bins: int = 120
) -> Axes:
    """Histogram of every prunable weight; the pruning cut ``|w| <= threshold`` is shaded."""
    ax = _axes(ax)
    values = torch.cat([p.detach().flatten().cpu() for p in prunable_parameters(model).values()])
    ax.hist(values.float().numpy(), bins=bins, color="#4c72b0")  # numpy has no bfloat16
    if threshold is not None:
        ax.axvspan(
            -threshold, threshold, color="#dd8452", alpha=0.3, label=f"|w| <= {threshold:.3g}"
        )
        ax.legend(loc="upper right")
    ax.set(xlabel="weight value", ylabel="count", title="Weights of all prunable layers")
    return ax


def mask_heatmap(mask: torch.Tensor, *, ax: Axes | None = None, title: str = "") -> Axes:
    """A keep-mask (or weight matrix) as an image: dark = kept, light = pruned."""
    ax = _axes(ax, (4, 3))
    image = mask.detach().float().cpu()
    if image.dim() > 2:
        image = image.flatten(1)  # conv filters: one row per filter
    ax.imshow(image.numpy() != 0, cmap="Greys", aspect="auto", interpolation="nearest")
    ax.set(xlabel="input", ylabel="output unit", title=title)
    return ax


def accuracy_curves(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    dense: float | None = None,
    ax: Axes | None = None,
    errors: Mapping[str, Sequence[float]] | None = None,
) -> Axes:
    """Accuracy (%) against sparsity (%) for several methods, with the dense model as a line."""
    ax = _axes(ax)
    for name, (sparsities, accuracies) in curves.items():
        xs = [100 * s for s in sparsities]
        ys = [100 * a for a in accuracies]
        if errors and name in errors:
            ax.errorbar(
                xs, ys, yerr=[100 * e for e in errors[name]], marker="o", capsize=3, label=name
            )
        else:
            ax.plot(xs, ys, marker="o", label=name)
    if dense is not None:
        ax.axhline(100 * dense, color="grey", linestyle="--", label="dense")
    ax.set(xlabel="sparsity (%)", ylabel="test accuracy (%)")
    ax.legend()
    return ax


def bars(values: Mapping[str, float], *, ylabel: str, ax: Axes | None = None) -> Axes:
    """Labelled bars (latency, bytes, parameters...) with the value written on each."""
    ax = _axes(ax, (5, 3))
    names, heights = list(values), list(values.values())
    drawn = ax.bar(names, heights, color="#4c72b0")
    ax.bar_label(drawn, fmt="%.3g")
    ax.set(ylabel=ylabel)
    return ax


def budget_curve(fit, *, ax: Axes | None = None) -> Axes:
    """Cost (% of dense) against the fraction of units removed, with the budget and the pick.

    ``fit`` is a :class:`~pruning_lessons.widgets.BudgetFit`.
    """
    ax = _axes(ax)
    xs = [100 * amount for amount, _ in fit.curve]
    ys = [100 * cost / fit.dense_cost for _, cost in fit.curve]
    ax.plot(xs, ys, marker="o", color="#4c72b0", label=f"cost ({fit.measure})")
    ax.axhline(100 * fit.budget, color="#dd8452", linestyle="--", label="budget")
    ax.plot(
        [100 * fit.amount],
        [100 * fit.cost / fit.dense_cost],
        marker="*",
        markersize=16,
        color="#55a868" if fit.fits else "#c44e52",
        linestyle="none",
        label="least pruning that fits" if fit.fits else "nothing fits",
    )
    ax.set(xlabel="units removed from every layer (%)", ylabel="cost (% of dense)")
    ax.legend()
    return ax
