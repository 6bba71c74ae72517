"""Structured pruning: remove whole neurons, filters and layers to get a smaller, faster model.

Unstructured pruning leaves zeros in dense tensors: the file is as large and the forward pass
as slow as before. Here the pipeline is *score -> select -> rebuild*:

1. :func:`unit_scores` gives every unit (a neuron of a ``Linear``, a filter of a ``Conv``) one
   importance score, computed on the original model before anything is removed (one-shot).
2. :func:`select_units` picks the lowest-scored units per layer or globally.
3. :func:`prune_units` builds a new model whose layers are physically narrower, slicing every
   coupled tensor found by :func:`~pruning_lessons.structured.coupling.unit_groups`.

Which tensors share units is found by :mod:`.coupling` on the graph :mod:`.tracing` records;
slicing them, removing whole layers and saving the result live in :mod:`.surgery`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

from ..core.checks import check_fraction
from ..core.device import at_model_threads, independent_generator
from .coupling import unit_groups
from .groups import UnitGroup
from .importance import fpgm_importance
from .surgery import remove_units
from .tracing import default_example_input
from .verify import checked

UnitImportance = Callable[[UnitGroup], torch.Tensor]
SCOPES = ("layer", "global")


def _incoming(group: UnitGroup) -> list[torch.Tensor]:
    """Each producer's weight as ``(units, fan_in)``: row ``u`` holds unit ``u``'s inputs
    (all the rows of a head, of a group of a grouped convolution, of an LSTM unit's gates)."""
    return [m.rows().flatten(1) for m in group.producers]


def l1_importance(group: UnitGroup) -> torch.Tensor:
    """``score_u = sum_p sum_j |W^p_uj|``: the L1 norm of unit ``u``'s incoming weights.

    Li et al. 2017, "Pruning Filters for Efficient ConvNets". In a residual group the norms of
    all producers ``p`` feeding the addition are summed.
    """
    return sum(w.abs().sum(dim=1) for w in _incoming(group))


def l2_importance(group: UnitGroup) -> torch.Tensor:
    """``score_u = sum_p sqrt(sum_j (W^p_uj)^2)``: the L2 norm of unit ``u``'s incoming weights."""
    return sum(w.norm(dim=1) for w in _incoming(group))


def bn_importance(group: UnitGroup) -> torch.Tensor:
    """``score_u = sum_b |gamma^b_u|``: the BatchNorm scale of channel ``u``.

    Liu et al. 2017, "Learning Efficient Convolutional Networks through Network Slimming".
    Summed over the BatchNorms of a residual group.
    """
    scales = [m.rows().abs().sum(1) for m in group.norms if m.param == "weight"]
    if not scales:
        raise ValueError(
            f"importance 'bn' needs a BatchNorm with a scale after layer {group.name!r}, "
            "which has none; use importance='l1' for it"
        )
    return sum(scales)


def random_importance(seed: int) -> UnitImportance:
    """Uniform random scores, reproducible from ``seed``: the baseline to beat."""
    generator = independent_generator(seed, "random units")

    def score(group: UnitGroup) -> torch.Tensor:
        return torch.rand(group.size, generator=generator)

    return score


#: Criteria by name. A criterion takes a :class:`UnitGroup` and returns one score per unit
#: (lowest = removed first). Register new ones here, or pass a callable as ``importance``.
UNIT_IMPORTANCE: dict[str, UnitImportance] = {
    "l1": l1_importance,
    "l2": l2_importance,
    "bn": bn_importance,
    "fpgm": fpgm_importance,
}

#: Criteria that need data, so a name alone cannot build them: what to pass instead.
NEEDS_DATA = {"taylor": "importance=taylor_unit_importance(model, data)"}


def _resolve_importance(importance: str | UnitImportance, seed: int | None) -> UnitImportance:
    if callable(importance):
        return importance
    names = (*UNIT_IMPORTANCE, "random")
    if importance == "random":
        if seed is None:
            raise ValueError("importance='random' needs seed=<int> so that it is reproducible")
        return random_importance(seed)
    if importance in NEEDS_DATA:
        raise ValueError(
            f"importance {importance!r} needs data to compute gradients: pass "
            f"{NEEDS_DATA[importance]}"
        )
    if importance not in UNIT_IMPORTANCE:
        raise ValueError(f"importance must be one of {names} or a callable, got {importance!r}")
    return UNIT_IMPORTANCE[importance]


def _check_fraction(value: object, what: str) -> float:
    return check_fraction(value, what, below_one=True)


def _amounts(amount: object, groups: list[UnitGroup], scope: str) -> dict[str, float]:
    """The fraction to remove from each prunable group, by group name (validated)."""
    prunable = [g for g in groups if g.pinned is None]
    if not groups:
        raise ValueError(
            "model has no prunable layer: it has no Linear or Conv layer, and structured "
            "pruning removes the units (neurons, channels) of those"
        )
    if not prunable:
        reasons = "; ".join(f"{g.name!r}: {g.pinned}" for g in groups[:4])
        raise ValueError(f"model has no prunable layer ({reasons})")
    if not isinstance(amount, dict):
        fraction = _check_fraction(amount, "amount")
        return {g.name: fraction for g in prunable}
    if scope == "global":
        raise ValueError("scope='global' needs one float amount, not a dict of layer amounts")
    owners: dict[str, list[UnitGroup]] = {}
    for g in groups:  # a layer may produce several groups (a stacked LSTM: one per layer)
        for layer in g.layers:
            owners.setdefault(layer, []).append(g)
    chosen: dict[str, float] = {}
    for layer, value in amount.items():
        if layer not in owners:
            names = [name for g in prunable for name in g.layers]
            raise ValueError(f"amount names layer {layer!r}, which is not one of {names}")
        free = [g for g in owners[layer] if g.pinned is None]
        if not free:
            raise ValueError(f"layer {layer!r} cannot be pruned: {owners[layer][0].pinned}")
        fraction = _check_fraction(value, f"amount for layer {layer!r}")
        for group in free:
            if chosen.get(group.name, fraction) != fraction:
                raise ValueError(
                    f"layers {group.layers} are added together and share their units; give "
                    f"them one amount, got {chosen[group.name]} and {fraction}"
                )
            chosen[group.name] = fraction
    return chosen


def _scores_of(group: UnitGroup, score: UnitImportance) -> torch.Tensor:
    scores = score(group)
    if not isinstance(scores, torch.Tensor) or tuple(scores.shape) != (group.size,):
        raise ValueError(
            f"importance must return one score per unit of layer {group.name!r} (a tensor of "
            f"shape ({group.size},)), got {getattr(scores, 'shape', type(scores).__name__)}"
        )
    if not torch.isfinite(scores).all():
        raise ValueError(f"importance returned NaN or infinite scores for layer {group.name!r}")
    return scores.detach() if scores.is_floating_point() else scores.float()


def _count(fraction: float, size: int, name: str) -> int:
    count = round(fraction * size)
    if count >= size:
        raise ValueError(
            f"amount {fraction} would remove all {size} units of layer {name!r} "
            f"(round({fraction} x {size}) = {count}); use a smaller amount"
        )
    return count


def _lowest(scores: torch.Tensor, count: int) -> list[int]:
    """Indices of the ``count`` lowest scores; among equal scores the lower index goes first."""
    order = torch.sort(scores, stable=True).indices
    return sorted(order[:count].tolist())


def _select_global(
    groups: list[UnitGroup], scores: dict[str, torch.Tensor], fraction: float
) -> dict[str, list[int]]:
    """Rank all units of all groups together on per-layer normalised scores.

    Each group's scores are divided by their mean absolute value (so every layer averages 1,
    whatever its fan-in), concatenated in forward order and sorted stably. Units are removed
    from the lowest up, skipping a unit that would be the last one of its layer.
    """
    normalised = []
    for g in groups:
        scale = scores[g.name].abs().mean()
        normalised.append(scores[g.name] / scale if scale > 0 else scores[g.name])
    owner = [i for i, g in enumerate(groups) for _ in range(g.size)]
    index = [u for g in groups for u in range(g.size)]
    total = len(owner)
    count = round(fraction * total)
    if count > total - len(groups):
        raise ValueError(
            f"amount {fraction} would remove {count} of {total} units, which would empty a "
            f"layer ({len(groups)} layers keep at least one unit each); use a smaller amount"
        )
    left = [g.size for g in groups]
    removed: list[list[int]] = [[] for _ in groups]
    for position in torch.sort(torch.cat(normalised), stable=True).indices.tolist():
        if count == 0:
            break
        i = owner[position]
        if left[i] > 1:
            removed[i].append(index[position])
            left[i] -= 1
            count -= 1
    return {g.name: sorted(r) for g, r in zip(groups, removed, strict=True)}


def _check_round_to(round_to: object) -> int:
    if isinstance(round_to, bool) or not isinstance(round_to, int) or round_to < 1:
        raise ValueError(f"round_to must be a positive int, got {round_to!r}")
    return round_to


def _rounded(removed: list[int], scores: torch.Tensor, size: int, round_to: int) -> list[int]:
    """Remove fewer units so that the kept count is a multiple of ``round_to`` (or all)."""
    kept = size - len(removed)
    target = min(size, -(-kept // round_to) * round_to)
    if target == kept:
        return removed
    order = torch.sort(scores, stable=True).indices.tolist()[: size - target]
    return sorted(order)


def _plan(
    model: nn.Module,
    amount: float | dict[str, float],
    importance: str | UnitImportance,
    scope: str,
    example_input: torch.Tensor | None,
    seed: int | None,
    options: dict | None = None,
) -> tuple[list[UnitGroup], dict[str, list[int]]]:
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
    options = options or {}
    round_to = _check_round_to(options.get("round_to", 1))
    score = _resolve_importance(importance, seed)
    groups = unit_groups(
        model,
        example_input,
        strict=options.get("strict", False),
        ignored_layers=options.get("ignored_layers", ()),
        through_norms=options.get("through_norms", False),
        grouped=options.get("grouped", "whole"),
    )
    amounts = _amounts(amount, groups, scope)
    chosen = [g for g in groups if g.name in amounts]
    scores = {g.name: _scores_of(g, score) for g in chosen}  # all before anything is removed
    if scope == "global":
        removed = _select_global(chosen, scores, amounts[chosen[0].name])
    else:
        counts = {g.name: _count(amounts[g.name], g.size, g.name) for g in chosen}
        removed = {g.name: _lowest(scores[g.name], counts[g.name]) for g in chosen}
    if round_to > 1:
        removed = {
            g.name: _rounded(removed[g.name], scores[g.name], g.size, round_to) for g in chosen
        }
    return groups, removed


@at_model_threads
def unit_scores(
    model: nn.Module,
    importance: str | UnitImportance = "l1",
    *,
    example_input: torch.Tensor | None = None,
    seed: int | None = None,
) -> dict[str, torch.Tensor]:
    """One score per unit for every prunable group, by group name (see :data:`UNIT_IMPORTANCE`)."""
    score = _resolve_importance(importance, seed)
    groups = unit_groups(model, example_input)
    return {g.name: _scores_of(g, score) for g in groups if g.pinned is None}


@at_model_threads
def select_units(
    model: nn.Module,
    amount: float | dict[str, float],
    *,
    importance: str | UnitImportance = "l1",
    scope: str = "layer",
    example_input: torch.Tensor | None = None,
    seed: int | None = None,
    ignored_layers: Iterable[str | nn.Module] = (),
    round_to: int = 1,
    strict: bool = False,
    through_norms: bool = False,
    grouped: str = "whole",
) -> dict[str, list[int]]:
    """The units :func:`prune_units` would remove, as sorted indices by group name."""
    options = {
        "ignored_layers": ignored_layers,
        "round_to": round_to,
        "strict": strict,
        "through_norms": through_norms,
        "grouped": grouped,
    }
    return _plan(model, amount, importance, scope, example_input, seed, options)[1]


@at_model_threads
def prune_units(
    model: nn.Module,
    amount: float | dict[str, float],
    *,
    importance: str | UnitImportance = "l1",
    scope: str = "layer",
    example_input: torch.Tensor | None = None,
    seed: int | None = None,
    ignored_layers: Iterable[str | nn.Module] = (),
    round_to: int = 1,
    strict: bool = False,
    through_norms: bool = False,
    grouped: str = "whole",
    verify: bool = True,
) -> nn.Module:
    """A new, physically smaller copy of ``model`` with the least important units removed.

    ``amount``: a fraction in [0, 1) removed from every prunable group (``round(amount * n)``
    units of a group with ``n``), or a dict ``{layer_name: fraction}`` (for every group the
    layer produces, e.g. each layer of a stacked LSTM; unlisted layers are kept whole;
    ``amount = k / n`` removes exactly ``k``). A unit is a neuron, a channel, an attention
    head (a key/value head with its query heads under GQA), a group of a grouped convolution
    (with ``grouped="within"``: one channel position of every group) or an LSTM/GRU hidden
    unit; see :mod:`.coupling`. The model's outputs are never pruned.
    ``importance``: ``"l1"``, ``"l2"`` (norm of each unit's incoming weights), ``"bn"``
    (|BatchNorm scale|), ``"fpgm"`` (distance to the layer's other filters), ``"random"``
    (needs ``seed``), any name in :data:`UNIT_IMPORTANCE`, or a callable ``group -> scores``
    such as ``taylor_unit_importance(model, data)``.
    Lowest scores go first, ties to the lower index; all scores are computed before anything
    is removed. ``scope="global"`` removes ``round(amount * total)`` units ranked across all
    groups on scores divided by each group's mean |score|, and never empties a group.

    ``example_input``: one input the model accepts (an image batch, token ids), run once in
    eval mode to record the graph; only the course's models may leave it out. Options:
    ``ignored_layers`` (modules or names whose units are kept), ``round_to`` (keep a multiple
    of this many units per group, removing fewer), ``strict`` (refuse, with a ``TypeError``
    naming the module, what the default keeps whole with a :class:`StructureWarning`),
    ``through_norms`` (also prune what a LayerNorm/RMSNorm normalises over: a transformer's
    width; the result is then not exactly the zeroed original, see :func:`.unit_groups`),
    ``grouped`` (``"whole"``: a grouped convolution loses whole groups; ``"within"``: the
    same channel positions of every group, as Torch-Pruning does).

    ``verify`` (default ``True``): before returning, the pruned copy runs on
    ``example_input`` and must compute what ``model`` computes with the removed units'
    entries zeroed, within 100 machine epsilons of the output's scale (8 for 16-bit floats);
    a group whose removal alone fails that is kept whole (named in a
    :class:`StructureWarning`), and if the rest still fails a ``ValueError`` names the
    layers, so no wrong model is returned (see :mod:`.verify`). With ``through_norms=True``,
    inexact by design, it checks only that the outputs keep their shapes and stay finite.
    ``verify=False`` skips it (two forward passes saved). ``model`` itself is never changed.
    """
    options = {
        "ignored_layers": ignored_layers,
        "round_to": round_to,
        "strict": strict,
        "through_norms": through_norms,
        "grouped": grouped,
    }
    if not isinstance(verify, bool):
        raise TypeError(f"verify must be True or False, got {verify!r}")
    groups, removed = _plan(model, amount, importance, scope, example_input, seed, options)
    pruned = remove_units(model, groups, removed)
    if not verify:
        return pruned
    example = default_example_input(model) if example_input is None else example_input
    return checked(model, groups, removed, pruned, example, exact=not through_norms)
