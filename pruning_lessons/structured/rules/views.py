"""Operations that move data without mixing it: ``view`` / ``reshape`` / ``flatten`` /
``permute`` / ``transpose`` / ``expand`` / ``repeat_interleave``, and padding.

Labels move with the data. Splitting an axis into ``(heads, head_dim)`` makes a unit a whole
head (the label is proportional, see :mod:`..labels`); a reshape that mixes the units of two
axes (a channel shuffle) is pinned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import fx

from ..labels import Label
from ..nodes import where

if TYPE_CHECKING:
    from ..walker import Walker

RESHAPES = {"view", "reshape", "_unsafe_view", "flatten", "unflatten", "squeeze", "unsqueeze"}


def reshape(w: Walker, node: fx.Node) -> list[Label]:
    """Match the old and new shapes block by block (axes whose products agree)."""
    source = node.args[0]
    old, new = w.shape(source), w.shape(node)
    labels = w.labels(source)
    result: list[Label] = [None] * len(new)
    i = j = 0
    while i < len(old) or j < len(new):
        if i < len(old) and old[i] == 1:
            i += 1
            continue
        if j < len(new) and new[j] == 1:
            j += 1
            continue
        if i >= len(old) or j >= len(new):
            break
        i0, j0, a, b = i, j, old[i], new[j]
        i, j = i + 1, j + 1
        while a != b:
            if a < b:
                a *= old[i]
                i += 1
            else:
                b *= new[j]
                j += 1
        block = [(d, labels[d]) for d in range(i0, i) if labels[d] is not None]
        if not block:
            continue
        outer = [d for d in range(i0, i) if old[d] > 1]
        if len(block) > 1 or block[0][0] != outer[0]:
            for _, label in block:
                w.mixed(label, node)
            continue
        target = next(d for d in range(j0, j) if new[d] > 1)
        result[target] = w.scaled(block[0][1], new[target], node)
    return result


def pad(w: Walker, node: fx.Node) -> list[Label]:
    """Padding (``F.pad``): the padded axes must not carry units."""
    labels = w.labels(node.args[0])
    pads = list(node.args[1])
    for k in range(len(pads) // 2):
        if pads[2 * k] or pads[2 * k + 1]:
            label = labels[-1 - k]
            if label is not None:
                w.pin_label(label, f"padding across its units in {where(node)}")
                labels[-1 - k] = None
    return labels


def repeat_interleave(w: Walker, node: fx.Node) -> list[Label]:
    """``x.repeat_interleave(r, dim)``: each entry r times in a row (GQA's key heads)."""
    source = node.args[0]
    repeats = node.args[1] if len(node.args) > 1 else node.kwargs.get("repeats")
    dim = node.args[2] if len(node.args) > 2 else node.kwargs.get("dim")
    if not isinstance(source, fx.Node) or not isinstance(repeats, int) or dim is None:
        return w.unknown_op(node)
    labels = w.labels(source)
    dim %= len(labels)
    labels[dim] = w.scaled(labels[dim], w.shape(node)[dim], node)
    return labels


def permute(w: Walker, node: fx.Node) -> list[Label]:
    labels = w.labels(node.args[0])
    return [labels[d] for d in node.args[1]]


def transpose(w: Walker, node: fx.Node) -> list[Label]:
    labels = w.labels(node.args[0])
    a, b = (d % len(labels) for d in node.args[1:3])
    labels[a], labels[b] = labels[b], labels[a]
    return labels


def t(w: Walker, node: fx.Node) -> list[Label]:
    """``x.t()`` and ``x.T`` (``numpy_T``): all axes reversed (a layer written ``x @ W.T``,
    Falcon's ``FalconLinear``)."""
    return w.labels(node.args[0])[::-1]


def matrix_transpose(w: Walker, node: fx.Node) -> list[Label]:
    """``x.mT`` / ``x.mH`` / ``x.adjoint()``: the last two axes swapped."""
    labels = w.labels(node.args[0])
    return labels[:-2] + labels[-2:][::-1]


def expand(w: Walker, node: fx.Node) -> list[Label]:
    old, new = w.shape(node.args[0]), w.shape(node)
    labels = w.labels(node.args[0])
    extra = len(new) - len(old)
    return [None] * extra + [
        lab if old[d] == new[extra + d] else None for d, lab in enumerate(labels)
    ]


RULES = {
    **dict.fromkeys(RESHAPES, reshape),
    **dict.fromkeys(
        ("pad", "constant_pad_nd", "reflection_pad1d", "reflection_pad2d", "replication_pad2d"),
        pad,
    ),
    "repeat_interleave": repeat_interleave,
    "permute": permute,
    "transpose": transpose,
    "t": t,
    "numpy_T": t,
    "mT": matrix_transpose,
    "mH": matrix_transpose,
    "adjoint": matrix_transpose,
    "expand": expand,
}
