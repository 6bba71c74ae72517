"""Convolutions: a filter is a unit; the spatial axes must carry none.

A convolution with ``groups > 1`` (depthwise included) couples its input and output channels
group by group: a unit is a **whole group**, and the layer keeps ``groups`` equal to the
number of groups left. With ``grouped="within"`` a unit is instead one channel position of
every group, on the input and on the output side (the layer keeps its groups, each narrower).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import fx

from ..labels import Label, label_length
from ..nodes import op_name, where
from .linear import add_bias

if TYPE_CHECKING:
    from ..walker import Walker

CONVS = {"conv1d", "conv2d", "conv3d", "convolution", "_convolution"}


def conv(w: Walker, node: fx.Node) -> list[Label]:
    x, weight = node.args[:2]
    bias = node.args[2] if len(node.args) > 2 else None
    if op_name(node) in ("convolution", "_convolution"):
        transposed, groups = node.args[6], node.args[8]
    else:
        transposed, groups = False, node.args[6] if len(node.args) > 6 else 1
    wname = w.trace.parameters.get(getattr(weight, "name", ""))
    if transposed or wname is None:
        return w.unknown_op(node, "a transposed convolution or a computed weight")
    labels = w.labels(x)
    channel = 1 if len(labels) == len(w.shape(weight)) else 0
    for label in labels[channel + 1 :]:
        w.pin_label(label, f"a convolution slides across its units in {where(node)}")
    produced = w.producer((wname, 0), w.shape(weight)[0], node)
    if groups == 1:
        w.contract(labels[channel], w.labels(weight)[1], node)
    elif within_groups(w, node, labels[channel], produced, (wname, 1), groups):
        pass
    else:
        space = produced[0][1]
        w.spaces.coarsen(space, groups)
        w.conv_groups[wname] = (space, groups)
        entering = labels[channel]
        if entering is None or len(entering) != 1 or entering[0][0] != "space":
            reason = f"a grouped convolution reads a tensor it cannot follow in {where(node)}"
            w.spaces.pin(space, reason)
            w.pin_label(entering, reason)
        else:
            w.spaces.coarsen(entering[0][1], groups)
            w.spaces.union(entering[0][1], space)
    add_bias(w, bias, produced, node)
    return [*labels[:channel], produced, *[None] * (len(labels) - channel - 1)]


def within_groups(
    w: Walker, node: fx.Node, entering: Label, produced: Label, weight_in: tuple, groups: int
) -> bool:
    """``grouped="within"``: unit ``q`` is channel ``q`` of every group, on each side.

    The input and output channels of a grouped convolution with ``G`` groups of ``a``
    inputs and ``b`` outputs become two spaces of ``a`` and ``b`` units (one channel per
    group each); the convolution keeps its ``G`` groups, each narrower. Depthwise
    convolutions (``a == b == 1``), and inputs already cut another way, keep whole groups.
    """
    per_group_in = w.shape(node.args[1])[1]
    out_channels = label_length(produced)
    if w.grouped != "within" or (per_group_in == 1 and out_channels == groups):
        return False
    if entering is None or len(entering) != 1 or entering[0][0] != "space":
        return False
    sides = ((entering[0][1], label_length(entering)), (produced[0][1], out_channels))
    if not all(w.spaces.can_interleave(s, groups, n) for s, n in sides):
        return False
    for space, _ in sides:
        w.spaces.interleave(space, groups)
    w.bind(weight_in, (("space", entering[0][1], per_group_in),), "consumer", node)
    return True


RULES = dict.fromkeys(CONVS, conv)
