"""OWL: outlier-weighted layer-wise sparsity (Yin et al. 2024, "Outlier Weighed Layerwise
Sparsity (OWL): A Missing Secret Sauce for Pruning LLMs to High Sparsity").

Blocks that hold many *outliers* (weights whose Wanda score ``|W_ij| * ||X_j||_2`` is far above
the block's mean) suffer most from pruning, so they get less of it. For each block ``l``, over
all its prunable layers' scores ``A``:

    D_l = share of entries with A > M * mean(A)            (the layerwise outlier distribution)
    d_l = 2 * spread * (D_l - min D) / (max D - min D)     (ranged to [0, 2 * spread])
    density_l = d_l - mean(d) + (1 - target),   sparsity_l = 1 - density_l

so the block sparsities span ``2 * spread`` (the paper's ``lambda`` is ``spread``), the
block with the most outliers is pruned least, and their mean is exactly the target. The
paper's defaults: ``M = 5``, ``spread = 0.08``. The scores come from the dense model, block by
block on the dense model's own activations, as in the paper's code.
"""

from __future__ import annotations

import torch
from torch import nn

from .calibrate import InputStats
from .decoder import find_decoder, weight_matrix
from .posttraining import wanda_scores
from .sequential import dense_statistics
from .targets import check_fraction


def check_owl_target(amount: float, spread: float = 0.08) -> None:
    """Every block's sparsity must stay in [0, 1): ``target - spread >= 0``, ``+ spread < 1``."""
    if not (amount - spread >= 0.0 and amount + spread < 1.0):
        raise ValueError(
            f"owl: amount {amount} +- spread {spread} leaves [0, 1); give an amount in "
            f"[{spread}, {1 - spread}) or a smaller spread"
        )


def outlier_ratio(scores: list[torch.Tensor], m: float) -> float:
    """Share of all entries of ``scores`` above ``m`` times their mean."""
    total = sum(s.numel() for s in scores)
    mean = sum(float(s.double().sum()) for s in scores) / total
    return sum(int((s > m * mean).sum()) for s in scores) / total


def owl_outlier_ratios(
    model: nn.Module,
    calibration: torch.Tensor,
    *,
    outlier_m: float = 5.0,
    device: str | torch.device | None = None,
) -> dict[str, float]:
    """Each block's outlier ratio ``D_l``, ``{block name: share}`` (the input of OWL's rule).

    The share of the block's Wanda scores above ``outlier_m`` times their mean, on the dense
    model's own activations, block by block; changes nothing.
    """
    from .decoder import check_token_ids
    from .targets import check_device

    _check_positive("outlier_m", outlier_m)
    decoder = find_decoder(model)
    calibration = check_token_ids(calibration, decoder.embedding)
    ratios: dict[int, float] = {}

    def measure(i: int, stats: dict[str, InputStats]) -> None:
        layers = decoder.layers(i)
        if layers:
            scores = [wanda_scores(weight_matrix(layers[n]), s.norms) for n, s in stats.items()]
            ratios[i] = outlier_ratio(scores, outlier_m)

    dense_statistics(model, decoder, calibration, measure, check_device(device))
    return {f"{decoder.blocks_name}.{i}": r for i, r in ratios.items()}


def owl_sparsities(
    model: nn.Module,
    calibration: torch.Tensor,
    amount: float,
    *,
    outlier_m: float = 5.0,
    spread: float = 0.08,
    device: str | torch.device | None = None,
) -> dict[str, float]:
    """Per-block sparsity by OWL, ``{block name: amount}``; their mean is ``amount``.

    Runs the dense model block by block on ``calibration`` (:func:`owl_outlier_ratios`);
    changes nothing. The dict can be given as ``amount=`` to any of the pruners (``owl=True``
    does exactly that).
    """
    amount = check_fraction(amount)
    for name, value in (("outlier_m", outlier_m), ("spread", spread)):
        _check_positive(name, value)
    check_owl_target(amount, spread)
    ratios = owl_outlier_ratios(model, calibration, outlier_m=outlier_m, device=device)
    return spread_sparsities(ratios, amount, spread)


def _check_positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def spread_sparsities(ratios: dict[str, float], amount: float, spread: float) -> dict[str, float]:
    """OWL's rule from outlier ratios to sparsities (see the module docstring)."""
    values = torch.tensor(list(ratios.values()), dtype=torch.float64)
    width = float(values.max() - values.min())
    ranged = (values - values.min()) / width * 2 * spread if width > 0 else values * 0
    density = ranged - ranged.mean() + (1 - amount)
    return {name: float(1 - d) for name, d in zip(ratios, density.tolist(), strict=True)}
