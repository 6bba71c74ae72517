"""Exercise 08.5: remove attention heads under grouped-query attention, and the tiny decoder."""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..core import Exercise


class Attention(nn.Module):
    """Self-attention with grouped-query heads, written out (the layout LLaMA uses).

    ``q`` has ``num_heads * head_dim`` rows, ``k`` and ``v`` ``num_kv_heads * head_dim``; query
    heads ``j * group ... (j + 1) * group - 1`` (``group = num_heads // num_kv_heads``) share
    key/value head ``j``; ``o`` reads the heads' outputs side by side.
    """

    def __init__(self, width: int = 16, num_heads: int = 4, num_kv_heads: int = 2) -> None:
        super().__init__()
        self.num_heads, self.num_kv_heads = num_heads, num_kv_heads
        self.head_dim = width // num_heads
        self.q = nn.Linear(width, num_heads * self.head_dim)
        self.k = nn.Linear(width, num_kv_heads * self.head_dim)
        self.v = nn.Linear(width, num_kv_heads * self.head_dim)
        self.o = nn.Linear(num_heads * self.head_dim, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, _ = x.shape
        q = self.q(x).view(batch, tokens, -1, self.head_dim).transpose(1, 2)
        k = self.k(x).view(batch, tokens, -1, self.head_dim).transpose(1, 2)
        v = self.v(x).view(batch, tokens, -1, self.head_dim).transpose(1, 2)
        group = q.shape[1] // k.shape[1]
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        heads = nn.functional.scaled_dot_product_attention(q, k, v)
        return self.o(heads.transpose(1, 2).reshape(batch, tokens, -1))


class TransformerBlock(nn.Module):
    """A pre-norm decoder block as in LLaMA: attention and a SwiGLU MLP, each added back."""

    def __init__(self, width: int = 16, num_heads: int = 4, num_kv_heads: int = 2) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attention = Attention(width, num_heads, num_kv_heads)
        self.norm2 = nn.LayerNorm(width)
        self.gate = nn.Linear(width, 2 * width)
        self.up = nn.Linear(width, 2 * width)
        self.down = nn.Linear(2 * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        h = self.norm2(x)
        return x + self.down(nn.functional.silu(self.gate(h)) * self.up(h))


class TinyDecoder(nn.Module):
    """Token ids -> embedding -> one :class:`TransformerBlock` -> norm -> next-token logits."""

    def __init__(self, vocab: int = 32, width: int = 16) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.block = TransformerBlock(width)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.block(self.embed(ids))))


def remove_heads(attention: Attention, keep: torch.Tensor) -> Attention:
    """Keep the key/value heads ``keep`` (indices) with their query heads; a new module."""
    group = attention.num_heads // attention.num_kv_heads
    d = attention.head_dim
    kv_rows = (keep[:, None] * d + torch.arange(d)).flatten()
    q_heads = (keep[:, None] * group + torch.arange(group)).flatten()
    q_rows = (q_heads[:, None] * d + torch.arange(d)).flatten()
    new = copy.deepcopy(attention)
    with torch.no_grad():
        for name, rows in (("q", q_rows), ("k", kv_rows), ("v", kv_rows)):
            layer = getattr(new, name)
            layer.weight = nn.Parameter(layer.weight[rows].clone())
            layer.bias = nn.Parameter(layer.bias[rows].clone())
            layer.out_features = len(rows)
        new.o.weight = nn.Parameter(new.o.weight[:, q_rows].clone())  # o's bias stays whole
        new.o.in_features = len(q_rows)
    new.num_heads, new.num_kv_heads = len(q_heads), len(keep)
    return new


def _attention() -> Attention:
    torch.manual_seed(0)
    return Attention(width=16, num_heads=6, num_kv_heads=3).eval()  # 2 query heads per kv head


def _keep_kv():
    """Key/value heads 0 and 2 (head 1 goes, with query heads 2 and 3), new each call."""
    return torch.tensor([0, 2])


def _heads_result(fn):
    new = fn(_attention(), _keep_kv())
    return new if isinstance(new, nn.Module) else None


