"""The label algebra of the coupling analysis: labels, index spaces and unit maps.

Every output axis of a layer opens an *index space* of ``units``; every tensor axis the graph
computes carries a *label*: the spaces it indexes, segment by segment, or ``None``. A label is
proportional: an axis of length ``L`` labelled by a space of ``U`` units gives each unit
``L / U`` consecutive entries. Spaces that meet are merged (union-find), and a unit becomes
the coarsest common block: ``units = gcd(units_a, units_b)``.
"""

from __future__ import annotations

import functools
import math

import torch

# A label is a tuple of segments; a segment is ("space", id, length), ("param", (name, dim),
# length) for an axis of a parameter not yet tied to a space, or ("free", None, length).
Seg = tuple
Label = tuple | None

#: How a grouped convolution loses channels (see :func:`~.coupling.unit_groups`).
GROUPED = ("whole", "within")
INTERLEAVED_MEETS = "channels narrowed within every group meet channels cut another way"


class Refused(TypeError):
    """``strict=True``: an operation structured pruning cannot follow, refused by name."""


class RuleMismatch(Exception):
    """A rule returned labels that do not fit the operation's outputs."""


def label_length(label: Label) -> int:
    """Entries of the axis a label describes (0 for ``None``)."""
    return sum(seg[2] for seg in label) if label else 0


def bounds_of(label: Label) -> list[int]:
    """Where each segment of ``label`` starts, and the axis's end."""
    bounds = [0]
    for seg in label or ():
        bounds.append(bounds[-1] + seg[2])
    return bounds


def only_params(label: Label) -> bool:
    """A label made only of parameter axes not yet tied to any space."""
    return label is not None and all(seg[0] == "param" for seg in label)


def has_space(label: Label) -> bool:
    return any(seg[0] == "space" for seg in label or ())


def has_param(label: Label) -> bool:
    """Whether the axis is a parameter's own (read directly, not yet a layer's units)."""
    return any(seg[0] == "param" for seg in label or ())


class Spaces:
    """Union-find over index spaces; merging keeps the coarsest common unit (gcd)."""

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.units: list[int] = []
        self.pinned: dict[int, str] = {}
        #: root -> G for a space whose unit ``q`` is entry ``q`` of each of ``G`` equal
        #: blocks (a grouped convolution's channels narrowed within every group)
        self.interleaved: dict[int, int] = {}

    def new(self, units: int) -> int:
        self.parent.append(len(self.parent))
        self.units.append(units)
        return len(self.parent) - 1

    def find(self, space: int) -> int:
        while self.parent[space] != space:
            self.parent[space] = self.parent[self.parent[space]]
            space = self.parent[space]
        return space

    def coarsen(self, space: int, blocks: int) -> None:
        """At most ``blocks`` units, each a whole block: units = gcd(units, blocks)."""
        root = self.find(space)
        if root in self.interleaved and math.gcd(self.units[root], blocks) != self.units[root]:
            self.pin(root, INTERLEAVED_MEETS)
            return
        self.units[root] = math.gcd(self.units[root], blocks)

    def interleave(self, space: int, groups: int) -> None:
        """Unit ``q`` becomes entry ``q`` of every one of ``groups`` blocks (see ``can_...``)."""
        root = self.find(space)
        self.units[root] //= groups
        self.interleaved[root] = groups

    def can_interleave(self, space: int, groups: int, length: int) -> bool:
        """Only a space whose every entry is still its own unit can be re-cut that way."""
        root = self.find(space)
        units = self.units[root]
        return root not in self.interleaved and units == length and units % groups == 0

    def union(self, a: int, b: int) -> int:
        a, b = self.find(a), self.find(b)
        if a == b:
            return a
        low, high = min(a, b), max(a, b)
        self.parent[high] = low
        g_low, g_high = self.interleaved.pop(low, None), self.interleaved.pop(high, None)
        u_low, u_high = self.units[low], self.units[high]
        if g_low is None and g_high is None:
            self.units[low] = math.gcd(u_low, u_high)
        else:  # interleaved meets singletons of its length, or the same interleaving
            groups, units = (g_low, u_low) if g_low else (g_high, u_high)
            other_groups, other_units = (g_high, u_high) if g_low else (g_low, u_low)
            self.interleaved[low], self.units[low] = groups, units
            if other_groups:
                fits = other_groups == groups and other_units == units
            else:
                fits = other_units == units * groups
            if not fits:
                self.pin(low, INTERLEAVED_MEETS)
        reason = self.pinned.pop(high, None)
        if reason and low not in self.pinned:
            self.pinned[low] = reason
        return low

    def pin(self, space: int, reason: str) -> None:
        self.pinned.setdefault(self.find(space), reason)


@functools.cache
def spread(length: int, units: int) -> torch.Tensor:
    """``[e * units // length for e in range(length)]``: entry ``e``'s unit (read-only)."""
    return torch.tensor([e * units // length for e in range(length)], dtype=torch.long)


@functools.cache
def interleave(length: int, units: int, blocks: int) -> torch.Tensor:
    """Entry ``e``'s unit when unit ``q`` is entry ``q`` of each of ``blocks`` equal blocks
    (``length`` is ``blocks x units x per``, ``per`` entries per channel, e.g. after a
    flatten), or ``length == units`` (one entry per unit: a grouped weight's input axis)."""
    if length == units:
        return torch.arange(units)
    per = length // (blocks * units)
    return torch.tensor([(e // per) % units for e in range(length)], dtype=torch.long)
