"""One short checked exercise per lesson 01-06, with the same machinery as 07 and 08.

In lesson NN's notebook: ``from pruning_lessons.teaching.exercises.lessons import lessonNN as ex1``.
Each reference is a few lines; the properties try the learner's function on small cases whose
answer is easy to work out by hand, and say what is wrong without printing the expected value.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ...core.metrics import count_macs
from ...weights.analysis import Sensitivity
from .core import Exercise

# --- 01: non-zeros and the compression ratio ------------------------------------------------


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
    [_ratio_number, _ratio_dense, _ratio_sparse, _ratio_buffers, _ratio_leaves_model, _ratio_empty],
    [
        "Compression ratio = number of parameters / number of non-zero parameters, over every "
        "parameter of the model (weights and biases).",
        "`model.parameters()` gives every parameter tensor; `p.numel()` counts its entries and "
        "`torch.count_nonzero(p)` its entries that are not exactly 0.",
        "Sum both counts over all parameters and divide; when nothing is non-zero return "
        "float('inf').",
    ],
)


# --- 02: an N:M keep-mask -------------------------------------------------------------------


def keep_n_of_m(weight: torch.Tensor, n: int = 2, m: int = 4) -> torch.Tensor:
    """Keep the n largest |w| of each m consecutive weights in a row; ties: lower index goes."""
    rows, cols = weight.shape
    if cols % m:
        raise ValueError(f"rows of {cols} weights cannot be cut into groups of m={m}")
    groups = weight.abs().reshape(rows, cols // m, m)
    lowest = torch.argsort(groups, dim=-1, stable=True)[..., : m - n]
    keep = torch.ones_like(groups, dtype=torch.bool).scatter_(-1, lowest, False)
    return keep.reshape(rows, cols)


_NM = torch.tensor(
    [
        [0.9, -0.1, 0.5, -0.7, 0.3, 0.2, -0.8, 0.05],
        [-0.2, 0.6, 0.1, 0.4, -0.9, 0.3, 0.7, -0.5],
    ]
)


def _nm_shape(fn):
    mask = fn(_NM.clone(), 2, 4)
    if not torch.is_tensor(mask) or mask.shape != _NM.shape:
        return "return a mask of the weight's shape"
    if mask.dtype != torch.bool:
        return f"the mask should be boolean (True = keep), but its dtype is {mask.dtype}"
    return None


def _nm_counts(fn):
    mask = fn(_NM.clone(), 2, 4)
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
    mask = fn(_NM.clone(), 2, 4)
    groups, kept = _NM.abs().reshape(2, 2, 4), mask.reshape(2, 2, 4)
    for g, k in zip(groups.reshape(-1, 4), kept.reshape(-1, 4), strict=True):
        if g[k].min() < g[~k].max():
            if (_NM.reshape(-1, 4)[kept.reshape(-1, 4)] >= 0).all():
                return "a negative weight with a large magnitude was pruned: rank by |w|"
            return "in a group, a smaller |w| was kept while a larger one was pruned"
    return None


def _nm_other_ratio(fn):
    weight = torch.arange(1.0, 17.0).reshape(2, 8)
    mask = fn(weight, 1, 4)
    if mask.sum() != 4:
        return "with n=1, m=4 each group of 4 keeps 1 weight: use n and m, do not assume 2:4"
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
    weight = _NM.clone()
    fn(weight, 2, 4)
    if not torch.equal(weight, _NM):
        return "your function changed the weight it was given; build a mask and leave it be"
    return None


lesson02 = Exercise(
    "02.ex1",
    "an N:M keep-mask",
    keep_n_of_m,
    [_nm_shape, _nm_counts, _nm_largest, _nm_other_ratio, _nm_ties, _nm_refuses, _nm_pure],
    [
        "N:M sparsity cuts each row into groups of m consecutive weights and keeps the n "
        "largest |w| of each group (2:4: two of every four).",
        "`weight.abs().reshape(rows, cols // m, m)` puts each group on the last axis; "
        "`torch.argsort(..., dim=-1, stable=True)` ranks inside each group.",
        "Mark the m - n smallest of each group False (`scatter_` on the last axis), reshape "
        "back, and raise ValueError when cols % m != 0.",
    ],
)


# --- 03: the MACs of a convolution ----------------------------------------------------------


def conv_macs(conv: nn.Conv2d, height: int, width: int) -> int:
    """Multiply-accumulates of ``conv`` on one (in_channels, height, width) input."""
    (kh, kw), (sh, sw), (ph, pw) = conv.kernel_size, conv.stride, conv.padding
    out_h = (height + 2 * ph - kh) // sh + 1
    out_w = (width + 2 * pw - kw) // sw + 1
    per_output = (conv.in_channels // conv.groups) * kh * kw
    return conv.out_channels * out_h * out_w * per_output


_CONVS = [
    ("a 3x3 convolution without padding", nn.Conv2d(2, 4, 3), 8, 8),
    ("a padded convolution", nn.Conv2d(3, 5, 3, padding=1), 8, 8),
    ("a strided convolution", nn.Conv2d(3, 4, 3, stride=2, padding=1), 9, 7),
    ("a grouped convolution", nn.Conv2d(4, 6, 3, groups=2, padding=1), 6, 6),
    ("a 1x5 kernel", nn.Conv2d(2, 3, (1, 5)), 6, 9),
]


def _macs_int(fn):
    got = fn(nn.Conv2d(2, 4, 3), 8, 8)
    if isinstance(got, bool) or not isinstance(got, int):
        return f"return an int (a count of multiply-accumulates), got {type(got).__name__}"
    return None


def _macs_cases(fn):
    for label, conv, h, w in _CONVS:
        got, want = fn(copy.deepcopy(conv), h, w), conv_macs(conv, h, w)
        if got == want:
            continue
        if got == 2 * want and conv.groups == 1:
            return f"for {label} you counted 2 operations per multiply-accumulate (FLOPs)"
        if got == want + want // conv.weight[0].numel():  # one addition per output value
            return f"for {label} you counted the bias additions: MACs count the products only"
        return (
            f"for {label} on a {h}x{w} input the count is off: count each output position of "
            "each filter once (the output size depends on padding, stride and kernel), times "
            "the products one output needs"
        )
    return None


def _macs_library(fn):
    conv = nn.Conv2d(3, 8, 3, padding=1, stride=2)
    if fn(conv, 8, 8) != _count_one(conv, 8, 8):
        return "your count disagrees with pl.count_macs on a strided, padded convolution"
    return None


def _count_one(conv: nn.Conv2d, h: int, w: int) -> int:
    return count_macs(conv, torch.zeros(1, conv.in_channels, h, w))


lesson03 = Exercise(
    "03.ex1",
    "the MACs of a convolution",
    conv_macs,
    [_macs_int, _macs_cases, _macs_library],
    [
        "Every output value of every filter costs one multiply-accumulate per weight it "
        "touches: in_channels / groups x kernel height x kernel width.",
        "The output is smaller or larger than the input depending on padding and stride: "
        "out = (in + 2 * padding - kernel) // stride + 1, for height and width separately.",
        "MACs = out_channels x out_h x out_w x (in_channels // groups) x kh x kw. Bias "
        "additions are not counted.",
    ],
)


# --- 04: the LAMP score ---------------------------------------------------------------------


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


# --- 05: the cubic sparsity schedule --------------------------------------------------------


def cubic(t: float, final: float, steps: int, initial: float = 0.0) -> float:
    """Zhu & Gupta (2017): s_t = s_f + (s_i - s_f)(1 - t / n)^3 for 0 <= t <= n, flat outside."""
    t = min(max(t, 0), steps)
    return final + (initial - final) * (1 - t / steps) ** 3


def _cubic_float(fn):
    value = fn(5, 0.9, 10)
    if isinstance(value, torch.Tensor) or not isinstance(value, float):
        return f"return a Python float, got {type(value).__name__}"
    return None


def _cubic_ends(fn):
    if abs(fn(0, 0.9, 10) - 0.0) > 1e-9:
        return "at t = 0 the sparsity should still be the initial one"
    if abs(fn(10, 0.9, 10) - 0.9) > 1e-9:
        return "at t = steps the sparsity should have reached the final one"
    return None


def _cubic_middle(fn):
    got = fn(5, 0.8, 10)
    if abs(got - 0.7) < 1e-9:
        return None
    if abs(got - 0.4) < 1e-9:
        return "halfway you are at half the target: that is a linear schedule, not a cubic one"
    if abs(got - 0.6) < 1e-9:
        return "halfway your schedule has reached 3/4 of the target: the exponent is 3, not 2"
    if abs(got - 80) < 1e-6 or abs(got - 70) < 1e-6:
        return "return a fraction between 0 and 1, not a percentage"
    return (
        "halfway through, the cubic schedule should already be far along: check where the "
        "power of 3 goes (1 - t/n is cubed)"
    )


def _cubic_initial(fn):
    if abs(fn(0, 0.9, 4, initial=0.5) - 0.5) > 1e-9 or abs(fn(2, 0.9, 4, 0.5) - 0.85) > 1e-9:
        return "with an initial sparsity, the schedule starts from it and rises to the final one"
    return None


def _cubic_clamped(fn):
    if abs(fn(15, 0.9, 10) - 0.9) > 1e-9:
        return "after the last step the sparsity stays at the final value"
    if abs(fn(-3, 0.9, 10) - 0.0) > 1e-9:
        return "before the first step the sparsity stays at the initial value"
    return None


def _cubic_fractional(fn):
    if abs(fn(1, 0.9, 3) - (0.9 - 0.9 * (2 / 3) ** 3)) > 1e-9:
        return "with 3 steps, t = 1 gives a wrong value: is t / n computed as a fraction?"
    return None


lesson05 = Exercise(
    "05.ex1",
    "the cubic sparsity schedule",
    cubic,
    [_cubic_float, _cubic_ends, _cubic_middle, _cubic_initial, _cubic_clamped, _cubic_fractional],
    [
        "Zhu & Gupta's schedule starts at the initial sparsity and reaches the final one after "
        "`steps` pruning steps, fast at first and slowly at the end.",
        "s_t = s_f + (s_i - s_f) * (1 - t / n) ** 3, with n = steps.",
        "Clamp t into [0, steps] first (`min(max(t, 0), steps)`), so the value stays flat "
        "before and after the schedule.",
    ],
)


# --- 06: per-layer amounts within a parameter budget ----------------------------------------


def _remaining(amounts: dict[str, float], sizes: dict[str, int]) -> int:
    return sum(sizes[name] - round(a * sizes[name]) for name, a in amounts.items())


def amounts_within_budget(
    scan: Sensitivity, sizes: dict[str, int], max_remaining: int
) -> dict[str, float]:
    """The smallest accuracy tolerance (one of the scan's drops) whose per-layer amounts leave
    at most ``max_remaining`` weights; each layer gets its largest amount within it."""
    drops = sorted({0.0} | {scan.baseline - acc for accs in scan.accuracy.values() for acc in accs})
    for tolerance in drops:
        amounts = {
            name: max(
                (
                    a
                    for a, acc in zip(scan.amounts, accs, strict=True)
                    if scan.baseline - acc <= tolerance
                ),
                default=0.0,
            )
            for name, accs in scan.accuracy.items()
        }
        if _remaining(amounts, sizes) <= max_remaining:
            return amounts
    raise ValueError(f"no tolerance meets the budget of {max_remaining} weights")


# Values are multiples of 1/64, so every difference is exact in floating point.
_SCAN = Sensitivity(
    amounts=(0.0, 0.25, 0.5, 0.75),
    accuracy={
        "fc1": [0.9375, 0.9375, 0.921875, 0.875],  # robust
        "fc2": [0.9375, 0.90625, 0.8125, 0.5],  # sensitive
        "fc3": [0.9375, 0.921875, 0.875, 0.75],
    },
    baseline=0.9375,
)
_SIZES = {"fc1": 400, "fc2": 200, "fc3": 40}  # 640 weights


def _budget_dict(fn):
    got = fn(_SCAN, dict(_SIZES), 400)
    if not isinstance(got, dict) or set(got) != set(_SIZES):
        return "return a dict with one amount per layer of the scan"
    if any(a not in _SCAN.amounts for a in got.values()):
        return "each amount must be one of the scanned amounts"
    return None


def _budget_met(fn):
    for budget in (500, 400, 250, 160):
        got = fn(_SCAN, dict(_SIZES), budget)
        left = _remaining(got, _SIZES)
        if left > budget:
            return (
                f"with a budget of {budget} weights your amounts leave {left}: the budget is on "
                "the weights that remain (n - round(amount * n) per layer)"
            )
    return None


def _budget_minimal(fn):
    for budget in (500, 400, 250, 160):
        got, want = fn(_SCAN, dict(_SIZES), budget), amounts_within_budget(_SCAN, _SIZES, budget)
        if got == want:
            continue
        worst = max(
            _SCAN.baseline - _SCAN.accuracy[n][_SCAN.amounts.index(a)] for n, a in got.items()
        )
        best = max(
            _SCAN.baseline - _SCAN.accuracy[n][_SCAN.amounts.index(a)] for n, a in want.items()
        )
        if worst > best:
            return (
                f"with a budget of {budget} some layer loses more accuracy than needed: a "
                "smaller tolerance already meets the budget"
            )
        return (
            f"with a budget of {budget}, some layer is pruned less than the tolerance you "
            "reached allows: give every layer the largest amount whose drop is within it"
        )
    return None


def _budget_impossible(fn):
    try:
        fn(_SCAN, dict(_SIZES), 100)
    except ValueError:
        return None
    return "no tolerance can leave only 100 weights here: raise ValueError instead of returning"


lesson06 = Exercise(
    "06.ex1",
    "per-layer amounts within a parameter budget",
    amounts_within_budget,
    [_budget_dict, _budget_met, _budget_minimal, _budget_impossible],
    [
        "Each scanned (layer, amount) pair has an accuracy drop: baseline - accuracy. Pick "
        "one tolerance for all layers and give each layer the largest amount within it.",
        "Try the tolerances in increasing order (0 and every drop of the scan); count the "
        "weights left, n - round(amount * n) per layer, and stop at the first that fits.",
        "`pl.amounts_for_budget(scan, tolerance)` gives the amounts for one tolerance; raise "
        "ValueError when even the largest tolerance does not fit.",
    ],
)

EXERCISES = (lesson01, lesson02, lesson03, lesson04, lesson05, lesson06)
