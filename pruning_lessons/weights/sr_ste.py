"""Learning an N:M mask while training: the straight-through estimator and SR-STE.

Zhou et al. 2021, "Learning N:M Fine-grained Structured Sparse Neural Networks From Scratch".
The network keeps its dense weights ``W``; every forward pass uses

    W~ = W * M(W),   M(W) = the n largest |w| of every m consecutive weights in a row,

recomputed at every step, and the backward pass hands the gradient of ``W~`` to ``W`` unchanged
(the straight-through estimator, STE). A pruned weight still learns, so it can climb back into
its group's top n: the mask is learned, not fixed after training.

With plain STE a pruned weight keeps its size and the mask keeps flipping between rival
weights of a group. SR-STE ("sparse-refined") adds ``decay * (1 - M) * W`` to the gradient,
the gradient of ``decay / 2 * ||(1 - M) * W||^2``, which pulls pruned weights toward zero and
lets the mask settle. Here that term is a loss penalty, so :func:`~pruning_lessons.fit` runs
the training unchanged:

    penalty = start_nm_training(model, 2, 4, decay=2e-4)   # the paper's value
    pl.fit(model, data, penalty=penalty)
    finish_nm_training(model)                               # exactly 2:4, held from now on
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn
from torch.nn.utils import parametrize

from .magnitude import prunable_parameters
from .masks import install_model_mask
from .nm import _check_nm, _keep_n_of_m


class NMStraightThrough(nn.Module):
    """Parametrisation: forward value ``W * M(W)``, gradient passed to ``W`` as if unmasked."""

    def __init__(self, n: int, m: int) -> None:
        super().__init__()
        self.n, self.m = n, m

    def keep(self, weight: torch.Tensor) -> torch.Tensor:
        return _keep_n_of_m(weight.detach().abs(), self.n, self.m, "weight")

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight + (weight * self.keep(weight) - weight).detach()


def _split(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    module_name, _, attr = name.rpartition(".")
    return model.get_submodule(module_name), attr


def start_nm_training(
    model: nn.Module,
    n: int = 2,
    m: int = 4,
    *,
    decay: float = 2e-4,
    parameters: Iterable[str] | None = None,
) -> Callable[[nn.Module], torch.Tensor]:
    """Make every chosen weight N:M in the forward pass (STE); return SR-STE's penalty.

    ``decay=0`` gives plain STE. Raises before any change if a weight's rows are not a multiple
    of ``m`` long (leave it out with ``parameters=``).
    """
    n, m = _check_nm(n, m)
    if isinstance(decay, bool) or not isinstance(decay, int | float) or not decay >= 0:
        raise ValueError(f"decay must be a number >= 0, got {decay!r}")
    chosen = prunable_parameters(model, parameters)
    for name, weight in chosen.items():
        _keep_n_of_m(weight.detach().abs(), n, m, name)  # raises for a bad row length
    for name in chosen:
        parametrize.register_parametrization(*_split(model, name), NMStraightThrough(n, m))

    def penalty(trained: nn.Module) -> torch.Tensor:
        total = torch.zeros((), device=next(iter(chosen.values())).device)
        for name in chosen:
            module, attr = _split(trained, name)
            dense = module.parametrizations[attr].original
            pruned = ~module.parametrizations[attr][0].keep(dense)
            total = total + (dense * pruned).square().sum()
        return decay / 2 * total

    return penalty


def finish_nm_training(model: nn.Module) -> dict[str, torch.Tensor]:
    """Fix the last mask: weights become exactly N:M, held by the library's masks. Returns them."""
    masks = {}
    for module_name, module in list(model.named_modules()):
        if not parametrize.is_parametrized(module):
            continue
        for attr, chain in list(module.parametrizations.items()):
            if not isinstance(chain[0], NMStraightThrough):
                continue
            keep = chain[0].keep(chain.original)
            parametrize.remove_parametrizations(module, attr, leave_parametrized=True)
            name = f"{module_name}.{attr}" if module_name else attr
            masks[name] = install_model_mask(model, name, keep)
    return masks


def mask_changes(before: torch.Tensor, after: torch.Tensor) -> float:
    """The fraction of positions whose keep/prune state differs: how much a mask still moves."""
    return (before != after).float().mean().item()
