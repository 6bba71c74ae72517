"""Plots the lessons draw. Each takes an optional ``ax`` and returns it, so cells can compose."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import nn

from ..weights.magnitude import prunable_parameters


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
    """Labelled bars (latency, bytes, parameters...) with the value written on each.

    The y-axis leaves room above the tallest bar, so every label stays inside the frame.
    """
    ax = _axes(ax, (5, 3))
    names, heights = list(values), list(values.values())
    drawn = ax.bar(names, heights, color="#4c72b0")
    ax.bar_label(drawn, fmt="%.3g", padding=2)
    top = max(heights, default=0.0)
    if top > 0:
        ax.set_ylim(0, top * 1.18)
    ax.set(ylabel=ylabel)
    return ax


#: Paul Tol's "muted" scheme, designed to stay distinct for colour-blind readers, then two
#: greys kept for random baselines (a baseline should look like one).
PALETTE = (
    "#332288",
    "#88CCEE",
    "#44AA99",
    "#117733",
    "#999933",
    "#DDCC77",
    "#CC6677",
    "#882255",
    "#AA4499",
)
BASELINE_GREYS = ("#777777", "#222222")

#: Line style per family of methods (colour tells the method, style its family).
FAMILY_STYLES = {
    "magnitude": "-",
    "structural": "--",
    "redundancy": "-.",
    "gradient": ":",
    "random": (0, (1, 1)),
}


def method_colours(names: Sequence[str]) -> dict[str, str]:
    """One distinct colour per method name, in order; names containing "random" get greys.

    Raises ``ValueError`` when there are more methods than colours, rather than repeat one.
    """
    colours, palette, greys = {}, iter(PALETTE), iter(BASELINE_GREYS)
    for name in dict.fromkeys(names):
        source = greys if "random" in name else palette
        colour = next(source, None)
        if colour is None:
            kind = "random baselines" if source is greys else "methods"
            raise ValueError(f"too many {kind} for distinct colours: {list(names)}")
        colours[name] = colour
    return colours


def method_curves(
    curves: Mapping[str, Mapping],
    *,
    ax: Axes,
    colours: Mapping[str, str],
    dense: float | None = None,
    ylim: tuple[float, float] | None = (0, 102),
) -> Axes:
    """Draw ``{label: {"family", "x", "y", optional "err"}}`` (fractions) as percentages.

    Each method gets its colour, its family's line style and, if given, error bars; the dense
    model is a thin black line. ``ylim=None`` lets matplotlib zoom on the data.
    """
    for label, curve in curves.items():
        xs = [100 * x for x in curve["x"]]
        ys = [100 * y for y in curve["y"]]
        style = {
            "color": colours[label],
            "linestyle": FAMILY_STYLES[curve["family"]],
            "marker": "o",
            "markersize": 4,
            "label": label,
        }
        if curve.get("err") is not None:
            ax.errorbar(xs, ys, yerr=[100 * e for e in curve["err"]], capsize=3, **style)
        else:
            ax.plot(xs, ys, **style)
    if dense is not None:
        ax.axhline(100 * dense, color="black", linewidth=0.8, label="dense")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(alpha=0.3)
    return ax


def legend_below(figure: Figure, axes: Sequence[Axes], *, columns: int = 4) -> None:
    """One legend for all panels, under them, in a readable size (no duplicate labels)."""
    handles: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    figure.legend(
        list(handles.values()),
        list(handles),
        loc="outside lower center",
        ncol=columns,
        fontsize=9,
        frameon=False,
    )


def comparison_panels(
    runs: Mapping[str, Sequence[tuple[float, float | None, float]]],
    families: Mapping[str, str],
    *,
    dense: float,
    split: str = "test",
    fine_tuning: str = "after fine-tuning",
) -> Figure:
    """Two panels, right after pruning and after fine-tuning, from
    ``{method: [(share of weights removed, accuracy before or None, accuracy after), ...]}``.

    ``families`` maps each method to its family (magnitude, structural, redundancy,
    gradient, random), which sets the line style.
    """
    figure, panels = plt.subplots(1, 2, figsize=(12, 5.2), sharey=True, layout="constrained")
    colours = method_colours(list(runs))
    for column, (ax, title) in enumerate(
        zip(panels, ("right after pruning", fine_tuning), strict=True), start=1
    ):
        curves = {}
        for name, points in runs.items():
            shown = [(p[0], p[column]) for p in points if p[column] is not None]
            if shown:
                xs, ys = zip(*shown, strict=True)
                curves[name] = {"family": families[name], "x": xs, "y": ys}
        method_curves(curves, ax=ax, colours=colours, dense=dense)
        ax.set(title=title, xlabel="share of the weights removed (%)")
    panels[0].set_ylabel(f"{split} accuracy (%)")
    legend_below(figure, panels)
    return figure


def study_panels(
    panels: Mapping[str, Mapping[str, Mapping]],
    *,
    dense: Mapping[str, float],
    xlabels: Mapping[str, str],
    split: str = "test",
    stage: str = "after fine-tuning",
) -> Figure:
    """One panel per model from ``{title: {label: curve}}`` (curves as in :func:`method_curves`,
    with error bars: the spread over seeds)."""
    figure, axes = plt.subplots(
        1, len(panels), figsize=(6.2 * len(panels), 5.4), layout="constrained", squeeze=False
    )
    for ax, (title, curves) in zip(axes[0], panels.items(), strict=True):
        colours = method_colours(list(curves))
        method_curves(curves, ax=ax, colours=colours, dense=dense[title], ylim=None)
        ax.set(title=title, xlabel=xlabels[title], ylabel=f"{split} accuracy {stage} (%)")
        ax.legend(fontsize=8.5, loc="lower left", framealpha=0.9)
    return figure


def budget_curve(fit, *, ax: Axes | None = None) -> Axes:
    """Cost (% of dense) against the fraction of units removed, with the budget and the pick.

    ``fit`` is a :class:`~pruning_lessons.teaching.explorers.budget.BudgetFit`.
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
