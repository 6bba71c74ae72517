"""Which layers share their units: the dependency analysis behind structured pruning.

Removing filter 5 of a convolution is not a change to one layer. The BatchNorm after it loses
its 5th scale, shift, running mean and variance; the next convolution loses its 5th input
channel; after a ``Flatten`` the next ``Linear`` loses the input features that came from
channel 5; and where two tensors are *added* (a residual connection) every layer that feeds
the addition must lose the same channel. This module finds those couplings.

It traces the model with ``torch.fx``, then follows every tensor from the layer that made it
(a *producer*: ``Linear`` or ``Conv``) to the layers that read it (*consumers*), through
operations that keep the channel axis as it is (activations, pooling, dropout). Producers
whose outputs are added together are merged into one :class:`UnitGroup`. Anything it does not
know is refused with an error that names the module, before any weight is touched.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import fx, nn

from .data import IMAGE_SHAPE

PRODUCERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
ELEMENTWISE = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.ELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Sigmoid,
    nn.Tanh,
    nn.Hardtanh,
    nn.Hardswish,
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.Identity,
)
POOLING = (
    nn.MaxPool1d,
    nn.MaxPool2d,
    nn.MaxPool3d,
    nn.AvgPool1d,
    nn.AvgPool2d,
    nn.AvgPool3d,
    nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveAvgPool3d,
    nn.AdaptiveMaxPool1d,
    nn.AdaptiveMaxPool2d,
    nn.AdaptiveMaxPool3d,
)
ADD_FUNCTIONS = (operator.add, operator.iadd, torch.add)
ELEMENTWISE_FUNCTIONS = (
    torch.relu,
    F.relu,
    torch.sigmoid,
    torch.tanh,
    F.gelu,
    F.silu,
    F.dropout,
)
ELEMENTWISE_METHODS = ("relu", "sigmoid", "tanh")
_ALLOWED_STATE = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}


@dataclass(frozen=True)
class Member:
    """One layer in a group. ``per_unit``: input features per unit (``H x W`` after Flatten)."""

    name: str
    module: nn.Module
    per_unit: int = 1


@dataclass
class UnitGroup:
    """Units (neurons or channels) that must be removed together, one index space of ``size``.

    * ``producers``: layers whose output rows are these units (several if they are added);
    * ``norms``: BatchNorms applied to them (scale, shift and running statistics are sliced);
    * ``consumers``: layers that read them as inputs (their input columns are sliced).

    ``pinned`` says why the group may not be pruned (``None`` if it may).
    """

    name: str
    size: int
    producers: list[Member] = field(default_factory=list)
    norms: list[Member] = field(default_factory=list)
    consumers: list[Member] = field(default_factory=list)
    pinned: str | None = None

    @property
    def layers(self) -> list[str]:
        """Names of the producers, in the order the forward pass runs them."""
        return [m.name for m in self.producers]


@dataclass(frozen=True)
class _Channels:
    """What flows along one edge of the graph: a tensor whose axis 1 indexes ``space``."""

    space: int
    per_unit: int = 1


class _Spaces:
    """Union-find over index spaces; an addition merges the spaces of its two operands."""

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.size: list[int] = []
        self.pinned: dict[int, str] = {}
        self.members: dict[str, list[tuple[int, Member]]] = {
            "producers": [],
            "norms": [],
            "consumers": [],
        }

    def new(self, size: int, pinned: str | None = None) -> int:
        self.parent.append(len(self.parent))
        self.size.append(size)
        if pinned:
            self.pinned[len(self.parent) - 1] = pinned
        return len(self.parent) - 1

    def find(self, space: int) -> int:
        while self.parent[space] != space:
            space = self.parent[space]
        return space

    def union(self, a: int, b: int) -> int:
        a, b = self.find(a), self.find(b)
        if a != b:
            self.parent[max(a, b)] = min(a, b)
            reason = self.pinned.pop(max(a, b), None)
            if reason and min(a, b) not in self.pinned:
                self.pinned[min(a, b)] = reason
        return min(a, b)

    def add(self, role: str, space: int, member: Member) -> None:
        self.members[role].append((space, member))


@contextmanager
def evaluating(model: nn.Module, *, grad: bool = False) -> Iterator[None]:
    """Eval mode (BatchNorm statistics stay put, no dropout), autograd off unless ``grad``.

    Every module's train/eval mode is restored afterwards.
    """
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.set_grad_enabled(grad):
            yield
    finally:
        for module, mode in modes.items():
            module.training = mode


def default_example_input(model: nn.Module) -> torch.Tensor:
    """One blank ``(1, 1, 8, 8)`` digits image on the model's device: what course models take."""
    param = next(model.parameters(), None)
    device = param.device if param is not None else None
    dtype = param.dtype if param is not None else None
    return torch.zeros(1, *IMAGE_SHAPE, device=device, dtype=dtype)


