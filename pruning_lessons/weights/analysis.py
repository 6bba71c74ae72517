"""The challenges of pruning, measured: per-layer sensitivity, spread over seeds, robustness.

* Sensitivity (Li et al. 2017, "Pruning Filters for Efficient ConvNets"): prune one layer at
  a time over a range of amounts and watch accuracy. Layers whose accuracy falls early are
  sensitive and deserve a lower ratio; :func:`amounts_for_budget` turns a scan into ratios.
* Stability: a single run can mislead; :func:`over_seeds` reports mean +- std.
* Generalisation: :func:`perturbed_accuracy` measures accuracy on noisy or shifted digits, so
  a dense and a pruned model can be compared off the clean test set.
"""

from __future__ import annotations

import copy
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import TensorDataset

from ..core.device import independent_generator
from ..core.train import evaluate
from .magnitude import magnitude_prune, prunable_parameters
from .select import check_fraction

DEFAULT_AMOUNTS = (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98)


@dataclass(frozen=True)
class Sensitivity:
    """Accuracy after pruning each layer alone: ``accuracy[layer][i]`` at ``amounts[i]``."""

    amounts: tuple[float, ...]
    accuracy: dict[str, list[float]]
    baseline: float

    def __str__(self) -> str:
        head = "layer".ljust(14) + "".join(f"{a:>7.0%}" for a in self.amounts)
        rows = [
            name.ljust(14) + "".join(f"{acc:>7.1%}" for acc in accs)
            for name, accs in self.accuracy.items()
        ]
        return "\n".join([f"baseline accuracy {self.baseline:.1%}", head, *rows])


def sensitivity_scan(
    model: nn.Module,
    dataset: TensorDataset,
    amounts: Sequence[float] = DEFAULT_AMOUNTS,
    *,
    prune_one: Callable[[nn.Module, str, float], object] | None = None,
    layers: Iterable[str] | None = None,
) -> Sensitivity:
    """Prune each layer alone (on a copy) at each amount and record the accuracy.

    ``prune_one(model_copy, layer, amount)`` prunes one layer; the default is magnitude
    pruning of that weight tensor. Use the validation set, not the test set, to choose ratios.
    """
    amounts = tuple(check_fraction(a, "each of amounts") for a in amounts)
    names = list(layers) if layers is not None else list(prunable_parameters(model))
    if prune_one is None:

        def prune_one(m: nn.Module, name: str, amount: float) -> None:
            magnitude_prune(m, amount, parameters=[name])

    result = {}
    for name in names:
        accuracies = []
        for amount in amounts:
            trial = copy.deepcopy(model)
            prune_one(trial, name, amount)
            accuracies.append(evaluate(trial, dataset))
        result[name] = accuracies
    return Sensitivity(amounts, result, evaluate(model, dataset))


def amounts_for_budget(scan: Sensitivity, max_drop: float) -> dict[str, float]:
    """For each layer, the largest scanned amount whose accuracy stays within ``max_drop``
    (a fraction, e.g. 0.01 for one point) of the baseline when that layer alone is pruned."""
    if not 0 <= max_drop < 1:
        raise ValueError(f"max_drop must be in [0, 1), got {max_drop}")
    chosen = {}
    for name, accuracies in scan.accuracy.items():
        ok = [
            a
            for a, acc in zip(scan.amounts, accuracies, strict=True)
            if acc >= scan.baseline - max_drop
        ]
        chosen[name] = max(ok, default=0.0)
    return chosen


@dataclass(frozen=True)
class Spread:
    values: tuple[float, ...]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def std(self) -> float:
        return statistics.pstdev(self.values) if len(self.values) > 1 else 0.0

    def __str__(self) -> str:
        return f"{100 * self.mean:.1f} +- {100 * self.std:.1f} (n={len(self.values)})"


def over_seeds(experiment: Callable[[int], float], seeds: Iterable[int] = (0, 1, 2)) -> Spread:
    """Run ``experiment(seed)`` for each seed; mean +- (population) standard deviation."""
    values = tuple(float(experiment(seed)) for seed in seeds)
    if not values:
        raise ValueError("seeds is empty")
    return Spread(values)


PERTURBATIONS = ("noise", "shift")


def perturb(images: torch.Tensor, kind: str, strength: float, seed: int = 0) -> torch.Tensor:
    """Noisy or shifted copies of ``(N, 1, 8, 8)`` images in [0, 1].

    * ``"noise"``: add Gaussian noise of standard deviation ``strength``, clip to [0, 1].
    * ``"shift"``: move each image by ``strength`` pixels (an int) in a random direction,
      filling with blank pixels.
    """
    generator = independent_generator(seed, "perturb")
    if kind == "noise":
        noise = torch.randn(images.shape, generator=generator).to(images.device)
        return (images + strength * noise).clamp(0.0, 1.0)
    if kind == "shift":
        pixels = int(strength)
        if pixels != strength or pixels < 0:
            raise ValueError(f"a shift must be a whole number of pixels >= 0, got {strength}")
        padded = nn.functional.pad(images, (pixels,) * 4)
        offsets = torch.randint(0, 2 * pixels + 1, (len(images), 2), generator=generator)
        size = images.shape[-1]
        return torch.stack(
            [
                padded[i, :, int(dy) : int(dy) + size, int(dx) : int(dx) + size]
                for i, (dy, dx) in enumerate(offsets)
            ]
        )
    raise ValueError(f"kind must be one of {PERTURBATIONS}, got {kind!r}")


def perturbed_accuracy(
    model: nn.Module, dataset: TensorDataset, kind: str, strength: float, seed: int = 0
) -> float:
    """Accuracy on ``dataset`` after :func:`perturb` (same seed, same perturbed images)."""
    images, labels = dataset.tensors
    return evaluate(model, TensorDataset(perturb(images, kind, strength, seed), labels))
