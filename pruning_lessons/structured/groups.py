"""What the coupling analysis finds: groups of units that go together, and their members."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.RMSNorm)


class StructureWarning(UserWarning):
    """Structured pruning met an operation it cannot follow and kept some units whole."""


@dataclass(eq=False)
class Member:
    """One tensor axis that loses entries when units of its group are removed.

    ``name``: the module's path; ``param``: the parameter or buffer name in it; ``dim``: the
    axis; ``units[e]``: the unit entry ``e`` belongs to (``-1``: another group's entry);
    ``role``: ``"producer"`` (the unit's incoming weights), ``"consumer"`` (a layer reading the
    unit), ``"bias"`` or ``"norm"`` (scales, shifts, running statistics, layer scales).
    """

    name: str
    module: nn.Module
    param: str = "weight"
    dim: int = 0
    units: torch.Tensor | None = None
    role: str = "producer"

    @property
    def tensor(self) -> torch.Tensor:
        return getattr(self.module, self.param)

    @property
    def per_unit(self) -> int:
        """Entries of this axis per unit (``H x W`` for a Linear after a Flatten)."""
        return int((self.units == 0).sum()) if self.units is not None else 1

    def rows(self, tensor: torch.Tensor | None = None, leading: int = 0) -> torch.Tensor:
        """``tensor`` (default: the member's own) regrouped as ``(*leading, units, entries)``."""
        tensor = self.tensor.detach() if tensor is None else tensor
        units = self.units.to(tensor.device)
        order = torch.sort(units, stable=True).indices[int((units < 0).sum()) :]
        moved = tensor.movedim(leading + self.dim, leading).index_select(leading, order)
        size = int(units.max()) + 1
        return moved.reshape(*moved.shape[:leading], size, -1)


@dataclass
class UnitGroup:
    """Units (neurons, channels, heads) that must be removed together: ``size`` of them.

    ``members`` lists every tensor axis that loses entries; ``producers``, ``norms`` and
    ``consumers`` are views of it by role (one entry per layer). ``pinned`` says why the group
    may not be pruned (``None`` if it may). ``grouped``: convolutions with ``groups > 1``
    whose output channels are these units (a unit is one of their groups), with their groups.
    """

    name: str
    size: int
    members: list[Member] = field(default_factory=list)
    pinned: str | None = None
    grouped: dict[str, int] = field(default_factory=dict)

    def _by_role(self, role: str) -> list[Member]:
        seen, chosen = set(), []
        for m in self.members:
            if m.role == role and m.name not in seen and m.tensor.dim() >= 1:
                if role == "norm" and not is_norm(m.module):
                    continue
                seen.add(m.name)
                chosen.append(m)
        return chosen

    @property
    def producers(self) -> list[Member]:
        return [m for m in self._by_role("producer") if m.tensor.dim() >= 2]

    @property
    def norms(self) -> list[Member]:
        return self._by_role("norm")

    @property
    def consumers(self) -> list[Member]:
        return self._by_role("consumer")

    @property
    def layers(self) -> list[str]:
        """Names of the producers, in the order the forward pass runs them."""
        return [m.name for m in self.producers]


def is_norm(module: nn.Module) -> bool:
    return isinstance(module, NORM_TYPES) or type(module).__name__.endswith("Norm")


def owners(model: nn.Module) -> dict[str, tuple[str, str]]:
    """Parameter or buffer name -> (module path, attribute), tied names included."""
    owner = {}
    for module_name, module in model.named_modules(remove_duplicate=False):
        tensors = [
            *module.named_parameters(recurse=False, remove_duplicate=False),
            *module.named_buffers(recurse=False, remove_duplicate=False),
        ]
        for attr, _ in tensors:
            owner.setdefault(f"{module_name}.{attr}".lstrip("."), (module_name, attr))
    return owner
