"""Exercise 08, structural pruning: shrink layers and their neighbours so the network still runs."""

from __future__ import annotations

import copy
from collections import OrderedDict

import torch
from torch import nn

from .core import Exercise

# --- reference solutions ---------------------------------------------------------------------


def remove_neurons(
    layer: nn.Linear, next_layer: nn.Linear, keep: torch.Tensor
) -> tuple[nn.Linear, nn.Linear]:
    """Keep the neurons ``keep`` (indices) of ``layer`` and the matching inputs of the next."""
    new = nn.Linear(layer.in_features, len(keep), bias=layer.bias is not None)
    new_next = nn.Linear(len(keep), next_layer.out_features, bias=next_layer.bias is not None)
    with torch.no_grad():
        new.weight.copy_(layer.weight[keep])  # rows are output neurons
        if layer.bias is not None:
            new.bias.copy_(layer.bias[keep])
        new_next.weight.copy_(next_layer.weight[:, keep])  # columns are input features
        if next_layer.bias is not None:
            new_next.bias.copy_(next_layer.bias)
    return new, new_next


def remove_filters(
    conv: nn.Conv2d, bn: nn.BatchNorm2d, next_conv: nn.Conv2d, keep: torch.Tensor
) -> tuple[nn.Conv2d, nn.BatchNorm2d, nn.Conv2d]:
    """Keep filters ``keep`` of ``conv``, and those channels of ``bn`` and ``next_conv``."""
    new_conv = copy.deepcopy(conv)
    new_bn = copy.deepcopy(bn)
    new_next = copy.deepcopy(next_conv)
    with torch.no_grad():
        new_conv.weight = nn.Parameter(conv.weight[keep].clone())
        if conv.bias is not None:
            new_conv.bias = nn.Parameter(conv.bias[keep].clone())
        new_conv.out_channels = len(keep)
        new_bn.weight = nn.Parameter(bn.weight[keep].clone())
        new_bn.bias = nn.Parameter(bn.bias[keep].clone())
        new_bn.running_mean = bn.running_mean[keep].clone()
        new_bn.running_var = bn.running_var[keep].clone()
        new_bn.num_features = len(keep)
        new_next.weight = nn.Parameter(next_conv.weight[:, keep].clone())
        new_next.in_channels = len(keep)
    return new_conv, new_bn, new_next


