"""Masks that hold: pruned weights stay exactly zero until you decide otherwise.

How it works (three small mechanisms, no reparametrisation):

1. The keep-mask lives on the layer as a boolean buffer next to the weight: ``weight`` gets
   ``weight_mask``. So ``copy.deepcopy``, ``.to(device)`` and ``state_dict`` carry it along.
2. The weight itself is set to zero where the mask is ``False``: ``model.fc1.weight`` really
   contains the zeros, and the forward pass is an ordinary dense one.
3. Optimizers revive zeros (momentum and weight decay move a weight whose gradient is zero).
   A post-step hook, registered once for every ``torch.optim`` optimizer, multiplies each
   masked parameter (and its optimizer state: momentum, Adam moments) by its mask after every
   ``optimizer.step()``. A forward pre-hook on the layer re-applies the mask if a weight was
   edited by hand. This works for optimizers created before or after pruning.

``torch.nn.utils.prune`` instead replaces ``weight`` by ``weight_orig * weight_mask`` on every
forward: zeros in gradients, but two copies of every pruned weight, a ``state_dict`` a fresh
model cannot load, and a model ``copy.deepcopy`` refuses.
"""

from __future__ import annotations

import io
import os
import weakref
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook
from torch.utils.weak import WeakIdKeyDictionary

MASK_SUFFIX = "_mask"
SPARSE_FORMAT = "pruning-lessons/sparse-bitmask/v1"

# parameter -> (owning module, parameter name); filled when masks are installed or used
_OWNERS: WeakIdKeyDictionary = WeakIdKeyDictionary()


