"""The self-check of :func:`~.selection.prune_units`: never hand back a model that computes
something else.

Removing a unit is exact when the pruned model computes what the original computes with that
unit's tensor entries zeroed (its incoming weights, its bias, its norm's scale and shift, the
next layers' weights that read it). So before returning, the pruned copy runs on
``example_input`` once, and so does the original with the removed units' entries zeroed
(``torch.func.functional_call``: the original's own tensors are not touched); every output
tensor must agree within ``TOLERANCE x eps(dtype)`` of the output's scale. A group whose
removal alone breaks the check (a size held in the model's code, an operation the rules
misread) is kept whole, named in a :class:`~.groups.StructureWarning`; if the rest still
fails, ``ValueError`` names the layers. Under ``through_norms=True`` (inexact by design) only
the output shapes and finiteness are checked.
"""

from __future__ import annotations

import contextlib
import traceback
import warnings

import torch
from torch import nn
from torch.func import functional_call

from ..core.device import evaluating
from .groups import StructureWarning, UnitGroup
from .surgery import kept_entries, remove_units
from .tracing import tensors_in

#: Allowed difference, in units of the output dtype's machine epsilon times the output's scale
#: (float32: 1.2e-5, as ``tests/test_zoo.py`` judges; float64: 2.2e-14).
TOLERANCE = 100
#: For 16-bit floats, whose epsilon is large (bfloat16: 7.8e-3), a tighter multiple.
TOLERANCE_16BIT = 8


def zeroed_tensors(
    groups: list[UnitGroup], removed: dict[str, list[int]]
) -> dict[str, torch.Tensor]:
    """``name -> tensor`` for every tensor that loses entries, with those entries zeroed
    (running statistics are left: a zero scale and shift silence the channel).

    One ``torch.where`` per tensor, over the kept-entry masks :func:`~.surgery.kept_entries`
    gives the surgery (an axis mask per axis, broadcast against each other).
    """
    modules = {m.name: m.module for g in groups for m in g.members}
    axes: dict[tuple[str, str], list[tuple[int, torch.Tensor]]] = {}
    for (name, param, dim), kept in kept_entries(groups, removed).items():
        if not param.startswith("running_"):
            axes.setdefault((name, param), []).append((dim, kept))
    zeroed: dict[str, torch.Tensor] = {}
    for (name, param), cuts in axes.items():
        tensor = getattr(modules[name], param).detach()
        keep = torch.ones((1,) * tensor.dim(), dtype=torch.bool, device=tensor.device)
        for dim, kept in cuts:
            shape = [1] * tensor.dim()
            shape[dim] = -1
            keep = keep & kept.to(tensor.device).view(shape)
        zeroed[f"{name}.{param}".lstrip(".")] = torch.where(keep, tensor, 0).to(tensor.dtype)
    return zeroed


@contextlib.contextmanager
def _same_random_numbers(model: nn.Module):
    """Both forward passes draw the same random numbers (a model that samples noise)."""
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(0)
        yield


def _outputs(model: nn.Module, example: torch.Tensor, tensors: dict | None = None) -> list:
    with evaluating(model), _same_random_numbers(model):
        if tensors is None:
            return tensors_in(model(example))
        return tensors_in(functional_call(model, tensors, (example,), strict=False))


def _where_it_failed(model: nn.Module, err: BaseException) -> str:
    """`` in module 'path'``: the innermost module of ``model`` running when ``err`` rose."""
    names = {id(m): n for n, m in model.named_modules()}
    found = ""
    for frame, _ in traceback.walk_tb(err.__traceback__):
        owner = frame.f_locals.get("self")
        if isinstance(owner, nn.Module) and id(owner) in names:
            found = names[id(owner)] or "the model itself"
    return f" in module {found!r}" if found else ""


def _tolerance(dtype: torch.dtype) -> float:
    eps = torch.finfo(dtype).eps
    return (TOLERANCE_16BIT if torch.finfo(dtype).bits == 16 else TOLERANCE) * eps


