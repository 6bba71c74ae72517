"""Exercise 10, pruning language models: write the Wanda mask of one linear layer."""

from __future__ import annotations

import torch

from .core import Exercise
from .weight import _mask_shape

# --- reference solution ------------------------------------------------------------------------


def wanda_mask(weight: torch.Tensor, batches: list[torch.Tensor], amount: float) -> torch.Tensor:
    """Keep-mask of Wanda: in each output row, prune the round(amount * n_in) lowest scores.

    score_ij = |W_ij| * ||X_j||_2, with X_j the j-th input feature over the tokens of *all*
    calibration batches (each batch: (tokens, n_in)). Ties: the lower index is pruned first.
    """
    x = torch.cat([b.reshape(-1, b.shape[-1]) for b in batches])  # every token of every batch
    scores = weight.abs() * x.norm(dim=0)  # ||X_j||_2 per input feature, broadcast over rows
    k = round(amount * weight.shape[1])
    lowest = torch.argsort(scores, dim=1, stable=True)[:, :k]  # per row, smallest first
    return torch.ones_like(weight, dtype=torch.bool).scatter(1, lowest, False)


# --- wrong variants the checks recognise, to say what went wrong -------------------------------


def _tokens(batches):
    return torch.cat([b.reshape(-1, b.shape[-1]) for b in batches])


def _per_row(scores, amount):
    k = round(amount * scores.shape[1])
    lowest = torch.argsort(scores, dim=1, stable=True)[:, :k]
    return torch.ones_like(scores, dtype=torch.bool).scatter(1, lowest, False)


def _whole_matrix(scores, amount):
    k = round(amount * scores.shape[1]) * scores.shape[0]
    keep = torch.ones(scores.numel(), dtype=torch.bool)
    keep[torch.argsort(scores.flatten(), stable=True)[:k]] = False
    return keep.reshape(scores.shape)


def _variants(weight, batches, amount):
    """(mask of a plausible mistake, what to tell the learner)."""
    x, w = _tokens(batches), weight.abs()
    norm = x.norm(dim=0)
    return [
        (_per_row(w, amount), "your mask is plain magnitude pruning: the activations are unused"),
        (
            _per_row(w * x.pow(2).sum(0), amount),
            "the mask matches |W| times the *squared* norm of the inputs; Wanda uses the L2 "
            "norm itself (take the square root)",
        ),
        (
            _per_row(w * x.abs().sum(0), amount),
            "the mask matches |W| times the L1 norm (sum of |x|) of the inputs; Wanda uses the "
            "L2 norm, sqrt(sum of x^2)",
        ),
        (
            _per_row(w * x.abs().amax(0), amount),
            "the mask matches |W| times the largest |x| of each input; Wanda uses the L2 norm "
            "over all tokens",
        ),
        (
            _per_row(weight * norm, amount),
            "large negative weights were pruned: the score must use |W|, not the signed weight",
        ),
        (
            _per_row(w * _tokens(batches[:1]).norm(dim=0), amount),
            "the mask matches the norms of the first calibration batch only; the norm runs over "
            "the tokens of every batch",
        ),
        (
            _per_row(w * weight.norm(dim=0), amount),
            "the mask matches |W| times the norm of the *weight's* columns; the norm belongs to "
            "the input activations X",
        ),
        (
            _whole_matrix(w * norm, amount),
            "the scores were compared across the whole matrix; Wanda compares them within each "
            "output row, so every row loses the same number of weights",
        ),
        (
            _per_row((w * norm).T, amount).T if weight.shape[0] == weight.shape[1] else None,
            "the scores were compared within each input column; Wanda compares them within "
            "each output row (dim=1)",
        ),
    ]


def _diagnose(fn, weight, batches, amount) -> str | None:
    mask = fn(weight.clone(), [b.clone() for b in batches], amount)
    if not torch.is_tensor(mask) or mask.dtype != torch.bool or mask.shape != weight.shape:
        return "return a boolean keep-mask (True = keep) of the weight's shape"
    if torch.equal(mask, wanda_mask(weight, batches, amount)):
        return None
    for wrong, message in _variants(weight, batches, amount):
        if wrong is not None and torch.equal(mask, wrong):
            return message
    pruned = (~mask).sum(1)
    k = round(amount * weight.shape[1])
    if (pruned != k).any():
        row = int((pruned != k).nonzero()[0])
        return (
            f"row {row} has {int(pruned[row])} weights pruned; every row must lose round(amount "
            f"* n_in) = {k} (Python's round, per output row)"
        )
    return "the right number of weights is pruned in each row, but not the ones Wanda would"


