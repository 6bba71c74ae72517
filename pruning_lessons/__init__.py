"""pruning_lessons: the library behind the pruning course.

Every pruner is a choice of *criterion* (what is unimportant), *granularity* (what is removed),
*scope* (who competes) and *schedule* (when). The code follows one pipeline:
score -> select -> apply, then fine-tune and measure.
"""

from .data import Splits, load_digits
from .dependency import UnitGroup, unit_groups
from .device import available_devices, pick_device, seed_everything
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
from .structured import (
    UNIT_IMPORTANCE,
    prune_units,
    random_importance,
    select_units,
    unit_scores,
)
from .surgery import load_pruned_structure, remove_layers, save_pruned_structure
from .train import History, evaluate, fine_tune, fit, make_optimizer

__version__ = "0.1.0"

__all__ = [
    "History",
    "Latency",
    "ResidualBlock",
    "SparsityReport",
    "Splits",
    "TinyResNet",
    "UNIT_IMPORTANCE",
    "UnitGroup",
    "available_devices",
    "cnn",
    "count_macs",
    "count_nonzero",
    "count_parameters",
    "evaluate",
    "file_size",
    "fine_tune",
    "fit",
    "load_digits",
    "load_pruned_structure",
    "make_optimizer",
    "measure_latency",
    "mlp",
    "pick_device",
    "prune_units",
    "random_importance",
    "remove_layers",
    "save_pruned_structure",
    "seed_everything",
    "select_units",
    "sparsity_report",
    "tiny_resnet",
    "unit_groups",
    "unit_scores",
]
