"""Weight (unstructured) pruning: zero individual weights, keep the layer shapes.

Magnitude pruning (Han et al. 2015, "Learning both Weights and Connections for Efficient
Neural Networks"): a weight's importance is ``|w|``; the smallest go. Per layer ("layer" scope)
every layer loses the same fraction; globally ("global" scope) all layers compete, so layers
with many small weights lose more. Random pruning with a seed is the baseline every criterion
must beat.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
from torch import nn

from ..core.device import check_seed, independent_generator
from .masks import aliases, get_masks, install_model_mask
from .select import prune_count, smallest_k_masks, threshold_mask

PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
SCOPES = ("layer", "global")


# --- on tensors -----------------------------------------------------------------------------


def _check_threshold(value: object, name: str = "threshold") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number >= 0, got {type(value).__name__}")
    if not value >= 0:  # also rejects NaN
        raise ValueError(f"{name} must be >= 0 (weights with |w| <= the cut go), got {value}")
    return float(value)


def magnitude_mask(
    tensor: torch.Tensor, amount: float | None = None, *, threshold: float | None = None
) -> torch.Tensor:
    """Keep-mask (``True`` = keep) of the same shape as ``tensor``, by weight magnitude.

    Give exactly one of:

    * ``amount``: prune exactly ``round(amount * n)`` entries with the smallest ``|w|``;
      among equal magnitudes the lower flat index goes first. Magnitudes are compared as
      float32 (``select.py``), so float64 weights that round to the same float32 count as
      equal.
    * ``threshold``: prune every entry with ``|w| <= threshold``.
    """
    if (amount is None) == (threshold is None):
        raise ValueError("give exactly one of amount (a fraction) or threshold (a magnitude)")
    if threshold is not None:
        return threshold_mask(tensor.detach().abs(), _check_threshold(threshold))
    k = prune_count(amount, tensor.numel())
    return smallest_k_masks([tensor], k, score=torch.abs)[0]


def global_magnitude_masks(tensors: Sequence[torch.Tensor], amount: float) -> list[torch.Tensor]:
    """One keep-mask per tensor; exactly ``round(amount * total)`` entries pruned across all.

    All tensors compete: the smallest magnitudes anywhere go first, ties to the lower index in
    concatenation order. Streaming selection (see ``select.py``): no copy of all the scores.
    """
    tensors = list(tensors)
    if not tensors:
        raise ValueError("tensors is empty: nothing to prune")
    k = prune_count(amount, sum(t.numel() for t in tensors))
    return smallest_k_masks(tensors, k, score=torch.abs)


# --- on models ------------------------------------------------------------------------------


def prunable_parameters(
    model: nn.Module,
    parameters: Iterable[str] | None = None,
    *,
    spare_classifier: bool = False,
) -> dict[str, nn.Parameter]:
    """The parameters weight pruning touches, by name.

    Default: the ``weight`` of every Linear and Conv1d/2d/3d layer (never biases or
    normalisation layers). ``parameters`` picks names explicitly; ``spare_classifier=True``
    leaves the last Linear layer (the classifier) dense.
    """
    all_params = dict(model.named_parameters())
    names_of = aliases(model)
    first_name = {alias: first for first, group in names_of.items() for alias in group}
    for module_name, module in model.named_modules():
        if any(name.endswith("_orig") for name, _ in module.named_parameters(recurse=False)):
            raise ValueError(
                f"layer {module_name!r} is reparametrised by torch.nn.utils.prune; "
                "call torch.nn.utils.prune.remove on it first"
            )
    if parameters is not None:
        if isinstance(parameters, str):
            raise TypeError(f"parameters must be a list of names, got the string {parameters!r}")
        given = list(parameters)
        unknown = [n for n in given if n not in first_name]
        if unknown:
            raise ValueError(
                f"parameters {unknown} are not in the model; choose from {sorted(first_name)}"
            )
        # any name of a tied weight selects it; it is listed once, under its first name
        names = list(dict.fromkeys(first_name[n] for n in given))
    else:
        # a weight shared by several layers (tied weights, e.g. a language model's output
        # layer and its embedding) is listed once, under the first name ``named_parameters``
        # gives it, so it is counted and pruned once; every layer holding it gets the mask
        prunable = [
            first_name[name]
            for module_name, module in model.named_modules(remove_duplicate=False)
            if isinstance(module, PRUNABLE)
            and (name := f"{module_name}.weight" if module_name else "weight") in first_name
        ]
        names = list(dict.fromkeys(prunable))
        if spare_classifier:
            linears = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
            classifier = f"{linears[-1]}.weight" if linears and linears[-1] else "weight"
            if linears and first_name.get(classifier) in names:
                names.remove(first_name[classifier])
    if not names:
        raise ValueError(
            f"{type(model).__name__} has nothing to prune: no Linear or Conv weights "
            "(or every one was excluded)"
        )
    for name in names:
        if all_params[name].is_meta:
            raise ValueError(
                f"parameter {name!r} is on the meta device: it has a shape but no values to "
                "rank. Materialise the model first (model.to_empty(device=...) and load its "
                "weights), then prune"
            )
        if not torch.isfinite(all_params[name]).all():
            raise ValueError(f"parameter {name!r} holds NaN or inf values; cannot rank them")
    return {name: all_params[name] for name in names}


def _check_scope(scope: object) -> None:
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")


def _check_target(name: str, k: int, already: int, n: int) -> None:
    if k < already:
        raise ValueError(
            f"{name} is already {already / n:.1%} pruned; the target {k / n:.1%} is lower. "
            "amount is a target, and pruned weights never come back"
        )


def _select_by_amount(
    tensors: dict[str, torch.Tensor],
    old: dict[str, torch.Tensor],
    amount: float,
    scope: str,
    score: Callable[[torch.Tensor], torch.Tensor],
) -> dict[str, torch.Tensor]:
    """Keep-masks pruning ``amount`` of ``score(tensor)``, on top of the ``old`` masks."""
    names = list(tensors)
    keeps = [old.get(n, torch.ones_like(tensors[n], dtype=torch.bool)) for n in names]
    pruned = [keep.numel() - int(keep.count_nonzero()) for keep in keeps]
    if scope == "global":
        total = sum(t.numel() for t in tensors.values())
        k = prune_count(amount, total)
        _check_target("the model", k, sum(pruned), total)
        masks = smallest_k_masks(list(tensors.values()), k, score=score, keep=keeps)
        return dict(zip(names, masks, strict=True))
    counts = [prune_count(amount, tensors[n].numel()) for n in names]
    for n, k, already in zip(names, counts, pruned, strict=True):
        _check_target(n, k, already, tensors[n].numel())
    return {
        n: smallest_k_masks([tensors[n]], k, score=score, keep=[keep])[0]
        for n, k, keep in zip(names, counts, keeps, strict=True)
    }


def magnitude_prune(
    model: nn.Module,
    amount: float | None = None,
    *,
    threshold: float | None = None,
    std_factor: float | None = None,
    scope: str = "layer",
    parameters: Iterable[str] | None = None,
    spare_classifier: bool = False,
) -> dict[str, torch.Tensor]:
    """Prune ``model``'s weights by magnitude, in place; return the keep-masks by name.

    Exactly one of:

    * ``amount`` (float in [0, 1]): a target; ``round(amount * n)`` weights end up zero, per
      layer (``scope="layer"``) or over all chosen weights together (``scope="global"``).
      Pruning again to a higher amount adds zeros; to a lower one is an error.
    * ``threshold``: every weight with ``|w| <= threshold`` goes (scope plays no role).
    * ``std_factor`` q: Han et al.'s rule, per layer ``|w| <= q * std(layer weights)`` goes.

    Masks stay installed (see ``masks.py``): pruned weights remain exactly zero through
    training with any ``torch.optim`` optimizer. On any error the model is left unchanged.
    """
    given = [x is not None for x in (amount, threshold, std_factor)]
    if sum(given) != 1:
        raise ValueError("give exactly one of amount, threshold or std_factor")
    _check_scope(scope)
    params = prunable_parameters(model, parameters, spare_classifier=spare_classifier)
    old = _old_masks(model)
    if amount is not None:
        masks = _select_by_amount(params, old, amount, scope, torch.abs)
    else:
        if std_factor is not None:
            q = _check_threshold(std_factor, "std_factor")
            limits = {n: q * float(p.detach().float().std()) for n, p in params.items()}
        else:
            limits = dict.fromkeys(params, _check_threshold(threshold))
        masks = {
            n: threshold_mask(p.detach().abs(), limits[n], old.get(n)) for n, p in params.items()
        }
    return _install(model, masks)


def _same(t: torch.Tensor) -> torch.Tensor:
    return t


def _install(model: nn.Module, masks: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Install every mask (only after all were computed, so errors change nothing).

    A tied weight gets its mask on every layer that holds it.
    """
    return {name: install_model_mask(model, name, keep) for name, keep in masks.items()}


