"""Old home of model surgery, kept so that existing imports keep working.

It now lives in :mod:`pruning_lessons.structured.surgery`.
"""

from .structured.surgery import (
    fix_sizes,
    load_pruned_structure,
    pruned_structure,
    remove_layers,
    remove_units,
    replace,
    save_pruned_structure,
)

__all__ = [
    "fix_sizes",
    "load_pruned_structure",
    "pruned_structure",
    "remove_layers",
    "remove_units",
    "replace",
    "save_pruned_structure",
]
