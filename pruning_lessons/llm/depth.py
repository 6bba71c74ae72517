"""Depth pruning: score whole decoder blocks and drop the least useful ones.

ShortGPT (Men et al. 2024) scores block ``i`` by its *Block Influence*
``BI_i = 1 - mean_t cos(x_t, y_t)``, with ``x_t`` the hidden state of token ``t`` entering the
block and ``y_t`` the one leaving it: a block that barely turns the residual stream changes
little when removed. Dropping a block of a pre-norm residual model is exact surgery: the block
becomes the identity, so its input flows straight on (``remove_layers`` does the replacement).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..structured.blocks import check_block_indices, remove_layers
from .posttraining import check_calibration, decoder_blocks


@torch.no_grad()
def block_influence(model: nn.Module, calibration: torch.Tensor) -> list[float]:
    """``BI_i = 1 - mean cos(block input, block output)`` per block, over all calibration tokens."""
    _, blocks, embed = decoder_blocks(model)
    calibration = check_calibration(calibration, embed)
    scores = [[] for _ in blocks]
    handles = [
        block.register_forward_hook(
            lambda _m, args, out, i=i: scores[i].append(F.cosine_similarity(args[0], out, dim=-1))
        )
        for i, block in enumerate(blocks)
    ]
    was_training = model.training
    model.eval()
    try:
        model(calibration.to(embed.weight.device))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return [1.0 - float(torch.cat([s.flatten() for s in cos]).mean()) for cos in scores]


def drop_blocks(model: nn.Module, indices: list[int]) -> nn.Module:
    """A copy of ``model`` with the decoder blocks ``indices`` replaced by the identity.

    The blocks keep their numbers (``layers[i]`` becomes ``nn.Identity``), so scores and
    indices of the original still apply; :func:`pruning_lessons.remove_blocks` instead makes
    the list physically shorter and updates the config, also for ``transformers`` models.
    ``model`` is not changed. ``ValueError`` for an index that is not a block (or was dropped).
    """
    _, blocks, embed = decoder_blocks(model)
    indices = check_block_indices(indices, len(blocks))  # the rule remove_blocks uses
    for i in indices:
        if isinstance(blocks[i], nn.Identity):
            raise ValueError(f"block {i} was already dropped")
    example = torch.zeros(1, 2, dtype=torch.long, device=embed.weight.device)
    return remove_layers(model, [f"layers.{i}" for i in indices], example_input=example)


def blocks_by_influence(model: nn.Module, calibration: torch.Tensor, n: int) -> list[int]:
    """The ``n`` blocks with the lowest Block Influence (ties: the lower index first)."""
    scores = block_influence(model, calibration)
    return sorted(sorted(range(len(scores)), key=lambda i: (scores[i], i))[:n])
