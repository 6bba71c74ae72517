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

We use ``torch.export``: shapes and module paths are exactly what the coupling rules and their
error messages need, and reuse of a parameter-free module (torchvision's ``relu``) is no special
case, because the graph is made of operations, not module calls. The model's output may be any
nesting of tuples, lists and dicts (a ``transformers`` ``ModelOutput``); its tensors are the
graph's outputs, and other objects (a key/value cache) are left out.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import torch
from torch import fx, nn

from ..data import IMAGE_SHAPE
from ..device import evaluating

#: The course's own models take ``(N, 1, 8, 8)`` digits; any other model needs example_input.
COURSE_INPUT = (1, *IMAGE_SHAPE)


def default_example_input(model: nn.Module) -> torch.Tensor:
    """One blank ``(1, 1, 8, 8)`` digits image on the model's device: what course models take."""
    param = next(model.parameters(), None)
    device = param.device if param is not None else None
    dtype = param.dtype if param is not None else None
    return torch.zeros(*COURSE_INPUT, device=device, dtype=dtype)


def _tensors(value: object) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _tensors(v)]
    return []


class _Outputs(nn.Module):
    """Wraps a model so that its output is a flat tuple of tensors (what export can return)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(_tensors(self.model(x)))


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


def trace(model: nn.Module, example_input: torch.Tensor) -> Trace:
    """Run ``model`` once on ``example_input`` (eval mode, no gradients) and record its graph.

    Raises ``ValueError`` if ``example_input`` does not fit the model, ``TypeError`` if the
    forward pass cannot be recorded (the message keeps the tracer's reason).
    """
    if not isinstance(example_input, torch.Tensor):
        raise TypeError(
            "example_input must be a torch.Tensor holding one batch the model accepts "
            f"(e.g. torch.zeros(1, 1, 8, 8)), got {type(example_input).__name__}; "
            "turn a list into a tensor first (torch.tensor or torch.stack)"
        )
    with evaluating(model):
        try:
            model(example_input)
        except Exception as err:
            shape = tuple(example_input.shape)
            raise ValueError(
                f"example_input of shape {shape} does not fit {type(model).__name__} ({err}); "
                "pass example_input= with one sample the model accepts"
            ) from err
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
    first = {}  # a tied tensor is known by its first name in named_parameters()
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        first.setdefault(id(tensor), name)
    tensors = dict(model.named_parameters(remove_duplicate=False))
    tensors.update(model.named_buffers(remove_duplicate=False))
    parameters = {}
    for placeholder, name in names.items():
        name = name.removeprefix("model.")
        parameters[placeholder] = first.get(id(tensors.get(name)), name)
    return Trace(program.graph, parameters)
