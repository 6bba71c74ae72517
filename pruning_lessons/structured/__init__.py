"""Structured pruning: remove whole neurons, channels, heads and layers for a smaller model.

The pipeline, one module per step:

* :mod:`.tracing`: record the model's forward pass on ``example_input`` (a dispatch
  recorder, with ``torch.export`` as the fallback);
* :mod:`.coupling`: find the units that must go together (residuals, concatenations,
  grouped convolutions, attention heads, LSTM gates) and what must stay whole: the label
  algebra in :mod:`.labels`, the walk in :mod:`.walker`, one rule per operation in
  :mod:`.rules`, the result types in :mod:`.groups`;
* :mod:`.selection`: score every unit once, pick the lowest per group or globally
  (:mod:`.verify`: the pruned model must compute the zeroed original);
* :mod:`.experts`: whole experts of mixture-of-experts layers, with their router rows;
* :mod:`.surgery`: slice the tensors into a new model (:mod:`.sizes`: the layers' and the
  config's size attributes follow); :mod:`.blocks`: remove layers and blocks;
  :mod:`.saving`: save and load the new shape.
"""

from .tracing import default_example_input, trace  # noqa: I001 -- tracing first (no cycles)
from .groups import Member, StructureWarning, UnitGroup
from .coupling import unit_groups
from .sizes import fix_sizes
from .surgery import remove_units
from .blocks import remove_blocks, remove_layers
from .saving import load_pruned_structure, pruned_structure, save_pruned_structure
from .picture import plot_unit_groups
from .experts import expert_scores, prune_experts, select_experts, silenced_experts
from .selection import (
    NEEDS_DATA,
    SCOPES,
    UNIT_IMPORTANCE,
    bn_importance,
    l1_importance,
    l2_importance,
    prune_units,
    random_importance,
    select_units,
    unit_scores,
)

__all__ = [
    "bn_importance",
    "default_example_input",
    "expert_scores",
    "fix_sizes",
    "l1_importance",
    "l2_importance",
    "load_pruned_structure",
    "Member",
    "NEEDS_DATA",
    "plot_unit_groups",
    "prune_experts",
    "prune_units",
    "pruned_structure",
    "random_importance",
    "remove_blocks",
    "remove_layers",
    "remove_units",
    "save_pruned_structure",
    "SCOPES",
    "select_experts",
    "select_units",
    "silenced_experts",
    "StructureWarning",
    "trace",
    "UNIT_IMPORTANCE",
    "unit_groups",
    "unit_scores",
    "UnitGroup",
]
