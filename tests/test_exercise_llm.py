"""Exercise 10.ex1 (the Wanda mask): plausible wrong answers are rejected, right ones accepted."""

from __future__ import annotations

import pytest
import torch

from pruning_lessons.teaching.exercises.llm import ex1, wanda_mask


def _per_row(scores, amount):
    k = round(amount * scores.shape[1])
    keep = torch.ones_like(scores, dtype=torch.bool)
    keep.scatter_(1, torch.argsort(scores, dim=1, stable=True)[:, :k], False)
    return keep


def _all(batches):
    return torch.cat(batches)


# --- wrong answers a learner might write ---------------------------------------------------


def norm_over_tokens(weight, batches, amount):  # the wrong axis
    x = _all(batches)
    return _per_row(weight.abs() * x.norm(dim=1)[: weight.shape[1]], amount)


def squared_norm(weight, batches, amount):
    return _per_row(weight.abs() * _all(batches).pow(2).sum(0), amount)


def l1_norm(weight, batches, amount):
    return _per_row(weight.abs() * _all(batches).abs().sum(0), amount)


def mean_abs(weight, batches, amount):
    return _per_row(weight.abs() * _all(batches).abs().mean(0), amount)


def max_abs(weight, batches, amount):
    return _per_row(weight.abs() * _all(batches).abs().amax(0), amount)


def whole_matrix(weight, batches, amount):
    scores = weight.abs() * _all(batches).norm(dim=0)
    k = round(amount * weight.shape[1]) * weight.shape[0]
    keep = torch.ones(scores.numel(), dtype=torch.bool)
    keep[torch.argsort(scores.flatten(), stable=True)[:k]] = False
    return keep.reshape(weight.shape)


def per_column(weight, batches, amount):
    scores = weight.abs() * _all(batches).norm(dim=0)
    k = round(amount * weight.shape[0])
    keep = torch.ones_like(weight, dtype=torch.bool)
    keep.scatter_(0, torch.argsort(scores, dim=0, stable=True)[:k], False)
    return keep


def signed_weight(weight, batches, amount):  # forgot |W|
    return _per_row(weight * _all(batches).norm(dim=0), amount)


def first_batch_only(weight, batches, amount):
    return _per_row(weight.abs() * batches[0].norm(dim=0), amount)


def last_batch_only(weight, batches, amount):  # overwrote the norm in a loop
    for b in batches:
        norm = b.norm(dim=0)
    return _per_row(weight.abs() * norm, amount)


def sum_of_batch_norms(weight, batches, amount):  # norms added per batch, not over all tokens
    return _per_row(weight.abs() * sum(b.norm(dim=0) for b in batches), amount)


def magnitude_only(weight, batches, amount):
    return _per_row(weight.abs(), amount)


def weight_column_norm(weight, batches, amount):
    return _per_row(weight.abs() * weight.norm(dim=0), amount)


def truncated_count(weight, batches, amount):
    scores = weight.abs() * _all(batches).norm(dim=0)
    k = int(amount * weight.shape[1])
    keep = torch.ones_like(weight, dtype=torch.bool)
    keep.scatter_(1, torch.argsort(scores, dim=1, stable=True)[:, :k], False)
    return keep


def keeps_the_lowest(weight, batches, amount):
    return ~wanda_mask(weight, batches, amount)


def unstable_ties(weight, batches, amount):
    scores = weight.abs() * _all(batches).norm(dim=0)
    k = round(amount * weight.shape[1])
    lowest = torch.argsort(scores, dim=1, descending=True, stable=True).flip(1)[:, :k]
    keep = torch.ones_like(weight, dtype=torch.bool)
    keep.scatter_(1, lowest, False)
    return keep


def in_place(weight, batches, amount):
    weight.abs_()
    return wanda_mask(weight, batches, amount)


def float_mask(weight, batches, amount):
    return wanda_mask(weight, batches, amount).float()


WRONG = [
    norm_over_tokens,
    squared_norm,
    l1_norm,
    mean_abs,
    max_abs,
    whole_matrix,
    per_column,
    signed_weight,
    first_batch_only,
    last_batch_only,
    sum_of_batch_norms,
    magnitude_only,
    weight_column_norm,
    truncated_count,
    keeps_the_lowest,
    unstable_ties,
    in_place,
    float_mask,
]


@pytest.mark.parametrize("wrong", WRONG, ids=lambda f: f.__name__)
def test_wrong_answers_are_rejected(wrong):
    feedback = ex1.check(wrong)
    assert feedback.status == "incorrect", feedback
    assert "tensor([" not in feedback.message  # never shows the expected mask


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (squared_norm, "squared"),
        (l1_norm, "L1"),
        (signed_weight, "|W|"),
        (first_batch_only, "first calibration batch"),
        (whole_matrix, "whole matrix"),
        (magnitude_only, "activations are unused"),
        (truncated_count, "round"),
    ],
)
def test_wrong_answers_are_told_what_is_wrong(wrong, words):
    assert words in ex1.check(wrong).message


# --- right answers, written differently ------------------------------------------------------


def with_a_loop(weight, batches, amount):
    sq = sum((b**2).sum(dim=0) for b in batches)
    norms = torch.sqrt(sq)
    keep = torch.ones(weight.shape, dtype=torch.bool)
    k = round(amount * weight.shape[1])
    for i in range(weight.shape[0]):
        scores = [(float(abs(weight[i, j]) * norms[j]), j) for j in range(weight.shape[1])]
        for _, j in sorted(scores)[:k]:
            keep[i, j] = False
    return keep


def with_linalg(weight, batches, amount):
    x = torch.vstack(batches)
    score = torch.abs(weight) * torch.linalg.vector_norm(x, ord=2, dim=0, keepdim=True)
    n_prune = round(amount * score.size(1))
    order = score.argsort(dim=-1, stable=True)
    mask = torch.ones_like(score).bool()
    rows = torch.arange(score.size(0))[:, None]
    mask[rows, order[:, :n_prune]] = False
    return mask


@pytest.mark.parametrize("right", [wanda_mask, with_a_loop, with_linalg], ids=lambda f: f.__name__)
def test_right_answers_are_accepted(right):
    assert ex1.check(right).status == "correct", ex1.check(right)
