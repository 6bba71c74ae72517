"""Whole layers and blocks out: :func:`remove_layers` (replaced by ``nn.Identity``) and
:func:`remove_blocks` (a shorter block list: depth pruning), with :func:`block_list`, the rule
that finds a model's repeated blocks. Every function returns a new model."""

from __future__ import annotations

import copy
from collections.abc import Iterable

import torch
from torch import nn

from ..core.device import evaluating
from .sizes import update_config
from .surgery import replace
from .tracing import default_example_input


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


def check_block_indices(indices: object, count: int) -> list[int]:
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
        update_config(model, config, _depth_changes(config, old, kept))


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
    removed = check_block_indices(indices, len(original))
    kept = [i for i in range(len(original)) if i not in removed]
    shorter = copy.deepcopy(model)
    keep_blocks(shorter, name, kept)
    return shorter


def keep_blocks(model: nn.Module, name: str, kept: list[int]) -> None:
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
