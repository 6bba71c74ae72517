"""Exercise 02: an N:M keep-mask (the N largest of every M weights in a row)."""

from __future__ import annotations

import torch

from ..core import Exercise


def keep_n_of_m(weight: torch.Tensor, n: int = 2, m: int = 4) -> torch.Tensor:
    """Keep the n largest |w| of each m consecutive weights in a row; ties: lower index goes."""
    rows, cols = weight.shape
    if cols % m:
        raise ValueError(f"rows of {cols} weights cannot be cut into groups of m={m}")
    groups = weight.abs().reshape(rows, cols // m, m)
    lowest = torch.argsort(groups, dim=-1, stable=True)[..., : m - n]
    keep = torch.ones_like(groups, dtype=torch.bool).scatter_(-1, lowest, False)
    return keep.reshape(rows, cols)


def _nm():
    """A fresh copy each call: a learner's function may edit what it gets."""
    return torch.tensor(
        [
            [0.9, -0.1, 0.5, -0.7, 0.3, 0.2, -0.8, 0.05],
            [-0.2, 0.6, 0.1, 0.4, -0.9, 0.3, 0.7, -0.5],
        ]
    )


def _nm_shape(fn):
    mask = fn(_nm().clone(), 2, 4)
    if not torch.is_tensor(mask) or mask.shape != _nm().shape:
        return "return a mask of the weight's shape"
    if mask.dtype != torch.bool:
        return f"the mask should be boolean (True = keep), but its dtype is {mask.dtype}"
    return None


def _nm_counts(fn):
    mask = fn(_nm().clone(), 2, 4)
    per_group = mask.reshape(2, 2, 4).sum(-1)
    if not (per_group == 2).all():
        if (per_group.sum() == 8).item():
            return (
                "every group of 4 consecutive weights in a row must keep exactly 2; yours keeps "
                "2 of 4 overall but not in every group (are the groups along the rows?)"
            )
        return "every group of 4 consecutive weights in a row must keep exactly 2 (2:4)"
    return None


def _nm_largest(fn):
    mask = fn(_nm().clone(), 2, 4)
    groups, kept = _nm().abs().reshape(2, 2, 4), mask.reshape(2, 2, 4)
    for g, k in zip(groups.reshape(-1, 4), kept.reshape(-1, 4), strict=True):
        if g[k].min() < g[~k].max():
            if (_nm().reshape(-1, 4)[kept.reshape(-1, 4)] >= 0).all():
                return "a negative weight with a large magnitude was pruned: rank by |w|"
            return "in a group, a smaller |w| was kept while a larger one was pruned"
    return None


def _nm_other_ratio(fn):
    weight = torch.arange(1.0, 17.0).reshape(2, 8)
    mask = fn(weight, 1, 4)
    if mask.sum() != 4:
        return "with n=1, m=4 each group of 4 keeps 1 weight: use n and m, do not assume 2:4"
    return None


def _nm_other_group_size(fn):
    weight = torch.tensor([[0.1, 0.9, 0.2, 0.8, 0.3, 0.7, 0.4, 0.6]])
    mask = fn(weight.clone(), 2, 8)
    if mask.tolist() != [[False, True, False, True, False, False, False, False]]:
        return (
            "with n=2, m=8 one group of 8 keeps its 2 largest: use m for the group size, do "
            "not assume groups of 4"
        )
    return None


def _nm_ties(fn):
    mask = fn(torch.ones(1, 8), 2, 4)
    if mask.flatten().tolist() != [False, False, True, True] * 2:
        return "with equal magnitudes in a group, prune the lower indices first (stable order)"
    return None


def _nm_refuses(fn):
    try:
        fn(torch.ones(2, 6), 2, 4)
    except ValueError:
        return None
    return "rows of 6 weights cannot be cut into groups of 4: raise ValueError"


def _nm_pure(fn):
    weight = _nm().clone()
    fn(weight, 2, 4)
    if not torch.equal(weight, _nm()):
        return "your function changed the weight it was given; build a mask and leave it be"
    return None


lesson02 = Exercise(
    "02.ex1",
    "an N:M keep-mask",
    keep_n_of_m,
    [
        _nm_shape,
        _nm_counts,
        _nm_largest,
        _nm_other_ratio,
        _nm_other_group_size,
        _nm_ties,
        _nm_refuses,
        _nm_pure,
    ],
    [
        "N:M sparsity cuts each row into groups of m consecutive weights and keeps the n "
        "largest |w| of each group (2:4: two of every four).",
        "`weight.abs().reshape(rows, cols // m, m)` puts each group on the last axis; "
        "`torch.argsort(..., dim=-1, stable=True)` ranks inside each group.",
        "Mark the m - n smallest of each group False (`scatter_` on the last axis), reshape "
        "back, and raise ValueError when cols % m != 0.",
    ],
)