def flatten_keep(keep: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Input features of a Linear after Flatten that belong to the kept channels ``keep``.

    Flatten lays a (C, H, W) map out channel by channel, so channel c owns the features
    c*H*W ... (c+1)*H*W - 1.
    """
    per_channel = height * width
    offsets = torch.arange(per_channel, device=keep.device)
    return (keep[:, None] * per_channel + offsets[None, :]).flatten()


def drop_layer(model: nn.Sequential, name: str) -> nn.Sequential:
    """A copy of ``model`` without layer ``name`` (and the activation right after it).

    Only possible when the layer maps a width to the same width, so its neighbours still fit.
    """
    layer = model.get_submodule(name)
    if not isinstance(layer, nn.Linear) or layer.in_features != layer.out_features:
        raise ValueError(f"{name} changes the width, so removing it breaks its neighbours")
    names = [n for n, _ in model.named_children()]
    drop = {name}
    following = names.index(name) + 1
    if following < len(names) and isinstance(model[following], nn.ReLU):
        drop.add(names[following])
    kept = [(n, copy.deepcopy(m)) for n, m in model.named_children() if n not in drop]
    return nn.Sequential(OrderedDict(kept))


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


# --- properties ------------------------------------------------------------------------------


def _pair():
    torch.manual_seed(0)
    return nn.Linear(5, 6), nn.Linear(6, 3)


_KEEP = torch.tensor([0, 2, 3, 4])  # neurons 1 and 5 go


def _neurons_shapes(fn):
    layer, next_layer = _pair()
    result = fn(layer, next_layer, _KEEP)
    if not isinstance(result, tuple) or len(result) != 2:
        return "return the two new layers as a tuple (layer, next_layer)"
    new, new_next = result
    if tuple(new.weight.shape) != (4, 5):
        if tuple(new.weight.shape) == (6, 4):
            return (
                "you removed inputs of the first layer instead of its neurons: a Linear "
                "weight is (out_features, in_features), so neurons are rows"
            )
        shape = tuple(new.weight.shape)
        return f"the first layer's weight should be (4, 5) after keeping 4 neurons, not {shape}"
    if tuple(new_next.weight.shape) != (3, 4):
        return (
            f"the next layer's weight is {tuple(new_next.weight.shape)}: it still expects the "
            "removed neurons as inputs. Remove the matching columns of the next layer too"
        )
    if new.out_features != 4 or new_next.in_features != 4:
        return "update out_features / in_features as well, so the layers describe themselves"
    return None


def _neurons_values(fn):
    layer, next_layer = _pair()
    weight, bias = layer.weight.detach().clone(), layer.bias.detach().clone()
    next_weight, next_bias = next_layer.weight.detach().clone(), next_layer.bias.detach().clone()
    new, new_next = fn(layer, next_layer, _KEEP)
    if not torch.equal(new.weight, weight[_KEEP]):
        if not any(torch.equal(row, original) for row in new.weight for original in weight):
            return (
                "the first layer's rows hold none of the original weights: copy the trained "
                "values of the kept neurons (freshly initialised layers forget what was learned)"
            )
        return "the first layer's surviving rows are not the kept neurons, in their order"
    if new.bias is None or not torch.equal(new.bias, bias[_KEEP]):
        return "the first layer's bias must shrink with its neurons (one bias per neuron)"
    if not torch.equal(new_next.weight, next_weight[:, _KEEP]):
        return "the next layer's columns do not match the kept neurons"
    if new_next.bias is None or not torch.equal(new_next.bias, next_bias):
        return "the next layer's bias belongs to its outputs, which did not change: keep it whole"
    return None


def _neurons_function(fn):
    layer, next_layer = _pair()
    with torch.no_grad():
        next_layer.weight[:, [1, 5]] = 0.0  # the removed neurons feed nothing forward
    new, new_next = fn(layer, next_layer, _KEEP)
    x = torch.randn(7, 5)
    before = next_layer(torch.relu(layer(x)))
    after = new_next(torch.relu(new(x)))
    if not torch.allclose(before, after, atol=1e-6):
        return "removing neurons whose outgoing weights are zero changed the network's output"
    return None


def _neurons_original(fn):
    layer, next_layer = _pair()
    before = [p.clone() for p in (*layer.parameters(), *next_layer.parameters())]
    fn(layer, next_layer, _KEEP)
    after = [*layer.parameters(), *next_layer.parameters()]
    if any(a.shape != b.shape or not torch.equal(a, b) for a, b in zip(before, after, strict=True)):
        return "the original layers were modified; build new layers and leave the old ones intact"
    return None


def _trio():
    torch.manual_seed(0)
    conv, bn, next_conv = nn.Conv2d(2, 6, 3, padding=1), nn.BatchNorm2d(6), nn.Conv2d(6, 4, 3)
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    return conv, bn, next_conv


def _filters_shapes(fn):
    conv, bn, next_conv = _trio()
    result = fn(conv, bn, next_conv, _KEEP)
    if not isinstance(result, tuple) or len(result) != 3:
        return "return the three new modules as a tuple (conv, bn, next_conv)"
    new_conv, new_bn, new_next = result
    if new_conv.weight.shape[0] != 4:
        return "the conv should keep 4 filters: its weight is (out_channels, in, kH, kW)"
    if new_bn.weight.shape[0] != 4 or new_bn.bias.shape[0] != 4:
        return "BatchNorm's scale and shift must shrink with the filters"
    if new_bn.running_mean.shape[0] != 4 or new_bn.running_var.shape[0] != 4:
        return (
            "BatchNorm's running_mean / running_var still have 6 entries: slice the running "
            "statistics too, or eval mode fails ('running_mean should contain 4 elements')"
        )
    if new_next.weight.shape[1] != 4:
        return "the next conv still expects 6 input channels: slice its weight's dim 1"
    if new_conv.bias is not None and new_conv.bias.shape[0] != 4:
        return "the conv's bias still has 6 entries: one bias per filter, so it shrinks too"
    if tuple(new_next.weight.shape) != (4, 4, 3, 3):
        return "the next conv's filters (dim 0) and kernel size must not change"
    return None


def _filters_function(fn):
    conv, bn, next_conv = _trio()
    with torch.no_grad():
        next_conv.weight[:, [1, 5]] = 0.0
    bn.eval()
    x = torch.randn(3, 2, 5, 5)
    with torch.no_grad():
        before = next_conv(torch.relu(bn(conv(x))))  # before fn could change the originals
    new_conv, new_bn, new_next = fn(conv, bn, next_conv, _KEEP)
    new_bn.eval()
    after = new_next(torch.relu(new_bn(new_conv(x))))
    if not torch.allclose(before, after, atol=1e-5):
        return (
            "in eval mode the pruned trio computes something else: check that the kept "
            "channels are the same in the conv, in every BatchNorm tensor and in the next conv"
        )
    return None


def _shares_storage(new: nn.Module, old: list[nn.Module]) -> bool:
    """Whether ``new`` holds a tensor that lives in the same memory as one of ``old``'s."""
    pointers = {t.data_ptr() for m in old for t in (*m.parameters(), *m.buffers()) if t.numel()}
    return any(t.data_ptr() in pointers for t in (*new.parameters(), *new.buffers()) if t.numel())


def _filters_metadata(fn):
    new_conv, new_bn, new_next = fn(*_trio(), _KEEP)
    stale = [
        f"{label} says {value}"
        for label, value in (
            ("conv.out_channels", new_conv.out_channels),
            ("bn.num_features", new_bn.num_features),
            ("next_conv.in_channels", new_next.in_channels),
        )
        if value != 4
    ]
    if stale:
        return (
            "the tensors have 4 channels but the modules still describe the old size ("
            + ", ".join(stale)
            + "): printing, copying or exporting the model would be wrong"
        )
    return None


def _filters_independent(fn):
    conv, bn, next_conv = _trio()
    result = fn(conv, bn, next_conv, _KEEP)
    if any(r is o for r in result for o in (conv, bn, next_conv)) or any(
        _shares_storage(r, [conv, bn, next_conv]) for r in result
    ):
        return (
            "a returned module shares its tensors with the original: training the pruned "
            "network would silently change the original too. Return independent modules"
        )
    return None


def _filters_original(fn):
    conv, bn, next_conv = _trio()
    before = [t.clone() for m in (conv, bn, next_conv) for t in m.state_dict().values()]
    fn(conv, bn, next_conv, _KEEP)
    after = [t for m in (conv, bn, next_conv) for t in m.state_dict().values()]
    if any(a.shape != b.shape or not torch.equal(a, b) for a, b in zip(before, after, strict=True)):
        return "the original modules were modified; build new ones"
    return None


def _flatten_values(fn):
    got = fn(torch.tensor([1, 3]), 2, 2)
    if not torch.is_tensor(got) or got.dtype not in (torch.int64, torch.int32):
        return "return a tensor of integer feature indices"
    if got.numel() == 2:
        return (
            "you returned one index per channel, but after Flatten each channel owns "
            "height x width features"
        )
    if got.tolist() != [4, 5, 6, 7, 12, 13, 14, 15]:
        return (
            "those are not the features of the kept channels: Flatten lays out channel 0's "
            "H*W values first, then channel 1's, and so on"
        )
    return None


def _flatten_runs(fn):
    torch.manual_seed(0)
    conv, fc = nn.Conv2d(1, 4, 3, padding=1), nn.Linear(4 * 3 * 3, 2)
    keep = torch.tensor([0, 2])
    with torch.no_grad():
        fc.weight[:, fn(torch.tensor([1, 3]), 3, 3)] = 0.0
    features = fn(keep, 3, 3)
    small_conv = nn.Conv2d(1, 2, 3, padding=1)
    small_fc = nn.Linear(len(features), 2)
    with torch.no_grad():
        small_conv.weight.copy_(conv.weight[keep])
        small_conv.bias.copy_(conv.bias[keep])
        small_fc.weight.copy_(fc.weight[:, features])
        small_fc.bias.copy_(fc.bias)
    x = torch.randn(2, 1, 3, 3)
    if not torch.allclose(fc(conv(x).flatten(1)), small_fc(small_conv(x).flatten(1)), atol=1e-6):
        return "slicing the Linear with your indices changes the output"
    return None


def _deep_mlp():
    torch.manual_seed(0)
    return nn.Sequential(
        OrderedDict(
            fc1=nn.Linear(4, 6),
            relu1=nn.ReLU(),
            fc2=nn.Linear(6, 6),
            relu2=nn.ReLU(),
            fc3=nn.Linear(6, 2),
        )
    )


def _drop_runs(fn):
    model = _deep_mlp()
    smaller = fn(model, "fc2")
    if not isinstance(smaller, nn.Module):
        return "return the new, smaller model"
    try:
        out = smaller(torch.randn(3, 4))
    except RuntimeError as error:
        return f"the smaller model cannot run: {error}"
    if out.shape != (3, 2):
        return f"the smaller model's output has shape {tuple(out.shape)}, expected (3, 2)"
    if any(
        isinstance(m, nn.Linear) and m.in_features == 6 and m.out_features == 6
        for m in smaller.modules()
    ):
        return "the 6 -> 6 layer is still there"
    if sum(isinstance(m, nn.ReLU) for m in smaller.modules()) != 1:
        return "remove the dropped layer's activation too, and keep the other one"
    return None


def _drop_refuses(fn):
    try:
        fn(_deep_mlp(), "fc1")
    except ValueError:
        return None
    return (
        "removing fc1 (4 -> 6) must raise ValueError: fc2 expects 6 inputs and would get 4; "
        "only a layer whose input and output widths match can go"
    )


def _drop_original(fn):
    model = _deep_mlp()
    fn(model, "fc2")
    if len(model) != 5:
        return "the original model lost a layer; build a new Sequential instead"
    return None


def _drop_independent(fn):
    model = _deep_mlp()
    smaller = fn(model, "fc2")
    if any(m is o for m in smaller.modules() for o in model.modules()) or _shares_storage(
        smaller, [model]
    ):
        return (
            "the new model shares layers with the original: fine-tuning it would silently "
            "change the original model too. The new model needs its own copies"
        )
    return None


def _attention() -> Attention:
    torch.manual_seed(0)
    return Attention(width=16, num_heads=6, num_kv_heads=3).eval()  # 2 query heads per kv head


_KEEP_KV = torch.tensor([0, 2])  # key/value head 1 goes, with query heads 2 and 3


def _heads_result(fn):
    new = fn(_attention(), _KEEP_KV)
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
    new = fn(_attention(), _KEEP_KV)
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


def _drop_keeps_weights(fn):
    model = _deep_mlp()
    smaller = fn(model, "fc2")
    linears = [m for m in smaller.modules() if isinstance(m, nn.Linear)]
    originals = (model.fc1, model.fc3)
    if len(linears) != 2 or any(
        not (torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias))
        for a, b in zip(linears, originals, strict=True)
    ):
        return (
            "the layers that stay must keep their trained weights and biases; yours hold "
            "different values (freshly initialised layers forget what was learned)"
        )
    return None


