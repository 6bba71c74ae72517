"""pruning_lessons: the library behind the pruning course.

Every pruner is a choice of *criterion* (what is unimportant), *granularity* (what is removed),
*scope* (who competes) and *schedule* (when). The code follows one pipeline:
score -> select -> apply, then fine-tune and measure.
"""

from .data import Splits, load_digits
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
from .train import History, evaluate, fine_tune, fit, make_optimizer

__version__ = "0.1.0"

__all__ = [
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
