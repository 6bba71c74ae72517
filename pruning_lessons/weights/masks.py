"""Masks that hold: pruned weights stay exactly zero until you decide otherwise.

How it works (small mechanisms, no reparametrisation):

1. The keep-mask lives on the layer as a boolean buffer next to the weight: ``weight`` gets
   ``weight_mask``. ``copy.deepcopy``, pickling and ``.to(device)`` carry it along.
2. The weight itself is set to zero where the mask is ``False``: ``model.fc1.weight`` really
   contains the zeros, and the forward pass is an ordinary dense one.
3. Optimizers revive zeros: the gradient at a pruned weight is generally not zero, and
   momentum or Adam state keeps moving it even where the gradient is masked.
   A post-step hook, registered once for every ``torch.optim`` optimizer, multiplies each
   masked parameter (and its optimizer state: momentum, Adam moments) by its mask after every
   ``optimizer.step()``. It finds a parameter's mask through a registry that is filled when a
   mask is installed and again when a model is deep-copied or unpickled, so a copy is held at
   zero from its very first step, before any forward pass.
4. A forward pre-hook on the layer re-applies the mask if the weight was edited by hand, and a
   parameter assigned to a masked layer (``layer.weight = nn.Parameter(w)``) is masked at once.

Where the model goes:

* **state_dict**: the masks are *non-persistent* buffers, so ``model.state_dict()`` holds
  exactly the keys of the unpruned model, with the zeros in the weights. A freshly built model
  loads it with plain ``load_state_dict`` (it gets the zeros, not the masks: training it may
  move them). To carry the masks too, save :func:`pruned_state_dict` (the state dict plus one
  ``<name>_mask`` entry per masked parameter) and load it with :func:`load_pruned_state_dict`,
  or use the compact :func:`save_sparse` / :func:`load_sparse`.
* **torch.func.functional_call**: the hooks never write to tensors swapped in by the caller;
  only the layer's own masked parameter is ever re-zeroed.
* **Tied parameters** (one tensor shared by two layers): the mask is installed on every layer
  that holds the tensor (see :func:`install_model_mask`).
* **torch.compile / torch.export / ONNX**: the forward pre-hook does nothing while a compiler
  traces the model (the weights already hold the zeros), so it causes no graph break and no
  lifted constant. The optimizer hook still keeps the zeros during compiled training. For
  export, :func:`bake_masks` is still the clean last step.

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
_STATE = "_pruning_lessons_masks"  # key of a masked module's bookkeeping in its __dict__

# parameter -> (weak reference to its owning module, parameter name); read by the optimizer hook
_OWNERS: WeakIdKeyDictionary = WeakIdKeyDictionary()


class _MaskState:
    """A masked layer's bookkeeping: which parameter objects it masks, at which version.

    Stored in the module's ``__dict__`` (not a buffer, so never in a ``state_dict``). When the
    module is deep-copied or pickled, ``__reduce__`` hands the *copy's* module and parameters to
    :func:`_restore_state`, which registers them for the optimizer hook at once.
    """

    def __init__(self, module: nn.Module) -> None:
        self.module = weakref.ref(module)
        self.params: dict[str, torch.Tensor] = {}  # name -> the parameter object that is masked
        self.versions: dict[str, int] = {}  # name -> autograd version last seen masked

    def track(self, name: str, param: torch.Tensor) -> None:
        self.params[name] = param
        self.versions[name] = param._version
        _OWNERS[param] = (self.module, name)

    def __reduce__(self) -> tuple:
        return (_restore_state, (self.module(), dict(self.params)))


def _restore_state(module: nn.Module, params: dict[str, torch.Tensor]) -> _MaskState:
    state = _MaskState(module)
    for name, param in params.items():
        state.track(name, param)
    return state


def _state(module: nn.Module) -> _MaskState:
    state = module.__dict__.get(_STATE)
    if state is None or state.module() is not module:
        state = module.__dict__[_STATE] = _MaskState(module)
    return state


def _split(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    """``"block1.conv1.weight"`` -> (the ``block1.conv1`` module, ``"weight"``)."""
    module_name, _, param_name = name.rpartition(".")
    return model.get_submodule(module_name), param_name


def _mask_of(module: nn.Module, param_name: str) -> torch.Tensor | None:
    return module._buffers.get(param_name + MASK_SUFFIX)


def _masked_names(module: nn.Module) -> list[str]:
    return [
        name
        for name, _ in module.named_parameters(recurse=False)
        if _mask_of(module, name) is not None
    ]


def _enforce_masks(module: nn.Module, args: object = None) -> None:
    """Re-zero pruned weights if something (a hand edit, a load) may have revived them.

    Registered as a forward pre-hook and as a ``load_state_dict`` post-hook (so loaded
    weights are masked at once, not at the next forward).

    Every in-place change of a tensor made through torch (an edit under ``torch.no_grad()``,
    ``load_state_dict``, ``copy_``) moves autograd's version counter; the hook remembers the
    version it last saw for each weight and multiplies by the mask only when it moved. So an
    untouched model pays a comparison of two ints per weight and never waits for the GPU. The
    multiply goes through ``.data`` so that the version stays put (a graph from an earlier
    forward stays valid; kept values do not change). Edits made through ``.data`` bypass the
    counter and are undone only at the next optimizer step.

    Only the layer's own parameter is touched: a tensor swapped in by
    ``torch.func.functional_call`` belongs to the caller and is never written. While a compiler
    traces the model (``torch.compile``, ``torch.export``) the hook does nothing.
    """
    if torch.compiler.is_compiling():
        return
    state = module.__dict__.get(_STATE)
    if state is None:
        return
    for name, param in state.params.items():
        if module._parameters.get(name) is not param or state.versions[name] == param._version:
            continue
        mask = _mask_of(module, name)
        if mask is not None:
            param.data.mul_(mask)
            state.versions[name] = param._version


@torch.no_grad()
def _after_optimizer_step(optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
    """Global optimizer post-step hook: put every masked parameter (and its state) back to zero."""
    for group in optimizer.param_groups:
        for param in group["params"]:
            owner = _OWNERS.get(param)
            module = owner[0]() if owner else None
            if module is None or module._parameters.get(owner[1]) is not param:
                continue
            mask = _mask_of(module, owner[1])
            if mask is None:
                continue
            param.mul_(mask)
            _state(module).versions[owner[1]] = param._version
            for state in optimizer.state.get(param, {}).values():
                if torch.is_tensor(state) and state.shape == param.shape:
                    state.mul_(mask)


register_optimizer_step_post_hook(_after_optimizer_step)


def _on_parameter_assigned(module: nn.Module, name: str, param: object) -> None:
    """Global parameter-registration hook: a parameter assigned to a masked slot is masked now."""
    state = module.__dict__.get(_STATE)
    mask = _mask_of(module, name) if state is not None else None
    if mask is None or not isinstance(param, torch.Tensor) or param.shape != mask.shape:
        return
    with torch.no_grad():
        param.data.mul_(mask.to(param.device))
    state.track(name, param)


torch.nn.modules.module.register_module_parameter_registration_hook(_on_parameter_assigned)


def _attach(module: nn.Module, param_name: str, keep: torch.Tensor) -> None:
    """Make ``keep`` the mask of ``module.<param_name>`` (as is: no combination) and apply it."""
    param = getattr(module, param_name)
    if param_name + MASK_SUFFIX in module._buffers:
        module._buffers[param_name + MASK_SUFFIX] = keep
    else:
        module.register_buffer(param_name + MASK_SUFFIX, keep, persistent=False)
    with torch.no_grad():
        param.mul_(keep)
    _state(module).track(param_name, param)
    if _enforce_masks not in module._forward_pre_hooks.values():
        module.register_forward_pre_hook(_enforce_masks)
    if _enforce_masks not in module._load_state_dict_post_hooks.values():
        module.register_load_state_dict_post_hook(_enforce_masks)


def _check_not_reparametrised(module: nn.Module, param_name: str) -> None:
    if hasattr(module, param_name + "_orig"):
        raise ValueError(
            f"{type(module).__name__}.{param_name} is reparametrised by torch.nn.utils.prune; "
            "call torch.nn.utils.prune.remove(module, name) first"
        )


def install_mask(module: nn.Module, param_name: str, keep: torch.Tensor) -> None:
    """Zero ``module.<param_name>`` where ``keep`` is False and keep it zero from now on.

    An existing mask is combined with ``keep`` (logical and): installing never un-prunes.
    For a parameter shared by several layers use :func:`install_model_mask`.
    """
    _check_not_reparametrised(module, param_name)
    param = getattr(module, param_name)
    keep = keep.to(device=param.device, dtype=torch.bool)
    old = _mask_of(module, param_name)
    _attach(module, param_name, keep if old is None else keep & old)


def aliases(model: nn.Module) -> dict[str, list[str]]:
    """Every name of each parameter: ``{first name: [all names]}`` (tied weights have several).

    The first name is the one ``model.named_parameters()`` reports.
    """
    names: dict[int, list[str]] = {}
    for name, param in model.named_parameters(remove_duplicate=False):
        names.setdefault(id(param), []).append(name)
    return {group[0]: group for group in names.values()}


def install_model_mask(model: nn.Module, name: str, keep: torch.Tensor) -> torch.Tensor:
    """Install ``keep`` on parameter ``name`` of ``model`` and on every other name it has.

    A tied weight (``lm_head.weight = embed.weight``) is one tensor held by two layers: both
    get the same mask object, so every forward and every optimizer step sees it. Combined with
    an existing mask (logical and). Returns the installed mask.
    """
    param, holders = _holders(model, name)
    keep = keep.to(device=param.device, dtype=torch.bool)
    for module, param_name in holders:
        old = _mask_of(module, param_name)
        if old is not None:
            keep = keep & old
    for module, param_name in holders:
        _attach(module, param_name, keep)
    return keep


def replace_mask(model: nn.Module, name: str, keep: torch.Tensor) -> torch.Tensor:
    """Make ``keep`` the mask of parameter ``name`` (on every name it has), replacing the old one.

    The one way to un-prune on purpose: a position that ``keep`` brings back keeps the zero it
    has and trains from there (dynamic sparse training's regrowth,
    :mod:`~pruning_lessons.weights.sparse_training`). Every other function only adds zeros.
    """
    param, holders = _holders(model, name)
    if tuple(keep.shape) != tuple(param.shape):
        raise ValueError(f"keep has shape {tuple(keep.shape)}, {name} has {tuple(param.shape)}")
    keep = keep.to(device=param.device, dtype=torch.bool)
    for module, param_name in holders:
        _attach(module, param_name, keep)
    return keep


def _holders(model: nn.Module, name: str) -> tuple[nn.Parameter, list[tuple[nn.Module, str]]]:
    """Parameter ``name`` and every (module, attribute) holding it (tied weights: several)."""
    param = model.get_parameter(name)
    holders = [
        _split(model, other)
        for other, p in model.named_parameters(remove_duplicate=False)
        if p is param
    ]
    for module, param_name in holders:
        _check_not_reparametrised(module, param_name)
    return param, holders


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
        module.__dict__.pop(_STATE, None)
    return model


def pruned_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """``model.state_dict()`` plus one ``<name>_mask`` entry per masked parameter.

    The plain ``state_dict`` leaves the masks out, so that any fresh model loads it; this one
    keeps them, for :func:`load_pruned_state_dict`.
    """
    state = model.state_dict()
    state.update({name + MASK_SUFFIX: keep for name, keep in get_masks(model).items()})
    return state


def load_pruned_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> nn.Module:
    """Load a :func:`pruned_state_dict` into a freshly built model, masks included.

    The ``<name>_mask`` entries become installed masks (``model.load_state_dict`` would refuse
    them); a state without them loads like a plain one. Nothing changes if the state does not
    fit the model.
    """
    masks = {
        k.removesuffix(MASK_SUFFIX): v for k, v in state_dict.items() if k.endswith(MASK_SUFFIX)
    }
    _check_fits(model, state_dict, masks)
    bake_masks(model)
    for name, keep in masks.items():
        install_model_mask(model, name, keep)
    model.load_state_dict({k: v for k, v in state_dict.items() if not k.endswith(MASK_SUFFIX)})
    return model


def _check_fits(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor], masks: Mapping[str, torch.Tensor]
) -> None:
    """Raise ValueError, naming the entries, unless ``state_dict`` fits ``model`` exactly.

    Checked before anything is changed, so a file for another architecture leaves the model
    as it was.
    """
    params = dict(model.named_parameters(remove_duplicate=False))
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
