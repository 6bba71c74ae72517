"""Structured pruning on the networks people prune: every model of the zoo, 30 % and 50 %.

For each model: the pruned copy runs forward and backward; it computes what the original
computes with exactly the removed units' tensors zeroed (eval mode, non-trivial BatchNorm
statistics, within 1e-5 of the output's scale); the original is bit-identical afterwards; the
result survives ``save_pruned_structure`` / ``load_pruned_structure``; and where
Torch-Pruning handles the model, with the same unit counts and settings, our MACs drop at
least as much (RegNet's grouped convolutions aside: see that test).
"""

from __future__ import annotations

import copy
import functools
import warnings

import pytest
import torch
from torch import nn
from zoo_models import (
    TORCH_PRUNING_COMPARABLE,
    ZOO,
    build,
    output,
    torch_pruning_counts,
    torch_pruning_prune,
    zeroed_copy,
)

import pruning_lessons as pl

pytest.importorskip("transformers")

AMOUNTS = (0.3, 0.5)


@functools.cache
def _zoo(name: str, grouped: str = "whole") -> tuple[nn.Module, torch.Tensor, list, dict]:
    model, example = build(name)
    with warnings.catch_warnings():  # ShuffleNet's warning is checked by its own test
        warnings.simplefilter("ignore", pl.StructureWarning)
        groups = pl.unit_groups(model, example, grouped=grouped)
    return model, example, groups, copy.deepcopy(model.state_dict())


#: Models pruned a second way as well: grouped convolutions narrowed within every group.
WITHIN_GROUPS = [("regnet", "within")]


@pytest.mark.parametrize("amount", AMOUNTS)
@pytest.mark.parametrize(("name", "grouped"), [(name, "whole") for name in ZOO] + WITHIN_GROUPS)
def test_pruned_zoo_model_computes_the_zeroed_original(name, grouped, amount, tmp_path):
    model, example, groups, before = _zoo(name, grouped)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pl.StructureWarning)
        removed = pl.select_units(model, amount, example_input=example, grouped=grouped)
        pruned = pl.prune_units(model, amount, example_input=example, grouped=grouped)
    assert sum(map(len, removed.values())) > 0
    assert pl.count_parameters(pruned) < pl.count_parameters(model)
    state = model.state_dict()
    assert all(torch.equal(before[k], state[k]) for k in before)  # original bit-identical
    with torch.no_grad():
        expected = output(zeroed_copy(model, groups, removed)(example))
        got = output(pruned.eval()(example))
    scale = expected.abs().max().clamp_min(1e-12)
    assert got.shape == expected.shape
    assert ((got - expected).abs().max() / scale).item() <= 1e-5
    pruned.train()
    loss = output(pruned(example)).float().square().mean()
    loss.backward()
    grads = [p.grad for p in pruned.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads if g is not None)
    path = tmp_path / "pruned.pt"
    pl.save_pruned_structure(pruned.eval(), path)
    fresh, _ = build(name, seed=1)
    loaded = pl.load_pruned_structure(fresh, path).eval()
    with torch.no_grad():
        assert torch.equal(output(loaded(example)), output(pruned(example)))


def _macs_of(model: nn.Module, example: torch.Tensor, names: list[str]) -> int:
    """MACs of the convolutions ``names`` in one forward pass on ``example``."""
    total = [0]

    def hook(module, _inputs, out):
        total[0] += out.numel() // module.out_channels * module.weight.numel()

    handles = [model.get_submodule(n).register_forward_hook(hook) for n in names]
    try:
        with torch.no_grad():
            model(example)
    finally:
        for handle in handles:
            handle.remove()
    return total[0]


@pytest.mark.parametrize("amount", AMOUNTS)
@pytest.mark.parametrize("name", list(TORCH_PRUNING_COMPARABLE))
def test_macs_drop_at_least_as_much_as_torch_pruning(name, amount):
    """Same unit counts, same settings: our MACs are at most Torch-Pruning's.

    Counts: Torch-Pruning removes ``n - int(n * (1 - amount))`` units of a group (3 of 8 at
    30 %), ``prune_units`` removes ``round(amount * n)`` (2 of 8), so ours is given the
    per-layer amounts that reproduce Torch-Pruning's counts (``torch_pruning_counts``).
    Settings: ConvNeXt, ViT and BERT with ``through_norms=True`` (Torch-Pruning prunes the
    width that LayerNorm normalises over); ViT and BERT pruned by whole heads on both sides.
    RegNet with ``grouped="within"``: like Torch-Pruning, every group of its grouped
    convolutions is narrowed (with the default, whole groups, those convolutions keep twice
    Torch-Pruning's MACs at 50 %: see ``test_whole_groups_keep_more_macs_than_narrowed_ones``).
    """
    pytest.importorskip("torch_pruning")
    model, example, _, _ = _zoo(name)
    settings = TORCH_PRUNING_COMPARABLE[name]
    options = {k: settings[k] for k in ("through_norms", "grouped")}
    groups = pl.unit_groups(model, example, **options)
    counts = torch_pruning_counts(groups, amount)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pl.StructureWarning)
        ours = pl.prune_units(model, counts, example_input=example, **options)
    theirs = torch_pruning_prune(model, example, amount, heads=settings["heads"])
    ratio = pl.count_macs(ours, example) / pl.count_macs(model, example)
    their_ratio = pl.count_macs(theirs, example) / pl.count_macs(model, example)
    assert ratio <= their_ratio + 1e-9