class _ShapeRecorder(fx.Interpreter):
    """Runs the traced graph once and notes the shape of every tensor in ``node.meta``."""

    def run_node(self, node: fx.Node) -> object:
        result = super().run_node(node)
        if isinstance(result, torch.Tensor):
            node.meta["shape"] = tuple(result.shape)
        return result


def trace(model: nn.Module, example_input: torch.Tensor) -> fx.GraphModule:
    """``torch.fx`` graph of ``model`` with the shape of every tensor recorded (eval mode)."""
    try:
        graph = fx.symbolic_trace(model)
    except Exception as err:  # fx raises several kinds; the cause is kept
        raise TypeError(
            f"cannot trace {type(model).__name__} with torch.fx ({err}); structured pruning "
            "needs a forward pass without data-dependent control flow"
        ) from err
    with evaluating(graph):
        try:
            _ShapeRecorder(graph).run(example_input)
        except Exception as err:
            shape = tuple(example_input.shape)
            raise ValueError(
                f"example_input of shape {shape} does not fit {type(model).__name__} ({err}); "
                "pass example_input= with one sample the model accepts"
            ) from err
    return graph


def _shape(node: fx.Node) -> tuple[int, ...]:
    return node.meta.get("shape", ())


def _check_plain(name: str, module: nn.Module) -> None:
    """Refuse layers whose weights are re-parametrised (masks, hooks, grouped convolutions)."""
    extra = set(module.state_dict()) - _ALLOWED_STATE
    if extra or module._forward_pre_hooks or module._forward_hooks:
        raise TypeError(
            f"layer {name!r} carries masks or hooks ({sorted(extra) or 'hooks'}); bake or "
            "remove them before structured pruning"
        )
    if getattr(module, "groups", 1) != 1:
        raise TypeError(
            f"layer {name!r} is a grouped convolution (groups={module.groups}), "
            "which structured pruning does not support"
        )


def _unsupported(node: fx.Node, what: str) -> TypeError:
    return TypeError(
        f"structured pruning does not support {what} (graph node {node.name!r}); supported: "
        "Linear, Conv1d/2d/3d, BatchNorm, activations, pooling, dropout, Flatten and additions"
    )


