"""Every public name of ``pruning_lessons``, imported when the package first needs one.

``import pruning_lessons`` itself imports no torch (so that the command line answers
``--help`` at once); the first use of a name, ``pl.fit`` say, imports this module.
"""

from . import llm
from .data import Splits, load_digits, saved_result
from .dependency import UnitGroup, unit_groups
from .device import (
    SMALL_MODEL_PARAMETERS,
    available_devices,
    chinese_fonts,
    model_threads,
    pick_device,
    seed_everything,
    threads_for,
    using_threads,
)
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
    install_model_mask,
    load_pruned_state_dict,
    load_sparse,
    pruned_state_dict,
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
    prune_units,
    random_importance,
    select_units,
    unit_scores,
)
from .surgery import load_pruned_structure, remove_layers, save_pruned_structure
from .train import History, evaluate, fine_tune, fit, make_optimizer, recalibrate_bn
from .unit_importance import bn_l1_penalty, fpgm_importance, taylor_unit_importance
from .unstructured import (
    global_magnitude_masks,
    magnitude_mask,
    magnitude_prune,
    prunable_parameters,
    random_prune,
    sparsity,
)

__all__ = [
    "available_devices",
    "bake_masks",
    "bn_l1_penalty",
    "chinese_fonts",
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
    "install_model_mask",
    "is_nm_sparse",
    "lamp_scores",
    "llm",
    "Latency",
    "load_bank",
    "load_digits",
    "load_pruned_state_dict",
    "pruned_state_dict",
    "load_pruned_structure",
    "load_sparse",
    "magnitude_mask",
    "magnitude_prune",
    "magnitude_scores",
    "make_optimizer",
    "measure_latency",
    "merge_redundant_neurons",
    "mlp",
    "model_threads",
    "mock_interview",
    "movement_scores",
    "MovementTracker",
    "nm_mask",
    "nm_prune",
    "pick_device",
    "print_quiz",
    "prunable_parameters",
    "prune_units",
    "prune_weights",
    "quiz_widget",
    "random_importance",
    "random_prune",
    "random_scores",
    "recalibrate_bn",
    "remove_layers",
    "ResidualBlock",
    "save_pruned_structure",
    "save_sparse",
    "saved_result",
    "ScoreOptions",
    "seed_everything",
    "select_units",
    "SMALL_MODEL_PARAMETERS",
    "semi_structured_unavailable",
    "snip_scores",
    "sparsity",
    "sparsity_report",
    "SparsityReport",
    "Splits",
    "taylor_scores",
    "taylor_unit_importance",
    "threads_for",
    "tiny_resnet",
    "TinyResNet",
    "to_semi_structured",
    "unit_groups",
    "UNIT_IMPORTANCE",
    "unit_scores",
    "using_threads",
    "UnitGroup",
    "WEIGHT_CRITERIA",
    "weight_scores",
]