def _heads_original(fn):
    original = _attention()
    before = {k: t.clone() for k, t in original.state_dict().items()}
    fn(original, _KEEP_KV)
    after = original.state_dict()
    same = all(
        before[k].shape == after[k].shape and torch.equal(before[k], after[k]) for k in before
    )
    if not same or (original.num_heads, original.num_kv_heads) != (6, 3):
        return "the original module was modified; build a new one (copy.deepcopy first)"
    return None


# --- the exercises ---------------------------------------------------------------------------

ex1 = Exercise(
    "08.ex1",
    "remove neurons",
    remove_neurons,
    [_neurons_shapes, _neurons_original, _neurons_values, _neurons_function],
    [
        "A neuron of a Linear layer is one row of its weight and one entry of its bias. Its "
        "output is read by the next layer through one column of that layer's weight.",
        "Index with the kept indices: `layer.weight[keep]` keeps rows; "
        "`next_layer.weight[:, keep]` keeps columns.",
        "Build two new nn.Linear layers of the new sizes and copy the sliced tensors into them "
        "inside `torch.no_grad()`; the next layer's bias stays whole.",
    ],
)

ex2 = Exercise(
    "08.ex2",
    "remove filters, with BatchNorm",
    remove_filters,
    [
        _filters_shapes,
        _filters_original,
        _filters_metadata,
        _filters_independent,
        _filters_function,
    ],
    [
        "A filter is the first dimension of the conv weight; BatchNorm then has one scale, "
        "shift, running mean and running variance per channel.",
        "Four BatchNorm tensors must shrink: weight, bias, running_mean, running_var. The next "
        "conv's weight is (out, in, kH, kW): slice dim 1.",
        "Deep-copy the three modules, then replace the tensors with sliced clones and update "
        "out_channels, num_features and in_channels.",
    ],
)

ex3 = Exercise(
    "08.ex3",
    "flatten into a linear layer",
    flatten_keep,
    [_flatten_values, _flatten_runs],
    [
        "After Flatten, a (C, H, W) map becomes C*H*W features, channel after channel.",
        "Channel c owns the features c*H*W up to (c+1)*H*W - 1.",
        "`(keep[:, None] * (H * W) + torch.arange(H * W)[None, :]).flatten()` lists them.",
    ],
)

ex4 = Exercise(
    "08.ex4",
    "remove a whole layer",
    drop_layer,
    [_drop_refuses, _drop_runs, _drop_original, _drop_independent, _drop_keeps_weights],
    [
        "A layer can go only if its input and output widths are equal: its neighbours must "
        "still fit together.",
        "Check `in_features == out_features` first and raise ValueError otherwise.",
        "Build a new nn.Sequential from an OrderedDict of the other children (deep copies), "
        "leaving out the layer and the ReLU right after it.",
    ],
)

ex5 = Exercise(
    "08.ex5",
    "remove attention heads under grouped-query attention",
    remove_heads,
    [_heads_original, _heads_shapes, _heads_counts, _heads_function],
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

EXERCISES = (ex1, ex2, ex3, ex4, ex5)
