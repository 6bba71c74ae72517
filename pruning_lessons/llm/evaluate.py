"""Evaluating a language model: perplexity, and drawing calibration windows from a corpus.

Perplexity is ``exp(mean cross-entropy)`` of the next-token predictions: the number of equally
likely tokens the model is, on average, as unsure as. Papers report it on held-out text
(WikiText-2 for Wanda and SparseGPT); lower is better, and 1 is perfect.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..core.device import check_seed


def _check_tokens(data: object, name: str = "data") -> torch.Tensor:
    if not torch.is_tensor(data) or data.is_floating_point() or data.is_complex():
        raise TypeError(f"{name} must be an integer tensor of token ids, got {type(data).__name__}")
    if data.dim() != 1:
        raise ValueError(f"{name} must be 1-D (one token stream), got shape {tuple(data.shape)}")
    if data.numel() and int(data.min()) < 0:
        raise ValueError(f"{name} holds negative token ids")
    return data


def _check_positive(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def random_windows(
    data: torch.Tensor, n: int, length: int, generator: torch.Generator
) -> torch.Tensor:
    """``n`` windows of ``length`` consecutive tokens at random offsets: ``(n, length)``."""
    starts = torch.randint(0, len(data) - length + 1, (n,), generator=generator)
    return torch.stack([data[s : s + length] for s in starts.tolist()])


def calibration_batches(data: torch.Tensor, n: int, seq_len: int = 128, seed: int = 0):
    """``n`` calibration sequences of ``seq_len`` tokens drawn from ``data``: ``(n, seq_len)``.

    Post-training pruners (Wanda, SparseGPT) see only these: 128 sequences of 2048 tokens from
    the C4 training set in both papers. Same ``seed``, same windows.
    """
    data = _check_tokens(data)
    n, seq_len = _check_positive(n, "n"), _check_positive(seq_len, "seq_len")
    seed = check_seed(seed)
    if len(data) < seq_len:
        raise ValueError(f"data has {len(data)} tokens, fewer than seq_len={seq_len}")
    return random_windows(data, n, seq_len, torch.Generator().manual_seed(seed))


def perplexity(
    model: nn.Module, data: torch.Tensor, *, seq_len: int = 128, batch_size: int = 16
) -> float:
    """``exp(mean token cross-entropy)`` of ``model`` on a token stream.

    ``data`` is cut into consecutive windows of ``seq_len + 1`` tokens that overlap by one, so
    every token after the first is predicted exactly once, from the preceding tokens of its
    window. ``model`` maps ``(batch, seq)`` ids to ``(batch, seq, vocab)`` logits (or to an
    output with ``.logits``, as ``transformers`` models do); it runs in eval mode and its
    train/eval flag is restored.
    """
    losses, _ = token_scores(model, data, seq_len=seq_len, batch_size=batch_size)
    return math.exp(losses.double().mean().item())


@torch.no_grad()
def token_scores(
    model: nn.Module, data: torch.Tensor, *, seq_len: int = 128, batch_size: int = 16
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per predicted token of ``data[1:]``: its cross-entropy, and whether it was the top guess.

    Two 1-D tensors of ``len(data) - 1`` entries, on the CPU: entry ``i`` is about token
    ``data[i + 1]``, read from the tokens before it in its window (the windows of
    :func:`perplexity`). The mean of the first is the log of the perplexity.
    """
    data = _check_tokens(data)
    seq_len, batch_size = (
        _check_positive(seq_len, "seq_len"),
        _check_positive(batch_size, "batch_size"),
    )
    if len(data) < 2:
        raise ValueError("data needs at least 2 tokens (one to read, one to predict)")
    device = next(model.parameters()).device
    starts = list(range(0, len(data) - 1, seq_len))
    losses, hits, was_training = [], [], model.training
    model.eval()
    try:
        for i in range(0, len(starts), batch_size):
            chunk = [data[s : s + seq_len + 1] for s in starts[i : i + batch_size]]
            for window in _same_length(chunk):
                window = window.to(device)
                logits = model(window[:, :-1])
                if not torch.is_tensor(logits):  # a transformers model's output
                    logits = logits.logits
                if logits.shape[-1] <= int(window.max()):
                    raise ValueError(
                        f"data holds token id {int(window.max())}, but the model has only "
                        f"{logits.shape[-1]} outputs"
                    )
                target = window[:, 1:]
                loss = F.cross_entropy(logits.float().transpose(1, 2), target, reduction="none")
                losses.append(loss.flatten().cpu())
                hits.append((logits.argmax(-1) == target).flatten().cpu())
    finally:
        model.train(was_training)
    return torch.cat(losses), torch.cat(hits)


def _same_length(windows: list[torch.Tensor]) -> list[torch.Tensor]:
    """Stack windows of equal length; the last, shorter window goes in a batch of its own."""
    full = [w for w in windows if len(w) == len(windows[0])]
    rest = [w[None] for w in windows[len(full) :]]
    return [torch.stack(full), *rest]
