"""Activation statistics gathered with forward hooks while calibration text runs through.

For a linear layer ``y = x W^T`` with inputs ``x`` (one row per token), the pruners need:

* Wanda: the L2 norm of each input feature over all calibration tokens, ``||X_j||_2``;
* SparseGPT: the layer Hessian of the reconstruction error, ``H = X^T X`` (features x features).

Both are sums over tokens, so they are accumulated batch by batch without storing activations.
"""

from __future__ import annotations

import weakref

import torch
from torch import nn

from .model import PROJECTIONS


class InputStats:
    """Running sums over the rows of a linear layer's inputs: squares, and optionally X^T X."""

    def __init__(self, in_features: int, device: torch.device, hessian: bool) -> None:
        self.tokens = 0
        self.batches = 0
        self.sq_sum = torch.zeros(in_features, device=device, dtype=torch.float64)
        self.xtx = (
            torch.zeros(in_features, in_features, device=device, dtype=torch.float64)
            if hessian
            else None
        )

    def add(self, x: torch.Tensor, shared: SharedSums | None = None) -> None:
        tokens, squares, xtx = (shared or SharedSums()).sums(x, self.xtx is not None)
        self.tokens += tokens
        self.batches += 1
        self.sq_sum += squares
        if self.xtx is not None:
            self.xtx += xtx

    @property
    def norms(self) -> torch.Tensor:
        """``||X_j||_2`` over every token seen, per input feature."""
        return self.sq_sum.sqrt()


class SharedSums:
    """One input's sums, reused by every layer that reads the very same tensor.

    In a decoder block ``q_proj``, ``k_proj`` and ``v_proj`` read one normalised hidden state,
    and so do ``gate_proj`` and ``up_proj``: their ``X^T X`` is computed once. The sums are kept
    only while that tensor is alive and unchanged (same object, same version counter), so a
    new input, or an in-place change, is always summed afresh.
    """

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._sums: tuple | None = None

    def _forget(self, _ref=None) -> None:
        self._key = self._sums = None

    def sums(self, x: torch.Tensor, hessian: bool) -> tuple:
        """``(tokens, sum of squares per feature, X^T X or None)`` of ``x``'s rows (float64)."""
        if self._key is not None:
            ref, version, had_hessian = self._key
            if ref() is x and version == x._version and (had_hessian or not hessian):
                return self._sums
        rows = x.detach().reshape(-1, x.shape[-1]).double()
        self._sums = (rows.shape[0], rows.pow(2).sum(0), rows.T @ rows if hessian else None)
        self._key = (weakref.ref(x, self._forget), x._version, hessian)
        return self._sums


def linear_layers(block: nn.Module) -> dict[str, nn.Linear]:
    """The seven projections of a decoder block, by their name inside it (``self_attn.q_proj``)."""
    found = {
        name: module
        for name, module in block.named_modules()
        if isinstance(module, nn.Linear) and name.rpartition(".")[2] in PROJECTIONS
    }
    return found


def collect_inputs(
    layers: dict[str, nn.Linear], run, *, hessian: bool = False
) -> dict[str, InputStats]:
    """Hook every layer in ``layers``, call ``run()``, and return the statistics of its inputs."""
    stats = {
        name: InputStats(m.in_features, m.weight.device, hessian) for name, m in layers.items()
    }
    shared = SharedSums()
    handles = [
        module.register_forward_pre_hook(lambda _m, args, s=stats[name]: s.add(args[0], shared))
        for name, module in layers.items()
    ]
    try:
        with torch.no_grad():
            run()
    finally:
        for handle in handles:
            handle.remove()
    return stats


def input_norms(model: nn.Module, calibration: torch.Tensor) -> dict[str, torch.Tensor]:
    """``||X_j||_2`` for every projection of every block of ``model`` (one dense pass).

    Keys are full module names (``"layers.0.self_attn.q_proj"``). Large values mark the input
    features (channels) that carry most of the signal: an "outlier feature" shows as a spike.
    """
    layers = {
        name: module
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and name.rpartition(".")[2] in PROJECTIONS
    }
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        stats = collect_inputs(layers, lambda: model(calibration.to(device)))
    finally:
        model.train(was_training)
    return {name: s.norms.float() for name, s in stats.items()}
