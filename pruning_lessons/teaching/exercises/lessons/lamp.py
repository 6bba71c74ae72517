"""Exercise 04: the LAMP score of every weight of a layer."""

from __future__ import annotations

import torch

from ..core import Exercise


def lamp(weight: torch.Tensor) -> torch.Tensor:
    """LAMP (Lee et al. 2021): w_u^2 / sum of w_v^2 over v at or after u in ascending order."""
    squares = weight.reshape(-1).square()
    order = torch.argsort(squares, stable=True)
    ordered = squares[order]
    at_or_after = ordered.flip(0).cumsum(0).flip(0)
    scores = torch.zeros_like(squares)
    scores[order] = torch.where(at_or_after > 0, ordered / at_or_after, 0.0)
    return scores.reshape(weight.shape)


def _lamp_shape(fn):
    weight = torch.tensor([[3.0, -1.0], [2.0, 0.5]])
    scores = fn(weight.clone())
    if not torch.is_tensor(scores) or scores.shape != weight.shape:
        return "return one score per weight, in the weight's shape"
    if not scores.is_floating_point():
        return "scores are fractions: return a floating-point tensor"
    return None


def _lamp_values(fn):
    scores = fn(torch.tensor([3.0, -1.0, 2.0]))
    want = torch.tensor([1.0, 1 / 14, 4 / 13])
    if torch.allclose(scores, want, atol=1e-6):
        return None
    if (scores < 0).any():
        return "a score came out negative: LAMP works with squared weights"
    if torch.allclose(scores, torch.tensor([3.0, 1.0, 2.0]) / torch.tensor([3.0, 6.0, 5.0])):
        return "square the weights: LAMP compares w^2, not |w|"
    if torch.allclose(scores, torch.tensor([9.0, 1.0, 4.0]) / 14):
        return (
            "each weight is divided by the sum over all weights: LAMP divides by the sum over "
            "the weights at least as large (at or after it in ascending order)"
        )
    if torch.allclose(scores.sort().values, want.sort().values):
        return "the scores are right but at the wrong positions: put each back where its weight is"
    return (
        "on the weights [3, -1, 2] your scores are off: each is w^2 divided by the sum of the "
        "squares at or after it in ascending order (including itself)"
    )


def _lamp_largest(fn):
    scores = fn(torch.tensor([[0.2, -0.7, 0.4], [0.1, 0.05, -0.3]]))
    if not torch.isfinite(scores).all():
        return "some scores are inf or NaN: include the weight itself in the sum below it"
    if abs(scores.max().item() - 1.0) > 1e-6 or scores[0, 1] != scores.max():
        return "the largest weight of a layer must score exactly 1"
    return None


def _lamp_ties(fn):
    scores = fn(torch.tensor([1.0, 1.0, 2.0]))
    if not torch.allclose(scores, torch.tensor([1 / 6, 1 / 5, 1.0])):
        return (
            "with equal weights, order them by index (a stable sort): the first of two equal "
            "weights comes first, so its sum includes the second"
        )
    return None


def _lamp_zeros(fn):
    scores = fn(torch.zeros(4))
    if not torch.isfinite(scores).all() or scores.abs().sum() != 0:
        return "a layer of zeros should score 0 everywhere, not inf or NaN"
    return None


def _lamp_pure(fn):
    weight = torch.tensor([3.0, -1.0, 2.0])
    fn(weight)
    if not torch.equal(weight, torch.tensor([3.0, -1.0, 2.0])):
        return "your function changed the weight it was given"
    return None


lesson04 = Exercise(
    "04.ex1",
    "the LAMP score",
    lamp,
    [_lamp_shape, _lamp_values, _lamp_largest, _lamp_ties, _lamp_zeros, _lamp_pure],
    [
        "Sort the squared weights of one layer from small to large. A weight's LAMP score is "
        "its square divided by the sum of the squares from it to the end.",
        "`torch.argsort(squares, stable=True)` gives the order; a reversed cumulative sum "
        "(`x.flip(0).cumsum(0).flip(0)`) gives 'the sum from here to the end'.",
        "Scatter the scores back to the weights' positions (`scores[order] = ...`), reshape, "
        "and give 0 where the sum is 0.",
    ],
)
