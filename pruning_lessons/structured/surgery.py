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
import dataclasses
import os
from collections.abc import Iterable
from typing import IO

import torch
from torch import nn

from ..device import evaluating
from .coupling import UnitGroup
from .tracing import default_example_input

FORMAT = "pruning_lessons.structure/2"
#: Attributes of attention modules that count heads, and the child layers whose rows they count.
HEAD_COUNTS = ("num_heads", "num_attention_heads", "n_head", "n_heads")
KV_COUNTS = ("num_key_value_heads", "num_kv_heads")
HEAD_WIDTHS = ("head_dim", "attention_head_size")
QUERY_NAMES = ("q_proj", "query", "q", "q_lin")
KEY_NAMES = ("k_proj", "key", "k", "k_lin")
UP_NAMES = ("up_proj", "fc1", "intermediate_dense")
#: A dataclass config's fields for the sizes ``transformers`` calls by the keys (TinyLlama's
#: ``n_heads``, ``n_kv_heads``, ``hidden_dim`` = MLP width, ``dim`` = model width).
CONFIG_ALIASES = {
    "num_attention_heads": ("num_attention_heads", "n_heads"),
    "num_key_value_heads": ("num_key_value_heads", "n_kv_heads"),
    "intermediate_size": ("intermediate_size", "hidden_dim"),
    "hidden_size": ("hidden_size", "dim"),
}


def remove_units(
    model: nn.Module, groups: list[UnitGroup], removed: dict[str, list[int]]
) -> nn.Module:
    """A copy of ``model`` without the ``removed`` units (indices by group name).

    The apply step shared by every structured criterion: every member axis of a group loses
    the entries of those units (producer rows, biases, norms, consumer columns), tied
    parameters stay tied (one new tensor for all their names), and the layers' size attributes
    (``out_features``, ``groups``, an attention module's heads, a config's sizes) are updated
    so that the new model describes itself. ``model`` is not changed.
    """
    keep: dict[tuple[str, str, int], torch.Tensor] = {}
    new_groups: dict[str, int] = {}
    for group in groups:
        drop = sorted(set(removed.get(group.name, ())))
        if not drop:
            continue
        gone = torch.tensor(drop, dtype=torch.long)
        for member in group.members:
            key = (member.name, member.param, member.dim)
            kept = ~torch.isin(member.units, gone)
            keep[key] = keep[key] & kept if key in keep else kept
        for conv, count in group.grouped.items():
            new_groups[conv] = count * (group.size - len(drop)) // group.size
    pruned = copy.deepcopy(model)
    _slice_tensors(pruned, keep)
    fix_sizes(pruned, new_groups)
    return pruned


def _slice_tensors(model: nn.Module, keep: dict[tuple[str, str, int], torch.Tensor]) -> None:
    """Slice every kept axis of the (already copied) ``model``, once per tensor."""
    by_tensor: dict[int, tuple[torch.Tensor, list]] = {}
    modules = dict(model.named_modules(remove_duplicate=False))
    for (name, attr, dim), mask in keep.items():
        tensor = getattr(modules[name], attr)
        by_tensor.setdefault(id(tensor), (tensor, []))[1].append((dim, mask))
    replaced: dict[int, torch.Tensor] = {}
    for key, (tensor, cuts) in by_tensor.items():
        data = tensor.detach()
        for dim, mask in cuts:
            data = data.index_select(dim, mask.nonzero().flatten().to(data.device))
        if isinstance(tensor, nn.Parameter):
            replaced[key] = nn.Parameter(data.clone(), requires_grad=tensor.requires_grad)
        else:
            replaced[key] = data.clone()
    for module in model.modules():
        for store in (module._parameters, module._buffers):
            for attr, value in list(store.items()):
                if value is not None and id(value) in replaced:
                    store[attr] = replaced[id(value)]


def fix_sizes(model: nn.Module, groups: dict[str, int] | None = None) -> None:
    """Make every layer's size attributes match its tensors (after slicing or loading).

    ``groups``: the new ``groups`` of grouped convolutions that lost whole groups, by name.
    """
    groups = groups or {}
    for name, module in model.named_modules():
        weight = getattr(module, "weight", None)
        if isinstance(module, nn.Linear):
            module.out_features, module.in_features = weight.shape
        elif isinstance(module, nn.modules.conv._ConvNd):
            module.groups = groups.get(name, module.groups)
            module.out_channels = weight.shape[0]
            module.in_channels = weight.shape[1] * module.groups
        elif isinstance(module, nn.modules.batchnorm._NormBase):
            stats = weight if weight is not None else module.running_mean
            if stats is not None:
                module.num_features = stats.shape[0]
        elif isinstance(getattr(module, "normalized_shape", None), tuple) and weight is not None:
            shape = tuple(module.normalized_shape)
            module.normalized_shape = (*shape[: -weight.dim()], *weight.shape)
        elif isinstance(module, nn.Embedding):
            module.num_embeddings, module.embedding_dim = weight.shape
        elif isinstance(module, nn.LSTM | nn.GRU | nn.RNN):
            module.hidden_size = module.weight_hh_l0.shape[1]
            module.input_size = module.weight_ih_l0.shape[1]
            module._init_flat_weights()
        elif type(module).__name__ == "Conv1D" and weight is not None:  # transformers' GPT-2
            module.nx, module.nf = weight.shape
    for module in model.modules():  # after the layers: heads are counted from their sizes
        _fix_heads(module)
    _fix_config(model)


