"""Activation statistics gathered with forward hooks while calibration text runs through.

For a linear layer ``y = x W^T`` with inputs ``x`` (one row per token), the pruners need:

* Wanda: the L2 norm of each input feature over all calibration tokens, ``||X_j||_2``;
* SparseGPT: the layer Hessian of the reconstruction error, ``H = X^T X`` (features x features).

Both are sums over tokens, so they are accumulated batch by batch without storing activations.
"""

from __future__ import annotations

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

    def add(self, x: torch.Tensor) -> None:
        rows = x.detach().reshape(-1, x.shape[-1]).double()
        self.tokens += rows.shape[0]
        self.batches += 1
        self.sq_sum += rows.pow(2).sum(0)
        if self.xtx is not None:
            self.xtx += rows.T @ rows

    @property
    def norms(self) -> torch.Tensor:
        """``||X_j||_2`` over every token seen, per input feature."""
        return self.sq_sum.sqrt()


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
    handles = [
        module.register_forward_pre_hook(lambda _m, args, s=stats[name]: s.add(args[0]))
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