class _Walker:
    """Follows every tensor of the traced graph and records who produces and reads which units."""

    def __init__(self, graph: fx.GraphModule) -> None:
        self.graph = graph
        self.spaces = _Spaces()
        self.values: dict[fx.Node, _Channels] = {}
        self.called: set[str] = set()

    def run(self) -> None:
        for node in self.graph.graph.nodes:
            if node.op == "placeholder":
                width = _shape(node)[1] if len(_shape(node)) > 1 else 1
                space = self.spaces.new(width, pinned="it is tied to the model's input")
                self.values[node] = _Channels(space)
            elif node.op == "call_module":
                self.values[node] = self.module(node)
            elif node.op == "call_function":
                self.values[node] = self.function(node)
            elif node.op == "call_method":
                self.values[node] = self.method(node)
            elif node.op == "output":
                self.pin_outputs(node)
            else:
                raise _unsupported(node, f"direct use of the tensor {node.target!r} in forward")

    def input_of(self, node: fx.Node) -> _Channels:
        source = node.args[0] if node.args else None
        if not isinstance(source, fx.Node) or source not in self.values:
            raise _unsupported(node, "an operation whose first input is not a tensor")
        return self.values[source]

    def module(self, node: fx.Node) -> _Channels:
        name = str(node.target)
        module = self.graph.get_submodule(name)
        if name in self.called:
            raise TypeError(
                f"module {name!r} is called more than once; shared layers are not "
                "supported by structured pruning"
            )
        self.called.add(name)
        if len(node.args) != 1 or node.kwargs:
            raise _unsupported(node, f"module {name!r} called with several inputs")
        flow = self.input_of(node)
        if type(module) in PRODUCERS:
            return self.producer(node, name, module, flow)
        if type(module) in NORMS:
            _check_plain(name, module)
            self.require_channels(node, flow, name)
            self.spaces.add("norms", flow.space, Member(name, module))
            return flow
        if type(module) in ELEMENTWISE:
            return flow
        if type(module) in POOLING:
            self.require_channels(node, flow, name)
            return flow
        if type(module) is nn.Flatten:
            return self.flatten(node, flow, module.start_dim, module.end_dim)
        raise TypeError(
            f"structured pruning does not know module {name!r} ({type(module).__name__}); "
            "supported: Linear, Conv1d/2d/3d, BatchNorm, activations, pooling, dropout, Flatten"
        )

    def producer(self, node: fx.Node, name: str, module: nn.Module, flow: _Channels) -> _Channels:
        _check_plain(name, module)
        if isinstance(module, nn.Linear) and len(_shape(node.args[0])) != 2:
            raise TypeError(
                f"Linear layer {name!r} receives a {len(_shape(node.args[0]))}-D "
                "tensor; structured pruning needs (batch, features) inputs"
            )
        if not isinstance(module, nn.Linear):
            self.require_channels(node, flow, name)
        self.spaces.add("consumers", flow.space, Member(name, module, flow.per_unit))
        width = module.out_features if isinstance(module, nn.Linear) else module.out_channels
        space = self.spaces.new(width)
        self.spaces.add("producers", space, Member(name, module))
        return _Channels(space)

    def require_channels(self, node: fx.Node, flow: _Channels, name: str) -> None:
        if flow.per_unit != 1 or len(_shape(node.args[0])) < 2:
            raise _unsupported(node, f"{name!r} applied to a flattened tensor")

    def flatten(self, node: fx.Node, flow: _Channels, start: int, end: int) -> _Channels:
        shape = _shape(node.args[0])
        if start != 1 or end not in (-1, len(shape) - 1):
            raise _unsupported(
                node,
                f"flatten(start_dim={start}, end_dim={end}); only "
                "flattening everything after the batch axis is supported",
            )
        return _Channels(flow.space, flow.per_unit * math.prod(shape[2:]))

    def function(self, node: fx.Node) -> _Channels:
        if node.target in ADD_FUNCTIONS:
            return self.add(node)
        if node.target in ELEMENTWISE_FUNCTIONS:
            return self.input_of(node)
        if node.target is torch.flatten:
            return self.flatten_call(node)
        name = getattr(node.target, "__name__", str(node.target))
        raise _unsupported(node, f"the function {name!r}")

    def method(self, node: fx.Node) -> _Channels:
        if node.target in ELEMENTWISE_METHODS:
            return self.input_of(node)
        if node.target == "flatten":
            return self.flatten_call(node)
        raise _unsupported(node, f"the tensor method {node.target!r}")

    def flatten_call(self, node: fx.Node) -> _Channels:
        start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
        end = node.args[2] if len(node.args) > 2 else node.kwargs.get("end_dim", -1)
        return self.flatten(node, self.input_of(node), start, end)

    def add(self, node: fx.Node) -> _Channels:
        flows = [self.values[a] for a in node.args if isinstance(a, fx.Node)]
        if not flows:
            raise _unsupported(node, "an addition without tensors")
        if len({f.per_unit for f in flows}) > 1:
            raise _unsupported(node, "adding a flattened tensor to an unflattened one")
        space = flows[0].space
        for other in flows[1:]:
            space = self.spaces.union(space, other.space)
        return _Channels(space, flows[0].per_unit)

    def pin_outputs(self, node: fx.Node) -> None:
        def pin(arg: fx.Node) -> fx.Node:
            if arg in self.values:
                root = self.spaces.find(self.values[arg].space)
                self.spaces.pinned.setdefault(root, "its units are the model's outputs")
            return arg

        fx.node.map_arg(node.args, pin)

    def groups(self) -> list[UnitGroup]:
        by_root: dict[int, UnitGroup] = {}
        for space, member in self.spaces.members["producers"]:
            root = self.spaces.find(space)
            if root not in by_root:
                pinned = self.spaces.pinned.get(root)
                by_root[root] = UnitGroup(member.name, self.spaces.size[root], pinned=pinned)
            by_root[root].producers.append(member)
        for role in ("norms", "consumers"):
            for space, member in self.spaces.members[role]:
                group = by_root.get(self.spaces.find(space))
                if group is not None:
                    getattr(group, role).append(member)
        return list(by_root.values())


def unit_groups(model: nn.Module, example_input: torch.Tensor | None = None) -> list[UnitGroup]:
    """Every set of units that structured pruning must remove together, in forward order.

    Each :class:`UnitGroup` is named after its first producer (``"fc1"``, ``"conv2"``, or
    ``"stem.conv"`` for the residual stream of the tiny ResNet, whose producers are
    ``stem.conv``, ``block1.conv2`` and ``block2.conv2``). Groups whose ``pinned`` is set (the
    final classifier's outputs, anything added to the model's input) are listed but may not be
    pruned. ``example_input`` (default: one blank ``(1, 1, 8, 8)`` digits image) is passed once
    through the model in eval mode, without gradients, to learn the shapes; ``model`` is not
    changed. Raises ``TypeError`` naming the first module or operation it cannot handle.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if example_input is not None and not isinstance(example_input, torch.Tensor):
        raise TypeError(
            "example_input must be a torch.Tensor holding one batch the model accepts "
            f"(e.g. torch.zeros(1, 1, 8, 8)), got {type(example_input).__name__}; "
            "turn a list into a tensor first (torch.tensor or torch.stack)"
        )
    on_meta = [n for n, t in (*model.named_parameters(), *model.named_buffers()) if t.is_meta]
    if on_meta:
        raise ValueError(
            f"model is on the meta device ({on_meta[0]!r} has a shape but no values), so there "
            "is nothing to measure or rank; materialise it first (model.to_empty(device=...) "
            "and load its weights)"
        )
    if example_input is None:
        example_input = default_example_input(model)
    walker = _Walker(trace(model, example_input))  # the trace shares the model's submodules
    walker.run()
    return walker.groups()
