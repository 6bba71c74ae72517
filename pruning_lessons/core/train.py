"""Training, evaluation and fine-tuning: one small loop, seeded, device-agnostic.

The loop is deliberately plain (``loss.backward(); optimizer.step()``) so that what the
library does to keep pruned weights at zero is visible in ``weights/masks.py``, not hidden here.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

from .data import Splits
from .device import at_model_threads, check_seed, evaluating, like_model, seed_everything

OPTIMIZERS = ("adam", "adamw", "sgd")
LR_SCHEDULES = ("constant", "cosine")


@dataclass
class History:
    """What happened during :func:`fit`: one entry per epoch."""

    train_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: float = 0.0


def progress_bar(iterable, *, desc: str, enabled: bool = True, **kwargs):
    """A ``tqdm.auto`` bar (a widget in JupyterLab, text in a terminal).

    ``disable`` is only passed when the bar is switched off, so that the environment variable
    ``TQDM_DISABLE=1`` (used by the notebook tests) still silences every bar.
    """
    if not enabled:
        kwargs["disable"] = True
    return tqdm(iterable, desc=desc, leave=False, **kwargs)


def _check_positive(value: object, name: str, kind: type = int) -> None:
    if isinstance(value, bool) or not isinstance(value, kind | int):
        raise TypeError(f"{name} must be a positive {kind.__name__}, got {type(value).__name__}")
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value}")


def make_optimizer(
    model: nn.Module, name: str = "adam", lr: float = 1e-3, weight_decay: float = 0.0
) -> torch.optim.Optimizer:
    """``"adam"``, ``"adamw"`` or ``"sgd"`` (with momentum 0.9) over the model's parameters."""
    params = model.parameters()
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")


def _device_of(dataset: TensorDataset) -> torch.device:
    return dataset.tensors[0].device


@at_model_threads
@torch.no_grad()
def evaluate(model: nn.Module, dataset: TensorDataset, *, batch_size: int = 512) -> float:
    """Accuracy (a fraction in [0, 1]) of ``model`` on ``dataset``, in eval mode.

    Every module's own train/eval mode is restored afterwards (a frozen BatchNorm stays
    frozen). Inputs are moved to the model's device and float dtype.
    """
    _check_positive(batch_size, "batch_size")
    if len(dataset) == 0:
        raise ValueError("dataset is empty: nothing to evaluate")
    correct = 0
    with evaluating(model):
        for x, y in DataLoader(dataset, batch_size=batch_size, num_workers=0):
            predicted = model(like_model(x, model)).argmax(dim=1)
            correct += (predicted == y.to(predicted.device)).sum().item()
    return correct / len(dataset)


@at_model_threads
def fit(
    model: nn.Module,
    data: Splits | TensorDataset,
    *,
    epochs: int = 30,
    lr: float = 2e-3,
    batch_size: int = 32,
    optimizer: str | torch.optim.Optimizer = "adam",
    weight_decay: float = 0.0,
    seed: int = 0,
    penalty: Callable[[nn.Module], torch.Tensor] | None = None,
    lr_schedule: str = "constant",
    progress: bool = True,
    desc: str = "train",
) -> History:
    """Train ``model`` with cross-entropy on ``data`` (``Splits``: train, report val accuracy).

    The model is moved to the data's device. The same ``seed`` gives the same weights bit for
    bit on CPU. ``lr_schedule="cosine"`` decays the learning rate to zero over the call.
    ``penalty(model)``, if given, is added to the loss (Network Slimming's L1 on
    BatchNorm scales is one). Set ``TQDM_DISABLE=1`` to silence the progress bar. A small
    model trains on one CPU thread (see :func:`~pruning_lessons.core.device.threads_for`); the
    caller's thread count is restored afterwards.
    """
    _check_positive(epochs, "epochs")
    _check_positive(batch_size, "batch_size")
    _check_positive(lr, "lr", float)
    seed = check_seed(seed)
    train_set = data.train if isinstance(data, Splits) else data
    val_set = data.val if isinstance(data, Splits) else None
    if not isinstance(train_set, TensorDataset):
        raise TypeError(f"data must be Splits or TensorDataset, got {type(data).__name__}")
    if isinstance(optimizer, str):
        opt = make_optimizer(model, optimizer, lr, weight_decay)  # validates before any change
    else:
        opt = optimizer
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {lr_schedule!r}")
    generator = seed_everything(seed)
    model.to(_device_of(train_set))
    loader = DataLoader(
        train_set, batch_size=batch_size, shuffle=True, generator=generator, num_workers=0
    )
    scheduler = None
    if lr_schedule == "cosine":  # decay to zero over this call's steps
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * len(loader))
    loss_fn = nn.CrossEntropyLoss()
    history = History()
    start = time.perf_counter()
    bar = progress_bar(range(epochs), desc=desc, enabled=progress)
    for _ in bar:
        model.train()
        total, count = 0.0, 0
        for x, y in loader:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(like_model(x, model)), y)
            if penalty is not None:
                loss = loss + penalty(model)
            loss.backward()
            opt.step()
            if scheduler is not None:
                scheduler.step()
            total += loss.item() * len(y)
            count += len(y)
        history.train_loss.append(total / count)
        if val_set is not None:
            history.val_accuracy.append(evaluate(model, val_set))
            bar.set_postfix(loss=f"{history.train_loss[-1]:.3f}", val=history.val_accuracy[-1])
    history.seconds = time.perf_counter() - start
    model.eval()
    return history