@pytest.mark.parametrize("amount", AMOUNTS)
def test_whole_groups_keep_more_macs_than_narrowed_ones(amount):
    """RegNet's default (whole groups): the grouped 3x3 convolutions keep more MACs than
    Torch-Pruning's narrowed groups (group width 8 stays 8: half the MACs at 50 %, where
    narrowing keeps a quarter); every other layer costs no more than Torch-Pruning's."""
    pytest.importorskip("torch_pruning")
    model, example, groups, _ = _zoo("regnet")
    counts = torch_pruning_counts(groups, amount)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pl.StructureWarning)
        ours = pl.prune_units(model, counts, example_input=example)
    theirs = torch_pruning_prune(model, example, amount, heads=False)
    ratio = pl.count_macs(ours, example) / pl.count_macs(model, example)
    their_ratio = pl.count_macs(theirs, example) / pl.count_macs(model, example)
    grouped = [
        n
        for n, m in model.named_modules()
        if isinstance(m, nn.Conv2d) and 1 < m.groups < m.in_channels  # grouped, not depthwise
    ]
    ours_grouped, their_grouped = (
        _macs_of(ours, example, grouped),
        _macs_of(theirs, example, grouped),
    )
    assert ratio > their_ratio and ours_grouped > their_grouped
    rest = pl.count_macs(ours, example) - ours_grouped
    assert rest <= pl.count_macs(theirs, example) - their_grouped


#: Models whose width only Torch-Pruning's way prunes: through LayerNorm / RMSNorm.
THROUGH_NORMS = ("convnext", "vit", "llama_gqa", "gpt2", "bert")


@pytest.mark.parametrize("name", THROUGH_NORMS)
def test_through_norms_prunes_the_width_too(name):
    model, example, _, before = _zoo(name)
    exact = pl.prune_units(model, 0.5, example_input=example)
    wide = pl.prune_units(model, 0.5, example_input=example, through_norms=True)
    dense = pl.count_macs(model, example)
    assert pl.count_macs(wide, example) < pl.count_macs(exact, example) < dense
    wide.train()
    output(wide(example)).float().square().mean().backward()
    state = model.state_dict()
    assert all(torch.equal(before[k], state[k]) for k in before)
    embeddings = None if name == "convnext" else wide.get_input_embeddings()
    if isinstance(embeddings, nn.Embedding):
        assert wide.config.hidden_size == embeddings.embedding_dim == 16


#: Classes that derive the head width as hidden_size / heads: with heads pruned and the width
#: kept, their config cannot describe the attention layers (a config attribute would be read by
#: nothing), nor BERT's pooler (its class makes it hidden_size wide; we prune its outputs), so
#: only load_pruned_structure rebuilds such a model.
HEAD_WIDTH_DERIVED = ("gpt2", "bert")


@pytest.mark.parametrize("through_norms", [False, True])
@pytest.mark.parametrize("name", ["llama_gqa", "gpt2", "bert", "vit"])
def test_a_model_built_from_the_pruned_config_has_the_pruned_shapes(name, through_norms):
    model, example, _, _ = _zoo(name)
    pruned = pl.prune_units(model, 0.5, example_input=example, through_norms=through_norms)
    shapes = {k: v.shape for k, v in pruned.state_dict().items()}
    rebuilt = {k: v.shape for k, v in type(model)(pruned.config).state_dict().items()}
    differ = sorted(k for k in shapes if rebuilt.get(k) != shapes[k])
    config, original = pruned.config, model.config
    assert config.num_attention_heads == original.num_attention_heads // 2
    assert config.hidden_size == original.hidden_size // (2 if through_norms else 1)
    if name in HEAD_WIDTH_DERIVED and not through_norms:
        inexpressible = (".attn.", ".attention.", "pooler.", "classifier.")
        assert differ and all(any(x in k for x in inexpressible) for k in differ), differ
        assert config.head_dim == original.hidden_size // original.num_attention_heads
    else:
        assert set(rebuilt) == set(shapes) and not differ, differ


def test_what_each_zoo_model_keeps_whole():
    """Pinned groups and their reasons: only outputs and what removal would change."""
    allowed = ("model's outputs", "normalisation over", "mean over", "a split through")
    shuffled = ("cannot follow a reshape that mixes units", "reads a tensor it cannot follow")
    for name in ZOO:
        _, _, groups, _ = _zoo(name)
        reasons = allowed + (shuffled if name == "shufflenet_v2" else ())
        for group in groups:
            if group.pinned:
                assert any(a in group.pinned for a in reasons), (name, group.name, group.pinned)
        assert sum(g.pinned is None for g in groups) >= 2, name


