"""Model surgery: resize layers, remove layers, and save and load the new shape.

Structured pruning builds narrower layers with :func:`sliced`; :func:`remove_layers` drops
whole layers or residual blocks; :func:`save_pruned_structure` records the new widths next to
the weights so that :func:`load_pruned_structure` can rebuild the architecture from a fresh
model without unpickling code (``torch.load(..., weights_only=True)``). Like
:func:`~pruning_lessons.structured.prune_units`, every public function here returns a new
model and leaves the one it was given as it was.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable
from typing import IO

import torch
from torch import nn

from .dependency import NORMS, PRODUCERS, default_example_input, evaluating

FORMAT = "pruning_lessons.structure/1"


def sizes(module: nn.Module) -> tuple[int, int]:
    """``(inputs, outputs)``: features, channels, or a BatchNorm's width twice."""
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    if isinstance(module, NORMS):
        return module.num_features, module.num_features
    return module.in_channels, module.out_channels


def resized(module: nn.Module, n_in: int, n_out: int) -> nn.Module:
    """A new layer like ``module`` (same kind, options, device, dtype) with other widths."""
    tensors = list(module.state_dict().values())
    where = {"device": tensors[0].device, "dtype": tensors[0].dtype} if tensors else {}
    has_bias = getattr(module, "bias", None) is not None
    if isinstance(module, nn.Linear):
        new = nn.Linear(n_in, n_out, bias=has_bias, **where)
    elif isinstance(module, NORMS):
        options = ("eps", "momentum", "affine", "track_running_stats")
        new = type(module)(n_out, **{k: getattr(module, k) for k in options}, **where)
    elif isinstance(module, PRODUCERS):
        options = ("kernel_size", "stride", "padding", "dilation", "groups", "padding_mode")
        new = type(module)(
            n_in, n_out, bias=has_bias, **{k: getattr(module, k) for k in options}, **where
        )
    else:
        raise TypeError(f"cannot resize {type(module).__name__}")
    for p_new, p_old in zip(new.parameters(), module.parameters(), strict=True):
        p_new.requires_grad_(p_old.requires_grad)
    return new.train(module.training)


def sliced(
    module: nn.Module, keep_out: torch.Tensor | None, keep_in: torch.Tensor | None
) -> nn.Module:
    """``module`` with only the output units ``keep_out`` and the inputs ``keep_in``."""
    n_in, n_out = sizes(module)
    keep_out = torch.arange(n_out) if keep_out is None else keep_out
    keep_in = torch.arange(n_in) if keep_in is None else keep_in
    state = {}
    for key, tensor in module.state_dict().items():
        if tensor.dim() >= 1:
            tensor = tensor.index_select(0, keep_out.to(tensor.device))
        if key == "weight" and tensor.dim() >= 2:
            tensor = tensor.index_select(1, keep_in.to(tensor.device))
        state[key] = tensor
    new = resized(module, len(keep_in), len(keep_out))
    new.load_state_dict(state)
    return new


def replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent), child, new)


def _shapes_in_forward(
    model: nn.Module, names: list[str], example_input: torch.Tensor
) -> dict[str, list[tuple[tuple, object]]]:
    """For each named module, ``(input shapes, output shape)`` of every call in one forward."""
    seen: dict[str, list[tuple[tuple, object]]] = {name: [] for name in names}

    def recorder(name: str):
        def hook(module: nn.Module, inputs: tuple, output: object) -> None:
            shape = tuple(output.shape) if isinstance(output, torch.Tensor) else output
            seen[name].append((tuple(tuple(getattr(x, "shape", ())) for x in inputs), shape))

        return hook

    handles = [model.get_submodule(n).register_forward_hook(recorder(n)) for n in names]
    try:
        with evaluating(model):
            model(example_input)
    finally:
        for handle in handles:
            handle.remove()
    return seen


