"""Small helpers about one node of a recorded graph: its operation, place and tensor inputs."""

from __future__ import annotations

import torch
from torch import fx

from .tracing import module_path, source_line


def where(node: fx.Node) -> str:
    """``module 'path' (file:line)``: where a node's operation runs, for messages."""
    path = module_path(node) or "the model itself"
    line = source_line(node)
    return f"module {path!r}" + (f" ({line})" if line else "")


def op_name(node: fx.Node) -> str:
    """The operation's name without its overload: ``aten.relu.default`` -> ``"relu"``."""
    target = node.target
    name = getattr(target, "__name__", str(target))
    return name.split(".")[0] if hasattr(target, "_schema") else name


def name_with_indices(node: fx.Node) -> bool:
    return "with_indices" in op_name(node)


def tensor_args(node: fx.Node) -> list[fx.Node]:
    """The node's inputs (args and kwargs, nested ones too) that are tensors."""
    found: list[fx.Node] = []
    fx.node.map_arg((node.args, node.kwargs), found.append)
    return [n for n in found if isinstance(n.meta.get("val"), torch.Tensor)]
