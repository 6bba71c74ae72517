"""SliceGPT on the small LLaMA: folding, rotation, slicing, argument checks."""

from __future__ import annotations

import pytest
import torch

import pruning_lessons as pl
from pruning_lessons import llm
from pruning_lessons.llm import TinyLlamaConfig, calibration_batches, tiny_llama
from pruning_lessons.llm.slicegpt import fold_norms, residual_pca, rotate

SMALL = TinyLlamaConfig(
    vocab_size=32, dim=16, n_layers=3, n_heads=4, n_kv_heads=2, head_dim=4, hidden_dim=24
)


def small_model():
    """A random model whose norms have non-trivial scales (folding must move them)."""
    model = tiny_llama(SMALL, seed=0).eval()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(0.5 + torch.rand(p.shape, generator=generator))
    return model


def ids(n=4, seq=12, seed=0):
    data = torch.randint(
        0, SMALL.vocab_size, (n * seq * 4,), generator=torch.Generator().manual_seed(seed)
    )
    return calibration_batches(data, n, seq, seed=seed)


def test_folding_the_norms_keeps_the_outputs_and_sets_every_scale_to_one():
    model, x = small_model(), ids(2)
    folded = fold_norms(model)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), rtol=1e-5, atol=1e-5)
    for name, p in folded.named_parameters():
        if name.endswith("norm.weight"):
            assert torch.equal(p, torch.ones_like(p)), name
    assert not torch.equal(model.norm.weight, torch.ones_like(model.norm.weight))  # unchanged


def test_rotation_without_slicing_leaves_the_outputs_equal():
    model, x = small_model(), ids(2)
    q, _ = torch.linalg.qr(torch.randn(16, 16, generator=torch.Generator().manual_seed(2)))
    rotated = rotate(model, q)
    with torch.no_grad():
        torch.testing.assert_close(rotated(x), model(x), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(rotated.embed_tokens.weight, model.embed_tokens.weight)


def test_pca_directions_are_orthonormal_and_sorted():
    values, q = residual_pca(small_model(), ids())
    torch.testing.assert_close(q.T @ q, torch.eye(16, dtype=q.dtype), rtol=0, atol=1e-10)
    assert torch.all(values[:-1] >= values[1:])
    assert values.min() >= -1e-9


def test_slicing_zero_is_the_same_function():
    model, cal = small_model(), ids()
    sliced = llm.slice_model(model, cal, 0.0)
    with torch.no_grad():
        torch.testing.assert_close(sliced(cal), model(cal), rtol=1e-5, atol=1e-5)
    assert pl.count_parameters(sliced) == pl.count_parameters(model)


def test_shapes_after_slicing_a_quarter():
    model = small_model()
    sliced = llm.slice_model(model, ids(), 0.25)  # round(0.25 * 16) = 4 dimensions removed
    d, cfg = 12, SMALL
    assert sliced.config.dim == d
    assert sliced.embed_tokens.weight.shape == (cfg.vocab_size, d)
    assert sliced.lm_head.weight.shape == (cfg.vocab_size, d)
    for block in sliced.layers:
        assert block.self_attn.q_proj.weight.shape == (cfg.n_heads * cfg.head_dim, d)
        assert block.self_attn.k_proj.weight.shape == (cfg.n_kv_heads * cfg.head_dim, d)
        assert block.self_attn.o_proj.weight.shape == (d, cfg.n_heads * cfg.head_dim)
        assert block.mlp.gate_proj.weight.shape == (cfg.hidden_dim, d)
        assert block.mlp.down_proj.weight.shape == (d, cfg.hidden_dim)
        assert block.input_layernorm.weight.shape == (d,)
    removed = 4 * (2 * cfg.vocab_size + cfg.n_layers * (2 + 2 * 4 * 4 + 2 * 2 * 4 + 3 * 24) + 1)
    assert pl.count_parameters(model) - pl.count_parameters(sliced) == removed
    out = sliced(ids(1))
    assert out.shape == (1, 12, cfg.vocab_size)


@pytest.mark.parametrize(
    ("call", "word"),
    [
        (lambda m, c: llm.slice_model(m, c, 1.0), "slicing"),
        (lambda m, c: llm.slice_model(m, c, -0.1), "slicing"),
        (lambda m, c: llm.slice_model(m, c, 0.999), "slicing"),
        (lambda m, c: llm.slice_model(m, c.float(), 0.25), "calibration"),
        (lambda m, c: llm.slice_model(m, c + 100, 0.25), "calibration"),
        (lambda m, c: rotate(m, torch.eye(8)), "q must be"),
        (lambda m, c: rotate(m, 2 * torch.eye(16)), "orthonormal"),
    ],
)
def test_bad_arguments_raise_naming_the_argument_before_any_change(call, word):
    model, cal = small_model(), ids()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises((ValueError, TypeError), match=word):
        call(model, cal)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_other_models_and_masked_models_are_refused():
    with pytest.raises(TypeError, match="TinyLlama"):
        llm.slice_model(torch.nn.Linear(4, 4), ids(), 0.1)
    with pytest.raises(TypeError, match="slicing"):
        llm.slice_model(small_model(), ids(), True)
    model = small_model()
    pl.install_mask(
        model.layers[0].self_attn.q_proj, "weight", torch.ones(16, 16, dtype=torch.bool)
    )
    with pytest.raises(ValueError, match="masks"):
        llm.slice_model(model, ids(), 0.1)


def test_perplexity_rises_with_the_slicing_fraction_on_the_trained_model():
    torch.set_num_threads(1)
    model = llm.load_tiny_llama()
    corpus = llm.load_corpus(seed=0)
    cal = calibration_batches(corpus.train, 8, 128, seed=0)
    test = corpus.test[:4096]
    _, q = residual_pca(model, cal)
    dim = model.config.dim
    ppl = [
        llm.perplexity(rotate(model, q[:, : dim - round(s * dim)]), test)
        for s in (0, 0.25, 0.5, 0.75)
    ]
    assert ppl[0] == pytest.approx(llm.perplexity(model, test), rel=1e-4)
    assert all(a < b for a, b in zip(ppl, ppl[1:], strict=False)), ppl
