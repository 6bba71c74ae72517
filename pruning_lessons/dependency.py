"""Old home of the dependency analysis, kept so that existing imports keep working.

The analysis now lives in :mod:`pruning_lessons.structured.coupling` (rules) and
:mod:`pruning_lessons.structured.tracing` (the recorded forward pass).
"""

from .device import evaluating  # noqa: I001 -- first: modules imported below need it
from .structured.coupling import Member, StructureWarning, UnitGroup, unit_groups
from .structured.tracing import default_example_input

__all__ = [
    "default_example_input",
    "evaluating",
    "Member",
    "StructureWarning",
    "UnitGroup",
    "unit_groups",
]
