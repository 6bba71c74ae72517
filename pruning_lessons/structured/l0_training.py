"""Training hard-concrete gates towards a target shape, with a Lagrangian.

An L0 penalty ``lambda * sum P(z != 0)`` (Louizos et al. 2018) says how much a unit costs,
not how many should stay. Sheared-LLaMA (Xia et al. 2024, "Sheared LLaMA: Accelerating
Language Model Pre-training via Structured Pruning"; after Wang et al. 2020 and CoFi, Xia et
al. 2022) asks for a *target shape* instead: with ``s`` a group's expected kept fraction
(:meth:`~.hard_concrete.HardConcreteGates.expected_kept`) and ``t`` its target, the loss is

    L = task loss + lambda_1 * (s - t) + lambda_2 * (s - t)^2

minimised over the weights and the gates' ``log_alpha``, and *maximised* over the
multipliers ``lambda_1, lambda_2`` (gradient ascent, both starting at 0). While ``s`` misses
``t``, ``lambda_1`` grows in the direction that pushes ``s`` back, and ``lambda_2`` grows
whenever ``s != t``: the constraint gets stronger until it holds, without a penalty strength
to tune per target. Each gated group has its own pair of multipliers, so every layer reaches
its own target. As in Sheared-LLaMA's code, the target falls linearly from 1 to ``t`` over a
warm-up (here a fraction of the steps), and ``log_alpha`` stays in ``[-log 100, log 100]``,
so a closed gate can still reopen.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ..core.checks import check_fraction
from ..core.data import Splits
from ..core.device import at_model_threads, check_seed, like_model, seed_everything
from ..core.train import _check_positive, evaluate, make_optimizer, progress_bar
from .hard_concrete import HardConcreteGates

#: ``log_alpha`` is clamped to ``[-LIMIT, LIMIT]`` after every step: ``P(open)`` 0.05 to 0.998.
LIMIT = 10.0


@dataclass
class L0History:
    """What :func:`train_l0` did, one entry per epoch: ``expected_kept`` and ``kept`` (the
    deterministic gates' kept fraction) are averaged over the groups, weighted by size;
    ``lambdas``: group name -> final ``(lambda_1, lambda_2)``."""

    train_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    expected_kept: list[float] = field(default_factory=list)
    kept: list[float] = field(default_factory=list)
    lambdas: dict[str, tuple[float, float]] = field(default_factory=dict)
    seconds: float = 0.0


def lagrangian(
    kept: torch.Tensor, target: float, lambda_1: torch.Tensor, lambda_2: torch.Tensor
) -> torch.Tensor:
    """``lambda_1 * (s - t) + lambda_2 * (s - t)^2`` for expected kept fraction ``s``."""
    gap = kept - target
    return lambda_1 * gap + lambda_2 * gap * gap


def _targets(target: float | dict[str, float], gates: HardConcreteGates) -> dict[str, float]:
    if not isinstance(target, dict):
        target = dict.fromkeys(gates.groups, target)
    unknown = set(target) - set(gates.groups)
    if unknown:
        raise ValueError(f"target names groups that are not gated: {sorted(unknown)}")
    for name, value in target.items():
        check_fraction(value, f"target[{name!r}]")
        if value == 0.0:
            raise ValueError(f"target[{name!r}] must be > 0: a group cannot lose every unit")
    return {name: target.get(name, 1.0) for name in gates.groups}


def _weighted(values: dict[str, float], gates: HardConcreteGates) -> float:
    total = sum(g.size for g in gates.groups.values())
    return sum(float(v) * gates.groups[n].size for n, v in values.items()) / total


@at_model_threads
def train_l0(
    model: nn.Module,
    gates: HardConcreteGates,
    data: Splits | TensorDataset,
    target: float | dict[str, float],
    *,
    epochs: int = 20,
    lr: float = 2e-3,
    gate_lr: float = 0.2,
    lambda_lr: float = 0.2,
    warmup: float = 0.5,
    batch_size: int = 32,
    seed: int = 0,
    progress: bool = True,
) -> L0History:
    """Train ``model`` and its ``gates`` so that each group keeps a ``target`` fraction.

    ``target``: a fraction in (0, 1] for every gated group, or ``{group: fraction}`` (groups
    left out keep everything). Cross-entropy plus :func:`lagrangian` per group; Adam on the
    weights (``lr``) and on ``log_alpha`` (``gate_lr``), plain gradient ascent on the
    multipliers (``lambda_lr``); the target reaches ``t`` after the ``warmup`` fraction of the
    steps. At evaluation each group keeps at most ``round(t * units)`` gates open
    (:meth:`~.hard_concrete.HardConcreteGates.set_shape`), so the final shape is the target
    whenever training opened at least that many. The gates stay attached: remove the closed
    units afterwards with :func:`~.hard_concrete.remove_closed_units`. The same ``seed``
    gives the same result. Bad arguments raise before anything changes.
    """
    if not isinstance(gates, HardConcreteGates) or gates.model is not model:
        raise ValueError("gates must be the HardConcreteGates attached to this model")
    targets = _targets(target, gates)
    _check_positive(epochs, "epochs")
    _check_positive(batch_size, "batch_size")
    for value, name in ((lr, "lr"), (gate_lr, "gate_lr"), (lambda_lr, "lambda_lr")):
        _check_positive(value, name, float)
    check_fraction(warmup, "warmup")
    seed = check_seed(seed)
    train_set = data.train if isinstance(data, Splits) else data
    if not isinstance(train_set, TensorDataset):
        raise TypeError(f"data must be Splits or TensorDataset, got {type(data).__name__}")
    gates.set_shape({n: max(1, round(t * gates.groups[n].size)) for n, t in targets.items()})
    generator = seed_everything(seed)
    gates.generator.manual_seed(seed)
    model.to(train_set.tensors[0].device)
    gates.to(train_set.tensors[0].device)
    multipliers = {n: torch.zeros(2, device=gates.log_alpha[n].device) for n in gates.groups}
    for value in multipliers.values():
        value.requires_grad_(True)
    optimizers = (
        make_optimizer(model, "adam", lr),
        torch.optim.Adam(gates.parameters(), lr=gate_lr),
        torch.optim.SGD(multipliers.values(), lr=lambda_lr, maximize=True),
    )
    loader = DataLoader(train_set, batch_size, shuffle=True, generator=generator, num_workers=0)
    history, start = L0History(), time.perf_counter()
    ramp = Ramp(targets, math.floor(warmup * epochs * len(loader)))
    for _ in progress_bar(range(epochs), desc="L0 gates", enabled=progress):
        loss = _epoch(model, gates, loader, optimizers, ramp, multipliers)
        history.train_loss.append(loss)
        with torch.no_grad():
            expected = {n: s.item() for n, s in gates.expected_kept().items()}
        history.expected_kept.append(_weighted(expected, gates))
        history.kept.append(_weighted(gates.kept_fraction(), gates))
        if isinstance(data, Splits):
            history.val_accuracy.append(evaluate(model, data.val))
    history.lambdas = {n: tuple(v.tolist()) for n, v in multipliers.items()}
    history.seconds = time.perf_counter() - start
    model.eval()
    return history


class Ramp:
    """The targets of step ``k``: linear from 1 at step 0 to the final ones at ``steps``."""

    def __init__(self, targets: dict[str, float], steps: int) -> None:
        self.targets, self.steps, self.step = targets, steps, 0

    def next(self) -> dict[str, float]:
        done = 1.0 if self.steps == 0 else min(self.step / self.steps, 1.0)
        self.step += 1
        return {n: 1 - done * (1 - t) for n, t in self.targets.items()}


def _epoch(model, gates, loader, optimizers, ramp, multipliers) -> float:
    """One pass: every step descends on weights and gates, ascends on the multipliers."""
    loss_fn, total, count = nn.CrossEntropyLoss(), 0.0, 0
    model.train()
    for x, y in loader:
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        task = loss_fn(model(like_model(x, model)), y)
        kept = gates.expected_kept()
        targets = ramp.next()
        constraint = sum(lagrangian(kept[n], t, *multipliers[n]) for n, t in targets.items())
        (task + constraint).backward()
        for opt in optimizers:
            opt.step()
        with torch.no_grad():
            for log_alpha in gates.parameters():
                log_alpha.clamp_(-LIMIT, LIMIT)
        total += task.item() * len(y)
        count += len(y)
    return total / count
