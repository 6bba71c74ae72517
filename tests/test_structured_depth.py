"""Depth pruning: ``remove_blocks`` takes whole blocks out of a transformer's block list.

The reference for "removed" is the original model with those blocks' outputs replaced by
their inputs (forward hooks), so the test does not trust the surgery it checks.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from zoo_models import build, output

import pruning_lessons as pl
from pruning_lessons.llm import TinyLlamaConfig, drop_blocks, tiny_llama
from pruning_lessons.structured.blocks import block_list

pytest.importorskip("transformers")

#: zoo model -> (path of its block list, the config attribute that counts the blocks)
TRANSFORMERS = {
    "llama_gqa": ("model.layers", "num_hidden_layers"),
    "gpt2": ("transformer.h", "n_layer"),
    "bert": ("bert.encoder.layer", "num_hidden_layers"),
    "vit": (None, "num_hidden_layers"),  # vit.encoder.layer or vit.layers, by version
}


def _skipping(model: nn.Module, name: str, indices: list[int]) -> list:
    """Forward hooks that make blocks ``indices`` hand on their input unchanged."""

    def identity(_module, args, kwargs, out):
        hidden = args[0] if args else kwargs["hidden_states"]
        return hidden if isinstance(out, torch.Tensor) else (hidden, *out[1:])

    blocks = model.get_submodule(name)
    return [blocks[i].register_forward_hook(identity, with_kwargs=True) for i in indices]


def _state(model: nn.Module) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _deeper(name: str) -> tuple[nn.Module, torch.Tensor]:
    """The zoo model with four blocks (the zoo's have two), random weights, eval mode."""
    model, example = build(name)
    config = copy.deepcopy(model.config)
    config.num_hidden_layers = 4
    torch.manual_seed(0)
    return type(model)(config).eval(), example


@pytest.mark.parametrize("name", list(TRANSFORMERS))
def test_removed_blocks_act_as_identity_and_the_config_follows(name):
    model, example = _deeper(name)
    path, count = TRANSFORMERS[name]
    found, blocks = block_list(model)
    assert path in (None, found) and len(blocks) == 4
    before = _state(model)
    shorter = pl.remove_blocks(model, [2, 0])
    handles = _skipping(model, found, [0, 2])
    try:
        with torch.no_grad():
            expected = output(model(example))
    finally:
        for handle in handles:
            handle.remove()
    with torch.no_grad():
        got = output(shorter(example))
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-6)
    kept = shorter.get_submodule(found)
    assert isinstance(kept, nn.ModuleList) and len(kept) == 2
    assert kept[0] is not blocks[1]  # a copy
    assert torch.equal(next(kept[0].parameters()), next(blocks[1].parameters()))
    assert getattr(shorter.config, count) == shorter.config.num_hidden_layers == 2
    assert model.config.num_hidden_layers == 4 and len(model.get_submodule(found)) == 4
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # original untouched
    indices = [getattr(m, "layer_idx", None) for m in kept.modules()]
    indices = [i for i in indices if isinstance(i, int)]
    assert sorted(set(indices)) == ([0, 1] if indices else [])
    assert pl.count_parameters(shorter) < pl.count_parameters(model)
    shorter.train()
    output(shorter(example)).float().square().mean().backward()
    assert all(p.grad is not None for p in shorter.parameters() if p.requires_grad)
    rebuilt = type(model)(shorter.config)  # the config describes the shorter model
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {
        k: v.shape for k, v in shorter.state_dict().items()
    }


@pytest.mark.parametrize("name", ["llama_gqa", "gpt2"])
def test_a_shorter_model_survives_save_and_load(name, tmp_path):
    model, example = _deeper(name)
    shorter = pl.prune_units(pl.remove_blocks(model, [1]), 0.5, example_input=example).eval()
    pl.save_pruned_structure(shorter, tmp_path / "short.pt")
    fresh, _ = _deeper(name)
    loaded = pl.load_pruned_structure(fresh, tmp_path / "short.pt").eval()
    assert loaded.config.num_hidden_layers == 3 and fresh.config.num_hidden_layers == 4
    with torch.no_grad():
        assert torch.equal(output(loaded(example)), output(shorter(example)))


def test_the_kv_cache_works_after_blocks_are_removed():
    """Llama's blocks index the cache by ``layer_idx``: decoding token by token with the cache
    gives the logits of one full forward pass."""
    model, ids = _deeper("llama_gqa")
    shorter = pl.remove_blocks(model, [1, 2])
    with torch.no_grad():
        full = shorter(ids).logits[:, -1]
        first = shorter(ids[:, :-1], use_cache=True)
        step = shorter(ids[:, -1:], cache=first.cache, use_cache=True).logits[:, -1]
    assert torch.allclose(step, full, atol=1e-5)


