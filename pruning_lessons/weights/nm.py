"""N:M semi-structured sparsity: at most ``n`` non-zeros in every ``m`` consecutive weights.

Unstructured zeros save nothing on a GPU; whole-channel removal costs accuracy. N:M sits in
between: in every group of ``m`` consecutive weights along a row of the weight matrix (the
input dimension, the one a matrix multiply sums over) only ``n`` survive. 2:4 (50 %) is what
NVIDIA's sparse tensor cores (Ampere, compute capability 8.0, and newer) run at up to twice
the dense speed (Mishra et al. 2021, "Accelerating Sparse Deep Neural Networks"); PyTorch
exposes them through ``torch.sparse.to_sparse_semi_structured``.

For a convolution the rows are ``weight.flatten(1)`` (input channels x kernel positions), the
layout of the matrix multiply behind it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import torch
from torch import nn

from .magnitude import _install, prunable_parameters
from .masks import bake_masks, get_masks


def _check_nm(n: object, m: object) -> tuple[int, int]:
    for name, value in (("n", n), ("m", m)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 < n <= m:
        raise ValueError(f"need 0 < n <= m (keep n of every m weights), got n={n}, m={m}")
    return n, m


def _rows(tensor: torch.Tensor) -> torch.Tensor:
    """The tensor as a matrix whose rows are cut into groups: ``(out, everything else)``."""
    return tensor.reshape(1, -1) if tensor.dim() < 2 else tensor.flatten(1)


def _keep_n_of_m(scores: torch.Tensor, n: int, m: int, name: str) -> torch.Tensor:
    rows = _rows(scores)
    if rows.shape[1] % m:
        raise ValueError(
            f"{name} has rows of {rows.shape[1]} weights, not a multiple of m={m}: it cannot "
            f"be cut into groups of {m} (leave it out with parameters=...)"
        )
    groups = rows.reshape(rows.shape[0], -1, m)
    lowest = torch.sort(groups, dim=-1, stable=True).indices[..., : m - n]
    keep = torch.ones_like(groups, dtype=torch.bool).scatter_(-1, lowest, False)
    return keep.reshape(scores.shape)


def nm_mask(weight: torch.Tensor, n: int = 2, m: int = 4) -> torch.Tensor:
    """Keep-mask keeping the ``n`` largest ``|w|`` of every ``m`` consecutive weights in a row.

    Exactly ``m - n`` of each group are pruned; among equal magnitudes the lower index goes
    first. Raises ``ValueError`` if a row's length is not a multiple of ``m``.
    """
    n, m = _check_nm(n, m)
    return _keep_n_of_m(weight.detach().abs(), n, m, "weight")


def is_nm_sparse(tensor: torch.Tensor, n: int = 2, m: int = 4) -> bool:
    """Whether every group of ``m`` consecutive entries in each row has at most ``n`` non-zeros.

    A tensor whose rows cannot be cut into groups of ``m`` is not N:M sparse (``False``).
    """
    n, m = _check_nm(n, m)
    rows = _rows(tensor.detach())
    if rows.shape[1] % m:
        return False
    nonzeros = (rows.reshape(rows.shape[0], -1, m) != 0).sum(dim=-1)
    return bool((nonzeros <= n).all())


def nm_prune(
    model: nn.Module,
    n: int = 2,
    m: int = 4,
    *,
    parameters: Iterable[str] | None = None,
    spare_classifier: bool = False,
) -> dict[str, torch.Tensor]:
    """Make every prunable weight ``n:m`` sparse by magnitude, in place; return the masks.

    Weights already pruned count as the smallest of their group, so earlier zeros are reused
    and the result is still N:M. Masks stay installed (``masks.py``). If any chosen layer's
    rows are not a multiple of ``m`` long, ``ValueError`` names it and nothing is changed.
    """
    n, m = _check_nm(n, m)
    params = prunable_parameters(model, parameters, spare_classifier=spare_classifier)
    old = get_masks(model)
    masks = {}
    for name, param in params.items():
        scores = param.detach().abs().float()
        if name in old:
            scores = torch.where(old[name], scores, -1.0)
        masks[name] = _keep_n_of_m(scores, n, m, name)
    return _install(model, masks)


def semi_structured_unavailable(device: str | torch.device) -> str | None:
    """Why 2:4 sparse kernels cannot run on ``device``, or ``None`` if they can."""
    device = torch.device(device)
    if device.type != "cuda":
        return (
            f"2:4 semi-structured kernels need an NVIDIA GPU (CUDA); the model is on {device.type}"
        )
    if not torch.cuda.is_available():
        return "2:4 semi-structured kernels need CUDA, which is not available here"
    major, minor = torch.cuda.get_device_capability(device)
    if major < 8:
        return (
            f"2:4 semi-structured kernels need compute capability >= 8.0 (Ampere or newer); "
            f"this GPU has {major}.{minor}"
        )
    return None


def to_semi_structured(model: nn.Module) -> tuple[nn.Module, dict[str, str]]:
    """A copy of ``model`` whose 2:4-sparse ``Linear`` weights use the sparse tensor cores.

    Each ``Linear`` weight that :func:`is_nm_sparse` (2:4) is converted with
    ``torch.sparse.to_sparse_semi_structured`` (masks are baked first, and the weight no longer
    trains). Returns the copy and, per ``Linear``, ``"converted"`` or why it was left dense
    (not 2:4, or a shape or dtype the kernels refuse: each dtype has minimum sizes, e.g. 32 x
    64 for float16 with the CUTLASS backend). Raises ``RuntimeError`` with the reason on a
    device without such kernels (see :func:`semi_structured_unavailable`); ``model`` is never
    changed.
    """
    param = next(model.parameters(), None)
    if param is None:
        raise ValueError("model has no parameters to convert")
    reason = semi_structured_unavailable(param.device)
    if reason is not None:
        raise RuntimeError(reason)
    converted = bake_masks(copy.deepcopy(model))
    report = {}
    for name, module in converted.named_modules():
        if not isinstance(module, nn.Linear):
            continue
        if not is_nm_sparse(module.weight, 2, 4):
            report[name] = "left dense: the weight is not 2:4 sparse"
            continue
        try:
            sparse = torch.sparse.to_sparse_semi_structured(module.weight.detach())
        except RuntimeError as err:  # shape or dtype the kernels do not support
            report[name] = f"left dense: {err}"
            continue
        module.weight = nn.Parameter(sparse, requires_grad=False)
        report[name] = "converted"
    return converted, report


__all__ = [
    "is_nm_sparse",
    "nm_mask",
    "nm_prune",
    "semi_structured_unavailable",
    "to_semi_structured",
]
