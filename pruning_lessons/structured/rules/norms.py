"""Normalisations: ``batch_norm`` passes its channels (its scales, shifts and running
statistics lose the removed channels' entries); ``layer_norm`` / ``rms_norm`` /
``group_norm`` normalise over their units, so removing one would change the others' values:
those units are pinned (``through_norms=True`` lets a LayerNorm's or RMSNorm's last axis
through, as Torch-Pruning does; the pruned model is then no longer exactly the zeroed one).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from torch import fx

from ..labels import Label
from ..nodes import where

if TYPE_CHECKING:
    from ..walker import Walker


def norm_params(w: Walker, node: fx.Node, params: Iterable[object], label: Label) -> None:
    """A norm's per-unit tensors (scale, shift, running statistics) follow ``label``."""
    for p in params:
        if isinstance(p, fx.Node):
            plabel = w.labels(p)
            if plabel and plabel[0] is not None and label is not None:
                w.bind(plabel[0][0][1], label, "norm", node)


def batch_norm(w: Walker, node: fx.Node) -> list[Label]:
    labels = w.labels(node.args[0])
    norm_params(w, node, node.args[1:5], labels[1] if len(labels) > 1 else None)
    return labels


def batch_norm_no_training(w: Walker, node: fx.Node) -> list[list[Label]]:
    """``_native_batch_norm_legit_no_training``: the output, and two statistics."""
    return [batch_norm(w, node), [None], [None]]


def layer_norm(w: Walker, node: fx.Node) -> list[Label]:
    labels = w.labels(node.args[0])
    normalized = len(node.args[1])
    for label in labels[-normalized:]:
        if not (w.through_norms and normalized == 1):
            w.pin_label(label, f"a normalisation over its units in {where(node)}")
    if normalized == 1:
        norm_params(w, node, node.args[2:4], labels[-1])
    return labels


def group_norm(w: Walker, node: fx.Node) -> list[Label]:
    labels = w.labels(node.args[0])
    w.pin_label(labels[1], f"a group normalisation over its channels in {where(node)}")
    norm_params(w, node, node.args[2:4], labels[1])
    return labels


RULES = {
    "batch_norm": batch_norm,
    "native_batch_norm_legit_no_training": batch_norm_no_training,
    "layer_norm": layer_norm,
    "rms_norm": layer_norm,
    "group_norm": group_norm,
}