def remove_layers(
    model: nn.Module, names: str | Iterable[str], *, example_input: torch.Tensor | None = None
) -> nn.Module:
    """A copy of ``model`` with the named layers or blocks replaced by ``nn.Identity``.

    Only a module whose output has exactly the shape of its (single) input can go, e.g. a
    residual block, or a hidden ``Linear`` that was pruned to be square; otherwise a
    ``ValueError`` says which shapes stand in the way. ``example_input`` (default: one
    ``(1, 1, 8, 8)`` image) is run once to measure the shapes. ``model`` is not changed.
    """
    names = [names] if isinstance(names, str) else list(names)
    known = dict(model.named_modules())
    for name in names:
        if not isinstance(name, str) or not name or name not in known:
            raise ValueError(f"names must hold submodule names of the model, got {name!r}")
        outer = [o for o in names if name.startswith(o + ".")]
        if outer:
            raise ValueError(f"layer {name!r} lies inside {outer[0]!r}, which is removed too")
    if example_input is None:
        example_input = default_example_input(model)
    calls = _shapes_in_forward(model, names, example_input)
    for name in names:
        if len(calls[name]) != 1:
            raise ValueError(
                f"layer {name!r} runs {len(calls[name])} times in forward; only a "
                "layer that runs once can be removed"
            )
        ((inputs, output),) = calls[name]
        if len(inputs) != 1 or inputs[0] != output:
            raise ValueError(
                f"cannot remove layer {name!r}: it maps input shape(s) {list(inputs)} to "
                f"{output}; only a layer whose output has the shape of its input can be "
                "replaced by Identity (prune it to matching widths first)"
            )
    smaller = copy.deepcopy(model)
    for name in names:
        replace(smaller, name, nn.Identity())
    return smaller


def pruned_structure(model: nn.Module) -> dict:
    """Widths of every Linear, Conv and BatchNorm, and which modules are Identity (JSON-able)."""
    modules: dict[str, dict] = {}
    for name, module in model.named_modules():
        if type(module) in (*PRODUCERS, *NORMS):
            n_in, n_out = sizes(module)
            modules[name] = {"type": type(module).__name__, "in": n_in, "out": n_out}
        elif isinstance(module, nn.Identity) and name:
            modules[name] = {"type": "Identity"}
    return {"format": FORMAT, "model": type(model).__name__, "modules": modules}


def save_pruned_structure(model: nn.Module, path: str | os.PathLike | IO[bytes]) -> None:
    """Save ``{"structure": pruned_structure(model), "state_dict": ...}`` with ``torch.save``.

    Only tensors and plain Python values are written, so the file loads with
    ``torch.load(..., weights_only=True)``: no code is unpickled.
    """
    torch.save({"structure": pruned_structure(model), "state_dict": model.state_dict()}, path)


def load_pruned_structure(model: nn.Module, path: str | os.PathLike | IO[bytes]) -> nn.Module:
    """A copy of ``model`` resized to the saved widths, with the saved weights loaded.

    ``model`` is a freshly built instance of the architecture that was pruned (e.g. ``cnn()``);
    it serves as the blueprint and is not changed. The file is read with
    ``torch.load(..., weights_only=True)``, onto the device of ``model``'s parameters.
    """
    param = next(model.parameters(), None)
    saved = torch.load(
        path, weights_only=True, map_location=None if param is None else param.device
    )
    structure = saved.get("structure") if isinstance(saved, dict) else None
    if not isinstance(structure, dict) or structure.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not a file written by save_pruned_structure")
    if structure["model"] != type(model).__name__:
        raise ValueError(
            f"the file holds a pruned {structure['model']}, but model is a {type(model).__name__}"
        )
    rebuilt = copy.deepcopy(model)
    for name, entry in structure["modules"].items():
        try:
            module = rebuilt.get_submodule(name)
        except AttributeError:
            raise ValueError(f"the saved model has a layer {name!r} that model lacks") from None
        if entry["type"] == "Identity":
            replace(rebuilt, name, nn.Identity())
        elif type(module).__name__ != entry["type"]:
            raise ValueError(
                f"layer {name!r} is a {type(module).__name__} in model but was a "
                f"{entry['type']} when saved"
            )
        elif sizes(module) != (entry["in"], entry["out"]):
            replace(rebuilt, name, resized(module, entry["in"], entry["out"]))
    rebuilt.load_state_dict(saved["state_dict"])
    return rebuilt
