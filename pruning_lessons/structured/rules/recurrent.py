"""``LSTM`` / ``GRU``: a hidden unit is its row in every gate of ``weight_ih`` / ``weight_hh``
and the biases, its column of ``weight_hh`` and of the next layer's ``weight_ih``; in a
bidirectional layer, unit ``k`` of both directions (``nn.LSTM`` has one ``hidden_size``)."""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING

from torch import fx

from ..labels import Label
from ..nodes import where

if TYPE_CHECKING:
    from ..walker import Walker


def recurrent(w: Walker, node: fx.Node, gates: int) -> list[list[Label]]:
    """``aten.lstm`` / ``aten.gru``: hidden units across gates, layers and time.

    Bidirectional: hidden unit ``k`` of a layer is unit ``k`` of both directions (the two
    keep one ``hidden_size``), and the layer's output is both directions side by side.
    """
    x, hx, params, has_biases, layers = node.args[:5]
    directions = 2 if node.args[7] else 1
    hx = list(hx) if isinstance(hx, list | tuple) else [hx]
    per_layer = 4 if has_biases else 2
    outputs = [[None] * 3 for _ in range(1 + len(hx))]
    if len(params) != per_layer * layers * directions:
        for p in params:
            w.pinned_params.setdefault(w.trace.parameters.get(p.name, ""), "projected RNN")
        w.unknown_op(node, "a projected recurrent layer")
        return outputs
    inputs = w.labels(x)[-1]
    hidden_spaces = []
    hidden: Label = None
    for layer in range(layers):
        hidden = None
        for direction in range(directions):
            start = (layer * directions + direction) * per_layer
            chunk = params[start : start + per_layer]
            names = [w.trace.parameters.get(p.name) for p in chunk]
            if hidden is None:
                hidden = w.fresh(w.shape(chunk[1])[1])
                hidden_spaces.append(hidden[0][1])
            w.bind((names[0], 0), hidden * gates, "producer", node)
            w.bind((names[1], 0), hidden * gates, "producer", node)
            w.bind((names[1], 1), hidden, "consumer", node)
            for name in names[2:]:
                w.bind((name, 0), hidden * gates, "bias", node)
            marker = (("param", (names[0], 1), w.shape(chunk[0])[1]),)
            w.contract(inputs, marker, node)
        inputs = hidden * directions
    for state in hx:
        for label in w.labels(state):
            w.pin_label(label, f"a recurrent state passed in {where(node)}")
    used = [u for u in node.users if u.target is operator.getitem and u.args[1] > 0]
    if any(u.users for u in used):
        for space in hidden_spaces:
            w.spaces.pin(space, f"the final recurrent state is used in {where(node)}")
    outputs[0] = [None] * (len(w.shape(x)) - 1) + [inputs]
    return outputs


def lstm(w: Walker, node: fx.Node) -> list[list[Label]]:
    return recurrent(w, node, 4)


def gru(w: Walker, node: fx.Node) -> list[list[Label]]:
    return recurrent(w, node, 3)


RULES = {"lstm": lstm, "gru": gru}
