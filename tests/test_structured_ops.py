"""Operations beyond the zoo's: each followed exactly where it can be, otherwise pinned by name.

Issue 22's failure classes, each with a minimal module and, where one exists, the
``transformers`` class where it was found: operations with several outputs (``sort``, ``topk``,
``split`` / ``tensor_split``, ``max.dim``, ``var_mean``, ``meshgrid``), element-wise
``torch.min(a, b)`` / ``torch.max(a, b)``, and a rule that fails. Judged as
``tests/test_zoo.py`` judges: the pruned model computes what the original computes with the
removed units zeroed.
"""

from __future__ import annotations

import re
import warnings

import pytest
import torch
from torch import nn
from zoo_models import output, zeroed_copy

import pruning_lessons as pl
from pruning_lessons.structured import rules


def _judge(model: nn.Module, x: torch.Tensor, amount: float = 0.3, **options):
    """Prune; return (pruned, warnings, removed) after checking exactness against the zeroed
    original. Groups the self-check kept whole (named in its warning) count as not removed."""
    model.eval()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        groups = pl.unit_groups(model, x, **options)
        removed = pl.select_units(model, amount, example_input=x, **options)
        pruned = pl.prune_units(model, amount, example_input=x, **options)
    messages = [str(w.message) for w in caught if issubclass(w.category, pl.StructureWarning)]
    kept = {n for m in messages if "self-check" in m for n in re.findall(r"'([^']+)' \(layers", m)}
    removed = {n: u for n, u in removed.items() if n not in kept}
    assert sum(map(len, removed.values())) > 0, "nothing was pruned"
    assert pl.count_parameters(pruned) < pl.count_parameters(model)
    with torch.no_grad():
        want = output(zeroed_copy(model, groups, removed)(x))
        got = output(pruned(x))
    assert got.shape == want.shape
    assert (got - want).abs().max() <= 1e-5 * max(want.abs().max().item(), 1.0)
    return pruned, messages, removed


