"""Model surgery: resize layers, remove layers, and save and load the new shape.

Structured pruning builds narrower layers with :func:`remove_units`; :func:`remove_layers`
replaces whole layers or residual blocks by ``nn.Identity``; :func:`remove_blocks` takes whole
blocks out of a transformer's list of blocks (depth pruning); :func:`save_pruned_structure`
records the new widths next to the weights so that :func:`load_pruned_structure` can rebuild
the architecture from a fresh model without unpickling code
(``torch.load(..., weights_only=True)``). Like
:func:`~pruning_lessons.structured.prune_units`, every public function here returns a new
model and leaves the one it was given as it was.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections import OrderedDict
from collections.abc import Iterable
from typing import IO

import torch
from torch import nn

from ..core.device import evaluating
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
    # the copy takes the sliced tensors in place of the originals (tied names: one tensor)
    pruned = _copy_tree(model, {**_empty_dicts(model), **_sliced_tensors(model, keep)})
    fix_sizes(pruned, new_groups)
    return pruned


#: Ways a class can take over its own copying; a module class that uses one is deep-copied.
_COPY_HOOKS = ("__getstate__", "__reduce_ex__", "__reduce__", "__deepcopy__")


def _copy_tree(module: nn.Module, memo: dict) -> nn.Module:
    """``copy.deepcopy(module, memo)``, walking the module tree itself.

    Each module is rebuilt as deepcopy rebuilds it (a new object of its class, given a deep
    copy of its state through ``__setstate__``), minus deepcopy's generic dispatch, which
    dominated the copy of a small model. A class that customises its copying (an LSTM, which
    rebuilds its flat weights) goes through ``copy.deepcopy`` itself.
    """
    if id(module) in memo:
        return memo[id(module)]
    cls = type(module)
    if any(getattr(cls, hook, None) is not getattr(nn.Module, hook, None) for hook in _COPY_HOOKS):
        return copy.deepcopy(module, memo)
    new = cls.__new__(cls)
    memo[id(module)] = new
    state = {}
    for key, value in module.__dict__.items():
        if key == "_modules":
            state[key] = type(value)(
                (name, None if child is None else _copy_tree(child, memo))
                for name, child in value.items()
            )
        else:
            state[key] = copy.deepcopy(value, memo)
    new.__setstate__(state)
    return new


def _empty_dicts(model: nn.Module) -> dict[int, dict]:
    """A fresh empty dict for each empty one a module holds (its many hook tables): what
    ``copy.deepcopy`` would make of them, handed over so that it need not copy each one."""
    return {
        id(value): type(value)()
        for module in model.modules()
        for value in module.__dict__.values()
        if type(value) in (dict, OrderedDict) and not value
    }


def _sliced_tensors(
    model: nn.Module, keep: dict[tuple[str, str, int], torch.Tensor]
) -> dict[int, torch.Tensor]:
    """``id(tensor) -> new tensor`` with every kept axis sliced, once per tensor of ``model``."""
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
            replaced[key] = nn.Parameter(data, requires_grad=tensor.requires_grad)
        else:
            replaced[key] = data
    return replaced


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
            _check_one_hidden_size(name, module)
            module.hidden_size = module.weight_hh_l0.shape[1]
            module.input_size = module.weight_ih_l0.shape[1]
            module._init_flat_weights()
        elif type(module).__name__ == "Conv1D" and weight is not None:  # transformers' GPT-2
            module.nx, module.nf = weight.shape
    for module in model.modules():  # after the layers: heads are counted from their sizes
        _fix_heads(module)
    _fix_config(model)


def _check_one_hidden_size(name: str, module: nn.RNNBase) -> None:
    """``nn.LSTM`` / ``nn.GRU`` have one ``hidden_size`` for all their stacked layers."""
    sizes = [module.get_parameter(f"weight_hh_l{k}").shape[1] for k in range(module.num_layers)]
    if len(set(sizes)) > 1:
        raise ValueError(
            f"{type(module).__name__} {name!r} keeps one hidden size for all its layers, but "
            f"its layers would keep {sizes} units; remove as many units from each layer (one "
            "amount for the layer, not scope='global')"
        )


def _attribute(module: nn.Module, name: str) -> object:
    """``getattr(module, name, None)`` without nn.Module's slow failed lookup (run per module)."""
    if name in module.__dict__ or hasattr(type(module), name):
        return getattr(module, name)
    for store in (module._modules, module._parameters, module._buffers):
        if name in store:
            return store[name]
    return None


