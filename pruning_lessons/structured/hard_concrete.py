"""Learned L0 gates: a hard-concrete gate on every unit, trained with the network.

Louizos, Welling & Kingma 2018 ("Learning Sparse Neural Networks through L0 Regularization")
multiply each unit's output by a gate ``z`` in [0, 1] drawn from a *hard-concrete*
distribution with a learned location ``log_alpha``. With ``u ~ Uniform(0, 1)``:

    s = sigmoid((log u - log(1 - u) + log_alpha) / beta)      (a binary concrete sample)
    z = min(1, max(0, s * (zeta - gamma) + gamma))             (stretched, then clamped)

with temperature ``beta = 2/3`` and stretch ``(gamma, zeta) = (-0.1, 1.1)``. The stretch puts
mass exactly at 0 and at 1, so a gate can *close*, and the sample is differentiable in
``log_alpha`` (the reparametrisation trick). The number of open gates, the L0 norm, is not
differentiable, but its expectation is, in closed form:

    P(z != 0) = sigmoid(log_alpha - beta * log(-gamma / zeta))

At evaluation the gate is deterministic: ``z = min(1, max(0, sigmoid(log_alpha) * (zeta -
gamma) + gamma))``, exactly 0 once ``sigmoid(log_alpha) <= -gamma / (zeta - gamma)``.

Xia et al. (CoFi, 2022) and Sheared-LLaMA (Xia et al. 2024) use these gates on heads, MLP
widths, hidden dimensions and layers of a transformer, steered towards a *target shape*
(:mod:`.l0_training`). Here a gate sits on each unit of the library's unit groups
(:func:`~.coupling.unit_groups`: the hidden neurons of an MLP, the channels of a CNN), so that
:func:`remove_closed_units` can cut the closed ones with the library's surgery.

    gates = HardConcreteGates(model, example_input=x)   # the model now runs gated
    train_l0(model, gates, data, target=0.25)           # .l0_training
    small = remove_closed_units(model, gates)           # computes what the gated model does
"""

from __future__ import annotations

import copy
import math
import warnings
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from ..core.device import check_seed, evaluating
from .coupling import unit_groups
from .groups import Member, StructureWarning, UnitGroup
from .surgery import remove_units
from .tracing import default_example_input
from .verify import TOLERANCE

BETA, GAMMA, ZETA = 2 / 3, -0.1, 1.1
#: Uniform samples stay this far from 0 and 1, so that the logit stays finite.
EPSILON = 1e-6
#: model -> its attached gates (a model takes one set at a time).
_ATTACHED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _check_stretch(beta: float, gamma: float, zeta: float) -> None:
    for name, value in (("beta", beta), ("gamma", gamma), ("zeta", zeta)):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    if not beta > 0:
        raise ValueError(f"beta (the temperature) must be > 0, got {beta}")
    if not (gamma < 0 and zeta > 1):
        raise ValueError(f"the stretch needs gamma < 0 and zeta > 1, got {gamma}, {zeta}")


def hard_concrete_sample(
    log_alpha: torch.Tensor,
    uniform: torch.Tensor,
    beta: float = BETA,
    gamma: float = GAMMA,
    zeta: float = ZETA,
) -> torch.Tensor:
    """``z = clamp(sigmoid((logit(u) + log_alpha) / beta) * (zeta - gamma) + gamma, 0, 1)``.

    ``uniform``: numbers in (0, 1), one per gate (clamped to ``[EPSILON, 1 - EPSILON]``);
    differentiable in ``log_alpha``.
    """
    _check_stretch(beta, gamma, zeta)
    u = uniform.clamp(EPSILON, 1 - EPSILON)
    s = torch.sigmoid((torch.log(u) - torch.log1p(-u) + log_alpha) / beta)
    return (s * (zeta - gamma) + gamma).clamp(0.0, 1.0)


def probability_open(
    log_alpha: torch.Tensor, beta: float = BETA, gamma: float = GAMMA, zeta: float = ZETA
) -> torch.Tensor:
    """``P(z != 0) = sigmoid(log_alpha - beta * log(-gamma / zeta))``: a gate's expected L0.

    The sum over gates is the expected number of open units, the differentiable stand-in for
    the L0 norm (Louizos et al. 2018, eq. 12).
    """
    _check_stretch(beta, gamma, zeta)
    return torch.sigmoid(log_alpha - beta * math.log(-gamma / zeta))


