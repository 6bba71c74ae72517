"""Dynamic sparse training: a network that is sparse from its first step and moves its weights.

Pruning after training pays for a dense model first. Dynamic sparse training never has one:
every layer starts with a random mask at the target sparsity, and every ``update_every`` steps

1. **drop**: the fraction ``alpha_t`` of the layer's active weights with the smallest ``|w|``
   become zero (ties: lower index first, as everywhere in the library);
2. **grow**: as many inactive positions come back, at zero, chosen
   * at random (**SET**, Mocanu et al. 2018, "Scalable training of artificial neural networks
     with adaptive sparse connectivity inspired by network science"), or
   * where the gradient ``|dL/dw|`` of the current batch is largest (**RigL**, Evci et al. 2020,
     "Rigging the Lottery: Making All Tickets Winners"); the gradient is the dense one autograd
     gives anyway, so RigL needs no extra pass.

So each layer's sparsity stays exactly at the target all the time. The drop fraction decays
with a cosine, ``alpha_t = alpha / 2 * (1 + cos(pi * t / T_end))``, and updates stop at
``T_end = stop_fraction * total steps`` (RigL's schedule; SET's paper keeps ``alpha`` fixed),
so the last part of training fine-tunes a fixed mask. A grown weight starts at zero, and its
Adam moments are zero too: the masks of :mod:`.masks` keep a pruned weight's optimizer state
at zero.

``static`` keeps the random initial mask for the whole run: the control that shows what
moving the mask buys.
"""

from __future__ import annotations

import math
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ..core.checks import check_fraction
from ..core.data import Splits
from ..core.device import at_model_threads, check_seed, like_model, seed_everything
from ..core.train import History, _check_positive, evaluate, make_optimizer, progress_bar
from .magnitude import prunable_parameters
from .masks import get_masks, install_model_mask, replace_mask
from .select import prune_count, smallest_k_masks

METHODS = ("set", "rigl", "static")


def random_masks(
    params: dict[str, nn.Parameter], sparsity: float, generator: torch.Generator
) -> dict[str, torch.Tensor]:
    """Per layer, exactly ``round(sparsity * n)`` weights off, chosen uniformly at random."""
    masks = {}
    for name, param in params.items():
        noise = torch.rand(param.shape, generator=generator).to(param.device)
        k = prune_count(sparsity, param.numel(), "sparsity")
        masks[name] = smallest_k_masks([noise], k)[0]
    return masks


def drop_fraction_at(step: int, end: int, alpha: float) -> float:
    """``alpha / 2 * (1 + cos(pi * step / end))`` before ``end``, then 0 (no more updates)."""
    if step >= end:
        return 0.0
    return alpha / 2 * (1 + math.cos(math.pi * step / end))


def drop_and_grow(
    weight: torch.Tensor, keep: torch.Tensor, grow_score: torch.Tensor, fraction: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """One mask update: drop ``floor(fraction * active)`` smallest ``|w|``, grow as many.

    Returns ``(new keep-mask, grown positions)``. Grown positions are the ones inactive after
    the drop (a weight just dropped may come back) with the largest ``grow_score``, ties at the
    lower index. The number of active weights does not change.
    """
    active = int(keep.count_nonzero())
    k = math.floor(fraction * active)
    if k == 0:
        return keep, torch.zeros_like(keep)
    inactive = keep.numel() - active
    after_drop = smallest_k_masks([weight.detach()], inactive + k, score=torch.abs, keep=[keep])[0]
    candidates = torch.where(after_drop, torch.inf, -grow_score.float())
    grown = ~smallest_k_masks([candidates], k)[0]
    return after_drop | grown, grown


def _check(method: str, sparsity: float, update_every: int, alpha: float, stop: float) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    check_fraction(sparsity, "sparsity", below_one=True)
    _check_positive(update_every, "update_every")
    check_fraction(alpha, "drop_fraction")
    check_fraction(stop, "stop_fraction")


@at_model_threads
def sparse_train(
    model: nn.Module,
    data: Splits | TensorDataset,
    sparsity: float,
    *,
    method: str = "rigl",
    epochs: int = 30,
    lr: float = 2e-3,
    batch_size: int = 32,
    update_every: int = 50,
    drop_fraction: float = 0.3,
    stop_fraction: float = 0.75,
    seed: int = 0,
    progress: bool = True,
) -> History:
    """Train ``model`` from its current weights at ``sparsity`` in every prunable layer.

    ``method``: ``"rigl"`` (grow by gradient), ``"set"`` (grow at random) or ``"static"`` (the
    initial random mask never moves). Adam, cross-entropy, the same loop as
    :func:`~pruning_lessons.core.train.fit`. The masks stay installed afterwards (read them with
    :func:`~pruning_lessons.weights.masks.get_masks`); ``History.val_accuracy`` per epoch when
    ``data`` is a ``Splits``. Bad arguments raise before the model changes.
    """
    _check(method, sparsity, update_every, drop_fraction, stop_fraction)
    _check_positive(epochs, "epochs")
    _check_positive(batch_size, "batch_size")
    seed = check_seed(seed)
    train_set = data.train if isinstance(data, Splits) else data
    if not isinstance(train_set, TensorDataset):
        raise TypeError(f"data must be Splits or TensorDataset, got {type(data).__name__}")
    params = prunable_parameters(model)
    opt = make_optimizer(model, "adam", lr, 0.0)
    generator = seed_everything(seed)
    model.to(train_set.tensors[0].device)
    for name, keep in random_masks(params, sparsity, generator).items():
        install_model_mask(model, name, keep)
    loader = DataLoader(train_set, batch_size, shuffle=True, generator=generator, num_workers=0)
    end = math.floor(stop_fraction * epochs * len(loader))
    history, step, start = History(), 0, time.perf_counter()
    schedule = (end, update_every, drop_fraction)
    for _ in progress_bar(range(epochs), desc=f"sparse ({method})", enabled=progress):
        history.train_loss.append(_epoch(model, loader, opt, method, generator, step, schedule))
        step += len(loader)
        if isinstance(data, Splits):
            history.val_accuracy.append(evaluate(model, data.val))
    history.seconds = time.perf_counter() - start
    model.eval()
    return history


def _epoch(model, loader, opt, method, generator, step, schedule) -> float:
    """One pass over ``loader``; the mask update runs between backward and the optimizer step."""
    end, every, alpha = schedule
    loss_fn, total, count = nn.CrossEntropyLoss(), 0.0, 0
    model.train()
    for x, y in loader:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(like_model(x, model)), y)
        loss.backward()
        fraction = drop_fraction_at(step, end, alpha)
        if method != "static" and step % every == 0 and step > 0 and fraction > 0:
            _update_masks(model, opt, method, fraction, generator)
        opt.step()
        step += 1
        total += loss.item() * len(y)
        count += len(y)
    return total / count


@torch.no_grad()
def _update_masks(model: nn.Module, opt, method: str, fraction: float, generator) -> None:
    """Drop and grow in every masked layer; grown weights and their optimizer state start at 0.

    RigL reads the gradient of the current batch, which autograd computes densely.
    """
    for name, keep in get_masks(model).items():
        param = model.get_parameter(name)
        if method == "rigl":
            score = param.grad.abs() if param.grad is not None else torch.zeros_like(param)
        else:
            score = torch.rand(param.shape, generator=generator).to(param.device)
        new, grown = drop_and_grow(param, keep, score, fraction)
        param[grown] = 0.0
        for state in opt.state.get(param, {}).values():
            if torch.is_tensor(state) and state.shape == param.shape:
                state[grown] = 0
        replace_mask(model, name, new)
