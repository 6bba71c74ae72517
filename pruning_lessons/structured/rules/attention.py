"""``scaled_dot_product_attention``: q, k and v meet head by head.

The head axes of q, k and v align (under grouped-query attention, ``enable_gqa=True``, a unit
is one key/value head with its query heads); q's and k's feature axes meet, and the output
carries v's features. A mask (a per-head bias) broadcasts against the scores and meets their
head axis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import fx

from ..labels import Label
from ..nodes import where

if TYPE_CHECKING:
    from ..walker import Walker


def scaled_dot_product_attention(w: Walker, node: fx.Node) -> list[Label]:
    q, k, v = node.args[:3]
    mask = node.args[3] if len(node.args) > 3 else node.kwargs.get("attn_mask")
    gqa = bool(node.kwargs.get("enable_gqa", False))
    lq, lk, lv = w.labels(q), w.labels(k), w.labels(v)
    if lq[-1] or lk[-1]:
        w.align(lq[-1], lk[-1], node)
    if lk[-2] or lv[-2]:
        w.align(lk[-2], lv[-2], node)
    batch = []
    for d in range(len(lq) - 2):
        label = lq[d]
        for other in (lk[d], lv[d]):
            if w.shape(q)[d] == 1:
                label = other
            elif label is not None or other is not None:
                label = w.align(label, other, node, proportional=gqa)
        batch.append(label)
    if isinstance(mask, fx.Node):
        batch = _with_mask(w, node, mask, batch)
    return [*batch, lq[-2], lv[-1]]


def _with_mask(w: Walker, node: fx.Node, mask: fx.Node, batch: list[Label]) -> list[Label]:
    """The mask broadcasts against the scores ``(*batch, q, k)``: a per-head bias (Swin's and
    BEiT's relative positions, T5's buckets) meets the head axis as an addition would, so it
    loses the removed heads' entries, or, computed in a way the rules cannot follow, keeps
    the heads whole. Labels on its query and key axes are pinned."""
    labels, shape = w.labels(mask), w.shape(mask)
    batch = list(batch)
    for i in range(1, len(shape) + 1):
        label = labels[-i]
        if i <= 2:
            if label is not None:
                w.pin_label(label, f"an attention mask computed from units {where(node)}")
            continue
        d = len(batch) - (i - 2)
        if d < 0 or shape[-i] == 1:
            continue
        if batch[d] is not None or label is not None:
            batch[d] = w.align(batch[d], label, node)
    return batch


RULES = {"scaled_dot_product_attention": scaled_dot_product_attention}
