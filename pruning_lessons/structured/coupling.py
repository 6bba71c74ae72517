"""Which tensors share their units: the coupling rules behind structured pruning.

Removing filter 5 of a convolution is not a change to one layer: its bias and the BatchNorm
after it lose entry 5, the next layer loses input 5 (after a ``Flatten``, all the features of
channel 5), and everything *added* to it (a residual stream) must lose channel 5 too. This
module finds those couplings in the graph that :func:`~.tracing.trace` records: the label
algebra is in :mod:`.labels`, the walk over the graph in :mod:`.walker`, and one rule per
operation, by family, in :mod:`.rules`.

**Index spaces.** Every output axis of a layer (``Linear`` rows, ``Conv`` filters, an
``Embedding``'s columns) opens an *index space* of ``units``. Every tensor axis the graph
computes is labelled by the space(s) it indexes, or by nothing. A label is proportional: an
axis of length ``L`` labelled by a space of ``U`` units gives each unit ``L / U`` consecutive
entries (a ``Flatten`` gives each channel ``H x W`` features; the head axis of a
``(batch, heads, tokens, head_dim)`` view gives each unit one head). The rules, op by op:

* element-wise ops (activations, ``+``, ``*``, layer scale, squeeze-excitation gates) put the
  axes of their operands in one space (a residual stream, a SwiGLU ``gate * up``);
* ``view`` / ``reshape`` / ``flatten`` / ``permute`` / ``transpose`` move labels with the data;
  splitting an axis into ``(heads, head_dim)`` makes a unit a whole head;
* ``cat`` on a labelled axis joins the spaces at their offsets (DenseNet, SqueezeNet);
* a convolution with ``groups > 1`` (depthwise included) couples its input and output
  channels group by group: a unit is a **whole group**, and the layer keeps ``groups`` equal to
  the number of groups left (a depthwise conv's input and output channel are one unit);
* attention (``scaled_dot_product_attention`` or its matmuls) couples q, k and v head by head,
  and under grouped-query attention a unit is one key/value head with its query heads;
* ``LSTM`` / ``GRU``: a hidden unit is its row in every gate of ``weight_ih`` / ``weight_hh``
  and the biases, its column of ``weight_hh`` and of the next layer's ``weight_ih``; in a
  bidirectional layer, unit ``k`` of both directions (``nn.LSTM`` has one ``hidden_size``).

When two labels meet, their spaces merge and a unit becomes the coarsest common block
(``gcd`` of the unit counts). Axes that reach the model's output, an average or a
normalisation over units (``LayerNorm``, ``RMSNorm``, ``softmax``: removing a unit would change
the others' values), an unknown operation, or a tensor that cannot be followed are *pinned*:
kept whole, with the reason and the module path recorded (unknown operations also warn).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from ..core.device import at_model_threads
from .groups import UnitGroup
from .labels import GROUPED
from .tracing import default_example_input, trace
from .walker import Walker


@at_model_threads
def unit_groups(
    model: nn.Module,
    example_input: torch.Tensor | None = None,
    *,
    strict: bool = False,
    ignored_layers: Iterable[str | nn.Module] = (),
    through_norms: bool = False,
    grouped: str = "whole",
) -> list[UnitGroup]:
    """Every set of units that structured pruning must remove together, in forward order.

    Each :class:`UnitGroup` is named after its first producer (``"fc1"``, ``"conv2"``, or
    ``"stem.conv"`` for the residual stream of the tiny ResNet, whose producers are
    ``stem.conv``, ``block1.conv2`` and ``block2.conv2``). Groups whose ``pinned`` is set (the
    final classifier's outputs, units the rules cannot follow, ``ignored_layers``) are listed
    but may not be pruned. ``example_input`` is run once through the model (eval mode, no
    gradients); it may be left out only for the course's models, which take one ``(1, 1, 8,
    8)`` image. ``strict=True`` raises ``TypeError`` where the default pins with a
    :class:`StructureWarning`. ``through_norms=True`` also prunes units that a LayerNorm,
    RMSNorm or mean normalises over (a transformer's or ConvNeXt's width), as Torch-Pruning
    does: the pruned model then normalises over the units left, so it is no longer exactly
    the zeroed original. ``grouped``: how a grouped (not depthwise) convolution loses
    channels: ``"whole"`` groups (a unit is a group; the layer keeps fewer groups) or
    ``"within"`` every group (a unit is one channel position of every group, on the input and
    on the output side; the layer keeps its groups, each narrower, as Torch-Pruning does,
    which removes more of its MACs). Both are exact. ``model`` is not changed.
    """
    if grouped not in GROUPED:
        raise ValueError(f"grouped must be one of {GROUPED}, got {grouped!r}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    on_meta = [n for n, t in (*model.named_parameters(), *model.named_buffers()) if t.is_meta]
    if on_meta:
        raise ValueError(
            f"model is on the meta device ({on_meta[0]!r} has a shape but no values), so there "
            "is nothing to measure or rank; materialise it first (model.to_empty(device=...) "
            "and load its weights)"
        )
    ignored = _ignored_names(model, ignored_layers)
    if example_input is None:
        try:
            recorded = trace(model, default_example_input(model))
        except ValueError as err:
            raise ValueError(
                f"pass example_input=: one input {type(model).__name__} accepts (a batch of "
                "one image, or token ids); without it only the course's models, which take a "
                f"(1, 1, 8, 8) digit image, can be traced ({err.__cause__})"
            ) from err
    else:
        recorded = trace(model, example_input)
    walker = Walker(model, recorded, strict, through_norms, grouped)
    walker.run()
    return walker.groups(ignored)


def _ignored_names(model: nn.Module, ignored: Iterable[str | nn.Module]) -> set[str]:
    if isinstance(ignored, str | nn.Module):
        ignored = [ignored]
    modules = dict(model.named_modules())
    names = {id(m): n for n, m in modules.items()}
    chosen = set()
    for item in ignored:
        if isinstance(item, nn.Module) and id(item) in names:
            chosen.add(names[id(item)])
        elif isinstance(item, str) and item in modules:
            chosen.add(item)
        else:
            raise ValueError(
                f"ignored_layers must hold submodules of the model or their names, got {item!r}"
            )
    return chosen