def _heads_shapes(fn):
    new = _heads_result(fn)
    if new is None:
        return "return the new attention module"
    q, k, v, o = (tuple(getattr(new, n).weight.shape) for n in "qkvo")
    if k != (4, 16) or v != (4, 16):
        return (
            f"k and v should keep 2 key/value heads of head_dim 2, i.e. weights (4, 16); "
            f"got k {k}, v {v}: remove the rows of the dropped key/value head from k and v too"
        )
    if q != (8, 16):
        if q == (4, 16):
            return (
                "q lost too much: under grouped-query attention each key/value head serves "
                "num_heads // num_kv_heads query heads, and all of them stay with it"
            )
        return f"q should keep the 4 query heads of the 2 kept key/value heads, (8, 16), not {q}"
    if o[1] != 8:
        return (
            "o still reads the removed heads: its input columns are the heads' outputs side "
            "by side, so remove the columns of the dropped query heads"
        )
    if o != (16, 8):
        return "o's outputs are the model width: keep all its rows"
    return None


def _heads_counts(fn):
    new = _heads_result(fn)
    if (new.num_heads, new.num_kv_heads) != (4, 2):
        return "update num_heads and num_kv_heads so the module describes itself"
    if any(getattr(new, n).out_features != getattr(new, n).weight.shape[0] for n in "qkv"):
        return "update out_features of q, k and v"
    if new.o.in_features != new.o.weight.shape[1]:
        return "update in_features of o"
    return None


def _heads_function(fn):
    original = _attention()
    removed_q = [4, 5, 6, 7]  # the channels of query heads 2 and 3 (head_dim 2)
    zeroed = copy.deepcopy(original)
    with torch.no_grad():
        zeroed.o.weight[:, removed_q] = 0  # the removed heads contribute nothing
    new = fn(_attention(), _keep_kv())
    x = torch.randn(2, 5, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = zeroed(x), new.eval()(x)
    if not torch.allclose(expected, got, atol=1e-5):
        if not torch.equal(new.o.bias, original.o.bias):
            return "o's bias belongs to its outputs, which did not change: keep it whole"
        return (
            "the pruned module computes something else than the original without those "
            "heads: check that the query heads you kept are the ones that share the kept "
            "key/value heads (heads j * group ... j * group + group - 1), in order"
        )
    return None


def _heads_original(fn):
    original = _attention()
    before = {k: t.clone() for k, t in original.state_dict().items()}
    fn(original, _keep_kv())
    after = original.state_dict()
    same = all(
        before[k].shape == after[k].shape and torch.equal(before[k], after[k]) for k in before
    )
    if not same or (original.num_heads, original.num_kv_heads) != (6, 3):
        return "the original module was modified; build a new one (copy.deepcopy first)"
    return None


def _heads_other_layout(fn):
    torch.manual_seed(3)
    original = Attention(width=18, num_heads=6, num_kv_heads=2).eval()  # head_dim 3, group 3
    zeroed = copy.deepcopy(original)
    with torch.no_grad():
        zeroed.o.weight[:, :9] = 0  # key/value head 0 goes, with query heads 0, 1 and 2
    new = fn(copy.deepcopy(original), torch.tensor([1]))
    if not isinstance(new, nn.Module):
        return "return the new attention module"
    x = torch.randn(2, 4, 18, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        same = zeroed(x).shape == new.eval()(x).shape and torch.allclose(
            zeroed(x), new(x), atol=1e-5
        )
    if not same or (new.num_heads, new.num_kv_heads) != (3, 1):
        return (
            "with 6 query heads sharing 2 key/value heads (group 3, head_dim 3) the result is "
            "wrong: take the group size and head_dim from the module, not from the example"
        )
    return None


ex5 = Exercise(
    "08.ex5",
    "remove attention heads under grouped-query attention",
    remove_heads,
    [_heads_original, _heads_shapes, _heads_counts, _heads_function, _heads_other_layout],
    [
        "A head is head_dim consecutive rows of q (or of k and v) and head_dim consecutive "
        "input columns of o. Under grouped-query attention, key/value head j serves query "
        "heads j * group to j * group + group - 1, with group = num_heads // num_kv_heads.",
        "Turn head indices into row indices: `(heads[:, None] * head_dim + "
        "torch.arange(head_dim)).flatten()`. The query heads of the kept key/value heads are "
        "`(keep[:, None] * group + torch.arange(group)).flatten()`.",
        "Deep-copy the module; slice q, k, v rows (weights and biases) and o's weight columns "
        "(not o's bias); update out_features, in_features, num_heads and num_kv_heads.",
    ],
)