def probability_closed(
    log_alpha: torch.Tensor, beta: float = BETA, gamma: float = GAMMA, zeta: float = ZETA
) -> torch.Tensor:
    """``P(z = 0) = 1 - P(z != 0)``."""
    return 1 - probability_open(log_alpha, beta, gamma, zeta)


def probability_one(
    log_alpha: torch.Tensor, beta: float = BETA, gamma: float = GAMMA, zeta: float = ZETA
) -> torch.Tensor:
    """``P(z = 1) = sigmoid(log_alpha - beta * log((1 - gamma) / (zeta - 1)))``."""
    _check_stretch(beta, gamma, zeta)
    return torch.sigmoid(log_alpha - beta * math.log((1 - gamma) / (zeta - 1)))


def deterministic_gate(
    log_alpha: torch.Tensor, gamma: float = GAMMA, zeta: float = ZETA
) -> torch.Tensor:
    """The gate at evaluation: ``clamp(sigmoid(log_alpha) * (zeta - gamma) + gamma, 0, 1)``."""
    _check_stretch(BETA, gamma, zeta)
    return (torch.sigmoid(log_alpha) * (zeta - gamma) + gamma).clamp(0.0, 1.0)


def _output_axis(module: nn.Module) -> int:
    """Where a module's output keeps its units: features last for ``Linear``, else dim 1."""
    return -1 if isinstance(module, nn.Linear) else 1


def _sites(group: UnitGroup) -> list[Member] | str:
    """The members whose module output the gate multiplies, or why the group cannot be gated.

    A gate sits after the group's norms if it has any (a conv's BatchNorm), else after its
    producers; each must output exactly the group's units, in order, and hold its own
    ``weight`` (and ``bias``), so that the gate can later be folded into them.
    """
    if group.pinned is not None:
        return f"it is pinned ({group.pinned})"
    if group.grouped:
        return "its units are groups of a grouped convolution"
    norms = {m.name: m.module for m in group.members if m.role == "norm"}
    bare = [name for name, norm in norms.items() if getattr(norm, "weight", None) is None]
    if bare:
        return f"{bare[0]} has no scale to fold a gate into (affine=False)"
    sites = [m for m in group.norms if m.param == "weight"] or group.producers
    if not sites:
        return "it has no layer whose output could be gated"
    for member in sites:
        module = member.module
        if not isinstance(
            module, nn.Linear | nn.modules.conv._ConvNd | nn.modules.batchnorm._NormBase
        ):
            return f"{member.name} is a {type(module).__name__}, not a Linear, Conv or BatchNorm"
        if getattr(module, "weight", None) is None or member.dim != 0:
            return f"{member.name} has no weight whose rows are the units"
        if not torch.equal(member.units, torch.arange(group.size)):
            return f"{member.name}'s outputs are not one entry per unit"
    return sites