def fine_tune(
    model: nn.Module,
    data: Splits | TensorDataset,
    *,
    epochs: int = 5,
    lr: float = 1e-3,
    **kwargs,
) -> History:
    """Fine-tune after pruning: :func:`fit` with fewer epochs and a lower learning rate.

    Han et al. (2015) retrain the surviving weights instead of training from scratch; a rate
    below the original one keeps the network near the solution it had found. Half of ``fit``'s
    rate (Adam) is the default here. Masks installed by the pruning functions keep pruned weights
    at zero.
    """
    return fit(model, data, epochs=epochs, lr=lr, desc=kwargs.pop("desc", "fine-tune"), **kwargs)


def _batchnorms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [
        m
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
    ]


@torch.no_grad()
def recalibrate_bn(
    model: nn.Module,
    data: Splits | TensorDataset,
    batches: int | None = None,
    *,
    batch_size: int = 32,
) -> int:
    """Re-estimate every BatchNorm layer's running mean and variance; return the batch count.

    After channels are removed (or weights masked), the activations reaching each BatchNorm
    change, but its running statistics still describe the dense network, so eval mode
    normalises with stale numbers. The fix needs no gradient step: reset the statistics, run
    ``batches`` training batches (all of them by default, in a fixed order) through the model in
    train mode without autograd, with ``momentum=None`` so each layer keeps the plain average of
    the batch means and (unbiased) variances. This is ``torch.optim.swa_utils.update_bn``
    (the same step after weight averaging, Izmailov et al. 2018); afterwards each module's own
    train/eval mode and each BatchNorm's momentum are restored. Weights are not touched.
    """
    train_set = data.train if isinstance(data, Splits) else data
    if not isinstance(train_set, TensorDataset):
        raise TypeError(f"data must be Splits or TensorDataset, got {type(data).__name__}")
    if batches is not None:
        _check_positive(batches, "batches")
    _check_positive(batch_size, "batch_size")
    norms = _batchnorms(model)
    if not norms:
        raise ValueError(
            "model has no BatchNorm layer with running statistics: nothing to recalibrate"
        )
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=False, num_workers=0)
    chosen = list(itertools.islice(loader, batches))
    modes = {m: m.training for m in model.modules()}
    saved = {m: (m.momentum, _copy_stats(m)) for m in norms}
    try:
        torch.optim.swa_utils.update_bn((like_model(x, model) for x, _ in chosen), model)
    except BaseException:
        for m, (momentum, stats) in saved.items():
            m.momentum = momentum
            for name, value in stats.items():
                getattr(m, name).copy_(value)
        raise
    finally:
        for module, mode in modes.items():
            module.training = mode
    return len(chosen)


def _copy_stats(norm: nn.modules.batchnorm._BatchNorm) -> dict[str, torch.Tensor]:
    """A copy of a BatchNorm layer's running statistics buffers."""
    names = ("running_mean", "running_var", "num_batches_tracked")
    return {n: getattr(norm, n).clone() for n in names if getattr(norm, n) is not None}
