"""Save and load a pruned model's shape: the new widths next to the weights, so that
:func:`load_pruned_structure` rebuilds the architecture from a fresh model without unpickling
code (``torch.load(..., weights_only=True)``)."""

from __future__ import annotations

import copy
import os
from typing import IO

import torch
from torch import nn

from .blocks import keep_blocks
from .sizes import fix_sizes
from .surgery import replace

FORMAT = "pruning_lessons.structure/2"


def pruned_structure(model: nn.Module) -> dict:
    """Every parameter's and buffer's shape, the convolutions' ``groups`` and which modules
    are ``Identity``, which blocks every ``nn.ModuleList`` holds (JSON-able): enough to
    rebuild the pruned model from a fresh one."""
    convs = nn.modules.conv._ConvNd
    return {
        "format": FORMAT,
        "model": type(model).__name__,
        "shapes": {name: list(t.shape) for name, t in model.state_dict().items()},
        "groups": {n: m.groups for n, m in model.named_modules() if isinstance(m, convs)},
        "identity": [n for n, m in model.named_modules() if n and isinstance(m, nn.Identity)],
        "lists": {  # which blocks of the full model each list holds (all, unless removed)
            n: list(getattr(m, "kept_blocks", range(len(m))))
            for n, m in model.named_modules()
            if isinstance(m, nn.ModuleList)
        },
    }


def save_pruned_structure(model: nn.Module, path: str | os.PathLike | IO[bytes]) -> None:
    """Save ``{"structure": pruned_structure(model), "state_dict": ...}`` with ``torch.save``.

    Only tensors and plain Python values are written, so the file loads with
    ``torch.load(..., weights_only=True)``: no code is unpickled.
    """
    torch.save({"structure": pruned_structure(model), "state_dict": model.state_dict()}, path)


def _shorten(model: nn.Module, name: str, kept: list[int]) -> None:
    """Keep the blocks ``kept`` of list ``name`` (a model that lost whole blocks)."""
    try:
        blocks = model.get_submodule(name)
    except AttributeError:
        raise ValueError(f"the saved model has a block list {name!r} that model lacks") from None
    if not isinstance(blocks, nn.ModuleList) or not all(0 <= i < len(blocks) for i in kept):
        raise ValueError(f"the saved model's {name!r} holds blocks {kept}; model's has fewer")
    if kept != list(range(len(blocks))):
        keep_blocks(model, name, kept)


def load_pruned_structure(model: nn.Module, path: str | os.PathLike | IO[bytes]) -> nn.Module:
    """A copy of ``model`` resized to the saved shapes, with the saved weights loaded.

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
    for name, kept in structure.get("lists", {}).items():
        _shorten(rebuilt, name, kept)
    for name in structure["identity"]:
        try:
            rebuilt.get_submodule(name)
        except AttributeError:
            raise ValueError(f"the saved model has a layer {name!r} that model lacks") from None
        replace(rebuilt, name, nn.Identity())
    state = saved["state_dict"]
    extra = sorted(set(state) - set(rebuilt.state_dict()))
    if extra:
        raise ValueError(f"the saved model has tensors {extra[:3]} that model lacks")
    resized: dict[int, torch.Tensor] = {}
    for module_name, module in rebuilt.named_modules(remove_duplicate=False):
        for store in (module._parameters, module._buffers):
            for attr, tensor in list(store.items()):
                key = f"{module_name}.{attr}".lstrip(".")
                if tensor is None or id(tensor) in resized:
                    store[attr] = resized.get(id(tensor), tensor)
                    continue
                if key not in state or state[key].shape == tensor.shape:
                    continue
                empty = torch.zeros(state[key].shape, dtype=tensor.dtype, device=tensor.device)
                new = (
                    nn.Parameter(empty, tensor.requires_grad)
                    if isinstance(tensor, nn.Parameter)
                    else empty
                )
                resized[id(tensor)] = new
                store[attr] = new
    fix_sizes(rebuilt, structure["groups"])
    rebuilt.load_state_dict(state)
    return rebuilt
