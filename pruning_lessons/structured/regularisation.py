"""Training a network so that whole units can go: the group-lasso penalty.

Magnitude criteria rank units *after* training, when every unit has learned something.
Regularisation changes training instead, so that the units to remove end up (near) zero:

    penalty = strength * sum over units u of ||theta_u||_2

where ``theta_u`` is every weight that belongs to unit ``u``: its row in each layer that
produces it, its biases, its column in each layer that reads it (Yuan & Lin 2006, "Model
selection and estimation in regression with grouped variables"; for neurons and filters, Wen et
al. 2016, "Learning Structured Sparsity in Deep Neural Networks"). The norm is not squared, so
like an L1 penalty it pushes whole groups exactly towards zero instead of shrinking all of them
a little. The units come from :func:`~.coupling.unit_groups`, so the penalty follows residual
connections, BatchNorm and flatten on any traced model, and pinned groups are left alone.

    penalty = group_lasso(model, 1e-3, example_input=x)
    pl.fit(model, data, penalty=penalty)
    small = pl.prune_units(model, 0.5, importance="l2", example_input=x)

Network Slimming's L1 on BatchNorm scales (:func:`~.importance.bn_l1_penalty`) is the same idea
with one number per channel.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .coupling import unit_groups
from .groups import Member, UnitGroup

Penalty = Callable[[nn.Module], torch.Tensor]


def _trainable(member: Member) -> bool:
    tensor = member.tensor
    return isinstance(tensor, nn.Parameter) and tensor.requires_grad and member.role != "norm"


def unit_norms(group: UnitGroup) -> torch.Tensor:
    """``||theta_u||_2`` for every unit of ``group``, differentiable (the penalty's terms)."""
    squares = None
    seen: set[tuple[int, int]] = set()
    for member in group.members:
        key = (id(member.tensor), member.dim)
        if not _trainable(member) or key in seen:  # a tied weight counts once
            continue
        seen.add(key)
        term = member.rows(member.tensor).square().sum(dim=-1)
        squares = term if squares is None else squares + term
    if squares is None:
        raise ValueError(f"group {group.name!r} has no trainable weights")
    return squares.clamp_min(1e-12).sqrt()  # the gradient of sqrt at exactly 0 is infinite


def group_lasso(
    model: nn.Module, strength: float, *, example_input: torch.Tensor | None = None
) -> Penalty:
    """The group-lasso penalty over every prunable unit group of ``model``, for ``fit``.

    ``strength`` (lambda) must be a number >= 0. The groups are found once, here, with
    ``example_input`` (as for :func:`~pruning_lessons.prune_units`); the returned function
    reads the live weights of the model it was built for.
    """
    if isinstance(strength, bool) or not isinstance(strength, int | float) or not strength >= 0:
        raise ValueError(f"strength must be a number >= 0, got {strength!r}")
    groups = [
        g
        for g in unit_groups(model, example_input=example_input)
        if g.pinned is None and any(_trainable(m) for m in g.members)
    ]
    if not groups:
        raise ValueError(f"{type(model).__name__} has no prunable unit group to regularise")

    def penalty(trained: nn.Module) -> torch.Tensor:
        if trained is not model:
            raise ValueError("this penalty was built for another model: build one for this one")
        return strength * sum(unit_norms(g).sum() for g in groups)

    penalty.groups = groups  # type: ignore[attr-defined]
    return penalty
