"""Lesson 10's slider: sparsity, method and calibration size in, perplexity out.

:func:`pruned_perplexity` is the tested function; :func:`llm_explorer` only wires widgets to it.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import ipywidgets as widgets
import torch
from torch import nn

from ...llm.evaluate import calibration_batches, perplexity
from ...llm.posttraining import prune_llm

METHODS = ("magnitude", "wanda", "sparsegpt")


@dataclass(frozen=True)
class PrunedPerplexity:
    method: str
    target: str
    calibration: int
    dense: float
    pruned: float
    seconds: float

    def __str__(self) -> str:
        uses = "no data" if self.method == "magnitude" else f"{self.calibration} sequences"
        return (
            f"{self.method} at {self.target} ({uses}): perplexity {self.pruned:.2f} "
            f"(dense {self.dense:.2f}, {self.pruned / self.dense:.2f}x); pruned in "
            f"{self.seconds:.1f} s"
        )


def pruned_perplexity(
    model: nn.Module,
    test: torch.Tensor,
    train: torch.Tensor,
    method: str = "wanda",
    sparsity: float | str = 0.5,
    calibration: int = 16,
    *,
    seed: int = 0,
    dense: float | None = None,
) -> PrunedPerplexity:
    """Prune a copy of ``model`` (``sparsity``: a fraction, or ``"2:4"``) and measure it.

    Calibration: ``calibration`` windows of 128 tokens from ``train``. ``model`` is unchanged.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    target = {"n_m": (2, 4)} if sparsity == "2:4" else {"amount": sparsity}
    pruned = copy.deepcopy(model)
    batches = calibration_batches(train, calibration, 128, seed=seed)
    start = time.perf_counter()
    prune_llm(pruned, method, batches, **target)
    seconds = time.perf_counter() - start
    label = "2:4" if sparsity == "2:4" else f"{sparsity:.0%}"
    dense = perplexity(model, test) if dense is None else dense
    return PrunedPerplexity(method, label, calibration, dense, perplexity(pruned, test), seconds)


def llm_explorer(
    model: nn.Module, test: torch.Tensor, train: torch.Tensor, *, dense: float | None = None
) -> widgets.VBox:
    """Sliders for sparsity (or 2:4), method and calibration size; the perplexity below."""
    sparsity = widgets.SelectionSlider(
        options=[("30%", 0.3), ("40%", 0.4), ("50%", 0.5), ("60%", 0.6), ("70%", 0.7)]
        + [("2:4", "2:4")],
        value=0.5,
        description="sparsity",
        continuous_update=False,
    )
    method = widgets.ToggleButtons(options=METHODS, value="wanda", description="method")
    size = widgets.SelectionSlider(
        options=[1, 4, 16, 64], value=16, description="calibration", continuous_update=False
    )
    label = widgets.HTML()
    label.add_class("pl-result")
    dense = perplexity(model, test) if dense is None else dense

    def redraw(change: dict | None = None) -> None:
        label.value = "<i>pruning ...</i>"
        result = pruned_perplexity(
            model, test, train, method.value, sparsity.value, size.value, dense=dense
        )
        label.value = f"<b>{result}</b>"

    for control in (sparsity, method, size):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([sparsity, method, size, label])
