"""Width pruning of the small LLaMA model: heads, MLP neurons, embedding channels (Minitron)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import pruning_lessons as pl
from pruning_lessons.llm import (
    TinyLlama,
    TinyLlamaConfig,
    calibration_batches,
    load_tiny_llama,
    prune_heads,
    prune_mlp_width,
    prune_model_width,
    tiny_llama,
    width_scores,
)
from pruning_lessons.llm.width import unit_norms
from pruning_lessons.structured.groups import Member

SMALL = TinyLlamaConfig(
    vocab_size=32, dim=16, n_layers=3, n_heads=6, n_kv_heads=3, head_dim=4, hidden_dim=24
)


def small_model(device: torch.device | str = "cpu", cfg: TinyLlamaConfig = SMALL) -> nn.Module:
    return tiny_llama(cfg, seed=0).to(device).eval()


def ids(n: int, seq: int, vocab: int = SMALL.vocab_size, seed: int = 0) -> torch.Tensor:
    data = torch.randint(0, vocab, (n * seq * 4,), generator=torch.Generator().manual_seed(seed))
    return calibration_batches(data, n, seq, seed=seed)


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_state(model: nn.Module, before: dict[str, torch.Tensor]) -> bool:
    now = model.state_dict()
    return now.keys() == before.keys() and all(torch.equal(now[k], before[k]) for k in before)


def kept_rows(original: torch.Tensor, pruned: torch.Tensor, block: int) -> list[int]:
    """Which ``block``-row slices of ``original`` survive in ``pruned`` (in order)."""
    old = original.reshape(-1, block, original.shape[1])
    new = pruned.reshape(-1, block, original.shape[1])
    found = [next(i for i in range(len(old)) if torch.equal(old[i], n)) for n in new]
    assert found == sorted(set(found))
    return found


def relative_gap(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def removed_heads(model: nn.Module, pruned: nn.Module) -> list[list[int]]:
    """Per block, the key/value heads that ``pruned`` lacks (read from k_proj's rows)."""
    out = []
    for old, new in zip(model.layers, pruned.layers, strict=True):
        width, n_kv = old.self_attn.head_dim, old.self_attn.k_proj.out_features
        kept = kept_rows(old.self_attn.k_proj.weight, new.self_attn.k_proj.weight, width)
        out.append(sorted(set(range(n_kv // width)) - set(kept)))
    return out


def removed_neurons(model: nn.Module, pruned: nn.Module) -> list[list[int]]:
    out = []
    for old, new in zip(model.layers, pruned.layers, strict=True):
        kept = kept_rows(old.mlp.gate_proj.weight, new.mlp.gate_proj.weight, 1)
        out.append(sorted(set(range(old.mlp.gate_proj.out_features)) - set(kept)))
    return out


def heads_zeroed(model: nn.Module, removed: list[list[int]]) -> nn.Module:
    """The original with the removed key/value heads' query heads cut from o_proj's input."""
    zeroed = copy.deepcopy(model)
    for block, gone in zip(zeroed.layers, removed, strict=True):
        attn = block.self_attn
        group = attn.q_proj.out_features // attn.k_proj.out_features  # query heads per kv head
        span = group * attn.head_dim  # o_proj columns per kv head
        with torch.no_grad():
            for kv in gone:
                attn.o_proj.weight[:, kv * span : (kv + 1) * span] = 0
    return zeroed


def neurons_zeroed(model: nn.Module, removed: list[list[int]]) -> nn.Module:
    zeroed = copy.deepcopy(model)
    for block, gone in zip(zeroed.layers, removed, strict=True):
        with torch.no_grad():
            block.mlp.down_proj.weight[:, gone] = 0
    return zeroed


def hooked_inputs(model: nn.Module, layer: str, batch: torch.Tensor) -> list[torch.Tensor]:
    """The inputs of ``layers.i.<layer>`` for every block, on ``batch``."""
    seen = []
    handles = [
        block.get_submodule(layer).register_forward_pre_hook(lambda _m, a: seen.append(a[0]))
        for block in model.layers
    ]
    with torch.no_grad():
        model(batch)
    for handle in handles:
        handle.remove()
    return seen


def lowest(scores: torch.Tensor, count: int) -> list[int]:
    return sorted(torch.sort(scores, stable=True).indices[:count].tolist())


# ------------------------------------------------------------------ the score


def test_unit_norm_by_hand():
    # two sequences, two tokens, four entries; units: entries 0-1, entry 2; entry 3 is not ours
    a = torch.tensor(
        [[[1.0, 2.0, 0.0, 5.0], [2.0, 0.0, 0.0, 0.0]], [[0.0, 0.0, 3.0, 0.0], [0.0, 4.0, 4.0, 0.0]]]
    )
    member = Member("o_proj", nn.Identity(), units=torch.tensor([0, 0, 1, -1]))
    scores = unit_norms(a.pow(2).sum(dim=1), member, 2)
    # unit 0: sqrt(1 + 4 + 4) = 3 and sqrt(16) = 4 -> mean 3.5; unit 1: 0 and sqrt(9 + 16) = 5
    assert torch.allclose(scores, torch.tensor([3.5, 2.5], dtype=scores.dtype))


def test_heads_with_the_lowest_attention_output_norm_go():
    model, calibration = small_model(), ids(4, 8)
    pruned = prune_heads(model, 1 / 3, calibration)
    attn = model.layers[0].self_attn
    group = attn.q_proj.out_features // attn.k_proj.out_features
    for block, x in enumerate(hooked_inputs(model, "self_attn.o_proj", calibration)):
        # (sequences, tokens, kv heads, group * head_dim): one unit = a kv head's query heads
        per_unit = x.reshape(*x.shape[:2], -1, group * attn.head_dim)
        scores = per_unit.pow(2).sum(dim=(1, 3)).sqrt().mean(dim=0)
        assert removed_heads(model, pruned)[block] == lowest(scores, 1)
        library = width_scores(model, calibration, "heads")[f"layers.{block}.self_attn.q_proj"]
        assert torch.allclose(library, scores, rtol=1e-5)


def test_neurons_with_the_lowest_activation_norm_go():
    model, calibration = small_model(), ids(4, 8)
    pruned = prune_mlp_width(model, 0.25, calibration)
    for block, x in enumerate(hooked_inputs(model, "mlp.down_proj", calibration)):
        scores = x.pow(2).sum(dim=1).sqrt().mean(dim=0)
        assert removed_neurons(model, pruned)[block] == lowest(scores, 6)
        library = width_scores(model, calibration, "mlp")[f"layers.{block}.mlp.gate_proj"]
        assert torch.allclose(library, scores, rtol=1e-5)


def test_model_width_removes_the_channels_with_the_lowest_normed_activations():
    model, calibration = small_model(), ids(4, 8)
    norms = [m for n, m in model.named_modules() if n.endswith("norm")]
    assert len(norms) == 2 * SMALL.n_layers + 1
    seen = []
    handles = [m.register_forward_hook(lambda _m, _a, out: seen.append(out)) for m in norms]
    with torch.no_grad():
        model(calibration)
    for handle in handles:
        handle.remove()
    scores = sum(out.pow(2).sum(dim=1).sqrt().mean(dim=0) for out in seen)
    assert torch.allclose(width_scores(model, calibration, "model")["embed_tokens"], scores)
    with pytest.raises(ValueError, match="kind must be one of"):
        width_scores(model, calibration, "layers")
    pruned = prune_model_width(model, 0.25, calibration)
    kept = kept_rows(model.embed_tokens.weight.T, pruned.embed_tokens.weight.T, 1)
    assert sorted(set(range(SMALL.dim)) - set(kept)) == lowest(scores, 4)


# ------------------------------------------------------------------ exactness


@pytest.mark.parametrize("amount", [1 / 3, 0.5])
def test_head_pruning_equals_the_original_with_those_heads_zeroed(amount, device):
    model, calibration = small_model(device), ids(4, 8).to(device)
    before = state(model)
    pruned = prune_heads(model, amount, calibration)
    assert same_state(model, before)
    removed = removed_heads(model, pruned)
    count = round(amount * SMALL.n_kv_heads)
    assert all(len(gone) == count for gone in removed)
    batch = ids(2, 12, seed=3).to(device)
    with torch.no_grad():
        gap = relative_gap(pruned(batch), heads_zeroed(model, removed)(batch))
    assert gap < 1e-5


def test_a_removed_unit_is_a_kv_head_with_all_its_query_heads():
    model = small_model()
    pruned = prune_heads(model, 1 / 3, ids(4, 8))
    group = SMALL.n_heads // SMALL.n_kv_heads
    for old, new, gone in zip(
        model.layers, pruned.layers, removed_heads(model, pruned), strict=True
    ):
        kept_kv = sorted(set(range(SMALL.n_kv_heads)) - set(gone))
        kept_q = [kv * group + j for kv in kept_kv for j in range(group)]
        a, b = old.self_attn, new.self_attn
        width = SMALL.head_dim
        assert kept_rows(a.v_proj.weight, b.v_proj.weight, width) == kept_kv
        assert kept_rows(a.q_proj.weight, b.q_proj.weight, width) == kept_q
        assert kept_rows(a.o_proj.weight.T, b.o_proj.weight.T, width) == kept_q
        assert b.q_proj.out_features == len(kept_q) * width == 2 * b.k_proj.out_features


@pytest.mark.parametrize("amount, left", [(0.25, 18), (0.3, 17), (0.5, 12)])
def test_mlp_width_pruning_equals_the_original_with_those_neurons_zeroed(amount, left):
    model, calibration = small_model(), ids(4, 8)
    pruned = prune_mlp_width(model, amount, calibration)
    for block in pruned.layers:  # round(amount * 24) neurons gone from every block
        assert block.mlp.gate_proj.out_features == block.mlp.up_proj.out_features == left
        assert block.mlp.down_proj.in_features == left
    assert pruned.layers[0].self_attn.q_proj.weight.shape == (24, 16)  # heads untouched
    batch = ids(2, 12, seed=3)
    with torch.no_grad():
        zeroed = neurons_zeroed(model, removed_neurons(model, pruned))
        gap = relative_gap(pruned(batch), zeroed(batch))
    assert gap < 1e-5


def test_exact_on_the_trained_checkpoint():
    model = load_tiny_llama()
    calibration, batch = ids(4, 32, 256, seed=1), ids(2, 48, 256, seed=2)
    heads, mlp = prune_heads(model, 0.5, calibration), prune_mlp_width(model, 0.5, calibration)
    with torch.no_grad():
        zeroed = heads_zeroed(model, removed_heads(model, heads))
        assert relative_gap(heads(batch), zeroed(batch)) < 1e-5
        zeroed = neurons_zeroed(model, removed_neurons(model, mlp))
        assert relative_gap(mlp(batch), zeroed(batch)) < 1e-5
    assert heads.config.n_heads == 2 and heads.config.n_kv_heads == 1
    assert mlp.config.hidden_dim == 192
    assert pl.count_parameters(mlp) < pl.count_parameters(model)


# ------------------------------------------------------------------ the pruned model


@pytest.mark.parametrize(
    "prune, amount, fields",
    [
        (prune_heads, 1 / 3, {"n_heads": 4, "n_kv_heads": 2}),
        (prune_mlp_width, 0.5, {"hidden_dim": 12}),
        (prune_model_width, 0.25, {"dim": 12}),
    ],
)
def test_pruned_model_trains_and_reports_its_shape(prune, amount, fields):
    model = small_model()
    pruned = prune(model, amount, ids(4, 8))
    expected = {**vars(SMALL), **fields}
    assert vars(pruned.config) == expected and vars(model.config) == vars(SMALL)
    rebuilt = TinyLlama(pruned.config)  # the config alone describes the new shape
    rebuilt.load_state_dict(pruned.state_dict())
    batch = ids(2, 10, seed=4)
    logits = pruned.train()(batch)
    assert logits.shape == (2, 10, SMALL.vocab_size)
    logits.logsumexp(-1).mean().backward()
    assert all(p.grad is not None for p in pruned.parameters())
    with torch.no_grad():
        assert torch.equal(rebuilt(batch), pruned.eval()(batch))


def test_model_width_shrinks_every_layer_but_is_not_exact():
    model, calibration = small_model(), ids(4, 8)
    pruned = prune_model_width(model, 0.5, calibration)
    assert pruned.embed_tokens.weight.shape == (SMALL.vocab_size, 8)
    assert pruned.lm_head.weight.shape == (SMALL.vocab_size, 8)
    for block in pruned.layers:
        assert block.input_layernorm.weight.shape == (8,)
        assert block.self_attn.q_proj.weight.shape == (24, 8)
        assert block.self_attn.o_proj.weight.shape == (8, 24)
        assert block.mlp.down_proj.weight.shape == (8, 24)
    assert 0.45 < pl.count_parameters(pruned) / pl.count_parameters(model) < 0.55
    same = prune_model_width(model, 0.0, calibration)  # nothing removed: the same function
    batch = ids(2, 10, seed=4)
    with torch.no_grad():
        assert torch.equal(same(batch), model(batch))
        assert torch.isfinite(pruned(batch)).all()


def test_pruning_works_after_blocks_were_dropped():
    model = pl.llm.drop_blocks(small_model(), [1])
    pruned = prune_mlp_width(model, 0.5, ids(4, 8))
    assert isinstance(pruned.layers[1], nn.Identity)
    assert pruned.layers[0].mlp.gate_proj.out_features == 12


# ------------------------------------------------------------------ bad inputs


PRUNERS = [prune_heads, prune_mlp_width, prune_model_width]


@pytest.mark.parametrize("prune", PRUNERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "amount, error, match",
    [
        (1, TypeError, "float"),
        (1.0, ValueError, r"\[0, 1\)"),
        (-0.1, ValueError, r"\[0, 1\)"),
        ("half", TypeError, "amount"),
        (float("nan"), ValueError, "amount"),
    ],
)
def test_bad_amounts_leave_the_model_unchanged(prune, amount, error, match):
    model = small_model()
    before = state(model)
    with pytest.raises(error, match=match):
        prune(model, amount, ids(4, 8))
    assert same_state(model, before)


@pytest.mark.parametrize("prune", PRUNERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "calibration, error, match",
    [
        (torch.rand(4, 8), TypeError, "integer"),
        (torch.zeros(8, dtype=torch.long), ValueError, "shape"),
        (torch.zeros(0, 8, dtype=torch.long), ValueError, "shape"),
        (torch.full((2, 8), 99), ValueError, "token ids"),
        ([[1, 2, 3]], TypeError, "calibration"),
    ],
)
def test_bad_calibration_leaves_the_model_unchanged(prune, calibration, error, match):
    model = small_model()
    before = state(model)
    with pytest.raises(error, match=match):
        prune(model, 0.25, calibration)
    assert same_state(model, before) and not model.training


@pytest.mark.parametrize("prune", PRUNERS, ids=lambda f: f.__name__)
def test_a_model_without_the_projections_is_refused(prune):
    plain = nn.Sequential(nn.Embedding(10, 8), nn.Linear(8, 10))
    with pytest.raises(ValueError, match="LLaMA-style"):
        prune(plain, 0.25, ids(2, 4, 10))
    model = small_model()
    model.layers[2].self_attn.o_proj = nn.Identity()
    before = state(model)
    with pytest.raises(ValueError, match="o_proj"):
        prune(model, 0.25, ids(4, 8))
    assert same_state(model, before)


def test_an_amount_that_would_remove_every_head_is_refused():
    model = small_model()
    before = state(model)
    with pytest.raises(ValueError, match="would remove all 3 units"):
        prune_heads(model, 0.9, ids(4, 8))
    assert same_state(model, before)
