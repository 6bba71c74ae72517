"""Scores -> keep-masks: exact, deterministic selection of the ``k`` lowest scores.

The rules every pruner in this package shares (see ``shared/design/architecture.md``):

* ``amount`` is a target: ``round(amount * n)`` entries end up pruned (Python rounding, the
  same count ``torch.nn.utils.prune`` uses: 0.5 x 5 prunes 2, 0.5 x 7 prunes 4).
* Ties: exactly that many are pruned; among equal scores the lower flat index goes first, in
  concatenation order when several tensors compete (global pruning).
* Masks are boolean and ``True`` means *keep*.
* One rule for every ``amount`` and sparsity target in the package (:func:`check_fraction`):
  a Python float; an int, even ``0`` or ``1``, is refused with a TypeError that says to write
  ``0.0`` / ``1.0``, because ``torch.nn.utils.prune`` reads an int as a count of weights.

How the global selection avoids sorting everything
--------------------------------------------------
Concatenating and sorting 25 M scores needs a full copy of them and a sort. Instead, each
float32 score is mapped to an integer key with the same order (the IEEE-754 sign trick), and
the ``k``-th smallest key is found digit by digit (radix selection): one pass counts the top
16 bits of every key, which tells us the bucket holding the ``k``-th value; a second pass
counts the low 16 bits inside that bucket only. Two reading passes and a third that writes
the masks, each over small chunks, so the extra memory is a few megabytes whatever the model.
Scores are compared in float32.

Why the passes run on one CPU thread
------------------------------------
Each chunk goes through a few small torch ops, and at torch's default thread count every one
of them opens a parallel region that waits for all its threads. When another process holds a
core (a busy laptop, a shared server), each region waits for that core's time slice, and the
many small regions add up to many times the work itself (measured side by side in
``benchmarks/results/global_selection.md``). The streaming passes are memory-bound anyway, so
on the CPU they run at one thread (:func:`one_cpu_thread`, which restores the caller's setting
afterwards).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence

import torch

from ..core.checks import check_fraction
from ..core.device import using_threads

CHUNK = 1 << 18  # elements read at a time by the streaming passes (1 MiB of float32)
_BUCKETS = 1 << 16

Score = Callable[[torch.Tensor], torch.Tensor]


def prune_count(amount: object, n: int, name: str = "amount") -> int:
    """How many of ``n`` entries a target ``amount`` prunes: ``round(amount * n)``.

    ``amount`` must be a float in [0, 1] (see :func:`check_fraction`).
    """
    return round(check_fraction(amount, name) * n)


def _keys(scores: torch.Tensor) -> torch.Tensor:
    """Int32 keys ordered exactly like the float32 ``scores`` (-0.0 counts as +0.0).

    For a non-negative float the raw bits already sort correctly; for a negative one the
    magnitude bits are flipped so that larger magnitudes come first. (In-place steps on a
    fresh tensor keep the temporary memory to two chunks.)
    """
    bits = (scores.float() + 0.0).view(torch.int32)  # "+ 0.0" copies and turns -0.0 into +0.0
    flip = bits >> 31
    flip &= 0x7FFFFFFF
    bits ^= flip
    return bits


def _chunks(tensor: torch.Tensor) -> Iterator[tuple[int, torch.Tensor]]:
    flat = tensor.detach().reshape(-1)
    for start in range(0, flat.numel(), CHUNK):
        yield start, flat[start : start + CHUNK]


def _identity(t: torch.Tensor) -> torch.Tensor:
    return t


def _chunk_keys(
    tensors: Sequence[torch.Tensor], score: Score, keep: Sequence[torch.Tensor] | None
) -> Iterator[tuple[int, int, torch.Tensor]]:
    """Yield ``(tensor index, offset, keys)`` chunk by chunk; already-pruned entries get -inf."""
    for i, tensor in enumerate(tensors):
        for start, chunk in _chunks(tensor):
            if keep is None and score is torch.abs and chunk.dtype == torch.float32:
                # |w| is never negative and abs(-0.0) is +0.0: its raw bits are the keys
                yield i, start, torch.abs(chunk).view(torch.int32)
            elif keep is None:
                yield i, start, _keys(score(chunk))
            else:
                kept = keep[i].reshape(-1)[start : start + chunk.numel()]
                yield i, start, _keys(torch.where(kept, score(chunk).float(), -math.inf))


def one_cpu_thread(device: torch.device) -> contextlib.AbstractContextManager:
    """Run the enclosed torch ops on one intra-op thread if ``device`` is the CPU.

    Many small ops each pay for a parallel region; under contention that costs far more than
    the work (see the module docstring). The caller's thread count is restored on exit, also
    after an error (:func:`~.device.using_threads`). Other devices are left alone.
    """
    return using_threads(1) if device.type == "cpu" else contextlib.nullcontext()


def _find_in_histogram(hist: torch.Tensor, rank: int) -> tuple[int, int]:
    """Bucket holding the ``rank``-th smallest (1-based) and how many lie in earlier buckets."""
    cumulative = hist.cumsum(0)
    bucket = int(torch.searchsorted(cumulative, rank))
    before = int(cumulative[bucket - 1]) if bucket > 0 else 0
    return bucket, before


def kth_smallest_key(
    tensors: Sequence[torch.Tensor],
    k: int,
    score: Score = _identity,
    keep: Sequence[torch.Tensor] | None = None,
) -> tuple[int, int]:
    """The key of the ``k``-th smallest score (1-based) and how many scores are strictly below it.

    Two streaming passes over the scores (radix selection on 16-bit digits), on one CPU thread.
    """
    with one_cpu_thread(tensors[0].device):
        return _kth_smallest_key(tensors, k, score, keep)


def _kth_smallest_key(
    tensors: Sequence[torch.Tensor], k: int, score: Score, keep: Sequence[torch.Tensor] | None
) -> tuple[int, int]:
    device = tensors[0].device
    top = torch.zeros(_BUCKETS, dtype=torch.int64, device=device)
    for _, _, keys in _chunk_keys(tensors, score, keep):
        keys >>= 16
        keys += _BUCKETS // 2
        top += torch.bincount(keys, minlength=_BUCKETS)
    high, below = _find_in_histogram(top, k)
    high_signed = high - _BUCKETS // 2
    low = torch.zeros(_BUCKETS, dtype=torch.int64, device=device)
    for _, _, keys in _chunk_keys(tensors, score, keep):
        in_bucket = keys[(keys >> 16) == high_signed]
        in_bucket &= 0xFFFF
        low += torch.bincount(in_bucket, minlength=_BUCKETS)
    low_digit, below_in_bucket = _find_in_histogram(low, k - below)
    return (high_signed << 16) | low_digit, below + below_in_bucket


def smallest_k_masks(
    tensors: Sequence[torch.Tensor],
    k: int,
    *,
    score: Score = _identity,
    keep: Sequence[torch.Tensor] | None = None,
) -> list[torch.Tensor]:
    """Keep-masks that prune exactly the ``k`` lowest ``score(t)`` over all ``tensors`` together.

    ``score`` is applied chunk by chunk (``torch.abs`` for magnitude pruning), so no copy of all
    scores is ever made. Entries already pruned in ``keep`` count as the lowest scores, so the
    new masks only ever add zeros. Ties go to the lower index in concatenation order.
    """
    if any(t.is_meta for t in tensors):
        raise ValueError(
            "tensors on the meta device have a shape but no values to rank; materialise them "
            "first (e.g. model.to_empty(device=...) and load the weights)"
        )
    total = sum(t.numel() for t in tensors)
    if not 0 <= k <= total:
        raise ValueError(f"k must be in [0, {total}], got {k}")
    masks = [torch.ones(t.shape, dtype=torch.bool, device=t.device) for t in tensors]
    if k == 0:
        return masks
    with one_cpu_thread(tensors[0].device):
        cut, below = _kth_smallest_key(tensors, k, score, keep)
        _write_masks(masks, tensors, score, keep, cut, k - below)
    return masks


def _write_masks(
    masks: list[torch.Tensor],
    tensors: Sequence[torch.Tensor],
    score: Score,
    keep: Sequence[torch.Tensor] | None,
    cut: int,
    ties_left: int,
) -> None:
    """Third pass: keep keys above ``cut``; of those equal to it, prune the first ``ties_left``."""
    for i, start, keys in _chunk_keys(tensors, score, keep):
        kept = masks[i].view(-1)[start : start + keys.numel()]
        if ties_left == 0:  # every tie left is spared: keep all keys >= cut
            torch.ge(keys, cut, out=kept)
            continue
        torch.gt(keys, cut, out=kept)
        equal = keys == cut
        n_equal = int(equal.count_nonzero())
        if n_equal <= ties_left:
            ties_left -= n_equal
        else:
            kept[equal.nonzero().squeeze(1)[ties_left:]] = True
            ties_left = 0


def threshold_mask(
    scores: torch.Tensor, threshold: float, keep: torch.Tensor | None = None
) -> torch.Tensor:
    """Keep-mask of ``scores > threshold`` (``score <= threshold`` is pruned), within ``keep``."""
    mask = scores > threshold
    return mask if keep is None else mask & keep
