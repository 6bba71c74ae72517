"""Attention beyond the zoo's: per-head biases, one head, sizes held in module attributes,
``nn.TransformerEncoder``'s fast path, and layers written as ``x @ W.T``.

Each with a minimal module and the ``transformers`` class where it was found; judged by
exactness against the original with the removed units zeroed (``_judge``), or by a refusal
or pin that names the module.
"""

from __future__ import annotations

import re
import warnings

import pytest
import torch
import torch.nn.functional as F
import zoo_models
from test_structured_ops import _judge
from torch import nn

import pruning_lessons as pl


class BiasedAttention(nn.Module):
    """Relative-position attention: a learned per-head bias passed as SDPA's ``attn_mask``."""

    def __init__(self, via_mask: bool = True, heads: int = 4, width: int = 32) -> None:
        super().__init__()
        self.heads, self.via_mask = heads, via_mask
        self.q, self.k, self.v, self.o = (nn.Linear(width, width) for _ in range(4))
        self.table = nn.Parameter(torch.randn(9, heads))
        self.register_buffer("index", torch.arange(16).remainder(9).view(4, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = (f(x).view(b, n, -1, 8).transpose(1, 2) for f in (self.q, self.k, self.v))
        bias = self.table[self.index].permute(2, 0, 1).unsqueeze(0)  # (1, heads, n, n)
        if self.via_mask:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        else:
            scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5 + bias
            y = scores.softmax(-1) @ v
        return self.o(y.transpose(1, 2).reshape(b, n, -1))


@pytest.mark.parametrize("via_mask", [True, False], ids=["sdpa_mask", "matmul_bias"])
def test_a_per_head_bias_loses_the_removed_heads(via_mask):
    torch.manual_seed(0)
    model, x = BiasedAttention(via_mask), torch.randn(2, 4, 32)
    groups = {g.name: g for g in pl.unit_groups(model, x, strict=True)}
    heads = groups["q"]
    assert heads.pinned is None and heads.size == 4
    assert any(m.name == "" and m.param == "table" for m in heads.members)
    pruned, _, _ = _judge(model, x, 0.25, strict=True)
    assert pruned.table.shape == (9, 3)


class FixedHeads(nn.Module):
    """Sizes held in attributes: ``view(b, n, self.num_heads, -1)`` runs after pruning but
    groups the features wrongly; ``split(self.n_embd)`` (nanoGPT) crashes."""

    def __init__(self, fused: bool) -> None:
        super().__init__()
        self.num_heads, self.n_embd, self.fused = 4, 32, fused
        self.qkv, self.proj = nn.Linear(32, 96), nn.Linear(32, 32)
        self.q, self.k, self.v = nn.Linear(32, 32), nn.Linear(32, 32), nn.Linear(32, 32)
        self.fc, self.out = nn.Linear(32, 64), nn.Linear(64, 32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        if self.fused:
            parts = self.qkv(x).split(self.n_embd, dim=2)
        else:
            parts = (self.q(x), self.k(x), self.v(x))
        q, k, v = (p.view(b, n, self.num_heads, -1).transpose(1, 2) for p in parts)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(b, n, -1))
        return x + self.out(torch.relu(self.fc(x)))


@pytest.mark.parametrize("fused", [False, True], ids=["view_num_heads", "nanogpt_split"])
def test_sizes_held_in_attributes_never_give_a_wrong_model(fused):
    torch.manual_seed(0)
    model, x = FixedHeads(fused), torch.randn(2, 5, 32)
    unchecked = pl.prune_units(model, 0.25, example_input=x, verify=False)
    if not fused:  # without the self-check: a model that runs and is wrong
        removed = pl.select_units(model, 0.25, example_input=x)
        from zoo_models import zeroed_copy

        with torch.no_grad():
            want = zeroed_copy(model, pl.unit_groups(model, x), removed)(x)
            assert (unchecked(x) - want).abs().max() > 1e-3
    pruned, messages, removed = _judge(model, x, 0.25)
    assert any(re.search(r"self-check.*'(q|qkv)'", m) for m in messages)
    assert "fc" in removed  # the MLP is still pruned; the heads are kept whole
    assert pruned.proj.in_features == 32


def test_transformers_swin_and_beit_prune_heads_with_their_relative_position_bias():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    image = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    swin = transformers.SwinForImageClassification(
        transformers.SwinConfig(
            image_size=32,
            patch_size=4,
            embed_dim=16,
            depths=[1, 1],
            num_heads=[2, 4],
            window_size=4,
            num_labels=10,
        )
    )
    beit = transformers.BeitForImageClassification(
        transformers.BeitConfig(
            image_size=32,
            patch_size=8,
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=4,
            intermediate_size=64,
            use_relative_position_bias=True,
            num_labels=10,
        )
    )
    for model in (swin, beit):
        pruned, _, removed = _judge(model, image, 0.5)
        assert any("attention" in name for name in removed), removed


def test_one_head_attention_prunes_its_width_and_updates_head_dim():
    torch.manual_seed(0)
    transformers = pytest.importorskip("transformers")
    config = transformers.ViTConfig(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=1,
        intermediate_size=64,
        num_labels=10,
    )
    model, image = transformers.ViTForImageClassification(config), torch.randn(2, 3, 32, 32)
    pruned, _, removed = _judge(model, image, 0.25)
    attention = pruned.vit.layers[0].attention
    assert attention.head_dim == attention.q_proj.out_features == 24


def test_transformers_segformer_and_t5_prune_heads_exactly():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    segformer, image = zoo_models.segformer()  # the zoo's small SegFormer, one definition
    _judge(segformer, image)
    t5 = transformers.T5EncoderModel(
        transformers.T5Config(vocab_size=96, d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=4)
    )
    tokens = torch.randint(0, 96, (2, 10), generator=torch.Generator().manual_seed(0))
    pruned, _, removed = _judge(t5, tokens, 0.25, strict=True)
    attention = pruned.encoder.block[0].layer[0].SelfAttention
    assert attention.n_heads == 3 and attention.inner_dim == 24
    assert attention.relative_attention_bias.weight.shape[1] == 3


def test_transformer_encoder_in_eval_mode_is_recorded_by_its_ordinary_path():
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(32, 4, 64, batch_first=True, dropout=0.0)
    model = nn.Sequential(
        nn.Linear(8, 32),
        nn.TransformerEncoder(layer, 2, enable_nested_tensor=False),
        nn.Linear(32, 5),
    ).eval()
    x = torch.randn(2, 6, 8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        groups = pl.unit_groups(model, x)
    assert not any("_transformer_encoder_layer_fwd" in str(w.message) for w in caught)
    assert torch.backends.mha.get_fastpath_enabled()  # restored
    assert {"1.layers.0.linear1", "1.layers.1.linear1"} <= {g.name for g in groups if not g.pinned}
    _judge(model, x)


class TransposedLinear(nn.Module):
    """A layer with its own class, written ``x @ self.weight.T`` (Falcon's FalconLinear)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin) / cin**0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight.T


def test_a_layer_written_as_x_matmul_w_T_is_a_layer():
    torch.manual_seed(0)
    model = nn.Sequential(TransposedLinear(8, 16), nn.ReLU(), TransposedLinear(16, 4))
    pruned, _, removed = _judge(model, torch.randn(3, 8), strict=True)
    assert removed == {"0": removed["0"]} and pruned[0].weight.shape == (11, 8)


def test_transformers_falcon_prunes_its_mlp():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.FalconConfig(
        vocab_size=96, hidden_size=32, num_hidden_layers=1, num_attention_heads=4
    )
    tokens = torch.randint(0, 96, (2, 10), generator=torch.Generator().manual_seed(0))
    _, _, removed = _judge(transformers.FalconForCausalLM(config), tokens)
    assert any("dense_h_to_4h" in name for name in removed)


class OneHead(nn.Module):
    """A hand-written attention with one head whose width is kept in ``head_dim``."""

    def __init__(self) -> None:
        super().__init__()
        self.num_heads, self.head_dim = 1, 16
        self.q_proj, self.k_proj, self.v_proj = (nn.Linear(16, 16) for _ in range(3))
        self.o_proj = nn.Linear(16, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        shape = (b, n, self.num_heads, self.head_dim)
        q, k, v = (
            f(x).view(shape).transpose(1, 2) for f in (self.q_proj, self.k_proj, self.v_proj)
        )
        y = F.scaled_dot_product_attention(q, k, v, scale=0.25)
        return x + self.o_proj(y.transpose(1, 2).reshape(b, n, -1))


def test_a_hand_written_one_head_attention_updates_its_head_dim():
    torch.manual_seed(0)
    pruned, _, removed = _judge(OneHead(), torch.randn(2, 5, 16), 0.25, strict=True)
    assert pruned.head_dim == pruned.q_proj.out_features == 12 and pruned.num_heads == 1
