"""Which tensors share their units: the coupling rules behind structured pruning.

Removing filter 5 of a convolution is not a change to one layer: its bias and the BatchNorm
after it lose entry 5, the next layer loses input 5 (after a ``Flatten``, all the features of
channel 5), and everything *added* to it (a residual stream) must lose channel 5 too. This
module finds those couplings in the graph that :func:`~.tracing.trace` records.

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

import functools
import math
import operator
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from torch import fx, nn

from ..core.device import at_model_threads
from .tracing import Trace, default_example_input, module_path, source_line, trace

NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.RMSNorm)


class StructureWarning(UserWarning):
    """Structured pruning met an operation it cannot follow and kept some units whole."""


@dataclass(eq=False)
class Member:
    """One tensor axis that loses entries when units of its group are removed.

    ``name``: the module's path; ``param``: the parameter or buffer name in it; ``dim``: the
    axis; ``units[e]``: the unit entry ``e`` belongs to (``-1``: another group's entry);
    ``role``: ``"producer"`` (the unit's incoming weights), ``"consumer"`` (a layer reading the
    unit), ``"bias"`` or ``"norm"`` (scales, shifts, running statistics, layer scales).
    """

    name: str
    module: nn.Module
    param: str = "weight"
    dim: int = 0
    units: torch.Tensor | None = None
    role: str = "producer"

    @property
    def tensor(self) -> torch.Tensor:
        return getattr(self.module, self.param)

    @property
    def per_unit(self) -> int:
        """Entries of this axis per unit (``H x W`` for a Linear after a Flatten)."""
        return int((self.units == 0).sum()) if self.units is not None else 1

    def rows(self, tensor: torch.Tensor | None = None, leading: int = 0) -> torch.Tensor:
        """``tensor`` (default: the member's own) regrouped as ``(*leading, units, entries)``."""
        tensor = self.tensor.detach() if tensor is None else tensor
        units = self.units.to(tensor.device)
        order = torch.sort(units, stable=True).indices[int((units < 0).sum()) :]
        moved = tensor.movedim(leading + self.dim, leading).index_select(leading, order)
        size = int(units.max()) + 1
        return moved.reshape(*moved.shape[:leading], size, -1)


@dataclass
class UnitGroup:
    """Units (neurons, channels, heads) that must be removed together: ``size`` of them.

    ``members`` lists every tensor axis that loses entries; ``producers``, ``norms`` and
    ``consumers`` are views of it by role (one entry per layer). ``pinned`` says why the group
    may not be pruned (``None`` if it may). ``grouped``: convolutions with ``groups > 1``
    whose output channels are these units (a unit is one of their groups), with their groups.
    """

    name: str
    size: int
    members: list[Member] = field(default_factory=list)
    pinned: str | None = None
    grouped: dict[str, int] = field(default_factory=dict)

    def _by_role(self, role: str) -> list[Member]:
        seen, chosen = set(), []
        for m in self.members:
            if m.role == role and m.name not in seen and m.tensor.dim() >= 1:
                if role == "norm" and not _is_norm(m.module):
                    continue
                seen.add(m.name)
                chosen.append(m)
        return chosen

    @property
    def producers(self) -> list[Member]:
        return [m for m in self._by_role("producer") if m.tensor.dim() >= 2]

    @property
    def norms(self) -> list[Member]:
        return self._by_role("norm")

    @property
    def consumers(self) -> list[Member]:
        return self._by_role("consumer")

    @property
    def layers(self) -> list[str]:
        """Names of the producers, in the order the forward pass runs them."""
        return [m.name for m in self.producers]


def _is_norm(module: nn.Module) -> bool:
    return isinstance(module, NORM_TYPES) or type(module).__name__.endswith("Norm")


# --- labels ----------------------------------------------------------------------------------

# A label is a tuple of segments; a segment is ("space", id, length), ("param", (name, dim),
# length) for an axis of a parameter not yet tied to a space, or ("free", None, length).
Seg = tuple
Label = tuple | None


def _length(label: Label) -> int:
    return sum(seg[2] for seg in label) if label else 0


#: How a grouped convolution loses channels (see :func:`unit_groups`).
GROUPED = ("whole", "within")
INTERLEAVED_MEETS = "channels narrowed within every group meet channels cut another way"


class _Spaces:
    """Union-find over index spaces; merging keeps the coarsest common unit (gcd)."""

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.units: list[int] = []
        self.pinned: dict[int, str] = {}
        #: root -> G for a space whose unit ``q`` is entry ``q`` of each of ``G`` equal
        #: blocks (a grouped convolution's channels narrowed within every group)
        self.interleaved: dict[int, int] = {}

    def new(self, units: int) -> int:
        self.parent.append(len(self.parent))
        self.units.append(units)
        return len(self.parent) - 1

    def find(self, space: int) -> int:
        while self.parent[space] != space:
            self.parent[space] = self.parent[self.parent[space]]
            space = self.parent[space]
        return space

    def coarsen(self, space: int, blocks: int) -> None:
        """At most ``blocks`` units, each a whole block: units = gcd(units, blocks)."""
        root = self.find(space)
        if root in self.interleaved and math.gcd(self.units[root], blocks) != self.units[root]:
            self.pin(root, INTERLEAVED_MEETS)
            return
        self.units[root] = math.gcd(self.units[root], blocks)

    def interleave(self, space: int, groups: int) -> None:
        """Unit ``q`` becomes entry ``q`` of every one of ``groups`` blocks (see ``can_...``)."""
        root = self.find(space)
        self.units[root] //= groups
        self.interleaved[root] = groups

    def can_interleave(self, space: int, groups: int, length: int) -> bool:
        """Only a space whose every entry is still its own unit can be re-cut that way."""
        root = self.find(space)
        units = self.units[root]
        return root not in self.interleaved and units == length and units % groups == 0

    def union(self, a: int, b: int) -> int:
        a, b = self.find(a), self.find(b)
        if a == b:
            return a
        low, high = min(a, b), max(a, b)
        self.parent[high] = low
        g_low, g_high = self.interleaved.pop(low, None), self.interleaved.pop(high, None)
        u_low, u_high = self.units[low], self.units[high]
        if g_low is None and g_high is None:
            self.units[low] = math.gcd(u_low, u_high)
        else:  # interleaved meets singletons of its length, or the same interleaving
            groups, units = (g_low, u_low) if g_low else (g_high, u_high)
            other_groups, other_units = (g_high, u_high) if g_low else (g_low, u_low)
            self.interleaved[low], self.units[low] = groups, units
            if other_groups:
                fits = other_groups == groups and other_units == units
            else:
                fits = other_units == units * groups
            if not fits:
                self.pin(low, INTERLEAVED_MEETS)
        reason = self.pinned.pop(high, None)
        if reason and low not in self.pinned:
            self.pinned[low] = reason
        return low

    def pin(self, space: int, reason: str) -> None:
        self.pinned.setdefault(self.find(space), reason)


def _where(node: fx.Node) -> str:
    path = module_path(node) or "the model itself"
    line = source_line(node)
    return f"module {path!r}" + (f" ({line})" if line else "")


def _op(node: fx.Node) -> str:
    target = node.target
    name = getattr(target, "__name__", str(target))
    return name.split(".")[0] if hasattr(target, "_schema") else name


POINTWISE = {
    *"abs add add_ addcmul alias bitwise_not clamp clamp_ clamp_max clamp_min clone contiguous "
    "cos detach detach_ div div_ dropout dropout_ elu elu_ erf exp expm1 feature_dropout "
    "gelu gelu_ hardsigmoid hardsigmoid_ hardswish hardswish_ hardtanh hardtanh_ leaky_relu "
    "leaky_relu_ lift_fresh_copy log log1p logical_not masked_fill maximum minimum mish mul "
    "mul_ neg pow reciprocal relu relu_ relu6 rsqrt sigmoid sigmoid_ sign silu silu_ sin "
    "softplus sqrt square sub sub_ tanh tanh_ to _to_copy type_as where zeros_like ones_like "
    "full_like empty_like rand_like randn_like fill_ native_dropout celu selu glu_".split(),
}
RESHAPES = {"view", "reshape", "_unsafe_view", "flatten", "unflatten", "squeeze", "unsqueeze"}
SUMS = {"sum"}
AVERAGES = {
    "mean",
    "var",
    "std",
    "var_mean",
    "std_mean",
    "linalg_vector_norm",
    "norm",
    "amax",
    "amin",
    "max",
    "min",
    "logsumexp",
    "softmax",
    "_softmax",
    "log_softmax",
    "_log_softmax",
    "cumsum",
    "argmax",
    "argmin",
}
POOLS = {
    "max_pool1d": 1,
    "max_pool2d": 2,
    "max_pool3d": 3,
    "max_pool2d_with_indices": 2,
    "max_pool3d_with_indices": 3,
    "avg_pool1d": 1,
    "avg_pool2d": 2,
    "avg_pool3d": 3,
    "adaptive_avg_pool1d": 1,
    "adaptive_avg_pool2d": 2,
    "adaptive_avg_pool3d": 3,
    "_adaptive_avg_pool2d": 2,
    "adaptive_max_pool1d": 1,
    "adaptive_max_pool2d": 2,
    "adaptive_max_pool3d": 3,
    "upsample_nearest1d": 1,
    "upsample_nearest2d": 2,
    "upsample_bilinear2d": 2,
    "upsample_nearest3d": 3,
    "_upsample_nearest_exact2d": 2,
}
CONVS = {"conv1d", "conv2d", "conv3d", "convolution", "_convolution"}
CREATIONS = {
    "arange",
    "zeros",
    "ones",
    "full",
    "empty",
    "scalar_tensor",
    "new_zeros",
    "new_ones",
    "new_full",
    "new_empty",
    "rand",
    "randn",
    "tensor",
    "eye",
    "triu",
    "tril",
    "le",
    "lt",
    "ge",
    "gt",
    "eq",
    "ne",
    "sym_size",
}
IGNORED = {"_assert_tensor_metadata", "sym_constrain_range_for_size", "_assert_scalar"}


class _Walker:
    """Labels every tensor axis of the graph and records the members of every space."""

    def __init__(
        self,
        model: nn.Module,
        recorded: Trace,
        strict: bool,
        through_norms: bool = False,
        grouped: str = "whole",
    ) -> None:
        self.through_norms = through_norms
        self.grouped = grouped
        self.model = model
        self.trace = recorded
        self.strict = strict
        self.spaces = _Spaces()
        self.values: dict[fx.Node, object] = {}
        # (parameter name, axis) -> (label, role, node) for every axis tied to a label
        self.members: dict[tuple[str, int], tuple[Label, str, fx.Node]] = {}
        self.pinned_params: dict[str, str] = {}
        self.fixed: dict[tuple[str, int], str] = {}
        self.param_space: dict[tuple[str, int], int] = {}
        self.conv_groups: dict[str, tuple[int, int]] = {}  # weight name -> (space, groups)
        self.unknown: dict[tuple[str, str], None] = {}

    # --- helpers ---------------------------------------------------------------------------

    def shape(self, node: object) -> tuple[int, ...]:
        value = node.meta.get("val") if isinstance(node, fx.Node) else None
        return tuple(int(s) for s in value.shape) if isinstance(value, torch.Tensor) else ()

    def labels(self, node: object) -> list[Label]:
        value = self.values.get(node) if isinstance(node, fx.Node) else None
        if isinstance(value, list) and all(not isinstance(v, list) for v in value):
            return list(value)
        return [None] * len(self.shape(node))

    def pin_label(self, label: Label, reason: str) -> None:
        for seg in label or ():
            if seg[0] == "space":
                self.spaces.pin(seg[1], reason)
            elif seg[0] == "param":
                self.pinned_params.setdefault(seg[1][0], reason)

    def pin_node(self, node: object, reason: str) -> None:
        for label in self.labels(node):
            self.pin_label(label, reason)

    def fresh(self, units: int) -> Label:
        return (("space", self.spaces.new(units), units),)

    def bind(self, param: tuple[str, int], label: Label, role: str, node: fx.Node) -> None:
        """Tie a parameter axis to ``label``; a second binding merges the two labels."""
        if label is None:
            return
        if param in self.fixed:
            self.pin_label(label, self.fixed[param])
        old = self.members.get(param)
        if old is None:
            self.members[param] = (label, role, node)
            return
        merged = self.align(old[0], label, node)
        keep_role = old[1] if old[1] in ("producer", "consumer") else role
        self.members[param] = (merged, keep_role, node)

    def fix(self, label: Label, node: fx.Node) -> None:
        """Parameter axes read whole by a tensor that is not pruned: they may not shrink."""
        reason = f"a layer reads it together with a tensor that keeps its size in {_where(node)}"
        for seg in label or ():
            if seg[0] == "param":
                self.fixed.setdefault(seg[1], reason)
                if seg[1] in self.members:
                    self.pin_label(self.members[seg[1]][0], reason)

    def producer(self, param: tuple[str, int], units: int, node: fx.Node) -> Label:
        """The label of a layer's output axis made by parameter axis ``param``."""
        if param in self.members:
            return self.members[param][0]
        label = self.fresh(units)
        self.members[param] = (label, "producer", node)
        return label

    def scaled(self, label: Label, length: int, node: fx.Node) -> Label:
        """``label`` stretched or shrunk proportionally onto an axis of ``length`` entries."""
        if label is None:
            return None
        total = _length(label)
        if length == total:
            return label
        if any(seg[0] != "space" for seg in label) or any(
            (seg[2] * length) % total for seg in label
        ):
            self.mixed(label, node)
            return None
        segs = []
        for seg in label:
            new = seg[2] * length // total
            self.spaces.coarsen(seg[1], new)
            segs.append(("space", seg[1], new))
        return tuple(segs)

    def align(self, a: Label, b: Label, node: fx.Node, proportional: bool = False) -> Label:
        """Two labels of the same axis (same length, or proportional for GQA heads): merge."""
        if a is None or b is None:
            other = a if b is None else b
            if other is not None and all(seg[0] == "param" for seg in other):
                self.fix(other, node)
                return None
            self.pin_label(other, f"it meets a tensor it cannot follow in {_where(node)}")
            return None
        if _length(a) != _length(b) and proportional and len(a) == len(b) == 1:
            b = self.scaled(b, _length(a), node)
            if b is None:
                self.pin_label(a, f"its heads cannot be matched in {_where(node)}")
                return None
        bounds_a = [seg[2] for seg in a]
        bounds_b = [seg[2] for seg in b]
        if bounds_a != bounds_b:
            reason = f"tensors split into units differently meet in {_where(node)}"
            self.pin_label(a, reason)
            self.pin_label(b, reason)
            return a if all(s[0] == "space" for s in a) else b
        merged = []
        for sa, sb in zip(a, b, strict=True):
            merged.append(self.merge_segment(sa, sb, node))
        return tuple(merged)

    def merge_segment(self, sa: Seg, sb: Seg, node: fx.Node) -> Seg:
        if sa[0] == "space" and sb[0] == "space":
            return ("space", self.spaces.union(sa[1], sb[1]), sa[2])
        if sa[0] == "param" and sb[0] == "param":
            return sa
        if "free" in (sa[0], sb[0]):
            for seg in (sa, sb):
                self.pin_label((seg,), f"it meets a tensor it cannot follow in {_where(node)}")
            return sa if sa[0] != "free" else sb
        param, space = (sa, sb) if sa[0] == "param" else (sb, sa)
        self.bind(param[1], (space,), "norm", node)
        return space

    def broadcast(self, operands: list[object], out: fx.Node) -> list[Label]:
        """Align tensor operands right to left as broadcasting does; size-1 axes drop out."""
        shape = self.shape(out)
        result: list[Label] = [None] * len(shape)
        for i in range(1, len(shape) + 1):
            chosen: Label = None
            first = True
            for operand in operands:
                oshape = self.shape(operand)
                if i > len(oshape) or oshape[-i] == 1:
                    continue
                label = self.labels(operand)[-i]
                if first:
                    chosen, first = label, False
                elif chosen is not None or label is not None:
                    chosen = self.align(chosen, label, out)
            result[-i] = chosen
        return result

    def mixed(self, label: Label, node: fx.Node) -> None:
        """A reshape that mixes units of different axes (e.g. ShuffleNet's channel shuffle:
        view as (groups, channels), transpose, flatten): pinned with a warning, or refused."""
        what = "a reshape that mixes units (e.g. a channel shuffle)"
        reason = f"structured pruning cannot follow {what} in {_where(node)}"
        if self.strict:
            raise TypeError(reason + " (strict=True refuses instead of keeping those units)")
        if any(seg[0] == "space" for seg in label or ()):
            self.unknown.setdefault((what, _where(node)))
        self.pin_label(label, reason)

    def unknown_op(self, node: fx.Node, why: str | None = None) -> list[Label]:
        what = why or f"the operation {_op(node)!r}"
        reason = f"structured pruning cannot follow {what} in {_where(node)}"
        if self.strict:
            raise TypeError(reason + " (strict=True refuses instead of keeping those units)")
        touched = False
        for arg in _tensor_args(node):
            for label in self.labels(arg):
                touched = touched or any(seg[0] == "space" for seg in label or ())
                self.pin_label(label, reason)
        if touched:
            self.unknown.setdefault((what, _where(node)))
        return [None] * len(self.shape(node))

    # --- the walk ------------------------------------------------------------------------------

    def run(self) -> None:
        for node in self.trace.graph.nodes:
            if node.op == "placeholder":
                name = self.trace.parameters.get(node.name)
                shape = self.shape(node)
                if name is not None:
                    self.values[node] = [
                        (("param", (name, d), n),) if n > 1 else None for d, n in enumerate(shape)
                    ]
                else:
                    self.values[node] = [None] * len(shape)
            elif node.op == "call_function":
                self.values[node] = self.call(node)
            elif node.op == "output":
                for arg in _tensor_args(node):
                    self.pin_node(arg, "its units are the model's outputs")
        by_op: dict[str, list[str]] = {}
        for what, where in self.unknown:
            by_op.setdefault(what, []).append(where)
        for what, places in by_op.items():
            more = f" and {len(places) - 3} more places" if len(places) > 3 else ""
            message = (
                f"structured pruning cannot follow {what} in {'; '.join(places[:3])}{more}; "
                "the units that pass through it are kept"
            )
            warnings.warn(message, StructureWarning, stacklevel=4)

    def call(self, node: fx.Node) -> object:
        result = self.rule(node)
        value = node.meta.get("val")
        if isinstance(value, list | tuple) and isinstance(result, list):
            if not result or not isinstance(result[0], list):  # max.dim, var_mean: alike
                return [list(result) for _ in value]
        return result

    def rule(self, node: fx.Node) -> object:
        if node.target is operator.getitem:
            source, index = node.args
            value = self.values.get(source)
            if isinstance(value, list) and value and isinstance(value[0], list):
                return value[index] if index < len(value) else [None] * len(self.shape(node))
            return [None] * len(self.shape(node))
        name = _op(node)
        rule = getattr(self, f"op_{name.strip('_')}", None)
        if name in IGNORED:
            return None
        if rule is not None:
            return rule(node)
        if name in POINTWISE:
            return self.broadcast(_tensor_args(node), node)
        if name in RESHAPES:
            return self.reshape(node)
        if name in SUMS or name in AVERAGES:
            return self.reduce(node, name)
        if name in POOLS:
            return self.pool(node, POOLS[name])
        if name in CONVS:
            return self.conv(node)
        if name in CREATIONS:
            return [None] * len(self.shape(node))
        return self.unknown_op(node)

    def reshape(self, node: fx.Node) -> list[Label]:
        source = node.args[0]
        old, new = self.shape(source), self.shape(node)
        labels = self.labels(source)
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
                    self.mixed(label, node)
                continue
            target = next(d for d in range(j0, j) if new[d] > 1)
            result[target] = self.scaled(block[0][1], new[target], node)
        return result

    def op_pad(self, node: fx.Node) -> list[Label]:
        """Padding (``F.pad``): the padded axes must not carry units."""
        labels = self.labels(node.args[0])
        pads = list(node.args[1])
        for k in range(len(pads) // 2):
            if pads[2 * k] or pads[2 * k + 1]:
                label = labels[-1 - k]
                if label is not None:
                    self.pin_label(label, f"padding across its units in {_where(node)}")
                    labels[-1 - k] = None
        return labels

    op_constant_pad_nd = op_pad
    op_reflection_pad1d = op_reflection_pad2d = op_replication_pad2d = op_pad

    def op_repeat_interleave(self, node: fx.Node) -> list[Label]:
        """``x.repeat_interleave(r, dim)``: each entry r times in a row (GQA's key heads)."""
        source = node.args[0]
        repeats = node.args[1] if len(node.args) > 1 else node.kwargs.get("repeats")
        dim = node.args[2] if len(node.args) > 2 else node.kwargs.get("dim")
        if not isinstance(source, fx.Node) or not isinstance(repeats, int) or dim is None:
            return self.unknown_op(node)
        labels = self.labels(source)
        dim %= len(labels)
        labels[dim] = self.scaled(labels[dim], self.shape(node)[dim], node)
        return labels

    def op_permute(self, node: fx.Node) -> list[Label]:
        labels = self.labels(node.args[0])
        return [labels[d] for d in node.args[1]]

    def op_transpose(self, node: fx.Node) -> list[Label]:
        labels = self.labels(node.args[0])
        a, b = (d % len(labels) for d in node.args[1:3])
        labels[a], labels[b] = labels[b], labels[a]
        return labels

    def op_t(self, node: fx.Node) -> list[Label]:
        return self.labels(node.args[0])[::-1]

    def op_expand(self, node: fx.Node) -> list[Label]:
        old, new = self.shape(node.args[0]), self.shape(node)
        labels = self.labels(node.args[0])
        pad = len(new) - len(old)
        return [None] * pad + [
            lab if old[d] == new[pad + d] else None for d, lab in enumerate(labels)
        ]

    def op_slice(self, node: fx.Node) -> list[Label]:
        dim = node.args[1] if len(node.args) > 1 else 0
        labels = self.labels(node.args[0])
        dim %= max(len(labels), 1)
        if self.shape(node)[dim] != self.shape(node.args[0])[dim] and labels[dim] is not None:
            if all(seg[0] == "param" for seg in labels[dim]):
                self.fix(labels[dim], node)
                labels[dim] = None
                return labels
            return self.unknown_op(node, "a slice across units")
        return labels

    def op_select(self, node: fx.Node) -> list[Label]:
        labels = self.labels(node.args[0])
        dim = node.args[1] % len(labels)
        if labels[dim] is not None and all(seg[0] == "param" for seg in labels[dim]):
            self.fix(labels[dim], node)
        elif labels[dim] is not None:
            return self.unknown_op(node, "indexing one unit")
        return labels[:dim] + labels[dim + 1 :]

    def op_cat(self, node: fx.Node) -> list[Label]:
        tensors = [t for t in node.args[0] if self.shape(t) != (0,)]
        shape = self.shape(node)
        dim = (node.args[1] if len(node.args) > 1 else 0) % len(shape)
        result: list[Label] = []
        for d in range(len(shape)):
            if d == dim:
                segs: list[Seg] = []
                for t in tensors:
                    label = self.labels(t)[d]
                    segs.extend(label or (("free", None, self.shape(t)[d]),))
                result.append(None if all(s[0] == "free" for s in segs) else tuple(segs))
                continue
            chosen: Label = None
            for k, t in enumerate(tensors):
                label = self.labels(t)[d]
                if k == 0 or shape[d] == 1:
                    chosen = label
                elif chosen is not None or label is not None:
                    chosen = self.align(chosen, label, node)
            result.append(chosen)
        return result

    def op_stack(self, node: fx.Node) -> list[Label]:
        tensors = list(node.args[0])
        labels = self.labels(tensors[0])
        for t in tensors[1:]:
            labels = [
                self.align(a, b, node) if (a is not None or b is not None) else None
                for a, b in zip(labels, self.labels(t), strict=True)
            ]
        dim = (node.args[1] if len(node.args) > 1 else 0) % (len(labels) + 1)
        return labels[:dim] + [None] + labels[dim:]

    def split(self, node: fx.Node, sizes: list[int], dim: int) -> list[list[Label]]:
        source = node.args[0]
        labels = self.labels(source)
        dim %= len(labels)
        label = labels[dim]
        cuts = [sum(sizes[:k]) for k in range(len(sizes) + 1)]
        bounds = [0]
        for seg in label or ():
            bounds.append(bounds[-1] + seg[2])
        if label is not None and not set(cuts) <= set(bounds):
            label = self.refine(label, sizes)
        if label is not None and not set(cuts) <= set(bounds_of(label)):
            self.unknown_op(node, "a split through a layer's units")
            label = None
        elif label is not None:
            bounds = bounds_of(label)
        outs = []
        for k in range(len(sizes)):
            part = list(labels)
            if label is not None:
                segs = [
                    s for s, lo in zip(label, bounds, strict=False) if cuts[k] <= lo < cuts[k + 1]
                ]
                part[dim] = tuple(segs) if segs else None
            elif labels[dim] is not None:
                part[dim] = None
            outs.append(part)
        return outs

    def refine(self, label: Label, sizes: list[int]) -> Label:
        """Split a fresh space into equal parts, e.g. GPT-2's fused q/k/v projection.

        Possible only while the space is merged with nothing else and each part holds whole
        units; every label that refers to it is rewritten to the parts.
        """
        if len(label) != 1 or label[0][0] != "space" or len(set(sizes)) != 1:
            return label
        space, length = label[0][1], label[0][2]
        parts = len(sizes)
        alone = self.spaces.find(space) == space and self.spaces.parent.count(space) == 1
        if not alone or self.spaces.units[space] % parts or length % parts:
            return label
        units = self.spaces.units[space] // parts
        new = [self.spaces.new(units) for _ in range(parts)]
        if space in self.spaces.pinned:
            for part in new:
                self.spaces.pin(part, self.spaces.pinned[space])

        def rewrite(old: Label) -> Label:
            if old is None or not any(seg[0] == "space" and seg[1] == space for seg in old):
                return old
            segs: list[Seg] = []
            for seg in old:
                if seg[0] == "space" and seg[1] == space:
                    segs.extend(("space", part, seg[2] // parts) for part in new)
                else:
                    segs.append(seg)
            return tuple(segs)

        for key, (old, role, where) in list(self.members.items()):
            self.members[key] = (rewrite(old), role, where)
        for node, value in self.values.items():
            if isinstance(value, list):
                self.values[node] = [
                    [rewrite(v) for v in item] if isinstance(item, list) else rewrite(item)
                    for item in value
                ]
        return rewrite(label)

    def op_split(self, node: fx.Node) -> list[list[Label]]:
        sizes = node.args[1]
        dim = node.args[2] if len(node.args) > 2 else 0
        total = self.shape(node.args[0])[dim]
        if isinstance(sizes, int):
            sizes = [min(sizes, total - s) for s in range(0, total, sizes)]
        return self.split(node, list(sizes), dim)

    op_split_with_sizes = op_split

    def op_chunk(self, node: fx.Node) -> list[list[Label]]:
        dim = node.args[2] if len(node.args) > 2 else 0
        total = self.shape(node.args[0])[dim]
        size = -(-total // node.args[1])
        return self.split(node, [min(size, total - s) for s in range(0, total, size)], dim)

    def op_unbind(self, node: fx.Node) -> list[list[Label]]:
        labels = self.labels(node.args[0])
        dim = (node.args[1] if len(node.args) > 1 else 0) % len(labels)
        if labels[dim] is not None:
            self.unknown_op(node, "unbinding units")
        rest = labels[:dim] + labels[dim + 1 :]
        return [list(rest) for _ in range(self.shape(node.args[0])[dim])]

    def reduce(self, node: fx.Node, name: str) -> list[Label]:
        source = node.args[0]
        labels = self.labels(source)
        ndim = len(labels)
        dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
        if dims is None or dims == []:
            dims = list(range(ndim))
        dims = [dims] if isinstance(dims, int) else list(dims)
        dims = {d % ndim for d in dims} if ndim else set()
        averages = {"mean", "var", "std", "var_mean", "std_mean"}
        for d in dims:
            if self.through_norms and name in averages:
                continue
            if labels[d] is not None and name not in SUMS:
                self.pin_label(labels[d], f"{name} over its units in {_where(node)}")
        out = self.shape(node)
        shape = self.shape(source)
        if len(out) == ndim:  # keepdim, or a softmax that keeps the shape
            return [labels[d] if out[d] == shape[d] else None for d in range(ndim)]
        return [labels[d] for d in range(ndim) if d not in dims][: len(out)]

    def pool(self, node: fx.Node, spatial: int) -> list[Label]:
        labels = self.labels(node.args[0])
        for label in labels[-spatial:]:
            if label is not None:
                self.pin_label(label, f"pooling across its units in {_where(node)}")
        out = labels[:-spatial] + [None] * spatial
        return out if not name_with_indices(node) else [out, [None] * len(out)]

    def matmul(self, node: fx.Node, a: fx.Node, b: fx.Node, b_transposed: bool) -> list[Label]:
        """``a @ b`` (or ``a @ b.T``): batch axes align, the contracted axes align."""
        la, lb = self.labels(a), self.labels(b)
        if b_transposed:
            lb = lb[:-2] + [lb[-1], lb[-2]] if len(lb) >= 2 else lb
            sb = self.shape(b)
            sb = sb[:-2] + (sb[-1], sb[-2])
        else:
            sb = self.shape(b)
        sa = self.shape(a)
        if len(la) == 1:
            la, sa = [None, la[0]], (1, sa[0])
        self.contract(la[-1], lb[-2] if len(lb) >= 2 else lb[0], node)
        out_last: Label = None
        if len(lb) >= 2:
            col = lb[-1]
            if col is not None and all(seg[0] == "param" for seg in col):
                (seg,) = col
                out_last = self.producer(seg[1], sb[-1], node)
            else:
                out_last = col
        batch = []
        shape = self.shape(node)
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
                        chosen = self.align(chosen, other, node)
            batch.insert(0, chosen)
        rows = la[-2] if len(self.shape(a)) >= 2 else None
        if len(shape) == 1:
            return [out_last]
        return [*batch, rows, out_last][-len(shape) :]

    def contract(self, a: Label, b: Label, node: fx.Node) -> None:
        if a is None and b is None:
            return
        for x, y in ((a, b), (b, a)):
            if y is not None and all(seg[0] == "param" for seg in y):
                if x is not None and all(seg[0] == "param" for seg in x):
                    return
                if x is None:
                    self.fix(y, node)
                    return
                (seg,) = y
                self.bind(seg[1], x, "consumer", node)
                return
        self.align(a, b, node)

    def op_linear(self, node: fx.Node) -> list[Label]:
        x, weight = node.args[:2]
        bias = node.args[2] if len(node.args) > 2 else None
        out = self.matmul(node, x, weight, b_transposed=True)
        self.add_bias(bias, out[-1], node)
        return out

    def add_bias(self, bias: object, label: Label, node: fx.Node) -> None:
        if isinstance(bias, fx.Node):
            (blabel,) = self.labels(bias) or [None]
            if blabel is not None and label is not None:
                self.bind(blabel[0][1], label, "bias", node)

    def op_addmm(self, node: fx.Node) -> list[Label]:
        bias, a, b = node.args[:3]
        out = self.matmul(node, a, b, b_transposed=False)
        self.add_bias(bias, out[-1], node)
        return out

    def op_mm(self, node: fx.Node) -> list[Label]:
        return self.matmul(node, node.args[0], node.args[1], b_transposed=False)

    op_bmm = op_mm
    op_matmul = op_mm

    def conv(self, node: fx.Node) -> list[Label]:
        x, weight = node.args[:2]
        bias = node.args[2] if len(node.args) > 2 else None
        if _op(node) in ("convolution", "_convolution"):
            transposed, groups = node.args[6], node.args[8]
        else:
            transposed, groups = False, node.args[6] if len(node.args) > 6 else 1
        wname = self.trace.parameters.get(getattr(weight, "name", ""))
        if transposed or wname is None:
            return self.unknown_op(node, "a transposed convolution or a computed weight")
        labels = self.labels(x)
        channel = 1 if len(labels) == len(self.shape(weight)) else 0
        for label in labels[channel + 1 :]:
            self.pin_label(label, f"a convolution slides across its units in {_where(node)}")
        produced = self.producer((wname, 0), self.shape(weight)[0], node)
        if groups == 1:
            self.contract(labels[channel], self.labels(weight)[1], node)
        elif self.within_groups(node, labels[channel], produced, (wname, 1), groups):
            pass
        else:
            space = produced[0][1]
            self.spaces.coarsen(space, groups)
            self.conv_groups[wname] = (space, groups)
            entering = labels[channel]
            if entering is None or len(entering) != 1 or entering[0][0] != "space":
                reason = f"a grouped convolution reads a tensor it cannot follow in {_where(node)}"
                self.spaces.pin(space, reason)
                self.pin_label(entering, reason)
            else:
                self.spaces.coarsen(entering[0][1], groups)
                self.spaces.union(entering[0][1], space)
        self.add_bias(bias, produced, node)
        return [*labels[:channel], produced, *[None] * (len(labels) - channel - 1)]

    def within_groups(
        self, node: fx.Node, entering: Label, produced: Label, weight_in: tuple, groups: int
    ) -> bool:
        """``grouped="within"``: unit ``q`` is channel ``q`` of every group, on each side.

        The input and output channels of a grouped convolution with ``G`` groups of ``a``
        inputs and ``b`` outputs become two spaces of ``a`` and ``b`` units (one channel per
        group each); the convolution keeps its ``G`` groups, each narrower. Depthwise
        convolutions (``a == b == 1``), and inputs already cut another way, keep whole groups.
        """
        per_group_in = self.shape(node.args[1])[1]
        out_channels = _length(produced)
        if self.grouped != "within" or (per_group_in == 1 and out_channels == groups):
            return False
        if entering is None or len(entering) != 1 or entering[0][0] != "space":
            return False
        sides = ((entering[0][1], _length(entering)), (produced[0][1], out_channels))
        if not all(self.spaces.can_interleave(s, groups, n) for s, n in sides):
            return False
        for space, _ in sides:
            self.spaces.interleave(space, groups)
        self.bind(weight_in, (("space", entering[0][1], per_group_in),), "consumer", node)
        return True

    def norm_params(self, node: fx.Node, params: Iterable[object], label: Label) -> None:
        for p in params:
            if isinstance(p, fx.Node):
                plabel = self.labels(p)
                if plabel and plabel[0] is not None and label is not None:
                    self.bind(plabel[0][0][1], label, "norm", node)

    def op_batch_norm(self, node: fx.Node) -> list[Label]:
        labels = self.labels(node.args[0])
        self.norm_params(node, node.args[1:5], labels[1] if len(labels) > 1 else None)
        return labels

    def op_native_batch_norm_legit_no_training(self, node: fx.Node) -> list[list[Label]]:
        out = self.op_batch_norm(node)
        return [out, [None], [None]]

    def op_layer_norm(self, node: fx.Node) -> list[Label]:
        labels = self.labels(node.args[0])
        normalized = len(node.args[1])
        for label in labels[-normalized:]:
            if not (self.through_norms and normalized == 1):
                self.pin_label(label, f"a normalisation over its units in {_where(node)}")
        if normalized == 1:
            self.norm_params(node, node.args[2:4], labels[-1])
        return labels

    def op_rms_norm(self, node: fx.Node) -> list[Label]:
        return self.op_layer_norm(node)

    def op_group_norm(self, node: fx.Node) -> list[Label]:
        labels = self.labels(node.args[0])
        self.pin_label(labels[1], f"a group normalisation over its channels in {_where(node)}")
        self.norm_params(node, node.args[2:4], labels[1])
        return labels

    def op_embedding(self, node: fx.Node) -> list[Label]:
        weight, ids = node.args[:2]
        wname = self.trace.parameters.get(weight.name)
        if wname is None:
            return self.unknown_op(node, "an embedding whose table is computed")
        produced = self.producer((wname, 1), self.shape(weight)[1], node)
        return [None] * len(self.shape(ids)) + [produced]

    def op_scaled_dot_product_attention(self, node: fx.Node) -> list[Label]:
        q, k, v = node.args[:3]
        mask = node.args[3] if len(node.args) > 3 else node.kwargs.get("attn_mask")
        gqa = bool(node.kwargs.get("enable_gqa", False))
        lq, lk, lv = self.labels(q), self.labels(k), self.labels(v)
        self.align(lq[-1], lk[-1], node) if (lq[-1] or lk[-1]) else None
        self.align(lk[-2], lv[-2], node) if (lk[-2] or lv[-2]) else None
        batch = []
        for d in range(len(lq) - 2):
            label = lq[d]
            for other in (lk[d], lv[d]):
                if self.shape(q)[d] == 1:
                    label = other
                elif label is not None or other is not None:
                    label = self.align(label, other, node, proportional=gqa)
            batch.append(label)
        if isinstance(mask, fx.Node):
            for label in self.labels(mask):
                if label is not None:
                    self.pin_label(label, f"an attention mask computed from units {_where(node)}")
        return [*batch, lq[-2], lv[-1]]

    def recurrent(self, node: fx.Node, gates: int) -> list[list[Label]]:
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
                self.pinned_params.setdefault(
                    self.trace.parameters.get(p.name, ""), "projected RNN"
                )
            self.unknown_op(node, "a projected recurrent layer")
            return outputs
        inputs = self.labels(x)[-1]
        hidden_spaces = []
        hidden: Label = None
        for layer in range(layers):
            hidden = None
            for direction in range(directions):
                start = (layer * directions + direction) * per_layer
                chunk = params[start : start + per_layer]
                names = [self.trace.parameters.get(p.name) for p in chunk]
                if hidden is None:
                    hidden = self.fresh(self.shape(chunk[1])[1])
                    hidden_spaces.append(hidden[0][1])
                self.bind((names[0], 0), hidden * gates, "producer", node)
                self.bind((names[1], 0), hidden * gates, "producer", node)
                self.bind((names[1], 1), hidden, "consumer", node)
                for name in names[2:]:
                    self.bind((name, 0), hidden * gates, "bias", node)
                marker = (("param", (names[0], 1), self.shape(chunk[0])[1]),)
                self.contract(inputs, marker, node)
            inputs = hidden * directions
        for state in hx:
            for label in self.labels(state):
                self.pin_label(label, f"a recurrent state passed in {_where(node)}")
        used = [u for u in node.users if u.target is operator.getitem and u.args[1] > 0]
        if any(u.users for u in used):
            for space in hidden_spaces:
                self.spaces.pin(space, f"the final recurrent state is used in {_where(node)}")
        outputs[0] = [None] * (len(self.shape(x)) - 1) + [inputs]
        return outputs

    def op_lstm(self, node: fx.Node) -> list[list[Label]]:
        return self.recurrent(node, 4)

    def op_gru(self, node: fx.Node) -> list[list[Label]]:
        return self.recurrent(node, 3)

    # --- groups --------------------------------------------------------------------------------

    def groups(self, ignored: set[str]) -> list[UnitGroup]:
        """One :class:`UnitGroup` per space that some layer produces, in forward order."""
        named = dict(self.model.named_modules())
        owner = _owners(self.model)
        for (pname, _), (label, _, _) in self.members.items():
            if pname in self.pinned_params:
                self.pin_label(label, self.pinned_params[pname])
            module_name = owner[pname][0]
            hit = [i for i in ignored if module_name == i or module_name.startswith(i + ".")]
            if hit:
                self.pin_label(label, f"layer {hit[0]!r} is in ignored_layers")
        by_root: dict[int, UnitGroup] = {}
        taken: set[str] = set()
        for (pname, _), (label, role, _) in self.members.items():
            for seg in label:
                if seg[0] == "space" and role == "producer":
                    root = self.spaces.find(seg[1])
                    if root not in by_root:
                        name = owner[pname][0]
                        if name in taken:  # a module with several outputs (stacked LSTM)
                            name = f"{name}.{owner[pname][1]}"
                        taken.add(name)
                        by_root[root] = UnitGroup(name, self.spaces.units[root])
        for root, group in by_root.items():
            group.pinned = self.spaces.pinned.get(root)
            if group.pinned is None and group.size < 2:
                group.pinned = "it has a single unit"
        for wname, (space, groups) in self.conv_groups.items():
            root = self.spaces.find(space)
            if root in by_root:
                by_root[root].grouped[owner[wname][0]] = groups
        for (pname, dim), (label, role, _) in self.members.items():
            module_name, attr = owner[pname]
            length = _length(label)
            maps: dict[int, torch.Tensor] = {}
            offset = 0
            for seg in label:
                root = self.spaces.find(seg[1]) if seg[0] == "space" else None
                if root in by_root:
                    units = maps.setdefault(root, torch.full((length,), -1, dtype=torch.long))
                    size = by_root[root].size
                    blocks = self.spaces.interleaved.get(root, 0)
                    if blocks and seg[2] != size and seg[2] % (blocks * size):
                        by_root[root].pinned = by_root[root].pinned or INTERLEAVED_MEETS
                        blocks = 0
                    units[offset : offset + seg[2]] = (
                        _interleave(seg[2], size, blocks) if blocks else _spread(seg[2], size)
                    )
                offset += seg[2]
            for root, units in maps.items():
                member = Member(module_name, named[module_name], attr, dim, units, role)
                by_root[root].members.append(member)
        return list(by_root.values())


@functools.cache
def _spread(length: int, units: int) -> torch.Tensor:
    """``[e * units // length for e in range(length)]``: entry ``e``'s unit (read-only)."""
    return torch.tensor([e * units // length for e in range(length)], dtype=torch.long)


@functools.cache
def _interleave(length: int, units: int, blocks: int) -> torch.Tensor:
    """Entry ``e``'s unit when unit ``q`` is entry ``q`` of each of ``blocks`` equal blocks
    (``length`` is ``blocks x units x per``, ``per`` entries per channel, e.g. after a
    flatten), or ``length == units`` (one entry per unit: a grouped weight's input axis)."""
    if length == units:
        return torch.arange(units)
    per = length // (blocks * units)
    return torch.tensor([(e // per) % units for e in range(length)], dtype=torch.long)


def _owners(model: nn.Module) -> dict[str, tuple[str, str]]:
    """Parameter or buffer name -> (module path, attribute), tied names included."""
    owner = {}
    for module_name, module in model.named_modules(remove_duplicate=False):
        tensors = [
            *module.named_parameters(recurse=False, remove_duplicate=False),
            *module.named_buffers(recurse=False, remove_duplicate=False),
        ]
        for attr, _ in tensors:
            owner.setdefault(f"{module_name}.{attr}".lstrip("."), (module_name, attr))
    return owner


def bounds_of(label: Label) -> list[int]:
    bounds = [0]
    for seg in label or ():
        bounds.append(bounds[-1] + seg[2])
    return bounds


def name_with_indices(node: fx.Node) -> bool:
    return "with_indices" in _op(node)


def _tensor_args(node: fx.Node) -> list[fx.Node]:
    found: list[fx.Node] = []
    fx.node.map_arg((node.args, node.kwargs), found.append)
    return [n for n in found if isinstance(n.meta.get("val"), torch.Tensor)]


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
    walker = _Walker(model, recorded, strict, through_norms, grouped)
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