def _child(module: nn.Module, names: tuple[str, ...]) -> nn.Linear | None:
    for name in names:
        child = module._modules.get(name)
        if isinstance(child, nn.Linear):
            return child
    return None


def _head_width(module: nn.Module) -> int | None:
    for attr in HEAD_WIDTHS:
        value = _attribute(module, attr)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _fix_heads(module: nn.Module) -> None:
    """An attention module's head counts, from its query and key layers' rows."""
    fused = _attribute(module, "c_attn")  # GPT-2: q, k and v in one layer, split in three
    if type(fused).__name__ == "Conv1D" and isinstance(_attribute(module, "split_size"), int):
        module.split_size = fused.nf // 3
        module.num_heads = module.split_size // module.head_dim
        return
    query = _child(module, QUERY_NAMES)
    width = _head_width(module) if query is not None else None
    if width is None or query is None:
        return
    for attr in HEAD_COUNTS:
        if isinstance(_attribute(module, attr), int):
            setattr(module, attr, query.out_features // width)
    if isinstance(_attribute(module, "all_head_size"), int):
        module.all_head_size = query.out_features
    key = _child(module, KEY_NAMES)
    if key is not None:
        for attr in KV_COUNTS:
            if isinstance(_attribute(module, attr), int):
                setattr(module, attr, key.out_features // width)


#: Config sizes that a config may leave unset (``None``: derived by the model class).
DERIVED_SIZES = ("n_inner", "head_dim")


def _hidden_size(model: nn.Module) -> int | None:
    """The residual stream's width: the token embedding's, or a patch embedding's channels."""
    try:
        embeddings = model.get_input_embeddings()
    except (AttributeError, NotImplementedError):
        embeddings = getattr(model, "embed_tokens", None)  # TinyLlama
    if isinstance(embeddings, nn.Embedding):
        return embeddings.embedding_dim
    projection = getattr(embeddings, "projection", None)  # ViT: a conv cuts patches
    if isinstance(projection, nn.modules.conv._ConvNd):
        return projection.out_channels
    return None


def _sizes_found(model: nn.Module) -> dict[str, set[int]]:
    """Every size a config can state, as the layers have it (one value per layer)."""
    found: dict[str, set[int]] = {}
    for name, module in model.named_modules():
        query, key, up = (_child(module, n) for n in (QUERY_NAMES, KEY_NAMES, UP_NAMES))
        width = _head_width(module) if query is not None else None
        if query is not None and width:
            found.setdefault("num_attention_heads", set()).add(query.out_features // width)
            found.setdefault("head_dim", set()).add(width)
            if key is not None:
                found.setdefault("num_key_value_heads", set()).add(key.out_features // width)
        if up is not None:
            found.setdefault("intermediate_size", set()).add(up.out_features)
        if name.rpartition(".")[2] == "intermediate" and isinstance(
            _attribute(module, "dense"), nn.Linear
        ):  # BERT: the MLP's first layer is intermediate.dense
            found.setdefault("intermediate_size", set()).add(module.dense.out_features)
        if isinstance(_attribute(module, "split_size"), int) and hasattr(module, "c_attn"):
            found.setdefault("num_attention_heads", set()).add(module.num_heads)
            found.setdefault("head_dim", set()).add(module.head_dim)
        fc = _attribute(module, "c_fc")
        if type(fc).__name__ == "Conv1D":  # GPT-2's MLP
            found.setdefault("n_inner", set()).add(fc.nf)
    hidden = _hidden_size(model)
    if hidden is not None:
        found["hidden_size"] = {hidden}
    return found


def _fix_config(model: nn.Module) -> None:
    """A model's config reports the layers' sizes where all layers agree.

    A ``transformers`` config is updated in place: ``hidden_size`` (GPT-2: ``n_embd``),
    ``intermediate_size`` (GPT-2: ``n_inner``), ``num_attention_heads``,
    ``num_key_value_heads``; ``head_dim`` where the config has it or heads no longer fill the
    width (``heads x head_dim != hidden_size``; ViT's and LLaMA's classes read it). GPT-2's and
    BERT's classes derive the head width as ``hidden_size / heads``, so a model of theirs with
    pruned heads but the full width cannot be rebuilt from its config alone:
    ``load_pruned_structure`` rebuilds it from a fresh one. A frozen dataclass config
    (:class:`~pruning_lessons.llm.TinyLlamaConfig`) is replaced by a copy whose fields follow
    :data:`CONFIG_ALIASES`. Sizes that differ between layers (per-layer amounts) are left as
    they were.
    """
    config = getattr(model, "config", None)
    is_transformers = hasattr(config, "to_dict")  # (transformers 5 configs are dataclasses too)
    is_dataclass = not is_transformers and dataclasses.is_dataclass(config)
    if config is None or isinstance(config, type) or not (is_transformers or is_dataclass):
        return
    agreed = {k: v.pop() for k, v in _sizes_found(model).items() if len(v) == 1}
    if is_dataclass:
        fields = {f.name for f in dataclasses.fields(config)}
        changes = {
            alias: agreed[attr]
            for attr, aliases in CONFIG_ALIASES.items()
            for alias in aliases
            if attr in agreed and alias in fields and isinstance(getattr(config, alias), int)
        }
        _update_config(model, config, changes)
        return
    for attr, value in agreed.items():
        current = getattr(config, attr, None)
        if attr == "head_dim" and current is None:
            heads, hidden = agreed.get("num_attention_heads"), agreed.get("hidden_size")
            if heads is None or hidden is None or heads * value == hidden:
                continue
        if isinstance(current, int) or (attr in DERIVED_SIZES and current is None):
            setattr(config, attr, value)


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


#: Config attributes that count a model's blocks (``transformers`` names, then the course's).
DEPTH_COUNTS = ("num_hidden_layers", "n_layer", "num_layers", "n_layers")
#: Config attributes that hold one entry per block (e.g. Qwen2's sliding or full attention).
PER_BLOCK_LISTS = ("layer_types",)
#: Attributes by which ``transformers`` layers know their block's position (the KV cache slot).
BLOCK_INDICES = ("layer_idx", "layer_id", "layer_index")


def block_list(model: nn.Module, name: str | None = None) -> tuple[str, nn.ModuleList]:
    """``(name, list)`` of the model's repeated blocks: the ``nn.ModuleList`` it loops over.

    Found as the ``nn.ModuleList`` of at least two modules of one class (``nn.Identity`` left
    by :func:`remove_layers` aside) that is not inside another such list; e.g. ``model.layers``
    (LLaMA), ``transformer.h`` (GPT-2), ``bert.encoder.layer``, ``vit.encoder.layer``,
    ``layers`` (the course's :class:`~pruning_lessons.llm.TinyLlama`). ``name`` picks one
    where a model has several (an encoder and a decoder); ``ValueError`` when there is none
    or the choice is ambiguous.
    """
    lists = {n: m for n, m in model.named_modules() if isinstance(m, nn.ModuleList)}
    if name is not None:
        if name not in lists:
            raise ValueError(f"blocks must name an nn.ModuleList of the model, got {name!r}")
        return name, lists[name]
    found = []
    for n, blocks in lists.items():
        kinds = {type(b) for b in blocks if not isinstance(b, nn.Identity)}
        if len(blocks) >= 2 and len(kinds) == 1:
            found.append(n)
    found = [n for n in found if not any(n.startswith(o + ".") for o in found if o != n)]
    if len(found) != 1:
        what = "no nn.ModuleList of repeated blocks" if not found else f"several: {found}"
        raise ValueError(
            f"cannot tell the block list of {type(model).__name__}: {what}; pass blocks='name'"
        )
    return found[0], lists[found[0]]


def _check_block_indices(indices: object, count: int) -> list[int]:
    if isinstance(indices, int | str) or not isinstance(indices, Iterable):
        raise ValueError(f"indices must be a list of block numbers, got {indices!r}")
    indices = list(indices)
    for i in indices:
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < count:
            raise ValueError(f"indices must be block numbers 0..{count - 1}, got {i!r}")
    if len(set(indices)) != len(indices):
        raise ValueError(f"indices must not repeat, got {indices}")
    if len(indices) == count:
        raise ValueError(f"indices name all {count} blocks; at least one must stay")
    return sorted(indices)


def _fix_depth(model: nn.Module, old: int, kept: list[int]) -> None:
    """Every config's block count and per-block lists after keeping blocks ``kept`` of ``old``."""
    configs = {id(c): c for m in model.modules() if (c := m.__dict__.get("config")) is not None}
    for config in configs.values():
        _update_config(model, config, _depth_changes(config, old, kept))


def _update_config(model: nn.Module, config: object, changes: dict[str, object]) -> None:
    """Set ``changes`` on ``config`` in place; a frozen dataclass config (the course's
    ``TinyLlamaConfig``) is replaced, in every module of ``model`` that holds it, by an
    updated copy."""
    try:
        for attr, value in changes.items():
            setattr(config, attr, value)
    except dataclasses.FrozenInstanceError:
        new = dataclasses.replace(config, **changes)
        for module in model.modules():
            if module.__dict__.get("config") is config:
                module.config = new


def _depth_changes(config: object, old: int, kept: list[int]) -> dict[str, object]:
    changes: dict[str, object] = {}
    for attr in DEPTH_COUNTS:
        value = getattr(config, attr, None)
        if value == old and isinstance(value, int) and not isinstance(value, bool):
            changes[attr] = len(kept)
    for attr in PER_BLOCK_LISTS:
        value = getattr(config, attr, None)
        if isinstance(value, list | tuple) and len(value) == old:
            changes[attr] = type(value)(value[i] for i in kept)
    return changes


def remove_blocks(
    model: nn.Module, indices: Iterable[int], *, blocks: str | None = None
) -> nn.Module:
    """A copy of ``model`` without the blocks ``indices``: depth pruning (e.g. ShortGPT).

    The model's block list (see :func:`block_list`; ``blocks`` names it where a model has
    several) becomes physically shorter: the blocks after a removed one move up, so block
    ``i`` of the result is block ``kept[i]`` of ``model`` (the list's ``kept_blocks``; saved by
    :func:`save_pruned_structure`) and the file shrinks. Because every
    block of a residual transformer adds its output to the hidden state it was given, a
    removed block behaves as the identity: the result computes exactly what ``model``
    computes with those blocks' outputs replaced by their inputs.

    Kept honest afterwards: the config's block count (``num_hidden_layers`` / ``n_layer`` /
    the course's ``n_layers``) and per-block lists (``layer_types``), and every kept layer's
    ``layer_idx`` (``transformers`` uses it as the block's slot in the KV cache). Blocks must
    map the hidden state to one of the same shape, as residual blocks do. ``ValueError`` for
    an index that is not a block, a repeated index, or removing every block; ``model`` is not
    changed. (:func:`remove_layers` instead swaps layers for ``nn.Identity`` in place.)
    """
    name, original = block_list(model, blocks)
    removed = _check_block_indices(indices, len(original))
    kept = [i for i in range(len(original)) if i not in removed]
    shorter = copy.deepcopy(model)
    _keep_blocks(shorter, name, kept)
    return shorter


def _keep_blocks(model: nn.Module, name: str, kept: list[int]) -> None:
    """Replace list ``name`` of ``model`` (in place) by its blocks ``kept``, renumbered.

    The new list remembers, as ``kept_blocks``, which blocks of the first model it holds, so
    that :func:`load_pruned_structure` picks the same ones from a fresh model (a block may
    depend on its number: GPT-2's ``scale_attn_by_inverse_layer_idx``, ``layer_types``).
    """
    blocks = model.get_submodule(name)
    origin = getattr(blocks, "kept_blocks", list(range(len(blocks))))
    new_list = nn.ModuleList(blocks[i] for i in kept)
    new_list.kept_blocks = [origin[i] for i in kept]
    for position, old in enumerate(kept):
        for module in new_list[position].modules():
            for attr in BLOCK_INDICES:
                value = getattr(module, attr, None)
                if value == old and isinstance(value, int) and not isinstance(value, bool):
                    setattr(module, attr, position)
    replace(model, name, new_list)
    _fix_depth(model, len(blocks), kept)


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
        _keep_blocks(model, name, kept)


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
