"""pruning_lessons: the library behind the pruning course.

Every pruner is a choice of *criterion* (what is unimportant), *granularity* (what is removed),
*scope* (who competes) and *schedule* (when). The code follows one pipeline:
score -> select -> apply, then fine-tune and measure.
"""

from .data import Splits, load_digits
from .dependency import UnitGroup, unit_groups
from .device import available_devices, pick_device, seed_everything
from .glossary import glossary, glossary_table
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
from .structured import (
    UNIT_IMPORTANCE,
    prune_units,
    random_importance,
    select_units,
    unit_scores,
)
from .surgery import load_pruned_structure, remove_layers, save_pruned_structure
from .train import History, evaluate, fine_tune, fit, make_optimizer
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
    "cnn",
    "count_macs",
    "count_nonzero",
    "count_parameters",
    "evaluate",
    "file_size",
    "fine_tune",
    "fit",
    "flash_cards",
    "get_masks",
    "global_magnitude_masks",
    "glossary",
    "glossary_table",
    "History",
    "install_mask",
    "Latency",
    "load_bank",
    "load_digits",
    "load_pruned_state_dict",
    "load_pruned_structure",
    "load_sparse",
    "magnitude_mask",
    "magnitude_prune",
    "make_optimizer",
    "measure_latency",
    "mlp",
    "mock_interview",
    "pick_device",
    "print_quiz",
    "prunable_parameters",
    "prune_units",
    "quiz_widget",
    "random_importance",
    "random_prune",
    "remove_layers",
    "ResidualBlock",
    "save_pruned_structure",
    "save_sparse",
    "seed_everything",
    "select_units",
    "sparsity",
    "sparsity_report",
    "SparsityReport",
    "Splits",
    "tiny_resnet",
    "TinyResNet",
    "unit_groups",
    "UNIT_IMPORTANCE",
    "unit_scores",
    "UnitGroup",
]
