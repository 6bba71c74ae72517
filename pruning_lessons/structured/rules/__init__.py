"""The coupling rules, one per operation, grouped by family; found by the operation's name.

Each family module holds a table ``RULES`` from ATen operation names (``"linear"``,
``"scaled_dot_product_attention"``, ``"relu_"``...) to a rule ``rule(walker, node)`` that
reads the labels of the node's inputs from the :class:`~..walker.Walker`, ties parameter axes
to them, and returns the labels of the node's output axes (a list of them per output for an
operation that returns several tensors). :data:`RULES` is the union of the tables; to teach
structured pruning a new operation, add its rule to the table of its family.

* :mod:`.elementwise`: activations, arithmetic, comparisons and tensors made from nothing;
* :mod:`.views`: ``view`` / ``reshape`` / ``permute`` / ``transpose`` / ``expand`` / padding;
* :mod:`.joins`: ``cat``, ``stack``, ``split``, ``chunk``, ``unbind``, ``slice``, ``select``;
* :mod:`.reductions`: sums, averages, softmax, pooling;
* :mod:`.linear`: ``linear``, ``matmul`` and friends, ``embedding``;
* :mod:`.convolutions`, :mod:`.norms`, :mod:`.attention`, :mod:`.recurrent`.
"""

from __future__ import annotations

from collections.abc import Callable

from . import (
    attention,
    convolutions,
    elementwise,
    joins,
    linear,
    norms,
    recurrent,
    reductions,
    views,
)

Rule = Callable[..., object]

FAMILIES = (
    elementwise,
    views,
    joins,
    reductions,
    linear,
    convolutions,
    norms,
    attention,
    recurrent,
)


def _assemble() -> dict[str, Rule]:
    table: dict[str, Rule] = {}
    for family in FAMILIES:
        twice = set(table) & set(family.RULES)
        if twice:
            raise RuntimeError(f"operations with two rules: {sorted(twice)}")
        table.update(family.RULES)
    return table


#: Operation name -> rule, over all families.
RULES: dict[str, Rule] = _assemble()


def rule_for(name: str) -> Rule | None:
    """The rule for the ATen operation ``name`` (``_softmax``, ``relu_``), or ``None``."""
    return RULES.get(name) or RULES.get(name.strip("_"))
