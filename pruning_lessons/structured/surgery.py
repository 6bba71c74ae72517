"""Model surgery: a copy of the model with the removed units' entries sliced out.

Structured pruning builds narrower layers with :func:`remove_units`, the apply step of every
structured criterion; :mod:`.sizes` then makes the layers' size attributes match their
tensors. Whole layers and blocks go with :mod:`.blocks`, and :mod:`.saving` saves and loads
the new shape. Like :func:`~pruning_lessons.structured.prune_units`, every public function
here returns a new model and leaves the one it was given as it was.
"""

from __future__ import annotations

import copy
from collections import OrderedDict

import torch
from torch import nn

from .groups import UnitGroup
from .sizes import fix_sizes


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
    keep = kept_entries(groups, removed)
    new_groups: dict[str, int] = {}
    for group in groups:
        drop = set(removed.get(group.name, ()))
        for conv, count in group.grouped.items():
            if drop:
                new_groups[conv] = count * (group.size - len(drop)) // group.size
    # the copy takes the sliced tensors in place of the originals (tied names: one tensor)
    pruned = _copy_tree(model, {**_empty_dicts(model), **_sliced_tensors(model, keep)})
    fix_sizes(pruned, new_groups)
    return pruned


def kept_entries(
    groups: list[UnitGroup], removed: dict[str, list[int]]
) -> dict[tuple[str, str, int], torch.Tensor]:
    """``(module, tensor name, axis) -> bool mask`` of the entries that stay, for every tensor
    axis that loses some (an axis in several groups: kept where every group keeps it)."""
    keep: dict[tuple[str, str, int], torch.Tensor] = {}
    for group in groups:
        drop = sorted(set(removed.get(group.name, ())))
        if not drop:
            continue
        gone = torch.zeros(group.size + 1, dtype=torch.bool)  # the last slot: entry -1
        gone[torch.tensor(drop, dtype=torch.long)] = True
        for member in group.members:
            key = (member.name, member.param, member.dim)
            kept = ~gone[member.units]  # units[e] == -1 (another group's entry) stays
            keep[key] = keep[key] & kept if key in keep else kept
    return keep


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


def replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent), child, new)
