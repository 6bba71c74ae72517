"""Criteria for structured pruning beyond weight norms: one score per neuron or channel.

Each criterion maps a :class:`~pruning_lessons.structured.groups.UnitGroup` (the layers that share
a set of units) to one score per unit, lowest removed first, the interface of
:data:`~pruning_lessons.structured.UNIT_IMPORTANCE`, so ``prune_units`` selects and removes
units for all of them alike.

* :func:`fpgm_importance`: geometric median (He et al. 2019), registered as ``"fpgm"``.
* :func:`taylor_unit_importance`: first-order Taylor on data (Molchanov et al. 2019); it needs
  data, so it is a factory: ``prune_units(model, a, importance=taylor_unit_importance(model,
  data))``.
* ``"bn"`` (BatchNorm scale, Liu et al. 2017) lives in ``structured.py``;
  :func:`bn_l1_penalty` is the sparsity penalty Network Slimming trains with before it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..core.batches import Data, Loss, Scores, data_batches, gradients
from ..core.device import at_model_threads
from .groups import Member, UnitGroup

BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def fpgm_importance(group: UnitGroup) -> torch.Tensor:
    """``score_u = sum_v ||W_u - W_v||_2``: the distance of filter ``u`` to its layer's others.

    He et al. 2019, "Filter Pruning via Geometric Median": the filters nearest the geometric
    median of their layer (smallest total distance to the others) are the most replaceable by
    the rest, so they score lowest, whatever their norm. ``W_u`` is unit ``u``'s incoming
    weights, flattened; in a residual group the sums of all producers are added.
    """
    total = torch.zeros(group.size, device=group.producers[0].tensor.device)
    for member in group.producers:
        rows = member.rows().flatten(1).float()
        total += torch.cdist(rows, rows, compute_mode="donot_use_mm_for_euclid_dist").sum(1)
    return total


def _gates(group: UnitGroup) -> list[Member]:
    """The layers whose parameters make each unit's final output: BatchNorms if any, else the
    producers (setting those parameters to zero is what removing the unit does)."""
    norms = [m for m in group.norms if getattr(m.module, "weight", None) is not None]
    return norms or group.producers


@at_model_threads
def taylor_unit_importance(
    model: nn.Module,
    data: Data | None,
    *,
    batches: int = 4,
    batch_size: int = 128,
    loss_fn: Loss | None = None,
) -> Callable[[UnitGroup], torch.Tensor]:
    """Unit importance ``mean_b (sum_{p in unit} g_b,p * p)^2`` from ``batches`` batches of data.

    Molchanov et al. 2019, "Importance Estimation for Neural Network Pruning": removing unit
    ``u`` sets its output ``z_u`` to zero, which changes the loss by about
    ``-sum dL/dz_u * z_u``; that equals ``-sum_p g_p * p`` over the parameters that produce
    ``z_u``: the weights and bias of its layer, or, when a BatchNorm follows, the BatchNorm's
    scale and shift (whose output is what removal zeroes). The sum is squared per batch and
    averaged over batches.

    Gradients of every parameter are computed once, here (eval mode, ``model`` unchanged); the
    returned function scores a group of this same ``model``, e.g.
    ``prune_units(model, 0.5, importance=taylor_unit_importance(model, data))``.
    """
    chosen = data_batches(data, batches, batch_size, "Taylor unit importance")
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    if not params:
        raise ValueError("model has no trainable parameters to take gradients of")
    per_batch: dict[str, list[torch.Tensor]] = {n: [] for n in params}
    for grads in gradients(model, params, chosen, loss_fn):
        for n, p in params.items():
            per_batch[n].append((grads[n] * p.detach()).float())
    contributions: Scores = {n: torch.stack(v) for n, v in per_batch.items()}  # (batches, ...)
    modules = dict(model.named_modules())

    def score(group: UnitGroup) -> torch.Tensor:
        terms = []
        gates = {m.name for m in _gates(group)}
        for member in group.members:
            if member.name not in gates or member.param not in ("weight", "bias"):
                continue
            if modules.get(member.name) is not member.module:
                raise ValueError(
                    f"this Taylor importance was computed for another model: layer "
                    f"{member.name!r} is not the one it took gradients of"
                )
            key = f"{member.name}.{member.param}" if member.name else member.param
            if key in contributions:
                terms.append(member.rows(contributions[key], leading=1).sum(-1))
        if not terms:
            raise ValueError(f"layer {group.name!r} has no trainable parameters to score")
        return sum(terms).square().mean(0)

    return score


def bn_l1_penalty(strength: float) -> Callable[[nn.Module], torch.Tensor]:
    """``penalty(model) = strength * sum |gamma|`` over every BatchNorm scale, for ``fit``.

    Liu et al. 2017, "Learning Efficient Convolutional Networks through Network Slimming": the
    L1 term pushes the scales of unneeded channels towards zero during training, so that
    ``prune_units(model, a, importance="bn")`` (smallest scales go) removes channels that no
    longer matter. Use as ``fit(model, data, penalty=bn_l1_penalty(1e-4))``.
    """
    if isinstance(strength, bool) or not isinstance(strength, int | float):
        raise TypeError(f"strength must be a number >= 0, got {type(strength).__name__}")
    if not strength >= 0:
        raise ValueError(f"strength must be >= 0, got {strength}")

    def penalty(model: nn.Module) -> torch.Tensor:
        scales = [
            m.weight for m in model.modules() if isinstance(m, BATCH_NORMS) and m.weight is not None
        ]
        if not scales:
            raise ValueError(
                "bn_l1_penalty needs BatchNorm layers with a scale (affine=True); the model "
                "has none"
            )
        return strength * sum(s.abs().sum() for s in scales)

    return penalty


__all__ = ["bn_l1_penalty", "fpgm_importance", "taylor_unit_importance"]
