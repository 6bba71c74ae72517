"""Exercise 08.ex5 (attention heads under GQA): plausible wrong answers (checked with their
message in ``test_exercises.py``, with the other exercises') and right answers written
differently, which must be accepted."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from pruning_lessons.teaching.exercises.structural import Attention, ex5, remove_heads


def _rows(heads: torch.Tensor, d: int) -> torch.Tensor:
    return (heads[:, None] * d + torch.arange(d)).flatten()


def _build(att, q_rows, kv_rows, o_cols, *, o_bias=None, counts=True, in_place=False):
    new = att if in_place else copy.deepcopy(att)
    with torch.no_grad():
        for name, rows in (("q", q_rows), ("k", kv_rows), ("v", kv_rows)):
            layer = getattr(new, name)
            layer.weight = nn.Parameter(layer.weight[rows].clone())
            layer.bias = nn.Parameter(layer.bias[rows].clone())
            layer.out_features = len(rows)
        new.o.weight = nn.Parameter(new.o.weight[:, o_cols].clone())
        new.o.in_features = len(o_cols)
        if o_bias is not None:
            new.o.bias = nn.Parameter(o_bias)
    if counts:
        new.num_heads, new.num_kv_heads = len(q_rows) // att.head_dim, len(kv_rows) // att.head_dim
    return new


def _q_heads(att, keep):
    group = att.num_heads // att.num_kv_heads
    return (keep[:, None] * group + torch.arange(group)).flatten()


def only_q(att, keep):  # k and v keep every head
    d = att.head_dim
    q = _rows(_q_heads(att, keep), d)
    return _build(att, q, torch.arange(att.k.out_features), q)


def forget_o(att, keep):  # o still reads every head
    d = att.head_dim
    q = _rows(_q_heads(att, keep), d)
    return _build(att, q, _rows(keep, d), torch.arange(att.o.in_features))


def channels_not_heads(att, keep):  # keep indices used as row indices
    return _build(att, keep, keep, keep)


def one_query_head_per_kv_head(att, keep):  # GQA ignored: q keeps the same head indices
    d = att.head_dim
    return _build(att, _rows(keep, d), _rows(keep, d), _rows(keep, d))


def strided_query_heads(att, keep):  # query heads j, j + num_kv_heads: the wrong grouping
    d = att.head_dim
    q_heads = torch.cat([keep, keep + att.num_kv_heads]).sort().values
    return _build(att, _rows(q_heads, d), _rows(keep, d), _rows(q_heads, d))


def counts_not_updated(att, keep):
    d = att.head_dim
    q = _rows(_q_heads(att, keep), d)
    return _build(att, q, _rows(keep, d), q, counts=False)


def in_place(att, keep):
    d = att.head_dim
    q = _rows(_q_heads(att, keep), d)
    return _build(att, q, _rows(keep, d), q, in_place=True)


def o_bias_sliced(att, keep):  # o's bias treated as per-head: shrunk, then padded back
    d = att.head_dim
    q = _rows(_q_heads(att, keep), d)
    bias = att.o.bias.detach().clone()
    bias[q.max() + 1 :] = 0
    return _build(att, q, _rows(keep, d), q, o_bias=bias)


def o_rows_instead_of_columns(att, keep):
    d = att.head_dim
    q = _rows(_q_heads(att, keep), d)
    new = _build(att, q, _rows(keep, d), torch.arange(att.o.in_features))
    with torch.no_grad():
        new.o.weight = nn.Parameter(new.o.weight[q][:, q].clone())
    return new


WRONG = [
    (only_q, "remove the rows of the dropped key/value head from k and v"),
    (forget_o, "o still reads the removed heads"),
    (channels_not_heads, "k and v should keep 2 key/value heads"),
    (one_query_head_per_kv_head, "q lost too much"),
    (strided_query_heads, "query heads you kept are the ones that share"),
    (counts_not_updated, "update num_heads and num_kv_heads"),
    (in_place, "original module was modified"),
    (o_bias_sliced, "o's bias belongs to its outputs"),
    (o_rows_instead_of_columns, "o's outputs are the model width"),
]


def by_masks(att, keep):
    """Right, written differently: boolean masks over heads, views instead of index maths."""
    d, group = att.head_dim, att.num_heads // att.num_kv_heads
    kv_mask = torch.zeros(att.num_kv_heads, dtype=torch.bool)
    kv_mask[keep] = True
    q_mask = kv_mask.repeat_interleave(group)
    new = Attention.__new__(Attention)
    nn.Module.__init__(new)
    new.num_heads, new.num_kv_heads, new.head_dim = int(q_mask.sum()), int(kv_mask.sum()), d
    for name, mask in (("q", q_mask), ("k", kv_mask), ("v", kv_mask)):
        old = getattr(att, name)
        rows = mask.repeat_interleave(d)
        layer = nn.Linear(old.in_features, int(rows.sum()))
        layer.load_state_dict({"weight": old.weight[rows], "bias": old.bias[rows]})
        setattr(new, name, layer)
    columns = q_mask.repeat_interleave(d)
    new.o = nn.Linear(int(columns.sum()), att.o.out_features)
    new.o.load_state_dict({"weight": att.o.weight[:, columns], "bias": att.o.bias})
    return new


def by_index_select(att, keep):
    """Right, written differently: a deep copy whose layers get index_select-ed tensors."""
    new = copy.deepcopy(att)
    d, group = att.head_dim, att.num_heads // att.num_kv_heads
    q_heads = [j * group + g for j in keep.tolist() for g in range(group)]
    kv_rows = torch.cat([torch.arange(j * d, (j + 1) * d) for j in keep.tolist()])
    q_rows = torch.cat([torch.arange(h * d, (h + 1) * d) for h in q_heads])
    with torch.no_grad():
        for name, rows in (("q", q_rows), ("k", kv_rows), ("v", kv_rows)):
            layer = getattr(new, name)
            layer.weight = nn.Parameter(layer.weight.index_select(0, rows))
            layer.bias = nn.Parameter(layer.bias.index_select(0, rows))
            layer.out_features = len(rows)
        new.o.weight = nn.Parameter(new.o.weight.index_select(1, q_rows))
        new.o.in_features = len(q_rows)
    new.num_heads, new.num_kv_heads = len(q_heads), len(keep)
    return new


@pytest.mark.parametrize("fn", [remove_heads, by_masks, by_index_select])
def test_right_head_removals_are_accepted(fn):
    assert ex5.check(fn).status == "correct"
