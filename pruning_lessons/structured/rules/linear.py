"""Layers and products: ``linear``, ``addmm``, ``mm`` / ``bmm`` / ``matmul``, ``embedding``.

A weight's output axis opens a space of units (its rows); its input axis reads the label of
the axis it contracts with (a consumer). Batch axes of a product align; the contracted axes
of two computed tensors (attention's ``q @ k^T``) meet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import fx

from ..labels import Label, only_params

if TYPE_CHECKING:
    from ..walker import Walker


def matmul(w: Walker, node: fx.Node, a: fx.Node, b: fx.Node, b_transposed: bool) -> list[Label]:
    """``a @ b`` (or ``a @ b.T``): batch axes align, the contracted axes align."""
    la, lb = w.labels(a), w.labels(b)
    if b_transposed:
        lb = lb[:-2] + [lb[-1], lb[-2]] if len(lb) >= 2 else lb
        sb = w.shape(b)
        sb = sb[:-2] + (sb[-1], sb[-2])
    else:
        sb = w.shape(b)
    sa = w.shape(a)
    if len(la) == 1:
        la, sa = [None, la[0]], (1, sa[0])
    w.contract(la[-1], lb[-2] if len(lb) >= 2 else lb[0], node)
    out_last: Label = None
    if len(lb) >= 2:
        col = lb[-1]
        if only_params(col):
            (seg,) = col
            out_last = w.producer(seg[1], sb[-1], node)
        else:
            out_last = col
    batch = []
    shape = w.shape(node)
    nbatch = len(shape) - 2
    for k in range(1, nbatch + 1):
        items = []
        for labels, shp in ((la, sa), (lb, sb)):
            if len(shp) - 2 >= k and shp[-2 - k] > 1:
                items.append(labels[-2 - k])
        chosen: Label = None
        if items:
            chosen = items[0]
            for other in items[1:]:
                if chosen is not None or other is not None:
                    chosen = w.align(chosen, other, node)
        batch.insert(0, chosen)
    rows = la[-2] if len(w.shape(a)) >= 2 else None
    if len(shape) == 1:
        return [out_last]
    return [*batch, rows, out_last][-len(shape) :]


def add_bias(w: Walker, bias: object, label: Label, node: fx.Node) -> None:
    """A layer's bias loses the entries of the units its output axis ``label`` loses."""
    if isinstance(bias, fx.Node):
        (blabel,) = w.labels(bias) or [None]
        if blabel is not None and label is not None:
            w.bind(blabel[0][1], label, "bias", node)


def linear(w: Walker, node: fx.Node) -> list[Label]:
    x, weight = node.args[:2]
    bias = node.args[2] if len(node.args) > 2 else None
    out = matmul(w, node, x, weight, b_transposed=True)
    add_bias(w, bias, out[-1], node)
    return out


def addmm(w: Walker, node: fx.Node) -> list[Label]:
    bias, a, b = node.args[:3]
    out = matmul(w, node, a, b, b_transposed=False)
    add_bias(w, bias, out[-1], node)
    return out


def mm(w: Walker, node: fx.Node) -> list[Label]:
    return matmul(w, node, node.args[0], node.args[1], b_transposed=False)


def embedding(w: Walker, node: fx.Node) -> list[Label]:
    weight, ids = node.args[:2]
    wname = w.trace.parameters.get(weight.name)
    if wname is None:
        return w.unknown_op(node, "an embedding whose table is computed")
    produced = w.producer((wname, 1), w.shape(weight)[1], node)
    return [None] * len(w.shape(ids)) + [produced]


RULES = {
    "linear": linear,
    "addmm": addmm,
    "mm": mm,
    "bmm": mm,
    "matmul": mm,
    "embedding": embedding,
}
