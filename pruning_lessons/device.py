"""Choosing a device and seeding every random number generator in one place."""

from __future__ import annotations

import contextlib
import itertools
import random
from collections.abc import Iterator

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