class Head(nn.Module):
    def __init__(self, op) -> None:
        super().__init__()
        self.fc, self.hidden, self.out, self.op = (
            nn.Linear(8, 16),
            nn.Linear(16, 16),
            nn.Linear(16, 4),
            op,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.op(torch.relu(self.fc(x)))
        return self.out(torch.relu(self.hidden(h)))


class Wrapped(nn.Module):
    def __init__(self, op) -> None:
        super().__init__()
        self.block = Head(op)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


def test_sort_along_features_is_pinned_with_a_warning_naming_the_module_and_sort():
    model, x = Wrapped(lambda h: h.sort(dim=1).values), torch.randn(3, 8)
    _, messages, removed = _judge(model, x)
    assert "block.fc" not in removed and "block.hidden" in removed
    assert any("'sort'" in m and "block" in m for m in messages)
    groups = {g.name: g for g in pl.unit_groups(model, x)}
    assert "sort" in groups["block.fc"].pinned
    with pytest.raises(TypeError, match="sort"):
        pl.unit_groups(model, x, strict=True)


@pytest.mark.parametrize(
    "op",
    [
        lambda h: h.unsqueeze(1).expand(-1, 5, -1).sort(dim=1).values.mean(1),
        lambda h: torch.topk(h.unsqueeze(1).expand(-1, 5, -1), 2, dim=1).values.sum(1),
        lambda h: h.unsqueeze(1).expand(-1, 3, -1).max(dim=1).values,
        lambda h: sum(torch.var_mean(h.unsqueeze(1).expand(-1, 3, -1) * 1.5, dim=1)),
        lambda h: (
            h
            * torch.stack(torch.meshgrid(torch.arange(2.0), torch.arange(3.0), indexing="ij")).sum()
        ),
    ],
    ids=["sort_tokens", "topk_tokens", "max_dim", "var_mean", "meshgrid"],
)
def test_several_outputs_along_other_axes_are_followed_exactly(op):
    _, messages, removed = _judge(Wrapped(op), torch.randn(3, 8), strict=True)
    assert {"block.fc", "block.hidden"} <= set(removed)
    assert not messages


class Router(nn.Module):
    """A mixture-of-experts router's habit: topk over the gate's expert scores."""

    def __init__(self) -> None:
        super().__init__()
        self.gate, self.fc, self.out = nn.Linear(8, 4), nn.Linear(8, 16), nn.Linear(16, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights, _ = torch.topk(self.gate(x).softmax(-1), 2, dim=-1)
        return self.out(torch.relu(self.fc(x))) * weights.sum(-1, keepdim=True)


def test_topk_over_a_router_keeps_the_router_and_prunes_the_rest():
    _, _, removed = _judge(Router(), torch.randn(3, 8))
    assert "fc" in removed and "gate" not in removed


class Split(nn.Module):
    """A layer's output split along its features (Mamba's dt / B / C)."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.fc, self.a, self.b, self.how = nn.Linear(8, 24), nn.Linear(8, 4), nn.Linear(16, 4), how

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.fc(x))
        if self.how == "tensor_split":
            p, q = torch.tensor_split(h, [8], dim=-1)
        else:
            p, q = h.split([8, 16], dim=-1)
        return self.a(p) + self.b(q)


def test_a_split_along_features_gives_each_piece_its_own_units():
    model, x = Split("tensor_split"), torch.randn(3, 8)
    groups = {g.name: g for g in pl.unit_groups(model, x, strict=True)}
    assert (groups["fc"].size, groups["fc[8:24]"].size) == (8, 16)
    # the split point is a constant in forward: only the second piece can lose units; the
    # self-check finds that the first cannot, and names it
    _, messages, removed = _judge(model, x)
    assert "fc[8:24]" in removed and "fc" not in removed
    assert any("self-check" in m and "'fc'" in m for m in messages)


def test_a_split_whose_every_piece_is_fixed_in_forward_is_refused_by_name():
    with pytest.raises(ValueError, match=r"'fc'.*split_with_sizes"):
        pl.prune_units(Split("split"), 0.3, example_input=torch.randn(3, 8))


class MinMax(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc, self.g, self.out = nn.Linear(8, 16), nn.Linear(8, 16), nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.fc(x), self.g(x)
        h = torch.maximum(torch.max(torch.min(a, b), b * 0.5), a.min(dim=0, keepdim=True).values)
        return self.out(h)


def test_min_and_max_of_two_tensors_are_elementwise():
    model, x = MinMax(), torch.randn(3, 8)
    groups = pl.unit_groups(model, x, strict=True)
    assert [g.layers for g in groups if g.pinned is None] == [["fc", "g"]]
    _judge(model, x, strict=True)


def test_a_rule_that_fails_pins_what_it_touched_and_names_module_and_operation(monkeypatch):
    def broken(walker, node):
        raise IndexError("list index out of range")

    monkeypatch.setitem(rules.RULES, "relu", broken)
    model, x = Wrapped(lambda h: h), torch.randn(3, 8)
    with pytest.warns(pl.StructureWarning, match=r"'relu'.*block"):
        groups = {g.name: g for g in pl.unit_groups(model, x)}
    assert "rule failed" in groups["block.fc"].pinned
    assert "rule failed" in groups["block.hidden"].pinned
    with pytest.raises(TypeError, match=r"'relu'.*block"):
        pl.unit_groups(model, x, strict=True)


def test_a_rule_whose_labels_do_not_fit_its_output_is_caught(monkeypatch):
    monkeypatch.setitem(rules.RULES, "relu", lambda walker, node: [])
    model, x = Wrapped(lambda h: h), torch.randn(3, 8)
    with pytest.warns(pl.StructureWarning, match="'relu'"):
        groups = pl.unit_groups(model, x)
    assert all(g.pinned for g in groups)


# --- the transformers classes where these were found -----------------------------------------


def _tokens() -> torch.Tensor:
    return torch.randint(0, 96, (2, 10), generator=torch.Generator().manual_seed(0))


def test_transformers_mixtral_and_qwen2_moe_prune_without_crashing():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    small = dict(vocab_size=96, hidden_size=32, num_hidden_layers=1, num_attention_heads=4)
    small.update(num_key_value_heads=2)
    for model in (
        transformers.MixtralForCausalLM(
            transformers.MixtralConfig(
                **small, intermediate_size=32, num_local_experts=4, num_experts_per_tok=2
            )
        ),
        transformers.Qwen2MoeForCausalLM(
            transformers.Qwen2MoeConfig(
                **small,
                intermediate_size=32,
                moe_intermediate_size=16,
                shared_expert_intermediate_size=16,
                num_experts=4,
                num_experts_per_tok=2,
            )
        ),
    ):
        _, messages, _ = _judge(model, _tokens())
        assert any("'topk'" in m and "mlp.gate" in m for m in messages)


def test_transformers_t5_relative_buckets_use_elementwise_min():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.T5Config(vocab_size=96, d_model=32, d_kv=8, d_ff=64, num_layers=1)
    model = transformers.T5EncoderModel(config)
    groups = pl.unit_groups(model, _tokens())
    assert any(g.pinned is None for g in groups)
    _judge(model, _tokens())


def test_transformers_mamba_splits_per_piece_and_is_refused_by_name_where_sizes_are_fixed():
    """Mamba splits ``x_proj``'s output into dt, B and C by sizes held in the module
    (``time_step_rank``, ``ssm_state_size``): followed piece by piece, and the self-check
    names the piece whose sizes the forward pass fixes."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.MambaConfig(
        vocab_size=96, hidden_size=32, state_size=8, num_hidden_layers=1, use_cache=False
    )
    model = transformers.MambaForCausalLM(config).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pl.StructureWarning)
        names = [g.name for g in pl.unit_groups(model, _tokens())]
        assert "backbone.layers.0.mixer.x_proj[2:10]" in names
        with pytest.raises(ValueError, match=r"x_proj.*split_with_sizes"):
            pl.prune_units(model, 0.3, example_input=_tokens())
