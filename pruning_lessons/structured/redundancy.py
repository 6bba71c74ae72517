"""Redundancy: merge neurons that compute (nearly) the same thing instead of dropping them.

Srinivas & Babu 2015, "Data-free Parameter Pruning for Deep Neural Networks". If neurons ``i``
and ``j`` of a hidden layer have the same incoming weights and bias, they output the same
activation ``h``, and the next layer computes ``a_i * h + a_j * h = (a_i + a_j) * h``: remove
``j``, add its outgoing weights ``a_j`` to ``a_i``, and the function is unchanged. When they
are only similar, the next layer's input changes by ``a_j * (h_j - h_i)``, which the saliency

    s(j -> i) = ||a_j||^2 * ||w_j - w_i||^2

measures (``w``: incoming weights with the bias). Greedily, the pair with the lowest saliency
is merged, the survivor's outgoing weights are updated, and the saliencies recomputed, until
the requested number of neurons is gone. Given ``data``, ``||w_j - w_i||^2`` is replaced by
the mean squared difference of the two neurons' activations on it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import torch
from torch import nn

from ..core.batches import Data, data_batches
from .coupling import unit_groups
from .groups import UnitGroup
from .selection import _check_fraction, _count
from .surgery import remove_units


def _incoming(group: UnitGroup) -> torch.Tensor:
    """``(units, fan_in + 1)``: each unit's incoming weights, then its bias (0 without one)."""
    layer = group.producers[0].module
    rows = layer.weight.detach().flatten(1)
    bias = layer.bias.detach() if layer.bias is not None else torch.zeros_like(rows[:, 0])
    return torch.cat([rows, bias[:, None]], dim=1).float()


def _outgoing(model: nn.Module, group: UnitGroup) -> list[torch.Tensor]:
    """For each consumer, its input weights regrouped per unit: ``(units, rest)``."""
    blocks = []
    for member in group.consumers:
        weight = model.get_submodule(member.name).weight.detach()
        per_unit = weight.reshape(weight.shape[0], group.size, -1).transpose(0, 1)
        blocks.append(per_unit.reshape(group.size, -1))
    return blocks


@torch.no_grad()
def _write_outgoing(model: nn.Module, group: UnitGroup, blocks: Iterable[torch.Tensor]) -> None:
    """The inverse of :func:`_outgoing`: put per-unit blocks back into the consumers' weights."""
    for member, block in zip(group.consumers, blocks, strict=True):
        weight = model.get_submodule(member.name).weight
        per_unit = block.reshape(group.size, weight.shape[0], -1).transpose(0, 1)
        weight.copy_(per_unit.reshape(weight.shape))


@torch.no_grad()
def _activations(model: nn.Module, group: UnitGroup, data: Data) -> torch.Tensor:
    """``(units, samples x per-unit features)``: what the first consumer reads from each unit."""
    ((x, _),) = data_batches(data, 1, 256, "merging on activations")
    consumer = model.get_submodule(group.consumers[0].name)
    seen = []
    handle = consumer.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    modes = {m: m.training for m in model.modules()}
    try:
        model.eval()
        model(x.to(group.producers[0].module.weight.device))
    finally:
        handle.remove()
        for module, mode in modes.items():
            module.training = mode
    inputs = seen[0].reshape(len(x), group.size, -1).transpose(0, 1)
    return inputs.reshape(group.size, -1).float()


def _squared_distances(points: torch.Tensor, per: int = 1) -> torch.Tensor:
    """``D[j, i] = ||p_j - p_i||^2 / per``, computed exactly (no matrix-product shortcut)."""
    distances = torch.cdist(points, points, compute_mode="donot_use_mm_for_euclid_dist")
    return distances.square() / per


def merge_plan(distances: torch.Tensor, outgoing: torch.Tensor, count: int) -> list[tuple]:
    """Greedy merges ``[(removed j, survivor i), ...]``, lowest saliency first.

    ``distances[j, i]``: how different units ``j`` and ``i`` are (squared); ``outgoing``:
    ``(units, k)`` outgoing weights, updated in place as units are folded into survivors.
    Ties go to the lower ``j``, then the lower ``i``.
    """
    alive = torch.ones(len(distances), dtype=torch.bool, device=distances.device)
    merges = []
    for _ in range(count):
        saliency = outgoing.square().sum(1)[:, None] * distances
        blocked = ~alive[:, None] | ~alive[None, :]
        blocked.fill_diagonal_(True)
        saliency = saliency.masked_fill(blocked, torch.inf)
        j, i = (saliency == saliency.min()).nonzero()[0].tolist()
        outgoing[i] += outgoing[j]
        alive[j] = False
        merges.append((j, i))
    return merges


def _mergeable(group: UnitGroup) -> str | None:
    """Why the units of ``group`` cannot be merged, or ``None``."""
    if group.pinned is not None:
        return group.pinned
    if len(group.producers) != 1:
        return f"its units are shared by {group.layers} through an addition"
    if group.norms:
        return "a BatchNorm follows it, so equal weights do not give equal outputs"
    if not group.consumers:
        return "no layer reads its outputs"
    return None


def _merge_layer(
    model: nn.Module,
    name: str,
    amount: float,
    data: Data | None,
    example_input: torch.Tensor | None,
) -> nn.Module:
    groups = unit_groups(model, example_input)
    group = next((g for g in groups if g.name == name), None)
    if group is None:
        raise ValueError(f"layers must name Linear/Conv layers of the model, got {name!r}")
    why = _mergeable(group)
    if why is not None:
        raise ValueError(f"cannot merge the units of layer {name!r}: {why}")
    count = _count(amount, group.size, name)
    blocks = _outgoing(model, group)
    outgoing = torch.cat(blocks, dim=1).float()
    if data is None:
        distances = _squared_distances(_incoming(group))
    else:
        acts = _activations(model, group, data)
        distances = _squared_distances(acts, acts.shape[1])
    merges = merge_plan(distances.to(outgoing.device), outgoing, count)
    merged = copy.deepcopy(model)
    _write_outgoing(merged, group, outgoing.split([b.shape[1] for b in blocks], dim=1))
    return remove_units(merged, groups, {name: sorted(j for j, _ in merges)})


def merge_redundant_neurons(
    model: nn.Module,
    amount: float,
    *,
    layers: str | Iterable[str] | None = None,
    data: Data | None = None,
    example_input: torch.Tensor | None = None,
) -> nn.Module:
    """A smaller copy of ``model`` in which ``round(amount * n)`` units of each layer were merged.

    ``layers``: the hidden ``Linear`` (or ``Conv``) layers whose units are merged, one after the
    other (default: every layer whose units can be merged: not the classifier, no BatchNorm
    after it, not tied to others by an addition). Each removed unit's outgoing weights are
    added to its most similar survivor's (see the module docstring), so two identical neurons
    merge without changing the outputs. ``data`` (optional): compare units by their
    activations on its first 256 samples instead of by their weights. ``example_input``
    (default: one ``(1, 1, 8, 8)`` image) is run once to trace the layers. ``model`` is
    unchanged.
    """
    fraction = _check_fraction(amount, "amount")
    if layers is None:
        names = [g.name for g in unit_groups(model, example_input) if _mergeable(g) is None]
        if not names:
            raise ValueError("model has no layer whose units can be merged")
    else:
        names = [layers] if isinstance(layers, str) else list(layers)
    merged = model
    for name in names:
        merged = _merge_layer(merged, name, fraction, data, example_input)
    return merged if merged is not model else copy.deepcopy(model)


__all__ = ["merge_plan", "merge_redundant_neurons"]
