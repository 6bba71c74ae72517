"""Record what a model computes, op by op, by running it once on ``example_input``.

Structured pruning must know which tensors feed which layers. ``torch.fx.symbolic_trace`` reads
``forward`` with stand-in values, so it stops at the first ``if`` on a shape or a config flag,
which every ``transformers`` model has. Three tracers run the model on a real input instead:

* the autograd graph (Torch-Pruning's choice): cheap, but a backward node keeps only what the
  gradient needs (no output shapes, not always the arguments), and nothing of the source;
* dynamo (``torch.compile``): breaks the graph at unsupported Python and re-traces per break;
* ``torch.export`` (non-strict): runs ``forward`` as ordinary Python on fake tensors, so shape
  checks and config branches take the branch ``example_input`` takes, and records a flat graph
  of ATen operations in which every node carries the shape of its result, the path of the
  module that ran it (``nn_module_stack``) and the source line (``stack_trace``), and every
  parameter keeps its name.

We record at the same level as ``torch.export``'s graph, but cheaper. A dispatch mode placed
*before autograd* (where ``linear``, ``conv2d``, ``scaled_dot_product_attention`` and
``lstm`` are still whole operations, not their pieces) sees every ATen operation of one
ordinary forward pass on real tensors; module hooks note which module is running, and the
calling frame gives the source line. From that list we build the same kind of ``fx.Graph``
``torch.export`` would: a node per operation carrying the value it produced (so its shape),
the module path and the source line, and a placeholder per parameter with its name. A
recording costs a few forward passes; ``torch.export`` (non-strict), which runs ``forward`` on
fake tensors under several layers of tracing machinery, costs ten to a hundred times more on
the zoo's small models, and so did every pruning call while it was the tracer. Torch
lets only its own mode classes run before autograd, so the recorder borrows one of those
(``SchemaCheckMode``) as its base: a private corner of torch. Should it fail (a torch version
that moved it, an operation it cannot replay) or see a Python number read from a tensor (``if
x.sum() > 0``: the graph may depend on the input's values), :func:`trace` falls back to
``torch.export``, which builds the same graph or refuses by name. ``tests/test_tracing.py``
checks on every zoo model that both give identical unit groups.

Shapes and module paths are exactly what the coupling rules and their error messages need,
and reuse of a parameter-free module (torchvision's ``relu``) is no special case, because the
graph is made of operations, not module calls. The model's output may be any nesting of
tuples, lists and dicts (a ``transformers`` ``ModelOutput``); its tensors are the graph's
outputs, and other objects (a key/value cache) are left out.
"""

from __future__ import annotations

import contextlib
import operator
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import fx, nn
from torch._dispatch.python import enable_python_dispatcher
from torch._subclasses.schema_check_mode import SchemaCheckMode
from torch.utils._python_dispatch import TorchDispatchMode

from ..core.data import IMAGE_SHAPE
from ..core.device import evaluating

#: The course's own models take ``(N, 1, 8, 8)`` digits; any other model needs example_input.
COURSE_INPUT = (1, *IMAGE_SHAPE)


def default_example_input(model: nn.Module) -> torch.Tensor:
    """One blank ``(1, 1, 8, 8)`` digits image on the model's device: what course models take."""
    param = next(model.parameters(), None)
    device = param.device if param is not None else None
    dtype = param.dtype if param is not None else None
    return torch.zeros(*COURSE_INPUT, device=device, dtype=dtype)


def tensors_in(value: object) -> list[torch.Tensor]:
    """Every tensor in a model's output (nested tuples, lists, dicts, a ``ModelOutput``)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in tensors_in(v)]
    if isinstance(value, list | tuple):
        return [t for v in value for t in tensors_in(v)]
    return []


class _Outputs(nn.Module):
    """Wraps a model so that its output is a flat tuple of tensors (what export can return)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(tensors_in(self.model(x)))


@dataclass
class Trace:
    """The graph of one forward pass, with names that refer to ``model``, not the wrapper.

    ``graph``: ATen-level ``fx.Graph``; ``parameters``: placeholder name -> parameter or
    buffer name in ``model`` (``"layer1.0.conv1.weight"``; a tied tensor by its first name).
    """

    graph: fx.Graph
    parameters: dict[str, str]


