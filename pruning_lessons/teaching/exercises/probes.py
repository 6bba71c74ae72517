"""What the checkers of several exercises share (small tests of a learner's result)."""

from __future__ import annotations

import torch
from torch import nn


def shares_storage(new: nn.Module, old: list[nn.Module]) -> bool:
    """Whether ``new`` holds a tensor that lives in the same memory as one of ``old``'s."""
    pointers = {t.data_ptr() for m in old for t in (*m.parameters(), *m.buffers()) if t.numel()}
    return any(t.data_ptr() in pointers for t in (*new.parameters(), *new.buffers()) if t.numel())


def keep_four():
    """Neurons or channels 0, 2, 3, 4 of six (1 and 5 go); a new tensor each call, as a
    learner's function may edit what it is given."""
    return torch.tensor([0, 2, 3, 4])
