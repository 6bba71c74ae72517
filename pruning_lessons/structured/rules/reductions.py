"""Reductions over axes: sums, averages and normalisations (``mean``, ``softmax``...),
and pooling.

A sum over units is what a layer's contraction does, so it passes; an average or a
normalisation over units (``mean``, ``var``, ``softmax``, ``max``...) would change the other
units' values when one is removed, so those units are pinned (``through_norms=True`` lets
averages through, as Torch-Pruning does). Pooling over spatial axes keeps the channels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import fx

from ..labels import Label
from ..nodes import name_with_indices, op_name, where

if TYPE_CHECKING:
    from ..walker import Walker

SUMS = {"sum"}
AVERAGES = {
    *"mean var std var_mean std_mean linalg_vector_norm norm amax amin max min logsumexp "
    "softmax _softmax log_softmax _log_softmax cumsum argmax argmin".split(),
}
#: Averages that ``through_norms=True`` lets through.
MEANS = {"mean", "var", "std", "var_mean", "std_mean"}
#: Pooling and resizing operations, with their number of spatial axes.
POOLS = {
    **dict.fromkeys(("max_pool1d", "avg_pool1d", "adaptive_avg_pool1d"), 1),
    **dict.fromkeys(("adaptive_max_pool1d", "upsample_nearest1d"), 1),
    **dict.fromkeys(("max_pool2d", "max_pool2d_with_indices", "avg_pool2d"), 2),
    **dict.fromkeys(("adaptive_avg_pool2d", "_adaptive_avg_pool2d", "adaptive_max_pool2d"), 2),
    **dict.fromkeys(("upsample_nearest2d", "upsample_bilinear2d"), 2),
    **dict.fromkeys(("_upsample_nearest_exact2d",), 2),
    **dict.fromkeys(("max_pool3d", "max_pool3d_with_indices", "avg_pool3d"), 3),
    **dict.fromkeys(("adaptive_avg_pool3d", "adaptive_max_pool3d", "upsample_nearest3d"), 3),
}


def reduce(w: Walker, node: fx.Node) -> list[Label]:
    name = op_name(node)
    source = node.args[0]
    labels = w.labels(source)
    ndim = len(labels)
    dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
    if dims is None or dims == []:
        dims = list(range(ndim))
    dims = [dims] if isinstance(dims, int) else list(dims)
    dims = {d % ndim for d in dims} if ndim else set()
    for d in dims:
        if w.through_norms and name in MEANS:
            continue
        if labels[d] is not None and name not in SUMS:
            w.pin_label(labels[d], f"{name} over its units in {where(node)}")
    out = w.shape(node)
    shape = w.shape(source)
    if len(out) == ndim:  # keepdim, or a softmax that keeps the shape
        return [labels[d] if out[d] == shape[d] else None for d in range(ndim)]
    return [labels[d] for d in range(ndim) if d not in dims][: len(out)]


def pool(w: Walker, node: fx.Node) -> list[Label]:
    name = op_name(node)
    spatial = POOLS.get(name) or POOLS[name.strip("_")]
    labels = w.labels(node.args[0])
    for label in labels[-spatial:]:
        if label is not None:
            w.pin_label(label, f"pooling across its units in {where(node)}")
    out = labels[:-spatial] + [None] * spatial
    return out if not name_with_indices(node) else [out, [None] * len(out)]


RULES = {
    **dict.fromkeys(SUMS | AVERAGES, reduce),
    **dict.fromkeys(POOLS, pool),
}
