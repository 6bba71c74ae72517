"""What every slider explorer shares: the slider, the result line, the picture and its figure.

Each lesson's ``*_effect`` function computes what its slider shows; the explorer only wires a
slider (``continuous_update=False``: it recomputes when you let go) to that function and a plot.
"""

from __future__ import annotations

import ipywidgets as widgets
import torch
from torch import nn

from ...weights.magnitude import prunable_parameters


def float_slider(
    value: float, low: float, high: float, step: float, description: str, fmt: str
) -> widgets.FloatSlider:
    """A float slider that reports only when let go (``continuous_update=False``)."""
    return widgets.FloatSlider(
        value=value,
        min=low,
        max=high,
        step=step,
        readout_format=fmt,
        description=description,
        continuous_update=False,
    )


class Canvas:
    """One figure kept for the life of a slider, redrawn in place (see :class:`CutHistogram`).

    Creating a figure and laying it out (constrained layout) costs more than drawing a small
    plot, so an explorer keeps its figure: the first draw lays it out, later draws clear the
    axes, draw again into the same place and save a PNG.
    """

    def __init__(self, size: tuple[float, float] = (6, 3.2)) -> None:
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=size, layout="constrained")
        self.ax = self.figure.subplots()
        self._laid_out = False

    def png(self, draw=None, *args, **kwargs) -> bytes:
        """PNG of the figure after ``draw(*args, ax=..., **kwargs)`` on the cleared axes."""
        import io

        if draw is not None:
            self.ax.clear()
            draw(*args, ax=self.ax, **kwargs)
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=90)
        if not self._laid_out:  # keep the first layout: the plots change little between moves
            self.figure.set_layout_engine("none")
            self._laid_out = True
        return buffer.getvalue()


class CutHistogram(Canvas):
    """The weight histogram, drawn once; each move only shifts the shaded cut ``|w| <= t``.

    The same picture as :func:`~pruning_lessons.teaching.plots.weight_histogram`, drawn as one
    filled outline instead of 120 bars and labelled by a text instead of a legend box, which
    makes each new PNG several times cheaper.
    """

    def __init__(self, model: nn.Module, size: tuple[float, float] = (6, 3.2)) -> None:
        import numpy as np

        super().__init__(size)
        values = torch.cat(
            [p.detach().flatten().cpu() for p in prunable_parameters(model).values()]
        )
        counts, edges = np.histogram(values.float().numpy(), bins=120)
        self.ax.stairs(counts, edges, fill=True, color="#4c72b0")
        self.ax.set(xlabel="weight value", ylabel="count", title="Weights of all prunable layers")
        self.span = self.ax.axvspan(0.0, 0.0, color="#dd8452", alpha=0.3)
        self.note = self.ax.text(0.98, 0.95, "", transform=self.ax.transAxes, ha="right", va="top")

    def cut(self, threshold: float) -> bytes:
        self.span.set_x(-threshold)
        self.span.set_width(2 * threshold)
        self.note.set_text(f"shaded: |w| <= {threshold:.3g}")
        return self.png()


def wired(slider: widgets.ValueWidget, redraw, *parts: widgets.Widget) -> widgets.VBox:
    """Redraw whenever ``slider`` moves, draw once now, and stack the slider over ``parts``."""
    slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([slider, *parts])


def result_label() -> widgets.HTML:
    """The slider's result line; the CSS class lets a browser test find it on the page."""
    label = widgets.HTML()
    label.add_class("pl-result")
    return label


def png_image(width: str = "560px") -> widgets.Image:
    return widgets.Image(format="png", layout=widgets.Layout(width=width))
