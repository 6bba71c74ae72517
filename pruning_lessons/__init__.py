"""pruning_lessons: the library behind the pruning course.

Every pruner is a choice of *criterion* (what is unimportant), *granularity* (what is removed),
*scope* (who competes) and *schedule* (when). The code follows one pipeline:
score -> select -> apply, then fine-tune and measure.
"""

from .data import Splits, load_digits, saved_result
from .device import available_devices, pick_device, seed_everything
from .glossary import glossary, glossary_table
from .importance import (
    WEIGHT_CRITERIA,
    MovementTracker,
    ScoreOptions,
    lamp_scores,
    magnitude_scores,
    movement_scores,
    prune_weights,
    random_scores,
    snip_scores,
    taylor_scores,
    weight_scores,
)
from .masks import (
    bake_masks,
    get_masks,
    install_mask,
    load_pruned_state_dict,
    load_sparse,
    save_sparse,
)
from .metrics import (
    Latency,
    SparsityReport,
    count_macs,
    count_nonzero,
    count_parameters,
    file_size,
    measure_latency,
    sparsity_report,
)
from .models import ResidualBlock, TinyResNet, cnn, mlp, tiny_resnet
from .quiz import flash_cards, load_bank, mock_interview, print_quiz, quiz_widget
from .redundancy import merge_redundant_neurons
from .semistructured import (
    is_nm_sparse,
    nm_mask,
    nm_prune,
    semi_structured_unavailable,
    to_semi_structured,
)
from .structured import (
    UNIT_IMPORTANCE,
    StructureWarning,
    UnitGroup,
    load_pruned_structure,
    plot_unit_groups,
    prune_units,
    random_importance,
    remove_layers,
    save_pruned_structure,
    select_units,
    unit_groups,
    unit_scores,
)
from .train import History, evaluate, fine_tune, fit, make_optimizer
from .unit_importance import bn_l1_penalty, fpgm_importance, taylor_unit_importance
from .unstructured import (
    global_magnitude_masks,
    magnitude_mask,
    magnitude_prune,
    prunable_parameters,
    random_prune,
    sparsity,
)

__version__ = "0.1.0"

__all__ = [
    "available_devices",
    "bake_masks",
    "bn_l1_penalty",
    "cnn",
    "count_macs",
    "count_nonzero",
    "count_parameters",
    "evaluate",
    "file_size",
    "fine_tune",
    "fit",
    "flash_cards",
    "fpgm_importance",
    "get_masks",
    "global_magnitude_masks",
    "glossary",
    "glossary_table",
    "History",
    "install_mask",
    "is_nm_sparse",
    "lamp_scores",
    "Latency",
    "load_bank",
    "load_digits",
    "load_pruned_state_dict",
    "load_pruned_structure",
    "load_sparse",
    "magnitude_mask",
    "magnitude_prune",
    "magnitude_scores",
    "make_optimizer",
    "measure_latency",
    "merge_redundant_neurons",
    "mlp",
    "mock_interview",
    "movement_scores",
    "MovementTracker",
    "nm_mask",
    "nm_prune",
    "pick_device",
    "plot_unit_groups",
    "print_quiz",
    "prunable_parameters",
    "prune_units",
    "prune_weights",
    "quiz_widget",
    "random_importance",
    "random_prune",
    "random_scores",
    "remove_layers",
    "ResidualBlock",
    "save_pruned_structure",
    "save_sparse",
    "saved_result",
    "ScoreOptions",
    "seed_everything",
    "select_units",
    "semi_structured_unavailable",
    "snip_scores",
    "sparsity",
    "sparsity_report",
    "SparsityReport",
    "StructureWarning",
    "Splits",
    "taylor_scores",
    "taylor_unit_importance",
    "tiny_resnet",
    "TinyResNet",
    "to_semi_structured",
    "unit_groups",
    "UNIT_IMPORTANCE",
    "unit_scores",
    "UnitGroup",
    "WEIGHT_CRITERIA",
    "weight_scores",
]
