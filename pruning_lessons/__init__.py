"""pruning_lessons: the library behind the pruning course.

Every pruner is a choice of *criterion* (what is unimportant), *granularity* (what is removed),
*scope* (who competes) and *schedule* (when). The code follows one pipeline:
score -> select -> apply, then fine-tune and measure.

The public names (``pl.fit``, ``pl.magnitude_prune``, ...) live in ``_api.py`` and are
imported on first use, so that ``python -m pruning_lessons --help`` does not wait for torch.
"""

import importlib
import logging
from importlib import metadata

try:  # the version pyproject.toml gives, as installed
    __version__ = metadata.version("pruning-lessons")
except metadata.PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "unknown"


class _NoCudaRuntimeNotice(logging.Filter):
    """Drop the one notice "No CUDA runtime is found, using CUDA_HOME=..." and nothing else.

    PyTorch's CUDA build logs it from ``torch.utils.cpp_extension`` (which
    ``torch.utils.benchmark`` imports) on every machine without a GPU driver; it asks nothing
    of the user, yet shows as an alarming pink box in every notebook's first cell.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("No CUDA runtime is found")


logging.getLogger("torch.utils.cpp_extension").addFilter(_NoCudaRuntimeNotice())


def _load_api():
    api = importlib.import_module(f"{__name__}._api")
    globals().update({name: getattr(api, name) for name in api.__all__})
    return api


def __getattr__(name: str):
    if name.startswith("_") and name != "__all__":  # submodules and dunders: the usual way
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    api = _load_api()
    if name == "__all__" or name in api.__all__:
        return getattr(api, name)
    raise AttributeError(f"module 'pruning_lessons' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_load_api().__all__))