def module_path(node: fx.Node) -> str:
    """The path of the innermost module that ran ``node`` (``""`` for the model itself)."""
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    path = list(stack.values())[-1][0]
    path = path.removeprefix("L['self'].").removeprefix("L['self']")
    path = path.removeprefix("model.").removeprefix("model")
    return path.replace("['", ".").replace("']", "").strip(".")


def source_line(node: fx.Node) -> str:
    """``file:line`` of the model code that produced ``node``, or ``""`` if unknown."""
    trace = node.meta.get("stack_trace") or ""
    lines = [line.strip() for line in trace.splitlines() if line.strip().startswith("File ")]
    if not lines:
        return ""
    last = lines[-1]  # 'File "path", line N, in fn'
    parts = last.split('"')
    where = parts[1].rsplit("/", 1)[-1] if len(parts) > 2 else last
    number = last.split("line ")[-1].split(",")[0]
    return f"{where}:{number}"


def trace(model: nn.Module, example_input: torch.Tensor, method: str = "dispatch") -> Trace:
    """Run ``model`` once on ``example_input`` (eval mode, no gradients) and record its graph.

    ``method``: ``"dispatch"`` (the recorder described above; falls back to ``"export"`` if it
    fails) or ``"export"`` (``torch.export``, slower, same graph). Raises ``ValueError`` if
    ``example_input`` does not fit the model, ``TypeError`` if the forward pass cannot be
    recorded (the message keeps the tracer's reason).
    """
    if not isinstance(example_input, torch.Tensor):
        raise TypeError(
            "example_input must be a torch.Tensor holding one batch the model accepts "
            f"(e.g. torch.zeros(1, 1, 8, 8)), got {type(example_input).__name__}; "
            "turn a list into a tensor first (torch.tensor or torch.stack)"
        )
    if method not in TRACERS:
        raise ValueError(f"method must be one of {TRACERS}, got {method!r}")
    with evaluating(model), _ordinary_attention():
        if method == "dispatch":
            try:
                return _recorded(model, example_input)
            except Exception:  # a private corner of torch: fall back to export, which checks
                pass
        _check_fits(model, example_input)
        return _exported(model, example_input)


TRACERS = ("dispatch", "export")


@contextlib.contextmanager
def _ordinary_attention():
    """Record ``nn.TransformerEncoderLayer`` / ``nn.MultiheadAttention`` by their ordinary
    path: in eval mode without gradients torch takes a fused fast path
    (``_transformer_encoder_layer_fwd``, ``_native_multi_head_attention``) that computes the
    same result in one opaque operation."""
    enabled = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(enabled)


def _check_fits(model: nn.Module, example_input: torch.Tensor) -> None:
    try:
        with torch.no_grad():
            model(example_input)
    except Exception as err:
        shape = tuple(example_input.shape)
        raise ValueError(
            f"example_input of shape {shape} does not fit {type(model).__name__} ({err}); "
            "pass example_input= with one sample the model accepts"
        ) from err


def _first_names(model: nn.Module) -> dict[int, str]:
    """``id(tensor)`` -> its first name in ``model`` (a tied tensor is known by that name)."""
    first: dict[int, str] = {}
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        first.setdefault(id(tensor), name)
    return first


def _exported(model: nn.Module, example_input: torch.Tensor) -> Trace:
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(None):
            warnings.simplefilter("ignore")
            program = torch.export.export(_Outputs(model), (example_input,), strict=False)
    except Exception as err:  # export raises many kinds; the reason is kept
        raise TypeError(
            f"cannot record the forward pass of {type(model).__name__} with torch.export "
            f"({type(err).__name__}: {str(err).splitlines()[0][:300]})"
        ) from err
    signature = program.graph_signature
    names = {**signature.inputs_to_parameters, **signature.inputs_to_buffers}
    first = _first_names(model)
    tensors = dict(model.named_parameters(remove_duplicate=False))
    tensors.update(model.named_buffers(remove_duplicate=False))
    parameters = {}
    for placeholder, name in names.items():
        name = name.removeprefix("model.")
        parameters[placeholder] = first.get(id(tensors.get(name)), name)
    return Trace(program.graph, parameters)


# --- the dispatch recorder -------------------------------------------------------------------

_TORCH_DIR = str(Path(torch.__file__).parent)


