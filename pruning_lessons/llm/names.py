"""What perplexity averages away: the bytes that carry names, from memory or from context.

Perplexity is the exponential of the *mean* token loss, and most tokens of a text are easy (a
space, a bracket, the rest of a common word). A pruned model can keep that mean while it
loses more on the rare, information-heavy tokens: the facts and names it had memorised.
Jaiswal et al. (2024, "Compressing LLMs: The Truth is Rarely Pure and Never Simple", the
LLM-KICK benchmark) found this at scale: Wanda and SparseGPT models whose perplexity had
barely moved lost much more on knowledge-intensive question answering.

The course corpus is Python source as bytes, so a "fact" here is a name: the attribute after
a dot (``os.path.join``, ``self.assertEqual``). :func:`name_scores` splits the predicted bytes
into the bytes of such names and all bytes, and gives each group's mean loss and top-1
accuracy (from :func:`~.evaluate.token_scores`). A name is *in context* when the same
``.name`` already appeared in the window the model reads (it can be copied) and *from memory*
otherwise (it must come from the weights).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import nn

from .evaluate import _check_positive, _check_tokens, token_scores

_ATTRIBUTE = re.compile(rb"\.([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class NameSpan:
    """Bytes ``start:end`` of ``data`` are a name plus the byte that ends it."""

    start: int
    end: int
    in_context: bool


def attribute_spans(data: torch.Tensor, *, seq_len: int = 128) -> list[NameSpan]:
    """Every attribute name after a ``.`` in a byte stream, with the byte that closes it.

    Windows are those of :func:`~.evaluate.perplexity` (``data[k*seq_len : k*seq_len+seq_len+1]``,
    predicted from their own bytes only); a name whose bytes would cross into the next window
    is left out, so every kept name is read with its dot in view.
    """
    data = _check_tokens(data)
    seq_len = _check_positive(seq_len, "seq_len")
    if not data.numel() or int(data.max()) > 255:
        raise ValueError("data must be a non-empty stream of bytes (token ids 0-255)")
    text = bytes(data.to(torch.uint8).tolist())
    spans = []
    for found in _ATTRIBUTE.finditer(text):
        start, end = found.start(1), found.end(1) + 1  # the closing byte counts too
        window = (start - 1) // seq_len * seq_len  # the window predicting data[start]
        if end > len(text) or end - 1 > window + seq_len:
            continue
        seen = text[window : found.start()]
        spans.append(NameSpan(start, end, found.group(0) in seen))
    return spans


def name_scores(model: nn.Module, data: torch.Tensor, *, seq_len: int = 128) -> dict:
    """Mean loss and top-1 accuracy on all bytes and on the bytes of attribute names.

    Returns ``{group: {"loss", "top1", "bytes"}}`` for the groups ``"all"``, ``"memory"``
    (names not seen earlier in the window) and ``"context"`` (names seen), plus ``"hits"``:
    the per-byte top-1 hits of each group (bool tensors, to pair two models on the same bytes).
    """
    losses, hits = token_scores(model, data, seq_len=seq_len)
    spans = attribute_spans(data, seq_len=seq_len)
    groups = {"all": torch.arange(len(hits))}
    for name, in_context in (("memory", False), ("context", True)):
        rows = [
            i - 1  # entry i - 1 of token_scores predicts byte i
            for span in spans
            if span.in_context is in_context
            for i in range(span.start, span.end - 1)  # the name's bytes, not its closing byte
        ]
        groups[name] = torch.tensor(rows, dtype=torch.long)
    out: dict = {"hits": {}}
    for name, rows in groups.items():
        out[name] = {
            "loss": float(losses[rows].double().mean()) if len(rows) else float("nan"),
            "top1": float(hits[rows].double().mean()) if len(rows) else float("nan"),
            "bytes": len(rows),
        }
        out["hits"][name] = hits[rows]
    return out
