"""Dynamic sparse training: a sparse network from the first step, whose connections move.

Instead of training a dense network and pruning it, start from a random mask with the final
sparsity in every layer and train only the kept weights. Every ``update_every`` steps, in each
layer, drop the ``k`` active weights with the smallest ``|w|`` and regrow ``k`` inactive ones:

* ``regrow="random"``: at random positions (SET: Mocanu et al. 2018, "Scalable training of
  artificial neural networks with adaptive sparse connectivity inspired by network science");
* ``regrow="gradient"``: where the dense gradient ``|dL/dw|`` of the current batch is largest
  (RigL: Evci et al. 2020, "Rigging the Lottery: Making All Tickets Winners");
* ``regrow="none"``: never (a static random mask, the control).

``k = round(f_t * n_active)`` with ``f_t = drop_fraction * (1 + cos(pi t / t_end)) / 2`` (RigL's
cosine decay), no updates after ``t_end`` (75 % of the steps). Regrown weights start at zero,
and the optimizer state of dropped weights is cleared, so a dropped weight cannot be moved back
by momentum: masked gradients with that state cleared keep every inactive weight at exactly 0.
The number of weights per layer never changes. The kept initial weights are scaled by
``1 / sqrt(1 - sparsity)`` so that each unit's input keeps the variance of a dense start. When
training ends the mask is installed with :func:`~pruning_lessons.weights.masks.install_mask`,
so the result is an ordinary pruned model.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.data import DataLoader

from ..core.data import Splits
from ..core.device import at_model_threads, check_seed, like_model, seed_everything
from ..core.train import make_optimizer
from .magnitude import prunable_parameters
from .masks import install_mask

REGROW = ("gradient", "random", "none")


def _check(sparsity: object, regrow: object, drop_fraction: object, update_every: object):
    if isinstance(sparsity, bool) or not isinstance(sparsity, int | float):
        raise TypeError(f"sparsity must be a float in [0, 1), got {type(sparsity).__name__}")
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1) (share of each layer pruned), got {sparsity}")
    if regrow not in REGROW:
        raise ValueError(f"regrow must be one of {REGROW}, got {regrow!r}")
    if isinstance(drop_fraction, bool) or not isinstance(drop_fraction, int | float):
        raise TypeError(f"drop_fraction must be a float in [0, 1], got {drop_fraction!r}")
    if not 0.0 <= drop_fraction <= 1.0:
        raise ValueError(f"drop_fraction must be in [0, 1], got {drop_fraction}")
    if isinstance(update_every, bool) or not isinstance(update_every, int) or update_every < 1:
        raise ValueError(f"update_every must be a positive int (steps), got {update_every!r}")


def random_masks(params: dict[str, nn.Parameter], sparsity: float, generator: torch.Generator):
    """A keep-mask per parameter with exactly ``round(sparsity * n)`` random positions off."""
    masks = {}
    for name, p in params.items():
        order = torch.randperm(p.numel(), generator=generator)
        keep = torch.ones(p.numel(), dtype=torch.bool)
        keep[order[: round(sparsity * p.numel())]] = False
        masks[name] = keep.reshape(p.shape).to(p.device)
    return masks


def update_topology(
    weight: torch.Tensor,
    keep: torch.Tensor,
    k: int,
    regrow: str,
    grad: torch.Tensor | None,
    generator: torch.Generator,
) -> torch.Tensor:
    """The new keep-mask: the ``k`` smallest active ``|w|`` dropped, ``k`` inactive regrown.

    Positions just dropped are not eligible for regrowth in the same update. Ties: the lower
    flattened index is dropped first and, for gradients, regrown first.
    """
    flat_keep = keep.flatten().clone()
    inactive = (~flat_keep).nonzero().flatten()
    k = min(k, int(flat_keep.sum()), len(inactive))
    if k == 0 or regrow == "none":
        return keep
    scores = torch.where(flat_keep, weight.detach().abs().flatten(), torch.inf)
    dropped = torch.sort(scores, stable=True).indices[:k]
    if regrow == "random":
        grown = inactive[torch.randperm(len(inactive), generator=generator)[:k]]
    else:
        strength = grad.detach().abs().flatten()[inactive]
        grown = inactive[torch.sort(-strength, stable=True).indices[:k]]
    flat_keep[dropped] = False
    flat_keep[grown] = True
    return flat_keep.reshape(keep.shape)


def _clear_state(optimizer: torch.optim.Optimizer, param: nn.Parameter, off: torch.Tensor):
    for value in optimizer.state.get(param, {}).values():
        if isinstance(value, torch.Tensor) and value.shape == param.shape:
            value.masked_fill_(off, 0.0)


@at_model_threads
def sparse_train(
    model: nn.Module,
    data: Splits,
    sparsity: float,
    *,
    regrow: str = "gradient",
    epochs: int = 30,
    lr: float = 2e-3,
    batch_size: int = 32,
    drop_fraction: float = 0.3,
    update_every: int = 25,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """Train ``model`` sparse from the start (RigL, SET or a static mask); return the masks.

    ``sparsity``: share of every prunable weight tensor kept at zero throughout (uniform per
    layer). Adam, cross-entropy, the same data order for the same ``seed``. In place; the final
    masks are installed on the model. Arguments are checked before anything changes.
    """
    _check(sparsity, regrow, drop_fraction, update_every)
    seed = check_seed(seed)
    params = prunable_parameters(model)
    generator = seed_everything(seed)
    masks = random_masks(params, float(sparsity), generator)
    with torch.no_grad():  # keep each unit's input variance: scale by 1 / sqrt(density)
        for name, p in params.items():
            p.mul_(masks[name]).div_(math.sqrt(1.0 - float(sparsity)))
    optimizer = make_optimizer(model, "adam", lr)
    loader = DataLoader(data.train, batch_size=batch_size, shuffle=True, generator=generator)
    total = epochs * len(loader)
    t_end, step = int(0.75 * total), 0
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        for x, y in loader:
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(like_model(x, model)), y).backward()
            step += 1
            if step % update_every == 0 and step < t_end:
                fraction = drop_fraction * (1 + math.cos(math.pi * step / t_end)) / 2
                for name, p in params.items():
                    k = round(fraction * int(masks[name].sum()))
                    new = update_topology(p, masks[name], k, regrow, p.grad, generator)
                    with torch.no_grad():
                        p.masked_fill_(~new, 0.0)  # dropped weights go to zero
                        p.masked_fill_(new & ~masks[name], 0.0)  # regrown ones start at zero
                    _clear_state(optimizer, p, ~new)
                    masks[name] = new
            for name, p in params.items():
                p.grad.mul_(masks[name])
            optimizer.step()
            with torch.no_grad():
                for name, p in params.items():
                    p.mul_(masks[name])
    model.eval()
    for name in params:
        module_name, _, param_name = name.rpartition(".")
        install_mask(model.get_submodule(module_name), param_name, masks[name])
    return masks
