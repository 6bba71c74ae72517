"""pruning_lessons: the library behind the pruning course.

Every pruner is a choice of *criterion* (what is unimportant), *granularity* (what is removed),
*scope* (who competes) and *schedule* (when). The code follows one pipeline:
score -> select -> apply, then fine-tune and measure.
"""

from .data import Splits, load_digits
from .device import available_devices, pick_device, seed_everything
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
    "sparsity",
    "random_prune",
    "prunable_parameters",
    "magnitude_prune",
    "magnitude_mask",
    "global_magnitude_masks",
    "save_sparse",
    "load_sparse",
    "load_pruned_state_dict",
    "install_mask",
    "get_masks",
    "bake_masks",
    "History",
    "Latency",
    "ResidualBlock",
    "SparsityReport",
    "Splits",
    "TinyResNet",
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
    "make_optimizer",
    "measure_latency",
    "mlp",
    "pick_device",
    "seed_everything",
    "sparsity_report",
    "tiny_resnet",
]
