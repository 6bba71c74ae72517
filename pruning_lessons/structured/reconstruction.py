"""Reconstruction-based channel pruning: keep the units the next layer can best do without.

A consumer layer ``y = W x + b`` reads the units ``x_1 .. x_n`` of a producer. Removing a set
``T`` of them changes every output by exactly the sum of their contributions,
``Δy = -Σ_{c∈T} W[:, c] x_c``. ThiNet (Luo et al. 2017) picks ``T`` greedily: starting from
the empty set, repeatedly add the unit that keeps the squared change, summed over calibration
inputs, smallest. With ``X`` the consumer's calibration inputs (samples by units) that squared
change is ``Σ_{c,d∈T} M_cd`` with ``M = (XᵀX) ∘ (WᵀW)`` (element-wise product), so each
greedy step is one look at a running column sum of ``M``. He et al. (2017) choose the units by
a LASSO regression instead. Both then refit the kept weights by least squares,
``min ||X_K W_Kᵀ + b - Y||²`` over the kept columns ``K`` (and here the bias), where ``Y`` is the
consumer's original output, so that the output changes as little as possible.

The units go with :func:`~.surgery.remove_units`, so the producer loses its output units (and
their bias, norm entries) too; the refit weights then replace the consumer's kept columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..core.checks import check_fraction
from .coupling import unit_groups
from .groups import UnitGroup
from .selection import l1_importance
from .surgery import remove_units
from .tracing import default_example_input
from .verify import checked

SELECTIONS = ("thinet", "l1")  # or a list of unit indices


def thinet_select(contributions: torch.Tensor, count: int) -> list[int]:
    """ThiNet's greedy set of ``count`` units, sorted, from ``contributions[c, d]`` =
    ``<contribution of c, contribution of d>`` (the matrix ``M`` of the module docstring).

    Each step adds the unit ``c`` minimising ``Σ_{a,b∈T∪{c}} M_ab``; ties go to the lower index.
    """
    gram = contributions.double()
    n = gram.shape[0]
    chosen = torch.zeros(n, dtype=torch.bool)
    with_removed = torch.zeros(n, dtype=torch.float64)  # Σ_{d∈T} M[c, d], for every c
    for _ in range(count):
        added = 2 * with_removed + gram.diagonal()  # growth of the objective if c joins T
        added[chosen] = float("inf")
        best = int(torch.argmin(added))  # argmin returns the first minimum: the lower index
        chosen[best] = True
        with_removed += gram[:, best]
    return chosen.nonzero().flatten().tolist()


def reconstruction_prune(
    model: nn.Module,
    amount: float,
    inputs: torch.Tensor,
    *,
    layer: str,
    selection: str | Sequence[int] = "thinet",
    refit: bool = True,
    example_input: torch.Tensor | None = None,
) -> nn.Module:
    """A smaller copy of ``model`` without ``round(amount * n)`` units of ``layer``.

    ``layer``: the producer whose output units go (a group name of :func:`.unit_groups`, e.g.
    ``"fc1"``); exactly one ``nn.Linear`` may read them. ``inputs``: calibration inputs *of the
    model*; the consumer's inputs ``X`` are recorded on them. ``selection``: ``"thinet"`` (the
    greedy rule above), ``"l1"`` (the lowest L1 norms of the units' incoming weights, as
    ``prune_units``), or a list of unit indices (then ``amount`` is not used).
    ``refit``: refit the consumer's kept weights and bias by least squares on ``X``.
    The removal is checked as in ``prune_units``; ``model`` is never changed.
    """
    amount = check_fraction(amount, "amount", below_one=True)
    if not isinstance(inputs, torch.Tensor) or inputs.dim() == 0 or len(inputs) == 0:
        raise ValueError(f"inputs must be a non-empty tensor of model inputs, got {inputs!r:.60}")
    if not isinstance(refit, bool):
        raise TypeError(f"refit must be True or False, got {refit!r}")
    if not isinstance(selection, (list, tuple)) and not (
        isinstance(selection, str) and selection in SELECTIONS
    ):
        raise ValueError(
            f"selection must be one of {SELECTIONS} or unit indices, got {selection!r}"
        )
    example = default_example_input(model) if example_input is None else example_input
    groups = unit_groups(model, example)
    group = _group(groups, layer)
    consumer = group.consumers[0]
    X = _consumer_inputs(model, consumer, inputs).cpu().double()
    removed = _removed(selection, amount, group, X)
    plan = {group.name: removed}
    pruned = checked(model, groups, plan, remove_units(model, groups, plan), example)
    columns = consumer.units  # column e of the consumer reads unit columns[e] (-1: another's)
    kept = ~torch.isin(columns, torch.tensor(removed, dtype=columns.dtype))
    if pruned.get_submodule(consumer.name).in_features != int(kept.sum()):
        raise ValueError(f"the units of {layer!r} could not be removed exactly; model kept whole")
    if refit and removed:
        _refit(consumer.module, pruned.get_submodule(consumer.name), X, kept)
    return pruned


def _group(groups: list[UnitGroup], layer: object) -> UnitGroup:
    """The one group ``layer`` produces, if this function can handle it."""
    found = [g for g in groups if layer == g.name or layer in g.layers]
    if not found:
        names = [g.name for g in groups if g.pinned is None]
        raise ValueError(f"layer must name a prunable unit group, one of {names}; got {layer!r}")
    if found[0].pinned is not None:
        raise ValueError(f"layer {layer!r} cannot be pruned: {found[0].pinned}")
    readers = found[0].consumers
    if len(readers) != 1 or not isinstance(readers[0].module, nn.Linear) or readers[0].dim != 1:
        what = [f"{m.name} ({type(m.module).__name__})" for m in readers] or ["nothing"]
        raise ValueError(
            f"reconstruction_prune needs exactly one nn.Linear reading the units of {layer!r} "
            f"as its inputs; they are read by {', '.join(what)}"
        )
    return found[0]


def _consumer_inputs(model: nn.Module, consumer, inputs: torch.Tensor) -> torch.Tensor:
    """The consumer's input on ``inputs`` (eval mode, no gradients), as samples x features."""
    seen: list[torch.Tensor] = []
    handle = consumer.module.register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(inputs)
    finally:
        handle.remove()
        model.train(was_training)
    if len(seen) != 1:
        raise ValueError(f"module {consumer.name!r} ran {len(seen)} times in one forward pass")
    return seen[0].detach().reshape(-1, seen[0].shape[-1])


