"""Lesson 10's slider: sparsity, method and calibration size in, perplexity out.

:func:`pruned_perplexity` is the tested function; :func:`llm_explorer` only wires widgets to it.
Pruning with SparseGPT on 64 sequences takes seconds, so the explorer looks its settings up in
a table of every one it offers (:func:`explorer_table`), measured once by
``benchmarks/bench_llm_explorer.py`` (``benchmarks/results/llm_explorer.json``) and used only
when its dense perplexity is the model's on the same test slice; a setting the table lacks is
measured when first asked for and kept.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import ipywidgets as widgets
import torch
from torch import nn

from ...llm.evaluate import calibration_batches, perplexity
from ...llm.posttraining import prune_llm

METHODS = ("magnitude", "wanda", "sparsegpt")
#: What the explorer offers: sparsities (fractions or "2:4") and calibration sizes.
SPARSITIES = (0.3, 0.4, 0.5, 0.6, 0.7, "2:4")
CALIBRATION_SIZES = (1, 4, 16, 64)
#: The explorer's opening setting (method, sparsity, calibration sequences).
DEFAULT = ("wanda", 0.5, 16)
TABLE = "llm_explorer.json"


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


def setting_key(method: str, sparsity: float | str, calibration: int) -> str:
    """The table's key of one setting; magnitude reads no data, so its size is left out."""
    label = "2:4" if sparsity == "2:4" else f"{sparsity:.0%}"
    return f"{method} {label} " + ("-" if method == "magnitude" else str(calibration))


def explorer_table(
    model: nn.Module,
    test: torch.Tensor,
    train: torch.Tensor,
    *,
    dense: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Every setting the explorer offers, measured with :func:`pruned_perplexity`."""
    dense = perplexity(model, test) if dense is None else dense
    results = {}
    for method in METHODS:
        for sparsity in SPARSITIES:
            sizes = CALIBRATION_SIZES[:1] if method == "magnitude" else CALIBRATION_SIZES
            for calibration in sizes:
                key = setting_key(method, sparsity, calibration)
                if progress is not None:
                    progress(key)
                result = pruned_perplexity(
                    model, test, train, method, sparsity, calibration, dense=dense
                )
                results[key] = asdict(result)
    return {"dense": dense, "test_tokens": int(test.numel()), "results": results}


def saved_table(dense: float, test_tokens: int) -> dict[str, PrunedPerplexity]:
    """The saved table's results, if it was measured on this model and test slice; else {}."""
    from ...core.data import saved_result

    try:
        table = json.loads(saved_result(TABLE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    same = table["test_tokens"] == test_tokens and math.isclose(table["dense"], dense, rel_tol=1e-6)
    if not same:
        return {}
    return {key: PrunedPerplexity(**row) for key, row in table["results"].items()}


def llm_explorer(
    model: nn.Module, test: torch.Tensor, train: torch.Tensor, *, dense: float | None = None
) -> widgets.VBox:
    """Sliders for sparsity (or 2:4), method and calibration size; the perplexity below.

    Each result comes from the saved table when it fits this model (:func:`saved_table`),
    otherwise it is measured on first use and kept for the next time.
    """
    default_method, default_sparsity, default_size = DEFAULT
    sparsity = widgets.SelectionSlider(
        options=[("2:4" if s == "2:4" else f"{s:.0%}", s) for s in SPARSITIES],
        value=default_sparsity,
        description="sparsity",
        continuous_update=False,
    )
    method = widgets.ToggleButtons(options=METHODS, value=default_method, description="method")
    size = widgets.SelectionSlider(
        options=CALIBRATION_SIZES,
        value=default_size,
        description="calibration",
        continuous_update=False,
    )
    label = widgets.HTML()
    label.add_class("pl-result")
    dense = perplexity(model, test) if dense is None else dense
    known = saved_table(dense, int(test.numel()))

    def redraw(change: dict | None = None) -> None:
        key = setting_key(method.value, sparsity.value, size.value)
        if key not in known:
            label.value = "<i>pruning ...</i>"
            known[key] = pruned_perplexity(
                model, test, train, method.value, sparsity.value, size.value, dense=dense
            )
        label.value = f"<b>{known[key]}</b>"

    for control in (sparsity, method, size):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([sparsity, method, size, label])