class HardConcreteGates(nn.Module):
    """One hard-concrete gate per unit of ``model``'s prunable unit groups, hooked in.

    After construction every gated layer's output is multiplied by its gates: sampled when
    the layer is in training mode, :func:`deterministic_gate` in eval mode. ``log_alpha[name]``
    holds one location per unit of group ``name``, starting at ``init_log_alpha`` (default
    3.0: ``P(open) = 0.99``, the model starts almost as it was). ``layers``: names of the
    groups to gate (default: every group that can be; one that cannot is named in a
    :class:`StructureWarning` and left alone). ``seed`` seeds the gates' own random numbers.
    :meth:`set_shape` caps the units each group keeps open at evaluation (a target shape).
    A gate sits after each layer that produces the group's units (after its BatchNorm, if it
    has one): a residual stream is gated in every block that writes it, SwiGLU's ``gate * up``
    in both factors. Groups whose units span several entries (attention heads) are not gated.
    A ``copy.deepcopy`` of the gated model still calls these gates; the model that
    :func:`remove_closed_units` returns has none.
    The gates are not part of ``model``'s parameters: train them with it
    (:func:`~.l0_training.train_l0`). ``detach()`` removes the hooks.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        example_input: torch.Tensor | None = None,
        layers: Iterable[str] | None = None,
        init_log_alpha: float = 3.0,
        seed: int = 0,
        beta: float = BETA,
        gamma: float = GAMMA,
        zeta: float = ZETA,
    ) -> None:
        _check_stretch(beta, gamma, zeta)
        if isinstance(init_log_alpha, bool) or not isinstance(init_log_alpha, int | float):
            raise ValueError(f"init_log_alpha must be a number, got {init_log_alpha!r}")
        if not math.isfinite(init_log_alpha):
            raise ValueError(f"init_log_alpha must be finite, got {init_log_alpha}")
        seed = check_seed(seed)
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        if model in _ATTACHED:
            raise ValueError("model already has hard-concrete gates: detach() them first")
        groups = self._chosen(unit_groups(model, example_input=example_input), layers)
        super().__init__()
        self.beta, self.gamma, self.zeta = float(beta), float(gamma), float(zeta)
        self.groups = {g.name: g for g, _ in groups}
        self.sites = {g.name: sites for g, sites in groups}
        self.locations = nn.ParameterList(  # a list: group names may hold dots
            [nn.Parameter(torch.full((g.size,), float(init_log_alpha))) for g, _ in groups]
        )
        self.example_input = example_input
        self.shape: dict[str, int | None] = {}
        self.generator = torch.Generator().manual_seed(seed)
        self._model = [model]  # a list, so the model is not registered as a submodule
        self._handles: list = []
        self._attach()

    @staticmethod
    def _chosen(groups: list[UnitGroup], layers: Iterable[str] | None) -> list:
        by_name = {g.name: g for g in groups}
        if layers is None:
            chosen = []
            for group in groups:
                sites = _sites(group)
                if isinstance(sites, str):
                    if group.pinned is None:
                        warnings.warn(
                            f"group {group.name!r} is not gated: {sites}",
                            StructureWarning,
                            stacklevel=3,
                        )
                    continue
                chosen.append((group, sites))
        else:
            names = [layers] if isinstance(layers, str) else list(layers)
            chosen = []
            for name in names:
                if name not in by_name:
                    raise ValueError(
                        f"layers: no unit group named {name!r}; groups: {list(by_name)}"
                    )
                sites = _sites(by_name[name])
                if isinstance(sites, str):
                    raise ValueError(f"layers: group {name!r} cannot be gated: {sites}")
                chosen.append((by_name[name], sites))
        if not chosen:
            raise ValueError("the model has no unit group that can be gated")
        return chosen

    @property
    def model(self) -> nn.Module:
        return self._model[0]

    @property
    def log_alpha(self) -> dict[str, nn.Parameter]:
        """Group name -> its gates' ``log_alpha``, one per unit (trainable)."""
        return dict(zip(self.groups, self.locations, strict=True))

    def _attach(self) -> None:
        for name, sites in self.sites.items():
            for member in sites:
                hook = self._hook(name, _output_axis(member.module))
                self._handles.append(member.module.register_forward_hook(hook))
        _ATTACHED[self.model] = self

    def _hook(self, name: str, axis: int):
        def gate(module: nn.Module, args, output: torch.Tensor) -> torch.Tensor:
            z = self.sample(name) if module.training else self.values(name)
            shape = [1] * output.dim()
            shape[axis] = -1
            return output * z.to(output.dtype).view(shape)

        return gate

    def detach(self) -> None:
        """Remove the hooks: the model computes what it computes without gates."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        _ATTACHED.pop(self.model, None)

    @contextmanager
    def suspended(self) -> Iterator[None]:
        """The model runs ungated inside the ``with`` block."""
        self.detach()
        try:
            yield
        finally:
            self._attach()

    def sample(self, name: str) -> torch.Tensor:
        """A hard-concrete sample for group ``name``'s gates (one per unit, for one batch)."""
        log_alpha = self.log_alpha[name]
        u = torch.rand(log_alpha.shape, generator=self.generator).to(log_alpha.device)
        return hard_concrete_sample(log_alpha, u, self.beta, self.gamma, self.zeta)

    def values(self, name: str) -> torch.Tensor:
        """Group ``name``'s deterministic gates (the eval-mode values).

        :func:`deterministic_gate`, and where :attr:`shape` gives the group a size ``k``, only
        the ``k`` gates with the largest ``log_alpha`` stay open (ties: the lower index), as
        Sheared-LLaMA's evaluation keeps exactly the target shape.
        """
        log_alpha = self.log_alpha[name]
        z = deterministic_gate(log_alpha, self.gamma, self.zeta)
        k = self.shape.get(name)
        if k is None or k >= len(z):
            return z
        order = torch.sort(-log_alpha.detach(), stable=True).indices
        return z.index_fill(0, order[k:], 0.0)

    def set_shape(self, sizes: dict[str, int | None]) -> None:
        """At most ``sizes[name]`` units of group ``name`` stay open at evaluation."""
        for name, k in sizes.items():
            if name not in self.groups:
                raise ValueError(
                    f"sizes: no gated group named {name!r}; gated: {list(self.groups)}"
                )
            size = self.groups[name].size
            if k is not None and (
                isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= size
            ):
                raise ValueError(
                    f"sizes[{name!r}] must be an int in [1, {size}] or None, got {k!r}"
                )
        self.shape.update(sizes)

    def expected_kept(self) -> dict[str, torch.Tensor]:
        """Per group, the expected fraction of open gates (differentiable)."""
        return {
            name: probability_open(la, self.beta, self.gamma, self.zeta).mean()
            for name, la in self.log_alpha.items()
        }

    @torch.no_grad()
    def closed(self) -> dict[str, list[int]]:
        """Per group, the units whose deterministic gate is exactly 0."""
        return {n: (self.values(n) == 0).nonzero().flatten().tolist() for n in self.log_alpha}

    @torch.no_grad()
    def open_fraction(self) -> dict[str, float]:
        """Per group, the fraction of gates :func:`deterministic_gate` leaves open (no cap)."""
        return {
            n: float((deterministic_gate(la, self.gamma, self.zeta) > 0).float().mean())
            for n, la in self.log_alpha.items()
        }

    def kept_fraction(self) -> dict[str, float]:
        """Per group, the fraction of units whose deterministic gate is open."""
        return {n: 1 - len(c) / self.groups[n].size for n, c in self.closed().items()}