def _split(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    """``"block1.conv1.weight"`` -> (the ``block1.conv1`` module, ``"weight"``)."""
    module_name, _, param_name = name.rpartition(".")
    return model.get_submodule(module_name), param_name


def _register(module: nn.Module, param_name: str) -> None:
    _OWNERS[getattr(module, param_name)] = (weakref.ref(module), param_name)


def _mask_of(module: nn.Module, param_name: str) -> torch.Tensor | None:
    return getattr(module, param_name + MASK_SUFFIX, None)


def _masked_names(module: nn.Module) -> list[str]:
    return [
        name
        for name, _ in module.named_parameters(recurse=False)
        if _mask_of(module, name) is not None
    ]


def _mark_masked(module: nn.Module, name: str, param: nn.Parameter) -> None:
    """Note that ``param`` is masked as it is now (its identity and autograd version)."""
    module.__dict__.setdefault("_mask_versions", {})[name] = (id(param), param._version)


def _enforce_masks(module: nn.Module, args: object = None) -> None:
    """Re-zero pruned weights if something (a hand edit, a load) may have revived them.

    Registered as a forward pre-hook and as a ``load_state_dict`` post-hook (so loaded
    weights are masked at once, not at the next forward).

    Every in-place change of a tensor made through torch (an edit under ``torch.no_grad()``,
    ``load_state_dict``, ``copy_``) moves autograd's version counter; the hook remembers the
    version it last saw for each weight and multiplies by the mask only when it moved or the
    parameter was replaced. So an untouched model pays a comparison of two ints per weight and
    never waits for the GPU. The multiply goes through ``.data`` so that the version stays put
    (a graph from an earlier forward stays valid; kept values do not change). Edits made
    through ``.data`` bypass the counter and are undone only at the next optimizer step.
    """
    seen = module.__dict__.get("_mask_versions", {})
    for name, param in module._parameters.items():
        mask = module._buffers.get(name + MASK_SUFFIX)
        if mask is None or seen.get(name) == (id(param), param._version):
            continue
        if param not in _OWNERS:  # a copy (deepcopy, fresh load) met for the first time
            _register(module, name)
        param.data.mul_(mask)
        _mark_masked(module, name, param)


@torch.no_grad()
def _after_optimizer_step(optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
    """Global optimizer post-step hook: put every masked parameter (and its state) back to zero."""
    for group in optimizer.param_groups:
        for param in group["params"]:
            owner = _OWNERS.get(param)
            module = owner[0]() if owner else None
            if module is None or getattr(module, owner[1], None) is not param:
                continue
            mask = _mask_of(module, owner[1])
            if mask is None:
                continue
            param.mul_(mask)
            _mark_masked(module, owner[1], param)
            for state in optimizer.state.get(param, {}).values():
                if torch.is_tensor(state) and state.shape == param.shape:
                    state.mul_(mask)


register_optimizer_step_post_hook(_after_optimizer_step)


def install_mask(module: nn.Module, param_name: str, keep: torch.Tensor) -> None:
    """Zero ``module.<param_name>`` where ``keep`` is False and keep it zero from now on.

    An existing mask is combined with ``keep`` (logical and): installing never un-prunes.
    """
    param = getattr(module, param_name)
    if hasattr(module, param_name + "_orig"):
        raise ValueError(
            f"{type(module).__name__}.{param_name} is reparametrised by torch.nn.utils.prune; "
            "call torch.nn.utils.prune.remove(module, name) first"
        )
    keep = keep.to(device=param.device, dtype=torch.bool)
    old = _mask_of(module, param_name)
    if old is not None:
        keep = keep & old
    if old is None:
        module.register_buffer(param_name + MASK_SUFFIX, keep)
    else:
        setattr(module, param_name + MASK_SUFFIX, keep)
    with torch.no_grad():
        param.mul_(keep)
    _register(module, param_name)
    if _enforce_masks not in module._forward_pre_hooks.values():
        module.register_forward_pre_hook(_enforce_masks)
    if _enforce_masks not in module._load_state_dict_post_hooks.values():
        module.register_load_state_dict_post_hook(_enforce_masks)


def get_masks(model: nn.Module) -> dict[str, torch.Tensor]:
    """The installed keep-masks, keyed by parameter name (``"fc1.weight"``)."""
    masks = {}
    for module_name, module in model.named_modules():
        for name in _masked_names(module):
            key = f"{module_name}.{name}" if module_name else name
            masks[key] = _mask_of(module, name)
    return masks


def bake_masks(model: nn.Module) -> nn.Module:
    """Remove masks and hooks, leaving plain parameters that hold the zeros (for export).

    After this, training may move the zeros again: baking is the last step.
    """
    for module in model.modules():
        names = _masked_names(module)
        for name in names:
            with torch.no_grad():
                getattr(module, name).mul_(_mask_of(module, name))
            delattr(module, name + MASK_SUFFIX)
        for hooks in (module._forward_pre_hooks, module._load_state_dict_post_hooks):
            for handle_id in [i for i, hook in hooks.items() if hook is _enforce_masks]:
                del hooks[handle_id]
        module.__dict__.pop("_mask_versions", None)
    return model


def load_pruned_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> nn.Module:
    """Load a pruned model's ``state_dict`` into a freshly built model, masks included.

    ``model.load_state_dict`` alone would refuse the extra ``*_mask`` entries.
    """
    masks = {
        k.removesuffix(MASK_SUFFIX): v for k, v in state_dict.items() if k.endswith(MASK_SUFFIX)
    }
    _check_fits(model, state_dict, masks)
    bake_masks(model)
    for name, keep in masks.items():
        install_mask(*_split(model, name), keep)
    model.load_state_dict(state_dict)
    return model


def _check_fits(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor], masks: Mapping[str, torch.Tensor]
) -> None:
    """Raise ValueError, naming the entries, unless ``state_dict`` fits ``model`` exactly.

    Checked before anything is changed, so a file for another architecture leaves the model
    as it was.
    """
    params = dict(model.named_parameters())
    unknown = sorted(set(masks) - set(params))
    if unknown:
        raise ValueError(f"state_dict has masks for parameters the model lacks: {unknown}")
    have = {k: v for k, v in model.state_dict().items() if not k.endswith(MASK_SUFFIX)}
    given = {k: v for k, v in state_dict.items() if not k.endswith(MASK_SUFFIX)}
    missing, unexpected = sorted(set(have) - set(given)), sorted(set(given) - set(have))
    if missing or unexpected:
        raise ValueError(
            f"state_dict does not fit the model: missing {missing}, unexpected {unexpected}"
        )
    wrong = [
        f"{k}: {tuple(given[k].shape)} for the model's {tuple(v.shape)}"
        for k, v in have.items()
        if tuple(given[k].shape) != tuple(v.shape)
    ] + [
        f"{k}{MASK_SUFFIX}: {tuple(m.shape)} for the model's {tuple(params[k].shape)}"
        for k, m in masks.items()
        if tuple(m.shape) != tuple(params[k].shape)
    ]
    if wrong:
        raise ValueError("state_dict shapes do not fit the model: " + "; ".join(wrong))


def save_sparse(model: nn.Module, file: str | os.PathLike | io.BytesIO) -> None:
    """Save ``model`` compactly: each masked tensor as a bitmask plus its kept values.

    A dense float32 weight costs 32 bits per entry; here a pruned entry costs 1 bit (the mask)
    and a kept one 33. The file is a plain dict of tensors, strings and lists, so
    :func:`load_sparse` reads it with ``torch.load(..., weights_only=True)`` (no pickled code).
    """
    masks = get_masks(model)
    entries = {}
    for name, tensor in model.state_dict().items():
        if name.removesuffix(MASK_SUFFIX) in masks and name.endswith(MASK_SUFFIX):
            continue  # the mask is stored as the bitmask of its parameter
        if name in masks:
            keep = masks[name].cpu()
            entries[name] = {
                "shape": list(tensor.shape),
                "bitmask": torch.from_numpy(np.packbits(keep.numpy().reshape(-1))),
                "values": tensor.detach().cpu().reshape(-1)[keep.reshape(-1)].clone(),
            }
        else:
            entries[name] = {"dense": tensor.detach().cpu().clone()}
    torch.save({"format": SPARSE_FORMAT, "tensors": entries}, file)


def load_sparse(model: nn.Module, file: str | os.PathLike | io.BytesIO) -> nn.Module:
    """Load a file written by :func:`save_sparse` into a freshly built ``model`` (bit-exact)."""
    saved = torch.load(file, weights_only=True, map_location="cpu")
    if not isinstance(saved, dict) or saved.get("format") != SPARSE_FORMAT:
        raise ValueError(f"not a {SPARSE_FORMAT} file")
    state = {}
    for name, entry in saved["tensors"].items():
        if "dense" in entry:
            state[name] = entry["dense"]
            continue
        shape, values = entry["shape"], entry["values"]
        n = int(np.prod(shape))
        keep = torch.from_numpy(np.unpackbits(entry["bitmask"].numpy(), count=n).astype(bool))
        dense = torch.zeros(n, dtype=values.dtype).masked_scatter_(keep, values)
        state[name] = dense.reshape(shape)
        state[name + MASK_SUFFIX] = keep.reshape(shape)
    return load_pruned_state_dict(model, state)
