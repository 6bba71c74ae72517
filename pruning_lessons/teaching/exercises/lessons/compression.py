"""Exercise 01: the compression ratio: all parameters over the non-zero ones."""

from __future__ import annotations

import torch
from torch import nn

from ..core import Exercise


def compression_ratio(model: nn.Module) -> float:
    """All parameters divided by the non-zero ones (ShrinkBench's compression ratio)."""
    total = sum(p.numel() for p in model.parameters())
    nonzero = sum(int(torch.count_nonzero(p)) for p in model.parameters())
    return total / nonzero if nonzero else float("inf")


def _sparse_pair() -> nn.Sequential:
    """4 -> 3 -> 2 MLP (23 parameters) with 8 exact zeros, some of the others negative."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    with torch.no_grad():
        model[0].weight.copy_(
            torch.tensor([[0.0, -0.5, 0.0, 0.2], [0.0, 0.0, -0.3, 0.0], [1e-8, 0.4, -0.1, 0.0]])
        )
        model[0].bias.copy_(torch.tensor([0.1, -0.2, 0.0]))
        model[2].weight.copy_(torch.tensor([[0.5, 0.0, -0.7], [-0.1, 0.2, 0.3]]))
        model[2].bias.copy_(torch.tensor([0.0, -0.4]))
    return model  # 23 parameters, 9 zeros -> 14 non-zero


def _ratio_number(fn):
    ratio = fn(_sparse_pair())
    if isinstance(ratio, torch.Tensor):
        return "return a Python float (use float(...) or .item()), not a tensor"
    if not isinstance(ratio, float):
        return f"return a float, got {type(ratio).__name__} (integer division drops the fraction)"
    return None


def _ratio_dense(fn):
    model = nn.Sequential(nn.Linear(3, 2))
    with torch.no_grad():
        model[0].weight.fill_(0.5)
        model[0].bias.fill_(-1.0)
    if abs(fn(model) - 1.0) > 1e-9:
        return "a model without any zero should have a compression ratio of 1"
    return None


def _ratio_sparse(fn):
    model = _sparse_pair()
    got = fn(model)
    if abs(got - 23 / 14) < 1e-9:
        return None
    if abs(got - 14 / 23) < 1e-9:
        return "your ratio is upside down: compression is all parameters over the non-zero ones"
    if abs(got - 9 / 23) < 1e-9:
        return "that is the sparsity (the share of zeros), not the compression ratio"
    if abs(got - 18 / 10) < 1e-9 or abs(got - 18 / 11) < 1e-9:
        return (
            "count every parameter, biases included: ShrinkBench reports compression over all "
            "parameters"
        )
    return (
        "on a small model with some exact zeros (and some negative weights, and one tiny "
        "1e-8) your ratio is off: count as non-zero every value that is not exactly 0, in "
        "every parameter of every layer"
    )


def _ratio_buffers(fn):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    with torch.no_grad():
        model[0].weight[0].zero_()  # 3 zeros out of 24 parameters
        model[1].bias.fill_(0.1)  # BatchNorm's shift starts at 0: make it non-zero
    if abs(fn(model) - 24 / 21) > 1e-9:
        return (
            "with a BatchNorm layer your ratio is off: its running statistics are buffers, not "
            "parameters, so they do not count"
        )
    return None


def _ratio_frozen_and_nested(fn):
    block = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    model = nn.Sequential(nn.Sequential(block, nn.Linear(2, 2)), nn.Linear(2, 1))
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(0.5)
        block[0].weight[0].zero_()  # 3 zeros of 17 parameters
    block.requires_grad_(False)  # a frozen part still counts
    if abs(fn(model) - 17 / 14) > 1e-9:
        return (
            "with a frozen layer (requires_grad=False) nested two levels deep your ratio is "
            "off: every parameter counts, trainable or not, at any depth (model.parameters() "
            "walks all of them)"
        )
    return None


def _ratio_leaves_model(fn):
    model = _sparse_pair()
    before = [p.detach().clone() for p in model.parameters()]
    fn(model)
    if any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True)):
        return "your function changed the model's weights; only count them"
    return None


def _ratio_empty(fn):
    model = nn.Sequential(nn.Linear(2, 2))
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    if fn(model) != float("inf"):
        return "a model whose parameters are all zero should give float('inf'), not an error"
    return None


lesson01 = Exercise(
    "01.ex1",
    "non-zeros and the compression ratio",
    compression_ratio,
    [
        _ratio_number,
        _ratio_dense,
        _ratio_sparse,
        _ratio_buffers,
        _ratio_frozen_and_nested,
        _ratio_leaves_model,
        _ratio_empty,
    ],
    [
        "Compression ratio = number of parameters / number of non-zero parameters, over every "
        "parameter of the model (weights and biases).",
        "`model.parameters()` gives every parameter tensor; `p.numel()` counts its entries and "
        "`torch.count_nonzero(p)` its entries that are not exactly 0.",
        "Sum both counts over all parameters and divide; when nothing is non-zero return "
        "float('inf').",
    ],
)
