"""The block-by-block driver shared by the post-training pruners: in place, one block at a time.

For each block ``i`` in order: move it to ``device`` (if given), run the calibration hidden
states through it once with hooks summing its layers' input statistics, prune its layers, run
it again to get the inputs of block ``i + 1`` (so every block is fitted to the outputs of the
pruned blocks before it), move it back. Before any change a dry run sends the first calibration
sequence through every block, so a model whose blocks fail (or hold a layer that never runs) is
refused with nothing changed.

**Memory model** (beyond the model itself, which stays where it is, pruned in place):

* the calibration hidden states, ``n x seq_len x hidden`` values in the model's dtype, plus
  one chunk's output (16 sequences) while a block runs: each chunk's input is released as its
  output is made; plus what the model passes its blocks (positions, masks) for each chunk;
* one block's weights on ``device`` when the blocks live elsewhere;
* one block's statistics, float64: Wanda ``in`` values per layer; SparseGPT an ``in x in``
  Hessian per layer (and its factor while that layer is solved).

The result's masks (one bool per block weight, so half of fp16 weights) are kept with the
model so that fine-tuning cannot revive the zeros; ``masks=False`` leaves them out.

None of this grows with the number of blocks (``tests/test_llm_memory.py`` holds it). On
paper, with 128 sequences of 2048 tokens and fp16 weights on the CPU, one block at a time on
one GPU (``benchmarks/bench_llm_memory.py`` computes the table, GiB): a 7B Llama (hidden 4096,
MLP 11008) needs activations 2.25, one block 0.4, Wanda's norms almost nothing, SparseGPT's
Hessians 1.65 plus 1.35 while the widest layer is solved: about 2.6 GiB for Wanda and 5.6 for
SparseGPT. A 70B Llama (hidden 8192, MLP 28672): activations 4.5, one block 1.8, Hessians 9.1,
solve 9.2: about 6.3 GiB for Wanda and 25 GiB for SparseGPT, the 130 GiB of weights in CPU
memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from ..core.train import progress_bar
from ..weights.masks import get_masks, install_mask
from .calibrate import InputStats, SharedSums
from .decoder import Decoder, as_stored, weight_matrix
from .stream import Stream, capture

#: ``prune_layer(name, layer, stats, old keep (out, in) or None, amount)`` ->
#: ``(new weight (out, in) or None to keep it, keep-mask (out, in))``
PruneLayer = Callable[[str, nn.Module, InputStats | None, torch.Tensor | None, float | None], tuple]


@contextmanager
def on_device(block: nn.Module, device: torch.device | None) -> Iterator[None]:
    """``block`` on ``device`` inside the ``with``, back where it was afterwards."""
    tensors = [*block.parameters(), *block.buffers()]
    home = tensors[0].device if tensors else None
    if device is None or home is None or home == device:
        yield
        return
    block.to(device)
    try:
        yield
    finally:
        block.to(home)


@contextmanager
def recording(layers: dict[str, nn.Module], hessian: bool) -> Iterator[dict[str, InputStats]]:
    """Sum the inputs of every layer in ``layers`` while the ``with`` body runs."""
    stats = {
        name: InputStats(weight_matrix(m).shape[1], m.weight.device, hessian)
        for name, m in layers.items()
    }

    shared = SharedSums()  # q, k and v (gate and up) read one tensor: sum it once

    def hook(stat: InputStats) -> Callable:
        return lambda _m, args, kwargs: stat.add(
            args[0] if args else next(iter(kwargs.values())), shared
        )

    handles = [
        m.register_forward_pre_hook(hook(stats[name]), with_kwargs=True)
        for name, m in layers.items()
    ]
    try:
        yield stats
    finally:
        for handle in handles:
            handle.remove()


def dry_run(decoder: Decoder, stream: Stream, device: torch.device | None, needs: bool) -> None:
    """The first calibration chunk through every block, dense: a ``ValueError`` if one fails."""
    hidden = stream.hidden[0]
    for i, block in enumerate(decoder.blocks):
        layers = decoder.layers(i)
        try:
            with on_device(block, device), recording(layers, hessian=False) as stats:
                with torch.no_grad():
                    hidden = stream.calls[i].call(block, 0, hidden)
        except Exception as error:  # any failure: refuse before a single change
            raise ValueError(
                f"model ({decoder.model_class}): block {decoder.blocks_name}.{i} "
                f"({type(block).__name__}) fails on the calibration input, so nothing was "
                f"pruned: {type(error).__name__}: {error}"
            ) from error
        silent = [name for name, s in stats.items() if s.tokens == 0]
        if needs and silent:
            raise ValueError(
                f"model ({decoder.model_class}): {silent[0]} never runs in its block's forward, "
                "so its inputs cannot be measured; nothing was pruned"
            )


def _prune_block(
    decoder: Decoder,
    i: int,
    stats: dict[str, InputStats | None],
    old: dict[str, torch.Tensor],
    amounts: dict[str, float | None],
    prune_layer: PruneLayer,
    keep_masks: bool = True,
) -> dict[str, torch.Tensor]:
    masks = {}
    for name, layer in decoder.layers(i).items():
        if name not in amounts:
            continue
        key = name + ".weight"
        previous = old.get(key)
        if previous is not None:
            previous = as_stored(layer, previous)  # (out, in), like the weight matrix
        new, keep = prune_layer(name, layer, stats.get(name), previous, amounts[name])
        with torch.no_grad():
            if new is not None:
                layer.weight.copy_(as_stored(layer, new))
        if keep_masks:
            install_mask(layer, "weight", as_stored(layer, keep))
            masks[key] = layer.weight_mask
        else:  # the zeros only: no mask kept (it would cost 1 byte per weight)
            with torch.no_grad():
                layer.weight.mul_(as_stored(layer, keep).to(layer.weight.device))
    return masks


def prune_sequentially(
    model: nn.Module,
    decoder: Decoder,
    calibration: torch.Tensor | None,
    prune_layer: PruneLayer,
    amounts: dict[str, float | None],
    *,
    hessian: bool = False,
    device: torch.device | None = None,
    keep_masks: bool = True,
    progress: bool = False,
) -> dict[str, torch.Tensor]:
    """Prune ``model`` in place, block by block; the keep-masks by parameter name.

    ``amounts``: layer name -> its amount (``None`` under N:M); layers not named stay as they
    are. Without ``calibration`` (magnitude) no data runs; the blocks are visited in order.
    ``keep_masks=False`` writes the zeros without installing masks (and returns ``{}``).
    """
    old = get_masks(model)
    if calibration is None:
        masks = {}
        for i in range(len(decoder.blocks)):
            masks |= _prune_block(decoder, i, {}, old, amounts, prune_layer, keep_masks)
        return masks
    stream = capture(model, decoder, calibration, device)
    dry_run(decoder, stream, device, needs=True)
    masks = {}
    for i in progress_bar(range(len(decoder.blocks)), desc="blocks", enabled=progress):
        block = decoder.blocks[i]
        layers = {name: layer for name, layer in decoder.layers(i).items() if name in amounts}
        with on_device(block, device):
            with recording(layers, hessian) as stats:
                stream.run(i, block)
            masks |= _prune_block(decoder, i, stats, old, amounts, prune_layer, keep_masks)
            del stats
            stream.advance(i, block)
    return masks


def dense_statistics(
    model: nn.Module,
    decoder: Decoder,
    calibration: torch.Tensor,
    measure: Callable[[int, dict[str, InputStats]], None],
    device: torch.device | None = None,
) -> None:
    """Run the dense model block by block; ``measure(i, stats)`` gets each block's statistics."""
    stream = capture(model, decoder, calibration, device)
    dry_run(decoder, stream, device, needs=True)
    for i, block in enumerate(decoder.blocks):
        with on_device(block, device):
            with recording(decoder.layers(i), hessian=False) as stats:
                stream.advance(i, block)
            measure(i, stats)
