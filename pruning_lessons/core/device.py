"""What this machine offers (device, CPU threads, a font for Chinese) and seeding in one place."""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import random
from collections.abc import Callable, Iterator

import numpy as np
import torch


def pick_device(prefer: str | torch.device | None = None) -> torch.device:
    """Return the device to compute on: ``prefer`` if given, else CUDA, then MPS, then CPU.

    >>> pick_device("cpu")
    device(type='cpu')
    """
    if prefer is not None:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def available_devices() -> list[torch.device]:
    """Every device this machine can compute on (CPU first); used by the tests."""
    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append(torch.device("mps"))
    return devices


def check_seed(seed: object, name: str = "seed") -> int:
    """Return ``seed`` if it is a non-negative int, else raise a clear error."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"{name} must be a non-negative int, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"{name} must be in [0, 2**32), got {seed}")
    return int(seed)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch, and return a CPU generator seeded the same way.

    Every experiment in the course calls this once, so the same seed gives the same result.
    """
    seed = check_seed(seed)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 -- learners' own code may use the global NumPy RNG
    torch.manual_seed(seed)  # also seeds CUDA and MPS
    return torch.Generator().manual_seed(seed)


def independent_generator(seed: int, purpose: str) -> torch.Generator:
    """A CPU generator for ``purpose``, reproducible from ``seed`` but unrelated to the model's.

    ``torch.Generator().manual_seed(s)`` produces exactly the numbers ``torch.manual_seed(s)``
    gave the model's initialisation: random pruning scores drawn that way are the first
    layer's initial weights in disguise, and "random" pruning would prune by initial value.
    Mixing ``purpose`` into the seed (NumPy's ``SeedSequence``) gives an unrelated stream.
    """
    entropy = [check_seed(seed), *purpose.encode()]
    high, low = np.random.SeedSequence(entropy).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed((int(high) << 32) | int(low))


def like_model(x: torch.Tensor, model: torch.nn.Module) -> torch.Tensor:
    """``x`` on the model's device and, if it holds floats, in the model's float dtype.

    So a model converted with ``.double()`` or ``.half()`` takes the float32 digits as they
    come; integer tensors (labels) keep their dtype. The model's first parameter (or buffer)
    decides; a model with neither (a frozen TorchScript module, a pooling layer) gets ``x``.
    """
    param = next(itertools.chain(model.parameters(), model.buffers()), None)
    if param is None:
        return x
    if x.is_floating_point() and param.is_floating_point():
        return x.to(device=param.device, dtype=param.dtype)
    return x.to(param.device)


# Below this many parameters a model's matrix products are too small to share among threads:
# each operation then costs more in waking threads than it saves, and when another program
# holds a core, every operation waits for it, so training can take many times longer than on
# one thread. benchmarks/bench_notebooks.py times the lessons with and without such a program.
SMALL_MODEL_PARAMETERS = 5_000_000


def threads_for(model: torch.nn.Module) -> int:
    """The CPU thread count that suits ``model``: 1 for a small model, else the current one.

    A model under :data:`SMALL_MODEL_PARAMETERS` parameters runs fastest, and at a steady
    speed whatever else the machine is doing, on one thread. A larger model keeps the
    caller's setting (``torch.get_num_threads()``).
    """
    if sum(p.numel() for p in model.parameters()) < SMALL_MODEL_PARAMETERS:
        return 1
    return torch.get_num_threads()


@contextlib.contextmanager
def using_threads(count: int) -> Iterator[int]:
    """Run the block at ``count`` CPU threads, then restore the caller's thread count."""
    before = torch.get_num_threads()
    if count != before:
        torch.set_num_threads(count)
    try:
        yield count
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def model_threads(model: torch.nn.Module) -> contextlib.AbstractContextManager[int]:
    """Run the block at :func:`threads_for` ``(model)`` threads, then restore the caller's."""
    return using_threads(threads_for(model))


def at_model_threads(fn: Callable) -> Callable:
    """Decorate a function whose first argument is a model to run it under :func:`model_threads`.

    ``pl.fit``, ``pl.evaluate``, the gradient-based scores, structured pruning
    (``pl.unit_groups``, ``pl.prune_units``) and ``pl.measure_latency`` use it,
    so a lesson is fast whatever thread count the process started with.
    """

    @functools.wraps(fn)
    def wrapper(model, *args, **kwargs):
        if not isinstance(model, torch.nn.Module):  # let the function raise its own error
            return fn(model, *args, **kwargs)
        with model_threads(model):
            return fn(model, *args, **kwargs)

    return wrapper


def chinese_fonts() -> list[str]:
    """Names of the installed fonts (as matplotlib's font manager lists them) that draw Chinese.

    A font counts when its character map holds 中 and 文. The "Last Resort" font maps every
    character to a placeholder box, so it is left out. When none is found, font files that
    the system has but matplotlib's font cache has never seen (a font installed after
    matplotlib built its cache) are added first, and the cache is rewritten: see
    :func:`add_uncached_fonts`. An empty list means plots draw Chinese as boxes; the browser
    reads the system's fonts itself, so it may show Chinese all the same.
    """
    from matplotlib import font_manager

    names = _chinese(font_manager.fontManager.ttflist)
    if not names and add_uncached_fonts():
        names = _chinese(font_manager.fontManager.ttflist)
    return names


def _chinese(fonts) -> list[str]:
    """The names of ``fonts`` (font-manager entries) whose file draws Chinese."""
    names = set()
    for font in fonts:
        if font.name.startswith("Last Resort") or font.name in names:
            continue
        if _chinese_file(font.fname):
            names.add(font.name)
    return sorted(names)


def _chinese_file(path: str) -> bool | None:
    """Whether the font file maps 中 and 文 (``None``: not a font file matplotlib reads)."""
    from matplotlib import ft2font

    try:
        charmap = ft2font.FT2Font(path).get_charmap()
    except (OSError, RuntimeError):  # a font file that cannot be read draws nothing
        return None
    return ord("中") in charmap and ord("文") in charmap


def add_uncached_fonts(cache: str | os.PathLike | None = None) -> list[str]:
    """Add the system's font files that matplotlib's font manager lacks; rewrite its cache.

    matplotlib lists the system's fonts once and keeps the list in
    ``fontlist-v<version>.json`` in its cache folder, so a font installed later stays
    invisible to it until that file is deleted. This adds each missing file to the running
    font manager (``FontManager.addfont``, which also clears its look-up cache) and writes
    the list back to ``cache`` (default: the file matplotlib reads). Returns the added paths.
    """
    import matplotlib
    from matplotlib import font_manager

    manager = font_manager.fontManager
    known = {os.path.realpath(font.fname) for font in manager.ttflist}
    added = []
    for path in sorted(font_manager.findSystemFonts()):
        if os.path.realpath(path) in known:
            continue
        try:
            manager.addfont(path)
        except (OSError, RuntimeError, ValueError):  # not a font matplotlib can read
            continue
        added.append(path)
    if added:
        version = font_manager.FontManager.__version__
        if cache is None:
            cache = os.path.join(matplotlib.get_cachedir(), f"fontlist-v{version}.json")
        font_manager.json_dump(manager, cache)
    return added


@contextlib.contextmanager
def evaluating(model: torch.nn.Module, *, grad: bool = False) -> Iterator[None]:
    """Eval mode (BatchNorm statistics stay put, no dropout), autograd off unless ``grad``.

    Every module's train/eval mode is restored afterwards.
    """
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.set_grad_enabled(grad):
            yield
    finally:
        for module, mode in modes.items():
            module.training = mode