def _difference(expected: list, got: list, exact: bool) -> str | None:
    """Why ``got`` is not ``expected`` (``None`` if it is); ``exact=False``: shapes only."""
    if len(expected) != len(got):
        return f"it returns {len(got)} tensors instead of {len(expected)}"
    for k, (want, have) in enumerate(zip(expected, got, strict=True)):
        if want.shape != have.shape:
            return f"output {k} has shape {tuple(have.shape)}, not {tuple(want.shape)}"
        if not want.is_floating_point():
            if exact and not torch.equal(want, have):
                return f"output {k} differs"
            continue
        finite = torch.isfinite(want)
        if not torch.equal(finite, torch.isfinite(have)):
            return f"output {k} is not finite where the original is"
        if not exact:
            continue
        infinite = ~finite & ~want.isnan()  # NaN where the original has NaN is agreement
        if not torch.equal(want[infinite], have[infinite]) or not torch.equal(
            want.isnan(), have.isnan()
        ):
            return f"output {k} differs where the original is not finite"
        want, have = want[finite].double(), have[finite].double()
        if want.numel() == 0:
            continue
        error = (want - have).abs().max().item()
        scale = want.abs().max().item()
        allowed = _tolerance(expected[k].dtype) * (scale if scale > 0 else 1.0)
        if error > allowed:
            return (
                f"output {k} differs from the original with those units zeroed by "
                f"{error:.3g} (scale {scale:.3g}, allowed {allowed:.3g})"
            )
    return None


def _problem(
    model: nn.Module,
    pruned: nn.Module,
    groups: list[UnitGroup],
    removed: dict[str, list[int]],
    example: torch.Tensor,
    exact: bool,
) -> str | None:
    """What is wrong with ``pruned`` (``None``: nothing)."""
    expected = _outputs(model, example, zeroed_tensors(groups, removed) if exact else None)
    try:
        got = _outputs(pruned, example)
    except Exception as err:  # noqa: BLE001 -- any failure of the pruned model is reported
        first = str(err).splitlines()[0][:200] if str(err) else ""
        return (
            f"the pruned model fails ({type(err).__name__}: {first}){_where_it_failed(pruned, err)}"
        )
    return _difference(expected, got, exact)


def checked(
    model: nn.Module,
    groups: list[UnitGroup],
    removed: dict[str, list[int]],
    pruned: nn.Module,
    example: torch.Tensor,
    exact: bool = True,
) -> nn.Module:
    """``pruned`` if it passes the self-check; otherwise the model pruned without the groups
    that break it (named in a :class:`StructureWarning`), or ``ValueError``."""
    problem = _problem(model, pruned, groups, removed, example, exact)
    if problem is None:
        return pruned
    bad: dict[str, str] = {}
    for name, units in removed.items():
        if not units:
            continue
        alone = {name: units}
        why = _problem(model, remove_units(model, groups, alone), groups, alone, example, exact)
        if why is not None:
            bad[name] = why
    rest = {n: u for n, u in removed.items() if n not in bad and u}
    layers = {g.name: g.layers for g in groups}
    if bad and rest:
        pruned = remove_units(model, groups, rest)
        if _problem(model, pruned, groups, rest, example, exact) is None:
            listed = "; ".join(f"{n!r} (layers {layers[n]}): {why}" for n, why in bad.items())
            warnings.warn(
                f"structured pruning's self-check kept these groups whole, because removing "
                f"their units alone gives a wrong model: {listed}",
                StructureWarning,
                stacklevel=4,
            )
            return pruned
    culprits = bad or {n: problem for n in removed if removed[n]}
    listed = "; ".join(f"{n!r} (layers {layers[n]}): {why}" for n, why in culprits.items())
    raise ValueError(
        f"structured pruning would return a wrong model, so it returns none: {listed}. "
        "Keep those layers whole with ignored_layers=[...], or pass verify=False to get the "
        "unchecked model"
    )