def _removed(selection: object, amount: float, group: UnitGroup, X: torch.Tensor) -> list[int]:
    """The sorted units to remove: chosen by ``selection``, or listed in it."""
    size, given = group.size, isinstance(selection, (list, tuple))
    if given and not all(type(i) is int and 0 <= i < size for i in selection):
        raise ValueError(f"selection must list unit indices in [0, {size}), got {selection!r}")
    count = len(set(selection)) if given else round(amount * size)
    if count >= size:
        what = "selection" if given else f"amount {amount}"
        raise ValueError(f"{what} would remove all {size} units of layer {group.name!r}")
    if given:
        return sorted(set(selection))
    if selection == "l1":
        return sorted(torch.sort(l1_importance(group), stable=True).indices[:count].tolist())
    consumer = group.consumers[0]
    columns = consumer.units
    share = torch.zeros(len(columns), size, dtype=torch.float64)  # consumer columns -> units
    share[(columns >= 0).nonzero().flatten(), columns[columns >= 0]] = 1.0
    W = consumer.tensor.detach().cpu().double()
    return thinet_select(share.T @ ((X.T @ X) * (W.T @ W)) @ share, count)


def _refit(original: nn.Linear, new: nn.Linear, X: torch.Tensor, kept: torch.Tensor) -> None:
    """Least-squares weights (and bias) of ``new`` reproducing ``original``'s output on ``X``."""
    target = X @ original.weight.detach().cpu().double().T
    design = X[:, kept]
    if original.bias is not None:
        target = target + original.bias.detach().cpu().double()
        design = torch.cat([design, torch.ones(len(X), 1, dtype=X.dtype)], dim=1)
    solution = torch.linalg.lstsq(design, target, driver="gelsd").solution  # (kept [+1], out)
    with torch.no_grad():
        new.weight.copy_(solution[: int(kept.sum())].T)
        if original.bias is not None:
            new.bias.copy_(solution[-1])