@torch.no_grad()
def _folded(model: nn.Module, gates: HardConcreteGates) -> nn.Module:
    """A copy of ``model`` without hooks, each gate's eval value multiplied into its layer.

    A gate multiplies the layer's output ``W x + b`` (or BatchNorm's ``w * x_hat + b``) unit
    by unit, which is the same as multiplying row ``u`` of ``W`` and entry ``u`` of ``b``.
    """
    with gates.suspended():
        folded = copy.deepcopy(model)
    modules = dict(folded.named_modules())
    for name, sites in gates.sites.items():
        z = gates.values(name)
        for member in sites:
            layer = modules[member.name]
            for param in ("weight", "bias"):
                tensor = getattr(layer, param, None)
                if tensor is not None:
                    shape = [-1] + [1] * (tensor.dim() - 1)
                    tensor.mul_(z.to(tensor).view(shape))
    return folded


@torch.no_grad()
def remove_closed_units(
    model: nn.Module, gates: HardConcreteGates, *, example_input: torch.Tensor | None = None
) -> nn.Module:
    """A smaller copy of ``model`` without the units whose gate is closed, gates folded in.

    Every open gate's deterministic value is multiplied into the rows of its layer (see
    :func:`_folded`), the closed units are cut by :func:`~.surgery.remove_units`, and the new
    model, which has no gates, must compute what the gated model computes in eval mode on
    ``example_input`` (default: the one the gates were built with) within
    ``TOLERANCE`` machine epsilons of the output's scale, or ``ValueError``. Neither ``model``
    nor ``gates`` change.
    """
    if not isinstance(gates, HardConcreteGates) or gates.model is not model:
        raise ValueError("gates must be the HardConcreteGates attached to this model")
    if not gates._handles:
        raise ValueError("gates are detached from the model: nothing says which units are closed")
    example = example_input if example_input is not None else gates.example_input
    if example is None:
        example = default_example_input(model)
    folded = _folded(model, gates)
    groups = list(gates.groups.values())
    pruned = remove_units(folded, groups, gates.closed())
    with evaluating(model), evaluating(pruned):
        expected, got = model(example), pruned(example)
    scale = expected.abs().max().clamp_min(1.0)
    gap = (expected - got).abs().max()
    if not gap <= TOLERANCE * torch.finfo(expected.dtype).eps * scale:
        raise ValueError(
            f"removing the closed units changed the output by {gap:.3g}: no model returned"
        )
    return pruned