def test_a_channel_shuffle_is_kept_whole_with_a_warning_and_the_rest_pruned():
    """ShuffleNetV2 concatenates two halves and shuffles them (view as (2, c), transpose,
    flatten): each output channel comes from the other half's axis, which the index spaces do
    not follow. Those channels are kept, with a warning naming the block and the operation;
    the channels inside each branch are still pruned (and the zoo test checks exactness)."""
    model, example, _, _ = _zoo("shufflenet_v2")
    with pytest.warns(pl.StructureWarning, match=r"channel shuffle\) in module 'stage2\.0'"):
        groups = pl.unit_groups(model, example)
    free = {g.name for g in groups if g.pinned is None}
    assert {"stage2.0.branch2.0.0", "stage3.1.branch2.0.0", "conv5.0.0"} <= free
    assert all(g.pinned for g in groups if g.name.endswith("branch2.3.0"))  # shuffled
    with pytest.raises(TypeError, match="channel shuffle.*module 'stage2.0'.*strict=True"):
        pl.unit_groups(model, example, strict=True)


def test_attention_heads_and_gqa_groups_are_units():
    model, example, groups, _ = _zoo("llama_gqa")
    attention = {g.name: g for g in groups}["model.layers.0.self_attn.q_proj"]
    assert attention.size == 4  # 4 key/value heads, each with its 2 query heads
    q = next(m for m in attention.members if m.name.endswith("q_proj") and m.role == "producer")
    k = next(m for m in attention.members if m.name.endswith("k_proj") and m.role == "producer")
    assert q.per_unit == 2 * 4 and k.per_unit == 4  # head_dim 4: two query heads, one kv head
    pruned = pl.prune_units(model, 0.5, example_input=example)
    layer = pruned.model.layers[0].self_attn
    assert (layer.q_proj.out_features, layer.k_proj.out_features) == (16, 8)
    assert (pruned.config.num_attention_heads, pruned.config.num_key_value_heads) == (4, 2)
    assert pruned.config.intermediate_size == 32
    mlp = {g.name: g for g in groups}["model.layers.0.mlp.gate_proj"]
    assert mlp.layers == ["model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj"]


def test_lstm_hidden_units_span_every_gate_and_the_next_layer():
    model, example, groups, _ = _zoo("lstm")
    first = {g.name: g for g in groups}["rnn"]
    params = {(m.param, m.dim): m.units.tolist() for m in first.members if m.name == "rnn"}
    assert params[("weight_ih_l0", 0)] == list(range(16)) * 4
    assert params[("weight_hh_l0", 1)] == list(range(16))
    assert params[("weight_ih_l1", 1)] == list(range(16))
    pruned = pl.prune_units(model, 0.5, example_input=example)
    assert (pruned.rnn.hidden_size, tuple(pruned.rnn.weight_ih_l0.shape)) == (8, (32, 6))


def test_a_layer_amount_reaches_every_group_the_layer_produces():
    """``{"rnn": 0.5}`` names a two-layer LSTM: both layers' hidden units are pruned (once only
    the last layer's were, and the result crashed); GPT-2's tied embedding produces the width
    and the (pinned) vocabulary, and its amount goes to the width."""
    model, example, _, _ = _zoo("lstm")
    pruned = pl.prune_units(model, {"rnn": 0.5}, example_input=example)
    assert pruned.rnn.hidden_size == 8 and pruned.rnn.weight_hh_l1.shape == (32, 8)
    assert output(pruned(example)).shape == (2, 5)
    model, example, _, _ = _zoo("gpt2")
    amount = {"transformer.wte": 0.5}
    narrow = pl.prune_units(model, amount, example_input=example, through_norms=True)
    assert narrow.config.n_embd == 16 and narrow.lm_head.weight is narrow.transformer.wte.weight


def test_stacked_lstm_layers_must_keep_one_hidden_size():
    model, example, _, before = _zoo("lstm")
    with pytest.raises(ValueError, match="LSTM 'rnn' keeps one hidden size.*scope='global'"):
        pl.prune_units(model, 0.5, scope="global", example_input=example)
    state = model.state_dict()
    assert all(torch.equal(before[k], state[k]) for k in before)


def test_bidirectional_hidden_units_are_pruned_in_both_directions():
    """Unit k of a bidirectional layer is unit k of the forward and of the reverse direction
    (one hidden_size for both); the next layer reads both halves of its input."""
    model, example, groups, _ = _zoo("bilstm")
    first = {g.name: g for g in groups}["rnn"]
    params = {(m.param, m.dim): m.units.tolist() for m in first.members if m.name == "rnn"}
    for suffix in ("", "_reverse"):
        assert params[(f"weight_ih_l0{suffix}", 0)] == list(range(16)) * 4
        assert params[(f"weight_hh_l0{suffix}", 1)] == list(range(16))
        assert params[(f"weight_ih_l1{suffix}", 1)] == list(range(16)) * 2  # both halves
    pruned = pl.prune_units(model, 0.5, example_input=example)
    assert pruned.rnn.hidden_size == 8 and pruned.rnn.weight_ih_l1_reverse.shape == (32, 16)
    assert pruned.fc.in_features == 16
