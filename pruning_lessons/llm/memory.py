"""Peak tensor memory of a piece of code, counted exactly, on any device (the CPU included).

``torch.cuda.max_memory_allocated`` only exists for CUDA, and a process's peak resident size
mixes in the allocator's caching and whatever ran before. :class:`TensorMemory` instead watches
every tensor torch creates while it is active (a ``TorchDispatchMode``): a storage counts from
the op that makes it until the last tensor viewing it is gone. Its ``peak`` is the most bytes
alive at once beyond what existed before (the model itself), which is what "extra memory" means
in the memory model of :mod:`pruning_lessons.llm.sequential`. Temporaries inside a single op
(workspace of a matmul or a Cholesky) are not seen.
"""

from __future__ import annotations

import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


class TensorMemory(TorchDispatchMode):
    """``with TensorMemory() as memory: ...``; then ``memory.peak`` (bytes) and ``memory.now``."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0
        self.peak = 0
        self._users: dict[int, int] = {}  # storage address -> live tensors viewing it
        self._sizes: dict[int, int] = {}
        self._known: set[int] = set()  # storages that existed before (never counted)

    def __enter__(self):
        return super().__enter__()

    def _release(self, key: int) -> None:
        self._users[key] -= 1
        if not self._users[key]:
            del self._users[key]
            self.now -= self._sizes.pop(key)

    def _track(self, tensor: torch.Tensor) -> None:
        if tensor.device.type == "meta":
            return
        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        if key == 0 or key in self._known:
            return
        if key not in self._users:
            self._users[key], self._sizes[key] = 0, storage.nbytes()
            self.now += storage.nbytes()
            self.peak = max(self.peak, self.now)
        self._users[key] += 1
        weakref.finalize(tensor, self._release, key)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        inputs, _ = tree_flatten((args, kwargs or {}))
        for t in inputs:
            if isinstance(t, torch.Tensor):
                key = t.untyped_storage().data_ptr()
                if key not in self._users:
                    self._known.add(key)
        out = func(*args, **(kwargs or {}))
        outputs, _ = tree_flatten(out)
        for t in outputs:
            if isinstance(t, torch.Tensor):
                self._track(t)
        return out
