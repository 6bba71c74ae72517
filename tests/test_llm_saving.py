"""A pruned transformers model on disk: save_pretrained round trip, and the compact form."""

from __future__ import annotations

import pytest
import torch
from llm_zoo import VOCAB, hf_model

import pruning_lessons as pl
from pruning_lessons import llm
from pruning_lessons.llm.saving import FILE, load_compact, pack_bits, save_compact, unpack_bits

pytest.importorskip("transformers")


def calibration() -> torch.Tensor:
    return torch.randint(0, VOCAB, (4, 12), generator=torch.Generator().manual_seed(0))


def equal_states(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_save_pretrained_round_trip_keeps_the_zeros(tmp_path):
    from transformers import AutoModelForCausalLM

    model = hf_model("qwen3")
    llm.sparsegpt_prune(model, calibration(), n_m=(2, 4))
    model.save_pretrained(tmp_path)
    back = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert equal_states(model, back)
    assert pl.is_nm_sparse(back.model.layers[0].mlp.down_proj.weight, 2, 4)


def test_bits_pack_and_unpack():
    values = torch.tensor([0, 1, 2, 3, 3, 0, 1])
    packed = pack_bits(values, 2)
    assert packed.dtype == torch.uint8 and packed.numel() == 2  # 14 bits in 2 bytes
    assert packed[0] == 0b11100100  # little-endian: 0, 1, 2, 3
    assert torch.equal(unpack_bits(packed, 2, 7), values)


@pytest.mark.parametrize("name", ["llama", "gpt2", "gemma2"])  # plain, Conv1D, tied head
@pytest.mark.parametrize("target", [{"n_m": (2, 4)}, {"amount": 0.5}])
def test_compact_form_loads_back_exactly_and_is_smaller(tmp_path, name, target):
    model = hf_model(name)
    llm.wanda_prune(model, calibration(), **target)
    model.save_pretrained(tmp_path / "dense")
    path = save_compact(model, tmp_path / "compact")
    back = load_compact(tmp_path / "compact")
    assert type(back) is type(model) and equal_states(model, back)
    assert set(pl.get_masks(back)) == set(pl.get_masks(model))  # zeros held in fine-tuning
    dense = (tmp_path / "dense" / "model.safetensors").stat().st_size
    assert path.name == FILE and path.stat().st_size < 0.7 * dense


def test_compact_two_four_costs_values_plus_two_bit_positions(tmp_path):
    """A model made only of one 2:4 layer: the file holds half the values and 2 bits each."""
    model = llm.tiny_llama(
        llm.TinyLlamaConfig(
            vocab_size=16, dim=64, n_layers=1, n_heads=2, n_kv_heads=1, head_dim=32, hidden_dim=128
        )
    )
    llm.row_magnitude_prune(model, n_m=(2, 4))
    path = save_compact(model, tmp_path)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        q_values = f.get_tensor("layers.0.self_attn.q_proj.weight:values")
        q_positions = f.get_tensor("layers.0.self_attn.q_proj.weight:positions")
    assert q_values.numel() == 64 * 64 // 2
    assert q_positions.numel() == 64 * 64 // 2 * 2 // 8  # 2 bits per kept value
    fresh = llm.tiny_llama(model.config, seed=1)
    assert equal_states(load_compact(tmp_path, fresh), model)


def test_load_compact_checks_its_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=FILE):
        load_compact(tmp_path)