def test_config_per_block_lists_keep_the_kept_blocks_entries():
    transformers = pytest.importorskip("transformers")
    config = transformers.Qwen2Config(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=3,
        num_attention_heads=2,
        num_key_value_heads=1,
        layer_types=["full_attention", "sliding_attention", "full_attention"],
        use_sliding_window=True,
        sliding_window=4,
    )
    model = transformers.Qwen2ForCausalLM(config).eval()
    ids = torch.randint(0, 64, (1, 9), generator=torch.Generator().manual_seed(0))
    shorter = pl.remove_blocks(model, [0])
    assert shorter.config.layer_types == ["sliding_attention", "full_attention"]
    handles = _skipping(model, "model.layers", [0])
    try:
        with torch.no_grad():
            expected = model(ids).logits
    finally:
        for handle in handles:
            handle.remove()
    with torch.no_grad():
        assert torch.allclose(shorter(ids).logits, expected, atol=1e-5)


def test_remove_blocks_on_the_course_tiny_llama_and_drop_blocks_agree():
    cfg = TinyLlamaConfig(vocab_size=32, dim=16, n_layers=3, n_heads=2, n_kv_heads=1, head_dim=8)
    model = tiny_llama(cfg).eval()
    ids = torch.randint(0, 32, (2, 6), generator=torch.Generator().manual_seed(0))
    shorter, identity = pl.remove_blocks(model, [1]), drop_blocks(model, [1])
    assert len(shorter.layers) == 2 and shorter.config.n_layers == 2 and model.config.n_layers == 3
    assert isinstance(identity.layers[1], nn.Identity)  # drop_blocks keeps the numbering
    with torch.no_grad():
        assert torch.allclose(shorter(ids), identity(ids), atol=1e-6)
    assert pl.count_parameters(shorter) == pl.count_parameters(identity)
    also = pl.remove_blocks(identity, [1])  # an Identity left by drop_blocks can go too
    assert len(also.layers) == 2 and all(not isinstance(b, nn.Identity) for b in also.layers)


@pytest.mark.parametrize(
    "indices, match",
    [
        ([2], "block numbers 0..1"),
        ([-1], "block numbers"),
        ([0, 0], "repeat"),
        (["0"], "block numbers"),
        ([True], "block numbers"),
        (0, "list of block numbers"),
        ([0, 1], "at least one must stay"),
    ],
)
def test_bad_block_indices_are_refused_and_nothing_changes(indices, match):
    model, _ = build("llama_gqa")
    before = _state(model)
    with pytest.raises(ValueError, match=match):
        pl.remove_blocks(model, indices)
    assert len(model.model.layers) == model.config.num_hidden_layers == 2
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_a_model_without_one_block_list_is_refused_by_name():
    with pytest.raises(ValueError, match="no nn.ModuleList of repeated blocks"):
        pl.remove_blocks(nn.Sequential(nn.Linear(2, 2)), [0])

    class Two(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.ModuleList(nn.Linear(2, 2) for _ in range(2))
            self.decoder = nn.ModuleList(nn.Linear(2, 2) for _ in range(3))

    with pytest.raises(ValueError, match="several"):
        pl.remove_blocks(Two(), [0])
    assert len(pl.remove_blocks(Two(), [0], blocks="decoder").decoder) == 2
    with pytest.raises(ValueError, match="blocks must name"):
        pl.remove_blocks(Two(), [0], blocks="middle")


def test_load_picks_the_same_blocks_where_a_block_depends_on_its_number(tmp_path):
    """GPT-2 with ``scale_attn_by_inverse_layer_idx`` scales block i's attention by
    1 / (i + 1) when it is built: loading must take the kept blocks, not the first ones."""
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(vocab_size=96, n_embd=16, n_layer=3, n_head=2, n_positions=16)
    config.scale_attn_by_inverse_layer_idx = True
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config).eval()
    ids = torch.randint(0, 96, (1, 8), generator=torch.Generator().manual_seed(0))
    shorter = pl.remove_blocks(pl.remove_blocks(model, [0]), [1])  # blocks 1 of 0, 1, 2
    assert shorter.transformer.h.kept_blocks == [1]
    pl.save_pruned_structure(shorter, tmp_path / "short.pt")
    loaded = pl.load_pruned_structure(
        transformers.GPT2LMHeadModel(config).eval(), tmp_path / "short.pt"
    )
    assert loaded.config.n_layer == 1 and loaded.transformer.h[0].attn.layer_idx == 0
    with torch.no_grad():
        assert torch.equal(loaded(ids).logits, shorter(ids).logits)