def _child(module: nn.Module, names: tuple[str, ...]) -> nn.Linear | None:
    for name in names:
        child = getattr(module, name, None)
        if isinstance(child, nn.Linear):
            return child
    return None


def _head_width(module: nn.Module) -> int | None:
    for attr in HEAD_WIDTHS:
        value = getattr(module, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _fix_heads(module: nn.Module) -> None:
    """An attention module's head counts, from its query and key layers' rows."""
    fused = getattr(module, "c_attn", None)  # GPT-2: q, k and v in one layer, split in three
    if type(fused).__name__ == "Conv1D" and isinstance(getattr(module, "split_size", None), int):
        module.split_size = fused.nf // 3
        module.num_heads = module.split_size // module.head_dim
        return
    width, query = _head_width(module), _child(module, QUERY_NAMES)
    if width is None or query is None:
        return
    for attr in HEAD_COUNTS:
        if isinstance(getattr(module, attr, None), int):
            setattr(module, attr, query.out_features // width)
    if isinstance(getattr(module, "all_head_size", None), int):
        module.all_head_size = query.out_features
    key = _child(module, KEY_NAMES)
    if key is not None:
        for attr in KV_COUNTS:
            if isinstance(getattr(module, attr, None), int):
                setattr(module, attr, key.out_features // width)


def _fix_config(model: nn.Module) -> None:
    """A model's config reports the layers' sizes where all layers agree.

    A ``transformers`` config is updated in place under its own names; a dataclass config
    (:class:`~pruning_lessons.llm.TinyLlamaConfig`) is replaced by a copy whose fields follow
    :data:`CONFIG_ALIASES`.
    """
    config = getattr(model, "config", None)
    is_transformers = hasattr(config, "to_dict")  # (transformers 5 configs are dataclasses too)
    is_dataclass = not is_transformers and dataclasses.is_dataclass(config)
    if config is None or isinstance(config, type) or not (is_transformers or is_dataclass):
        return
    found: dict[str, set[int]] = {}
    for module in model.modules():
        width, query = _head_width(module), _child(module, QUERY_NAMES)
        key, up = _child(module, KEY_NAMES), _child(module, UP_NAMES)
        if query is not None and width:
            found.setdefault("num_attention_heads", set()).add(query.out_features // width)
            if key is not None:
                found.setdefault("num_key_value_heads", set()).add(key.out_features // width)
        if up is not None:
            found.setdefault("intermediate_size", set()).add(up.out_features)
        if isinstance(getattr(module, "split_size", None), int) and hasattr(module, "c_attn"):
            found.setdefault("num_attention_heads", set()).add(module.num_heads)
    try:
        embeddings = model.get_input_embeddings()
    except (AttributeError, NotImplementedError):
        embeddings = None
    if not isinstance(embeddings, nn.Embedding):
        embeddings = getattr(model, "embed_tokens", None)
    if isinstance(embeddings, nn.Embedding):
        found["hidden_size"] = {embeddings.embedding_dim}
    agreed = {attr: values.pop() for attr, values in found.items() if len(values) == 1}
    if not is_dataclass:
        for attr, value in agreed.items():
            if isinstance(getattr(config, attr, None), int):
                setattr(config, attr, value)
        return
    fields = {f.name for f in dataclasses.fields(config)}
    changes = {
        alias: agreed[attr]
        for attr, aliases in CONFIG_ALIASES.items()
        for alias in aliases
        if attr in agreed and alias in fields and isinstance(getattr(config, alias), int)
    }
    if changes:
        model.config = dataclasses.replace(config, **changes)


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
    """Every parameter's and buffer's shape, the convolutions' ``groups`` and which modules
    are ``Identity`` (JSON-able): enough to rebuild the pruned model from a fresh one."""
    convs = nn.modules.conv._ConvNd
    return {
        "format": FORMAT,
        "model": type(model).__name__,
        "shapes": {name: list(t.shape) for name, t in model.state_dict().items()},
        "groups": {n: m.groups for n, m in model.named_modules() if isinstance(m, convs)},
        "identity": [n for n, m in model.named_modules() if n and isinstance(m, nn.Identity)],
    }


def save_pruned_structure(model: nn.Module, path: str | os.PathLike | IO[bytes]) -> None:
    """Save ``{"structure": pruned_structure(model), "state_dict": ...}`` with ``torch.save``.

    Only tensors and plain Python values are written, so the file loads with
    ``torch.load(..., weights_only=True)``: no code is unpickled.
    """
    torch.save({"structure": pruned_structure(model), "state_dict": model.state_dict()}, path)


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
