"""The walk over a recorded graph that labels every tensor axis (see :mod:`.coupling`).

:class:`Walker` holds the state of one analysis: the union-find of index spaces, each node's
labels, and every parameter axis tied to a label. Its methods are the operations every rule
shares (bind a parameter axis, align two labels, broadcast, pin); the rules themselves, one
per operation, live in :mod:`.rules`, found by the operation's name.
"""

from __future__ import annotations

import operator
import warnings

import torch
from torch import fx, nn

from .groups import Member, StructureWarning, UnitGroup, owners
from .labels import (
    INTERLEAVED_MEETS,
    Label,
    Refused,
    RuleMismatch,
    Seg,
    Spaces,
    has_param,
    has_space,
    interleave,
    label_length,
    only_params,
    spread,
)
from .nodes import op_name, tensor_args, where
from .rules import rule_for
from .tracing import Trace


class Walker:
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
        self.spaces = Spaces()
        self.values: dict[fx.Node, object] = {}
        # (parameter name, axis) -> (label, role, node) for every axis tied to a label
        self.members: dict[tuple[str, int], tuple[Label, str, fx.Node]] = {}
        self.pinned_params: dict[str, str] = {}
        self.fixed: dict[tuple[str, int], str] = {}
        self.param_space: dict[tuple[str, int], int] = {}
        self.conv_groups: dict[str, tuple[int, int]] = {}  # weight name -> (space, groups)
        self.unknown: dict[tuple[str, str], None] = {}
        #: every parameter axis bound, in order (what a failing rule touched is pinned)
        self.journal: list[tuple[str, int]] = []

    # --- reading and pinning labels ------------------------------------------------------------

    def shape(self, node: object) -> tuple[int, ...]:
        value = node.meta.get("val") if isinstance(node, fx.Node) else None
        return tuple(int(s) for s in value.shape) if isinstance(value, torch.Tensor) else ()

    def shapes(self, node: fx.Node) -> list[tuple[int, ...] | None]:
        """The shape of each output of ``node`` (``None`` for an output that is no tensor)."""
        value = node.meta.get("val")
        items = value if isinstance(value, list | tuple) else [value]
        return [tuple(v.shape) if isinstance(v, torch.Tensor) else None for v in items]

    def first_shape(self, node: fx.Node) -> tuple[int, ...]:
        """The shape of ``node``'s value, or of its first output (``max.dim``, ``var_mean``)."""
        return next((s for s in self.shapes(node) if s is not None), ())

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

    # --- tying parameter axes to labels --------------------------------------------------------

    def bind(self, param: tuple[str, int], label: Label, role: str, node: fx.Node) -> None:
        """Tie a parameter axis to ``label``; a second binding merges the two labels."""
        if label is None:
            return
        if param in self.fixed:
            self.pin_label(label, self.fixed[param])
        old = self.members.get(param)
        self.journal.append(param)
        if old is None:
            self.members[param] = (label, role, node)
            return
        merged = self.align(old[0], label, node)
        keep_role = old[1] if old[1] in ("producer", "consumer") else role
        self.members[param] = (merged, keep_role, node)

    def fix(self, label: Label, node: fx.Node) -> None:
        """Parameter axes read whole by a tensor that is not pruned: they may not shrink."""
        reason = f"a layer reads it together with a tensor that keeps its size in {where(node)}"
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
        self.journal.append(param)
        return label

    def contract(self, a: Label, b: Label, node: fx.Node) -> None:
        """The two axes a layer or a matmul sums over: a weight's input axis reads ``a``."""
        if a is None and b is None:
            return
        for x, y in ((a, b), (b, a)):
            if only_params(y):
                if only_params(x):
                    return
                if x is None:
                    self.fix(y, node)
                    return
                (seg,) = y
                self.bind(seg[1], x, "consumer", node)
                return
        self.align(a, b, node)

    # --- labels that meet ----------------------------------------------------------------------

    def scaled(self, label: Label, length: int, node: fx.Node) -> Label:
        """``label`` stretched or shrunk proportionally onto an axis of ``length`` entries."""
        if label is None:
            return None
        total = label_length(label)
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
            if other is not None and only_params(other):
                self.fix(other, node)
                return None
            self.pin_label(other, f"it meets a tensor it cannot follow in {where(node)}")
            return None
        if label_length(a) != label_length(b) and proportional and len(a) == len(b) == 1:
            b = self.scaled(b, label_length(a), node)
            if b is None:
                self.pin_label(a, f"its heads cannot be matched in {where(node)}")
                return None
        bounds_a = [seg[2] for seg in a]
        bounds_b = [seg[2] for seg in b]
        if bounds_a != bounds_b:
            reason = f"tensors split into units differently meet in {where(node)}"
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
                self.pin_label((seg,), f"it meets a tensor it cannot follow in {where(node)}")
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

    # --- what cannot be followed ---------------------------------------------------------------

    def mixed(self, label: Label, node: fx.Node) -> None:
        """A reshape that mixes units of different axes (e.g. ShuffleNet's channel shuffle:
        view as (groups, channels), transpose, flatten): pinned with a warning, or refused."""
        what = "a reshape that mixes units (e.g. a channel shuffle)"
        reason = f"structured pruning cannot follow {what} in {where(node)}"
        if self.strict:
            raise Refused(reason + " (strict=True refuses instead of keeping those units)")
        if has_space(label):
            self.unknown.setdefault((what, where(node)))
        self.pin_label(label, reason)

    def unknown_op(self, node: fx.Node, why: str | None = None) -> list[Label]:
        what = why or f"the operation {op_name(node)!r}"
        reason = f"structured pruning cannot follow {what} in {where(node)}"
        if self.strict:
            raise Refused(reason + " (strict=True refuses instead of keeping those units)")
        touched = False
        for arg in tensor_args(node):
            for label in self.labels(arg):
                # units of a group, or a parameter's axis (stacked expert weights read by a
                # grouped matmul): either way something that could be pruned stays whole
                touched = touched or has_space(label) or has_param(label)
                self.pin_label(label, reason)
        if touched:
            self.unknown.setdefault((what, where(node)))
        return self.nothing(node)

    def nothing(self, node: fx.Node) -> object:
        """No labels for any output of ``node``: one list per output if it has several."""
        value = node.meta.get("val")
        if isinstance(value, list | tuple):
            return [[None] * len(s or ()) for s in self.shapes(node)]
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
                for arg in tensor_args(node):
                    self.pin_node(arg, "its units are the model's outputs")
        by_op: dict[str, list[str]] = {}
        for what, place in self.unknown:
            by_op.setdefault(what, []).append(place)
        for what, places in by_op.items():
            more = f" and {len(places) - 3} more places" if len(places) > 3 else ""
            message = (
                f"structured pruning cannot follow {what} in {'; '.join(places[:3])}{more}; "
                "the units that pass through it are kept"
            )
            warnings.warn(message, StructureWarning, stacklevel=4)

    def call(self, node: fx.Node) -> object:
        """The labels of ``node``'s outputs, from its rule.

        A rule that fails, or returns labels that do not fit the outputs, is a gap in the
        rules, never a reason to hand back a wrong model: everything the node reads and every
        space and parameter axis the rule touched are pinned, named in a warning (``strict``:
        refused by name).
        """
        spaces, bound = len(self.spaces.parent), len(self.journal)
        try:
            return self.fitted(node, self.rule(node))
        except Refused:
            raise
        except Exception as err:  # noqa: BLE001 -- any failure of a rule keeps its units
            detail = f"{type(err).__name__}: {str(err).splitlines()[0][:120]}" if str(err) else ""
            reason = f"its rule failed ({detail or type(err).__name__}) in {where(node)}"
            for space in range(spaces, len(self.spaces.parent)):
                self.spaces.pin(space, reason)
            for param in self.journal[bound:]:
                if param in self.members:
                    self.pin_label(self.members[param][0], reason)
                self.pinned_params.setdefault(param[0], reason)
            return self.unknown_op(node, f"the operation {op_name(node)!r} (its rule failed)")

    def fitted(self, node: fx.Node, result: object) -> object:
        """``result`` checked against ``node``'s outputs; one flat list is shared by all
        outputs of an operation whose outputs are alike (``max.dim``, ``var_mean``)."""
        value = node.meta.get("val")
        if isinstance(value, torch.Tensor):
            if not isinstance(result, list) or len(result) != value.dim():
                raise RuleMismatch(f"{len(result or ())} labels for {value.dim()} axes")
            return result
        if not isinstance(value, list | tuple) or result is None:
            return result
        if not isinstance(result, list):
            raise RuleMismatch("no labels for several outputs")
        if not result or not isinstance(result[0], list):
            result = [list(result) for _ in value]
        if len(result) != len(value):
            raise RuleMismatch(f"labels for {len(result)} of {len(value)} outputs")
        for labels, shape in zip(result, self.shapes(node), strict=True):
            if shape is not None and (not isinstance(labels, list) or len(labels) != len(shape)):
                raise RuleMismatch("labels that do not fit an output's axes")
        return result

    def rule(self, node: fx.Node) -> object:
        if node.target is operator.getitem:
            source, index = node.args
            value = self.values.get(source)
            if isinstance(value, list) and value and isinstance(value[0], list):
                labels = value[index] if index < len(value) else None
                if isinstance(labels, list) and len(labels) == len(self.shape(node)):
                    return labels
            return [None] * len(self.shape(node))
        rule = rule_for(op_name(node))
        return self.unknown_op(node) if rule is None else rule(self, node)

    # --- groups --------------------------------------------------------------------------------

    def groups(self, ignored: set[str]) -> list[UnitGroup]:
        """One :class:`UnitGroup` per space that some layer produces, in forward order."""
        named = dict(self.model.named_modules())
        owner = owners(self.model)
        for (pname, _), (label, _, _) in self.members.items():
            if pname in self.pinned_params:
                self.pin_label(label, self.pinned_params[pname])
            module_name = owner[pname][0]
            hit = [i for i in ignored if module_name == i or module_name.startswith(i + ".")]
            if hit:
                self.pin_label(label, f"layer {hit[0]!r} is in ignored_layers")
        by_root: dict[int, UnitGroup] = {}
        taken: set[str] = set()
        for (pname, dim), (label, role, _) in self.members.items():
            for seg in label:
                if seg[0] == "space" and role == "producer":
                    root = self.spaces.find(seg[1])
                    if root not in by_root:
                        name = self.group_name((*owner[pname], dim), label, seg, taken)
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
            for root, units in self.unit_maps(label, by_root).items():
                member = Member(module_name, named[module_name], attr, dim, units, role)
                by_root[root].members.append(member)
        return list(by_root.values())

    @staticmethod
    def group_name(owner: tuple[str, str, int], label: Label, seg: Seg, taken: set) -> str:
        """The producer's path; a second group of one module (a stacked LSTM's next layer)
        adds the parameter's name, a piece of a split output its rows (``fc[8:24]``)."""
        module, attr, _ = owner
        start = sum(s[2] for s in label[: label.index(seg)])
        pieces = owner in taken  # a second group made by the same parameter
        taken.add(owner)
        candidates = [module] + ([] if pieces else [f"{module}.{attr}"])
        candidates.append(f"{module}[{start}:{start + seg[2]}]")
        for name in candidates:
            if name not in taken:
                return name
        return f"{candidates[-1]}#{len(taken)}"

    def unit_maps(self, label: Label, by_root: dict[int, UnitGroup]) -> dict[int, torch.Tensor]:
        """For each group an axis labelled ``label`` belongs to: entry -> unit (-1: none)."""
        length = label_length(label)
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
                    interleave(seg[2], size, blocks) if blocks else spread(seg[2], size)
                )
            offset += seg[2]
        return maps
