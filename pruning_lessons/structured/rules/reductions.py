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
from ..nodes import name_with_indices, op_name, tensor_args, where
from .elementwise import elementwise

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
    out = w.first_shape(node)
    shape = w.shape(source)
    if len(out) == ndim:  # keepdim, or a softmax that keeps the shape
        return [labels[d] if out[d] == shape[d] else None for d in range(ndim)]
    return [labels[d] for d in range(ndim) if d not in dims][: len(out)]


def min_max(w: Walker, node: fx.Node) -> list[Label]:
    """``torch.min(a, b)`` / ``torch.max(a, b)`` (``min.other``) are element-wise; with a
    dimension or none (``max.dim``, ``max``) they reduce."""
    if len(node.args) > 1 and node.args[1] in tensor_args(node):
        return elementwise(w, node)
    return reduce(w, node)


#: Operations along one axis, with where their ``dim`` argument sits and its default:
#: sorting, top-k and order statistics. Along an axis without units they pass every other
#: axis's labels; along units they cannot be followed (a unit's value would move).
ALONG = {
    "sort": (1, -1),
    "topk": (2, -1),
    "kthvalue": (2, -1),
    "mode": (1, -1),
    "median": (1, None),
    "nanmedian": (1, None),
    "cummax": (1, None),
    "cummin": (1, None),
    "msort": (None, 0),
}


def along(w: Walker, node: fx.Node) -> object:
    name = op_name(node)
    position, default = ALONG.get(name) or ALONG[name.strip("_")]
    labels = w.labels(node.args[0])
    dim = node.kwargs.get("dim", default)
    if position is not None and len(node.args) > position:
        dim = node.args[position]
    if not labels:
        return w.nothing(node)
    dims = range(len(labels)) if dim is None else [dim % len(labels)]
    if any(labels[d] is not None for d in dims):
        return w.unknown_op(node, f"the operation {name!r} across units")
    outputs = []
    for shape in w.shapes(node):
        if shape is None:
            outputs.append(None)
        elif len(shape) == len(labels):
            outputs.append(list(labels))
        elif dim is not None and len(shape) == len(labels) - 1:
            outputs.append(labels[: dims[0]] + labels[dims[0] + 1 :])
        else:
            outputs.append([None] * len(shape))
    return outputs if isinstance(node.meta.get("val"), list | tuple) else outputs[0]


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
    **dict.fromkeys(SUMS | AVERAGES - {"min", "max"}, reduce),
    "min": min_max,
    "max": min_max,
    **dict.fromkeys(ALONG, along),
    **dict.fromkeys(POOLS, pool),
}
