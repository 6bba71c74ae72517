"""Expert pruning: whole experts of a mixture-of-experts layer, with their router rows.

Exact against the original with the removed experts' router logits forced to ``-inf``
(``F.linear`` is wrapped for the router weights only while the original runs), on
``transformers``' Mixtral and Qwen2-MoE and on a hand-written layer with an
``nn.ModuleList`` of experts.
"""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from zoo_models import build, zeroed_copy

import pruning_lessons as pl
from pruning_lessons.structured.experts import expert_layers, expert_scores


class TinyMoE(nn.Module):
    """Old-style Mixtral block: ``nn.Linear`` router, ``nn.ModuleList`` of experts, top 2."""

    def __init__(self, experts: int = 6) -> None:
        super().__init__()
        self.top_k = 2
        self.gate = nn.Linear(8, experts, bias=False)
        self.experts = nn.ModuleList(
            nn.Sequential(nn.Linear(8, 16), nn.SiLU(), nn.Linear(16, 8)) for _ in range(experts)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = self.gate(x).softmax(-1)
        weights, chosen = probs.topk(self.top_k, dim=-1)
        out = torch.zeros_like(x)
        for e, expert in enumerate(self.experts):
            hit = (chosen == e).any(-1, keepdim=True)
            weight = (weights * (chosen == e)).sum(-1, keepdim=True)
            out = out + torch.where(hit, weight * expert(x), 0.0)
        return out


def _removed(model, scores: dict, amount: float) -> dict[str, list[int]]:
    out = {}
    for layer in expert_layers(model):
        count = round(amount * layer.count)
        out[layer.router] = sorted(
            torch.sort(scores[layer.name], stable=True).indices[:count].tolist()
        )
    return out


def _original_with_experts_silenced(model, removed: dict, x):
    weights = {id(model.get_submodule(r).weight): units for r, units in removed.items()}
    linear = F.linear

    def masked(inputs, weight, bias=None):
        out = linear(inputs, weight, bias)
        if id(weight) in weights:
            out = out.clone()
            out[..., weights[id(weight)]] = float("-inf")
        return out

    F.linear = masked
    try:
        with torch.no_grad():
            return model(x)
    finally:
        F.linear = linear


def _check(model, x, amount):
    model.eval()
    scores = expert_scores(model, x)
    removed = _removed(model, scores, amount)
    pruned = pl.prune_experts(model, amount, x)
    want = _original_with_experts_silenced(model, removed, x)
    with torch.no_grad():
        got = pruned(x)
    want, got = (getattr(t, "logits", t) for t in (want, got))
    assert (want - got).abs().max() <= 1e-5 * want.abs().max()
    assert pl.count_parameters(pruned) < pl.count_parameters(model)
    return pruned, removed


def test_a_hand_written_moe_loses_whole_experts_exactly():
    torch.manual_seed(0)
    model, x = TinyMoE(), torch.randn(32, 8)
    pruned, removed = _check(model, x, 0.5)
    assert len(pruned.experts) == 3 and pruned.gate.weight.shape == (3, 8)
    assert pruned.gate.out_features == 3 and len(removed["gate"]) == 3
    assert len(model.experts) == 6  # the original is untouched


def test_transformers_mixtral_and_qwen2_moe_prune_experts_exactly():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    small = dict(vocab_size=96, hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
    small.update(num_key_value_heads=2, num_experts_per_tok=2)
    mixtral = transformers.MixtralForCausalLM(
        transformers.MixtralConfig(**small, intermediate_size=32, num_local_experts=4)
    )
    qwen = transformers.Qwen2MoeForCausalLM(
        transformers.Qwen2MoeConfig(
            **small,
            intermediate_size=32,
            moe_intermediate_size=16,
            shared_expert_intermediate_size=16,
            num_experts=4,
        )
    )
    tokens = torch.randint(0, 96, (4, 12), generator=torch.Generator().manual_seed(0))
    for model, count in ((mixtral, "num_local_experts"), (qwen, "num_experts")):
        pruned, _ = _check(model, tokens, 0.5)
        assert getattr(pruned.config, count) == 2
        block = pruned.model.layers[0].mlp
        assert block.experts.num_experts == block.gate.num_experts == 2
        assert block.experts.down_proj.shape[0] == 2


def test_expert_pruning_refuses_what_it_cannot_do():
    model, x = TinyMoE(4), torch.randn(8, 8)
    with pytest.raises(ValueError, match="fewer than the 2"):
        pl.prune_experts(model, 0.75, x)
    with pytest.raises(ValueError, match="no mixture-of-experts"):
        pl.prune_experts(nn.Sequential(nn.Linear(8, 2)), 0.5, x)
    with pytest.raises(TypeError, match="amount"):
        pl.prune_experts(model, 1, x)


def test_the_library_names_the_experts_it_removes_and_gives_the_reference():
    from pruning_lessons.structured.experts import select_experts, silenced_experts

    torch.manual_seed(1)
    model, x = TinyMoE(), torch.randn(32, 8)
    model.eval()
    removed = select_experts(model, 0.5, x)
    assert removed == _removed(model, expert_scores(model, x), 0.5)
    with silenced_experts(model, removed), torch.no_grad():
        reference = model(x)
    assert torch.equal(reference, _original_with_experts_silenced(model, removed, x))
    assert F.linear is torch.nn.functional.linear and not torch.equal(reference, model(x))
    with torch.no_grad():
        got = pl.prune_experts(model, 0.5, x)(x)
    assert (reference - got).abs().max() <= 1e-5 * reference.abs().max()
    with pytest.raises(ValueError, match="fewer than the 2"):
        select_experts(model, 0.9, x)


class StackedExperts(nn.Module):
    """Experts stored as one 3-D weight and applied by a grouped matmul (as ``transformers``
    5 fuses them): ``_grouped_mm`` has no coupling rule."""

    def __init__(self, width: int = 8, experts: int = 2) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(experts, width, width) / width**0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = x.shape[0] // 2
        offs = torch.tensor([half, x.shape[0]], dtype=torch.int32)
        return torch._grouped_mm(x, self.weight, offs=offs)


def test_inner_widths_of_stacked_experts_are_kept_by_name_in_every_layer():
    """The second block's input carries no units (the first block's output cannot be
    followed), yet its stacked weight is named too: no expert width is left silently."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 8), StackedExperts(), StackedExperts()
    ).eval()
    x = torch.randn(4, 6)
    with pytest.warns(pl.StructureWarning, match=r"'_grouped_mm' in module '3'.*module '4'"):
        groups = pl.unit_groups(model, x)
        removed = pl.select_units(model, 0.5, example_input=x)
        pruned = pl.prune_units(model, 0.5, example_input=x)
    assert pruned[0].out_features == 8 and pruned[4].weight.shape == (2, 8, 8)
    with torch.no_grad():
        assert torch.allclose(pruned(x), zeroed_copy(model, groups, removed)(x), atol=1e-6)


@pytest.mark.parametrize("name", ["mixtral", "qwen2_moe"])
def test_transformers_experts_inner_widths_are_named_in_every_layer(name):
    """prune_units on Mixtral / Qwen2-MoE: the fused experts' inner widths stay whole, and the
    warning names every layer's experts module and the operation."""
    pytest.importorskip("transformers")
    model, tokens = build(name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pruned = pl.prune_units(model, 0.3, example_input=tokens)
    said = " ".join(str(w.message) for w in caught if issubclass(w.category, pl.StructureWarning))
    assert "'_grouped_mm' in module 'layers.0.mlp.experts'" in said
    for layer in range(len(model.model.layers)):
        assert f"module 'layers.{layer}.mlp.experts'" in said
        dense = model.model.layers[layer].mlp.experts
        assert pruned.model.layers[layer].mlp.experts.down_proj.shape == dense.down_proj.shape