def _caller() -> str:
    """``File "...", line N, in f`` of the innermost frame of the model's own code: outside
    torch and this module, and inside the forward pass (``""`` where all of it is torch's,
    e.g. an ``nn.TransformerEncoder``)."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code is not _recorded.__code__:
        name = frame.f_code.co_filename
        if not name.startswith(_TORCH_DIR) and name != __file__:
            return f'File "{name}", line {frame.f_lineno}, in {frame.f_code.co_name}'
        frame = frame.f_back
    return ""


class _Recorder(SchemaCheckMode):
    """Notes every ATen call before autograd: ``(op, args, kwargs, result, module, line)``."""

    def __init__(self, paths: dict[int, str]) -> None:
        TorchDispatchMode.__init__(self, _dispatch_key=torch._C.DispatchKey.PreDispatch)
        self.calls: list[tuple] = []
        self.paths = paths
        self.stack: list[str] = [""]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        self.calls.append((func, args, kwargs, result, self.stack[-1], _caller()))
        return result

    def enter(self, module: nn.Module, *_: object) -> None:
        self.stack.append(self.paths.get(id(module), self.stack[-1]))

    def leave(self, *_: object) -> None:
        self.stack.pop()


def _recorded(model: nn.Module, example_input: torch.Tensor) -> Trace:
    paths: dict[int, str] = {}
    for path, module in model.named_modules(remove_duplicate=False):
        paths.setdefault(id(module), path)
    recorder = _Recorder(paths)
    hooks = [
        nn.modules.module.register_module_forward_pre_hook(recorder.enter),
        nn.modules.module.register_module_forward_hook(recorder.leave, always_call=True),
    ]
    try:
        with torch.no_grad(), enable_python_dispatcher(), torch._C._EnablePreDispatch():
            with recorder:
                outputs = tensors_in(model(example_input))
    finally:
        for hook in hooks:
            hook.remove()
    if any(isinstance(call[3], bool | int | float | complex) for call in recorder.calls):
        # ``if x.sum() > 0`` or ``.item()``: the graph may depend on the input's values, which
        # torch.export refuses by name; let it judge.
        raise _DataDependent
    return _graph(recorder.calls, model, example_input, outputs)


class _DataDependent(Exception):
    """A Python number was read from a tensor while recording."""


def _graph(
    calls: list[tuple], model: nn.Module, example_input: torch.Tensor, outputs: list
) -> Trace:
    """The recorded calls as an ``fx.Graph`` shaped like ``torch.export``'s."""
    graph = fx.Graph()
    first = _first_names(model)
    nodes: dict[int, fx.Node] = {}
    parameters: dict[str, str] = {}

    def placeholder(tensor: torch.Tensor, name: str) -> None:
        node = graph.placeholder(name)
        node.meta["val"] = tensor
        nodes[id(tensor)] = node

    placeholder(example_input, "input")
    made: set[int] = {id(example_input)}
    for _, args, kwargs, result, *_ in calls:  # every tensor used before any op made it
        for tensor in tensors_in([args, list(kwargs.values())]):
            if id(tensor) not in made:
                made.add(id(tensor))
                name = first.get(id(tensor))
                label = f"p_{name}".replace(".", "_") if name else f"c_{len(nodes)}"
                placeholder(tensor, label)
                if name:
                    parameters[nodes[id(tensor)].name] = name
        made.update(id(t) for t in tensors_in(result))

    def node_of(value: object) -> object:
        if isinstance(value, torch.Tensor):
            return nodes[id(value)]
        if isinstance(value, list | tuple):
            return type(value)(node_of(v) for v in value)
        return value

    for func, args, kwargs, result, path, line in calls:
        node = graph.call_function(func, node_of(args), {k: node_of(v) for k, v in kwargs.items()})
        node.meta.update(val=result, stack_trace=line)
        if path:
            node.meta["nn_module_stack"] = {path: (path, "")}
        if isinstance(result, torch.Tensor):
            nodes[id(result)] = node
        elif isinstance(result, list | tuple):
            for i, item in enumerate(result):
                if isinstance(item, torch.Tensor):
                    part = graph.call_function(operator.getitem, (node, i))
                    part.meta.update(node.meta, val=item)
                    nodes[id(item)] = part
    graph.output(tuple(nodes[id(t)] for t in outputs))
    graph.eliminate_dead_code()
    return Trace(graph, parameters)
