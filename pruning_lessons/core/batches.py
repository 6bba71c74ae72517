"""Batches and gradients for every criterion that reads data (Taylor, SNIP, FPGM, movement).

Shared by weight criteria (``weights.criteria``) and unit criteria (``structured.importance``),
so it lives below both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from .data import Splits
from .device import evaluating, like_model

Scores = dict[str, torch.Tensor]
Batch = tuple[torch.Tensor, torch.Tensor]
Data = Splits | TensorDataset | Iterable[Batch] | Batch
Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

DATA_HELP = "a Splits (its train set is used), a TensorDataset, or batches of (inputs, targets)"


def _check_count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a positive int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def _is_batch(data: object) -> bool:
    return (
        isinstance(data, tuple | list)
        and len(data) == 2
        and all(isinstance(t, torch.Tensor) for t in data)
    )


def data_batches(data: Data | None, batches: int, batch_size: int, who: str) -> list[Batch]:
    """The first ``batches`` batches of ``data`` (in order, no shuffling): what scoring reads.

    ``data``: a ``Splits`` (its train set), a ``TensorDataset`` (cut into ``batch_size``
    batches), one ``(inputs, targets)`` pair, or any iterable of such pairs (a DataLoader).
    ``who`` names the criterion in the error raised when ``data`` is missing or empty.
    """
    _check_count(batches, "batches")
    _check_count(batch_size, "batch_size")
    if data is None:
        raise ValueError(f"{who} needs data to compute gradients: pass data= {DATA_HELP}")
    if isinstance(data, Splits):
        data = data.train
    if isinstance(data, TensorDataset):
        data = DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=0)
    elif _is_batch(data):
        data = [tuple(data)]
    elif not isinstance(data, Iterable):
        raise TypeError(f"{who}: data must be {DATA_HELP}, got {type(data).__name__}")
    chosen = list(islice(data, batches))
    if not chosen:
        raise ValueError(f"{who}: data holds no batch")
    if not all(_is_batch(b) for b in chosen):
        raise TypeError(f"{who}: every batch must be a pair (inputs, targets) of tensors")
    return [(x, y) for x, y in chosen]


def gradients(
    model: nn.Module,
    params: Mapping[str, nn.Parameter],
    batches: list[Batch],
    loss_fn: Loss | None = None,
) -> Iterator[Scores]:
    """For each batch, ``dL/dp`` for every named parameter (cross-entropy by default).

    Uses ``torch.autograd.grad``, so ``.grad`` fields and optimizer state stay untouched, and
    runs in eval mode, so BatchNorm running statistics do not move: the model is not changed.
    """
    for name, param in params.items():
        if not param.requires_grad:
            raise ValueError(f"parameter {name!r} has requires_grad=False; no gradient for it")
    loss_fn = nn.functional.cross_entropy if loss_fn is None else loss_fn
    device = next(iter(params.values())).device
    with evaluating(model, grad=True):
        for x, y in batches:
            loss = loss_fn(model(like_model(x, model)), y.to(device))
            grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
            yield {
                n: torch.zeros_like(p) if g is None else g
                for (n, p), g in zip(params.items(), grads, strict=True)
            }