def _old_masks(model: nn.Module) -> dict[str, torch.Tensor]:
    """Installed masks keyed by each parameter's first name (whichever alias holds them)."""
    first_name = {alias: first for first, group in aliases(model).items() for alias in group}
    return {first_name.get(name, name): keep for name, keep in get_masks(model).items()}


def random_prune(
    model: nn.Module,
    amount: float,
    *,
    seed: int = 0,
    scope: str = "layer",
    parameters: Iterable[str] | None = None,
    spare_classifier: bool = False,
) -> dict[str, torch.Tensor]:
    """Prune a random ``amount`` of the weights (the baseline): same counts as magnitude pruning.

    The same ``seed`` prunes the same weights. Returns the keep-masks by name.
    """
    seed = check_seed(seed)
    _check_scope(scope)
    params = prunable_parameters(model, parameters, spare_classifier=spare_classifier)
    generator = independent_generator(seed, "random weights")
    noise = {n: torch.rand(p.shape, generator=generator).to(p.device) for n, p in params.items()}
    return _install(model, _select_by_amount(noise, _old_masks(model), amount, scope, _same))


def sparsity(model: nn.Module, parameters: Iterable[str] | None = None) -> float:
    """Fraction of zeros over the prunable weights (or the named ``parameters``)."""
    params = prunable_parameters(model, parameters)
    zeros = sum(p.numel() - int(p.count_nonzero()) for p in params.values())
    return zeros / sum(p.numel() for p in params.values())


__all__ = [
    "global_magnitude_masks",
    "magnitude_mask",
    "magnitude_prune",
    "prunable_parameters",
    "random_prune",
    "sparsity",
]
