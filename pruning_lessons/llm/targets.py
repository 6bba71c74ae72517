"""Checking what the LLM pruners are asked for: amounts, N:M patterns, devices, layer shapes.

Every check runs before any change, and each error names the argument and the values allowed.
"""

from __future__ import annotations

import torch
from torch import nn

from .decoder import weight_matrix

MASK_RULES = ("block", "row")
Amount = float | dict[str, float] | None


def check_fraction(value: object, name: str = "amount") -> float:
    """A float in [0, 1): a share of weights to prune (1 would remove everything)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a float in [0, 1), got {type(value).__name__}")
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{name} must be in [0, 1) (fraction of each row pruned), got {value}")
    return float(value)


def check_n_m(n_m: object) -> tuple[int, int]:
    """``(n kept, m per group)`` with ints ``0 < n < m``."""
    if not isinstance(n_m, tuple | list) or len(n_m) != 2:
        raise TypeError(f"n_m must be a pair (n kept, m per group), e.g. (2, 4); got {n_m!r}")
    n, m = n_m
    for label, value in (("n", n), ("m", m)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"n_m's {label} must be an int, got {type(value).__name__}")
    if not 0 < n < m:
        raise ValueError(
            f"n_m must keep 0 < n < m (n of every m weights kept), e.g. (2, 4); got n={n}, m={m}"
        )
    return n, m


def check_target(amount: object, n_m: object) -> tuple[Amount, tuple[int, int] | None]:
    """Exactly one of ``amount`` (a fraction, or a dict of them by name) and ``n_m``."""
    if (amount is None) == (n_m is None):
        raise ValueError("give exactly one of amount (e.g. 0.5) and n_m (e.g. (2, 4))")
    if n_m is not None:
        return None, check_n_m(n_m)
    if isinstance(amount, dict):
        if not amount:
            raise ValueError("amount as a dict must name at least one layer or block")
        for key, value in amount.items():
            if not isinstance(key, str):
                raise TypeError(f"amount's keys must be layer or block names, got {key!r}")
            check_fraction(value, f"amount[{key!r}]")
        return {k: float(v) for k, v in amount.items()}, None
    return check_fraction(amount), None


def check_device(device: object) -> torch.device | None:
    """``None`` (each block where it is) or a device torch knows and this machine has."""
    if device is None:
        return None
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device must be None or a torch device such as 'cpu' or 'cuda', got {device!r}"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device} was asked for, but torch sees no CUDA device here")
    return device


def _matches(name: str, key: str) -> bool:
    return name == key or name.startswith(key + ".")


def layer_amounts(
    layers: dict[str, nn.Module], amount: Amount, n_m: tuple[int, int] | None
) -> dict[str, float | None]:
    """Each layer's amount: one for all, or from a dict (a key names a layer or a prefix of
    names, such as a block ``model.layers.3``; the longest matching key wins; layers no key
    names stay as they are). ``None`` for every layer under N:M."""
    if n_m is not None:
        return dict.fromkeys(layers)
    if not isinstance(amount, dict):
        return dict.fromkeys(layers, amount)
    unknown = [key for key in amount if not any(_matches(name, key) for name in layers)]
    if unknown:
        examples = ", ".join(list(layers)[:3])
        raise ValueError(
            f"amount names {unknown[0]!r}, which is no prunable layer or block of the model "
            f"(layers are named like {examples}, ...)"
        )
    result = {}
    for name in layers:
        keys = [key for key in amount if _matches(name, key)]
        if keys:
            result[name] = amount[max(keys, key=len)]
    return result


def check_shapes(
    layers: dict[str, nn.Module], n_m: tuple[int, int] | None, block_size: int | None = None
) -> None:
    """Under N:M every layer's input width, and SparseGPT's ``block_size``, divide by ``m``."""
    if n_m is None:
        return
    m = n_m[1]
    for name, layer in layers.items():
        width = weight_matrix(layer).shape[1]
        if width % m:
            raise ValueError(
                f"n_m=({n_m[0]}, {m}): {name} has {width} inputs, not a multiple of m={m}"
            )
    if block_size is not None and block_size % m:
        raise ValueError(f"block_size ({block_size}) must be a multiple of m={m}")