# --- designed cases ----------------------------------------------------------------------------


# Feature 0: big on one token; feature 1: spread over all tokens (L1 and max rank them apart).
def _x1() -> list[torch.Tensor]:
    """Two calibration batches, new tensors each call (a learner's function may edit them)."""
    return [
        torch.tensor([[2.0, 0.6, 1.0, 0.0], [0.0, 0.6, 1.0, 0.0], [0.0, 0.6, 1.0, 1.5]]),
        torch.tensor([[0.0, 0.6, 1.0, 0.0]]),
    ]


def _w1():
    """A fresh copy each call: a learner's function may edit what it gets."""
    return torch.tensor(
        [
            [1.0, 1.5, 0.9, 1.3],
            [-3.0, 0.2, 0.5, 0.4],
            [0.3, -0.25, 2.0, 0.1],
            [0.5, 0.6, 0.45, -2.0],
        ]
    )


def _case(seed: int, rows: int, cols: int, batches: int):
    g = torch.Generator().manual_seed(seed)
    scale = torch.exp(2 * torch.randn(cols, generator=g))  # a few outlier features
    xs = [torch.randn(5, cols, generator=g) * scale for _ in range(batches)]
    return torch.randn(rows, cols, generator=g), xs


def _shape(fn):
    return _mask_shape(fn, _w1().clone(), [b.clone() for b in _x1()], 0.5)


def _designed(fn):
    return _diagnose(fn, _w1(), _x1(), 0.25) or _diagnose(fn, _w1(), _x1(), 0.5)


def _random_cases(fn):
    for seed, rows, cols, n, amount in ((0, 6, 8, 3, 0.5), (1, 4, 12, 2, 0.7), (2, 5, 6, 4, 0.6)):
        weight, batches = _case(seed, rows, cols, n)
        problem = _diagnose(fn, weight, batches, amount)
        if problem:
            return f"on a {rows}x{cols} layer with {n} calibration batches at {amount}: {problem}"
    return None


def _ties(fn):
    weight = torch.tensor([[1.0, 1.0, 1.0, 1.0], [2.0, 1.0, 2.0, 1.0]])
    batches = [torch.ones(3, 4)]
    mask = fn(weight, batches, 0.5)
    if mask.tolist() != [[False, False, True, True], [True, False, True, False]]:
        return "among equal scores the lower index must be pruned first (argsort with stable=True)"
    return None


def _edges(fn):
    weight, batches = _case(3, 3, 4, 2)
    if not fn(weight, batches, 0.0).all():
        return "amount 0 must prune nothing"
    if fn(weight, batches, 1.0).any():
        return "amount 1 must prune every weight"
    return None


def _pure(fn):
    weight, batches = _case(4, 3, 4, 2)
    before = (weight.clone(), [b.clone() for b in batches])
    fn(weight, batches, 0.5)
    if not torch.equal(weight, before[0]) or not all(
        torch.equal(a, b) for a, b in zip(batches, before[1], strict=True)
    ):
        return "your function changed the weight or the activations it was given"
    return None


ex1 = Exercise(
    "10.ex1",
    "the Wanda score",
    wanda_mask,
    [_shape, _designed, _random_cases, _ties, _edges, _pure],
    [
        "Wanda's score of weight W_ij is |W_ij| times the L2 norm of input feature j, measured "
        "over every calibration token. Within each output row, the lowest scores go.",
        "Stack the tokens of all batches into one (tokens, n_in) matrix with torch.cat; its "
        "column norms `x.norm(dim=0)` are the ||X_j||. Multiply `weight.abs()` by them "
        "(broadcasting over rows).",
        "With k = round(amount * n_in), `torch.argsort(scores, dim=1, stable=True)[:, :k]` "
        "gives each row's k lowest; scatter False into a mask of ones at those positions.",
    ],
)

EXERCISES = (ex1,)
