"""Pruning language models: the small LLaMA model, perplexity, Wanda, SparseGPT, depth, recovery."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import pruning_lessons as pl
from pruning_lessons.llm import (
    TinyLlamaConfig,
    block_influence,
    calibration_batches,
    distill,
    drop_blocks,
    fine_tune,
    input_norms,
    load_corpus,
    load_tiny_llama,
    perplexity,
    row_magnitude_prune,
    row_mask,
    sparsegpt_prune,
    sparsegpt_solve,
    tiny_llama,
    unigram_perplexity,
    wanda_prune,
    wanda_scores,
)
from pruning_lessons.llm.model import PROJECTIONS

SMALL = TinyLlamaConfig(
    vocab_size=32, dim=16, n_layers=3, n_heads=4, n_kv_heads=2, head_dim=4, hidden_dim=24
)


def small_model(device: torch.device | str = "cpu", seed: int = 0) -> nn.Module:
    return tiny_llama(SMALL, seed=seed).to(device).eval()


def tokens(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, SMALL.vocab_size, (n,), generator=torch.Generator().manual_seed(seed))


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_state(model: nn.Module, before: dict[str, torch.Tensor]) -> bool:
    now = model.state_dict()
    return now.keys() == before.keys() and all(torch.equal(now[k], before[k]) for k in before)


def projections(model: nn.Module) -> dict[str, torch.Tensor]:
    return {
        name: p
        for name, p in model.named_parameters()
        if name.split(".")[-2] in PROJECTIONS and name.startswith("layers.")
    }


# ------------------------------------------------------------------ the model and the corpus


def test_course_model_size_and_names():
    model = tiny_llama()
    assert 1_000_000 <= pl.count_parameters(model) <= 5_000_000
    names = {name.rpartition(".")[2] for name, _ in model.named_modules()}
    assert set(PROJECTIONS) <= names
    attn = model.layers[0].self_attn
    assert (
        attn.q_proj.out_features // attn.head_dim == 2 * attn.k_proj.out_features // attn.head_dim
    )


def test_the_course_checkpoint_loads_safely_and_beats_the_unigram_model(torch_load_calls):
    model = load_tiny_llama()
    assert torch_load_calls == [True]  # weights_only: no pickled code
    assert model.record["python"] and not model.training
    corpus = load_corpus(seed=0)
    test = corpus.test[:4096]
    assert perplexity(model, test) < 0.5 * unigram_perplexity(corpus.train, test)


def test_model_is_causal_and_shapes_follow_the_weights():
    model = small_model()
    ids = tokens(10).reshape(2, 5)
    logits = model(ids)
    assert logits.shape == (2, 5, SMALL.vocab_size)
    changed = ids.clone()
    changed[:, -1] = (changed[:, -1] + 1) % SMALL.vocab_size
    assert torch.allclose(model(changed)[:, :-1], logits[:, :-1], atol=1e-6)


def test_corpus_is_deterministic_and_splits_whole_files():
    a, b = load_corpus(seed=0), load_corpus(seed=0)
    assert torch.equal(a.test, b.test) and torch.equal(a.train[:1000], b.train[:1000])
    files = [set(a.files[k]) for k in ("train", "val", "test")]
    assert not (files[0] & files[1]) and not (files[0] & files[2]) and not (files[1] & files[2])
    assert len(a.test) >= 200_000 and len(a.val) >= 200_000 and len(a.train) > 10 * len(a.test)
    assert int(a.train.max()) < 256 and a.train.dtype == torch.int64
    assert load_corpus(seed=1).files["test"] != a.files["test"]


def test_unigram_perplexity_by_hand():
    train, test = torch.tensor([0, 0, 0, 1]), torch.tensor([0, 1])
    # add-one counts over a vocabulary of 3: p = (4, 2, 1) / 7
    expected = math.exp(-(math.log(4 / 7) + math.log(2 / 7)) / 2)
    assert unigram_perplexity(train, test, vocab_size=3) == pytest.approx(expected)


# ------------------------------------------------------------------ perplexity and calibration


def test_perplexity_is_exp_of_mean_cross_entropy_by_hand():
    model = small_model()
    data = tokens(23)
    # windows of 8 + 1 tokens overlapping by one: [0..8], [8..16], [16..22]
    losses = []
    for start in range(0, 22, 8):
        window = data[start : start + 9]
        log_p = F.log_softmax(model(window[None, :-1])[0], dim=-1)
        losses += [-float(log_p[t, window[t + 1]].detach()) for t in range(len(window) - 1)]
    assert len(losses) == 22
    expected = math.exp(sum(losses) / len(losses))
    assert perplexity(model, data, seq_len=8, batch_size=2) == pytest.approx(expected, rel=1e-5)


def test_perplexity_checks_its_data():
    model = small_model()
    with pytest.raises(TypeError, match="data"):
        perplexity(model, torch.rand(10))
    with pytest.raises(ValueError, match="1-D"):
        perplexity(model, tokens(10).reshape(2, 5))
    with pytest.raises(ValueError, match="token id"):
        perplexity(model, torch.tensor([1, 2, 99]))
    with pytest.raises(ValueError, match="seq_len"):
        perplexity(model, tokens(10), seq_len=0)


def test_calibration_batches_shape_and_seed():
    data = tokens(500)
    a = calibration_batches(data, 4, 16, seed=3)
    assert a.shape == (4, 16) and torch.equal(a, calibration_batches(data, 4, 16, seed=3))
    assert not torch.equal(a, calibration_batches(data, 4, 16, seed=4))
    for row in a:  # each row is a window of consecutive tokens of data
        start = next(s for s in range(len(data) - 15) if torch.equal(data[s : s + 16], row))
        assert start >= 0
    with pytest.raises(ValueError, match="n must"):
        calibration_batches(data, 0, 16)
    with pytest.raises(ValueError, match="fewer than seq_len"):
        calibration_batches(data, 2, 1000)


# ------------------------------------------------------------------ scores and the OBS solver


def test_wanda_score_on_a_2x3_example_by_hand():
    weight = torch.tensor([[1.0, -2.0, 3.0], [-4.0, 5.0, -0.5]])
    # three tokens: the input norms are ||(3, 4, 0)|| = 5, ||(0, 0, 1)|| = 1, ||(1, 0, 0)|| = 1
    x = torch.tensor([[3.0, 0.0, 1.0], [4.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    norms = x.norm(dim=0)
    assert torch.equal(norms, torch.tensor([5.0, 1.0, 1.0]))
    scores = wanda_scores(weight, norms)
    assert torch.equal(scores, torch.tensor([[5.0, 2.0, 3.0], [20.0, 5.0, 0.5]]))
    # one weight per row goes: row 0 loses -2 (score 2), though magnitude would drop 1
    keep = row_mask(scores, amount=1 / 3)
    assert keep.tolist() == [[True, False, True], [True, True, False]]
    assert row_mask(weight.abs(), amount=1 / 3).tolist() == [
        [False, True, True],
        [True, True, False],
    ]


def _hessian(rows: int, cols: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(cols, cols, generator=g, dtype=torch.float64)
    x = torch.randn(rows, cols, generator=g, dtype=torch.float64) @ mix  # correlated inputs
    return x, x.T @ x


def test_sparsegpt_equals_the_exact_obs_update_for_one_weight():
    x, hessian = _hessian(20, 3, seed=0)
    weight = torch.tensor([[1e-3, 0.8, -1.1], [-2e-3, -0.7, 0.9]], dtype=torch.float64)
    new, keep = sparsegpt_solve(weight, hessian, amount=1 / 3, damp=0.0)
    assert keep.tolist() == [[False, True, True], [False, True, True]]
    # Optimal Brain Surgeon (Hassibi & Stork 1993) for weight q: dw = -w_q / [H^-1]_qq * H^-1[q, :]
    inv = torch.linalg.inv(hessian)
    obs = weight - weight[:, :1] / inv[0, 0] * inv[0:1, :]
    assert torch.allclose(new, obs, atol=1e-12)
    # ... which is the least-squares best of the two remaining weights
    target = x @ weight.T
    best = torch.linalg.lstsq(x[:, 1:], target).solution.T
    assert torch.allclose(new[:, 1:], best, atol=1e-10) and torch.all(new[:, 0] == 0)


def _sequential_obs(weight, hessian, keep):
    """The textbook form: prune column j's weights, then solve for the columns after j."""
    w = weight.clone()
    for j in range(w.shape[1]):
        inv = torch.linalg.inv(hessian[j:, j:])
        for r in range(w.shape[0]):
            if not keep[r, j]:
                w[r, j:] -= w[r, j] / inv[0, 0] * inv[0, :]
    return w


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("target", [{"amount": 0.5}, {"amount": 0.3}, {"n_m": (2, 4)}])
def test_sparsegpt_is_sequential_obs_through_the_cholesky_factor(seed, target):
    _, hessian = _hessian(64, 12, seed)
    weight = torch.randn(6, 12, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    new, keep = sparsegpt_solve(weight, hessian, damp=0.0, block_size=4, **target)
    assert torch.allclose(new, _sequential_obs(weight, hessian, keep), atol=1e-9)


def _independent_inputs(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Independent input features of very different scales (outlier features), and a weight."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 32, generator=g, dtype=torch.float64)
    x = x * torch.exp(torch.randn(32, generator=g, dtype=torch.float64))
    return x, x.T @ x, torch.randn(16, 32, generator=g, dtype=torch.float64)


def _error(x: torch.Tensor, weight: torch.Tensor, new: torch.Tensor) -> float:
    return float((x @ (weight - new).T).pow(2).sum())


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("pattern", ["half", "2:4"])
def test_sparsegpt_reconstructs_better_than_magnitude(seed, pattern):
    x, hessian, weight = _independent_inputs(seed)
    keep = row_mask(weight.abs(), 0.5) if pattern == "half" else pl.nm_mask(weight, 2, 4)
    zeroed = _error(x, weight, weight * keep)
    new, used = sparsegpt_solve(weight, hessian, keep=keep, block_size=8)
    assert torch.equal(used, keep) and torch.all(new[~keep] == 0)
    assert _error(x, weight, new) < zeroed  # same mask: the update compensates
    target = {"amount": 0.5} if pattern == "half" else {"n_m": (2, 4)}
    own, _ = sparsegpt_solve(weight, hessian, block_size=8, **target)
    assert _error(x, weight, own) < zeroed  # own mask and update beat magnitude pruning


def test_sequential_obs_can_lose_to_zeroing_on_strongly_correlated_inputs():
    """A limit worth knowing: the greedy column order is not the best fit for a given mask.

    Weights moved onto a column that is pruned later are lost again; with strongly correlated
    inputs this can leave a larger error than zeroing the same mask and updating nothing.
    """
    x, hessian = _hessian(64, 16, seed=2)
    weight = torch.randn(8, 16, generator=torch.Generator().manual_seed(102)).double()
    keep = row_mask(weight.abs(), 0.5)
    new, _ = sparsegpt_solve(weight, hessian, keep=keep, damp=0.0, block_size=16)
    assert _error(x, weight, new) > _error(x, weight, weight * keep)
    best = weight * keep  # the exact least-squares fit of each row's kept weights
    for r in range(len(weight)):
        best[r, keep[r]] = torch.linalg.lstsq(x[:, keep[r]], x @ weight[r]).solution
    assert _error(x, weight, best) < _error(x, weight, weight * keep)


def test_sparsegpt_own_mask_prunes_exactly_per_row_and_in_blocks():
    _, hessian = _hessian(64, 12, seed=1)
    weight = torch.randn(5, 12, generator=torch.Generator().manual_seed(1))
    for amount in (0.25, 0.5, 0.7):
        new, keep = sparsegpt_solve(weight, hessian, amount=amount, block_size=5, mask_rule="row")
        assert ((~keep).sum(1) == round(amount * 12)).all() and torch.all(new[~keep] == 0)
        new, keep = sparsegpt_solve(weight, hessian, amount=amount, block_size=5)  # "block"
        for i1 in range(0, 12, 5):  # one threshold per 5-column tile: its count is exact
            i2 = min(i1 + 5, 12)
            expected = round(amount * 5 * i2) - round(amount * 5 * i1)
            assert int((~keep[:, i1:i2]).sum()) == expected
        assert int((~keep).sum()) == round(amount * 60) and torch.all(new[~keep] == 0)
    new, keep = sparsegpt_solve(weight, hessian, n_m=(2, 4), block_size=4)
    assert pl.is_nm_sparse(new, 2, 4) and keep.sum() == keep.numel() // 2


# ------------------------------------------------------------------ the model-level pruners


def calib(n: int = 4, seq: int = 8) -> torch.Tensor:
    return calibration_batches(tokens(400, seed=5), n, seq, seed=0)


PRUNERS = {
    "magnitude": lambda m, c, **kw: row_magnitude_prune(m, **kw),
    "wanda": wanda_prune,
    "sparsegpt": sparsegpt_prune,
}


@pytest.mark.parametrize("method", ["magnitude", "wanda", "sparsegpt-row"])
def test_every_row_loses_exactly_its_share(method, device):
    model = small_model(device)
    if method == "sparsegpt-row":
        masks = sparsegpt_prune(model, calib().to(device), amount=0.5, mask_rule="row")
    else:
        masks = PRUNERS[method](model, calib().to(device), amount=0.5)
    assert set(masks) == set(projections(model))
    for name, param in projections(model).items():
        zeros = (param == 0).sum(1)
        assert (zeros == round(0.5 * param.shape[1])).all(), name
        assert torch.equal(param != 0, masks[name])


def test_sparsegpt_block_rule_prunes_exactly_per_tile_and_rows_differ(device):
    model = small_model(device)
    masks = sparsegpt_prune(model, calib().to(device), amount=0.5, block_size=8)
    rows_differ = False
    for name, param in projections(model).items():
        cols = param.shape[1]
        for i1 in range(0, cols, 8):  # one threshold per 8-column tile
            i2 = min(i1 + 8, cols)
            expected = round(0.5 * len(param) * i2) - round(0.5 * len(param) * i1)
            assert int((param[:, i1:i2] == 0).sum()) == expected, name
        rows_differ |= len(set((param == 0).sum(1).tolist())) > 1
        assert torch.equal(param != 0, masks[name])
    assert rows_differ


@pytest.mark.parametrize("method", sorted(PRUNERS))
def test_two_four_masks_are_two_four_sparse(method):
    model = small_model()
    PRUNERS[method](model, calib(), n_m=(2, 4))
    for name, param in projections(model).items():
        assert pl.is_nm_sparse(param, 2, 4), name
        assert int((param == 0).sum()) == param.numel() // 2
    assert pl.is_nm_sparse(model.layers[0].self_attn.q_proj.weight)


def test_wanda_uses_the_pruned_earlier_blocks_outputs():
    model, c = small_model(), calib()
    expected = copy.deepcopy(model)
    x = expected.embed_tokens(c)
    with torch.no_grad():
        for block in expected.layers:
            norms = {}
            hooks = [
                getattr(getattr(block, part), name).register_forward_pre_hook(
                    lambda _m, a, key=name, norms=norms: norms.__setitem__(
                        key, a[0].flatten(0, 1).norm(dim=0)
                    )
                )
                for part, names in (("self_attn", PROJECTIONS[:4]), ("mlp", PROJECTIONS[4:]))
                for name in names
            ]
            block(x)
            for h in hooks:
                h.remove()
            for part, names in (("self_attn", PROJECTIONS[:4]), ("mlp", PROJECTIONS[4:])):
                for name in names:
                    layer = getattr(getattr(block, part), name)
                    layer.weight.mul_(row_mask(wanda_scores(layer.weight, norms[name]), 0.5))
            x = block(x)  # the next block sees this pruned block's output
    wanda_prune(model, c, 0.5)
    for name, param in projections(model).items():
        assert torch.equal(param != 0, expected.get_parameter(name) != 0), name


def test_wanda_differs_from_magnitude_when_inputs_differ_in_scale():
    model, c = small_model(), calib()
    with torch.no_grad():
        model.layers[0].input_layernorm.weight[:4] *= 50.0  # four outlier input features
    a, b = copy.deepcopy(model), copy.deepcopy(model)
    wanda_prune(a, c, 0.5)
    row_magnitude_prune(b, 0.5)
    q_a, q_b = a.layers[0].self_attn.q_proj.weight, b.layers[0].self_attn.q_proj.weight
    # Wanda keeps (nearly) every weight that reads an outlier feature; magnitude about half
    assert (q_a[:, :4] != 0).float().mean() > 0.9
    assert (q_b[:, :4] != 0).float().mean() < 0.75


@pytest.mark.parametrize("method", sorted(PRUNERS))
def test_masks_hold_through_fine_tuning(method):
    model, teacher = small_model(), small_model()
    PRUNERS[method](model, calib(), amount=0.6)
    zeros = {n: p == 0 for n, p in projections(model).items()}
    distill(model, teacher, tokens(400), steps=3, batch_size=2, seq_len=8, lr=1e-2, progress=False)
    fine_tune(model, tokens(400), steps=3, batch_size=2, seq_len=8, lr=1e-2, progress=False)
    for name, param in projections(model).items():
        assert torch.all(param[zeros[name]] == 0), name
    assert (projections(model)["layers.0.self_attn.q_proj.weight"] != 0).sum() > 0


def test_existing_masks_are_kept():
    model = small_model()
    row_magnitude_prune(model, 0.5)
    before = {n: p != 0 for n, p in projections(model).items()}
    sparsegpt_prune(model, calib(), 0.5)
    for name, param in projections(model).items():
        assert torch.equal(param != 0, before[name]), name  # same count: the same weights stay


BAD = [
    ({"amount": 1.5}, ValueError, "amount"),
    ({"amount": -0.1}, ValueError, "amount"),
    ({"amount": "half"}, TypeError, "amount"),
    ({}, ValueError, "exactly one"),
    ({"amount": 0.5, "n_m": (2, 4)}, ValueError, "exactly one"),
    ({"n_m": (2, 5)}, ValueError, "multiple of m=5"),
    ({"n_m": (5, 4)}, ValueError, "0 < n < m"),
    ({"n_m": (4, 4)}, ValueError, "0 < n < m"),
    ({"amount": 1.0}, ValueError, r"\[0, 1\)"),
    ({"n_m": 2}, TypeError, "n_m"),
]


@pytest.mark.parametrize("method", sorted(PRUNERS))
@pytest.mark.parametrize(("kwargs", "error", "match"), BAD)
def test_bad_targets_leave_the_model_unchanged(method, kwargs, error, match):
    model = small_model()
    before = state(model)
    with pytest.raises(error, match=match):
        PRUNERS[method](model, calib(), **kwargs)
    assert same_state(model, before) and not pl.get_masks(model)


@pytest.mark.parametrize("method", ["wanda", "sparsegpt"])
@pytest.mark.parametrize(
    ("calibration", "error", "match"),
    [
        (torch.rand(4, 8), TypeError, "integer"),
        (torch.zeros(8, dtype=torch.long), ValueError, "shape"),
        (torch.zeros(0, 8, dtype=torch.long), ValueError, "shape"),
        (torch.full((2, 8), 99), ValueError, "token ids"),
        ([[1, 2]], TypeError, "integer tensor"),
    ],
)
def test_bad_calibration_leaves_the_model_unchanged(method, calibration, error, match):
    model = small_model()
    before = state(model)
    with pytest.raises(error, match=match):
        PRUNERS[method](model, calibration, amount=0.5)
    assert same_state(model, before)


@pytest.mark.parametrize("method", sorted(PRUNERS))
def test_a_model_without_the_projections_is_refused(method):
    plain = nn.Sequential(nn.Embedding(10, 8), nn.Linear(8, 10))
    before = state(plain)
    with pytest.raises(ValueError, match=r"Sequential\) is not a decoder.*no nn.ModuleList"):
        PRUNERS[method](plain, calib(), amount=0.5)
    assert same_state(plain, before)
    if method == "magnitude":
        return  # runs no data: a block that cannot run is not its business
    model = small_model()
    model.layers[1].mlp.up_proj = nn.Identity()  # block 1 now fails at run time
    before = state(model)
    with pytest.raises(ValueError, match=r"block layers.1 \(Block\) fails .* nothing was pruned"):
        PRUNERS[method](model, calib(), amount=0.5)
    assert same_state(model, before) and not pl.get_masks(model)


def test_sparsegpt_checks_block_size_and_damp():
    model = small_model()
    before = state(model)
    for kwargs, match in (({"block_size": 0}, "block_size"), ({"damp": -1}, "damp")):
        with pytest.raises(ValueError, match=match):
            sparsegpt_prune(model, calib(), 0.5, **kwargs)
    with pytest.raises(ValueError, match="block_size"):
        sparsegpt_prune(model, calib(), n_m=(2, 4), block_size=6)
    assert same_state(model, before)


def test_input_norms_match_the_tokens_by_hand():
    model, c = small_model(), calib()
    norms = input_norms(model, c)
    x = model.layers[0].input_layernorm(model.embed_tokens(c)).flatten(0, 1)
    assert torch.allclose(norms["layers.0.self_attn.q_proj"], x.norm(dim=0), rtol=1e-5)
    assert len(norms) == 7 * SMALL.n_layers


# ------------------------------------------------------------------ depth and distillation


def test_dropping_a_block_equals_an_identity_block():
    model, c = small_model(), calib()
    smaller = drop_blocks(model, [1])
    assert isinstance(smaller.layers[1], nn.Identity) and len(model.layers[1].state_dict()) > 0
    with torch.no_grad():
        x = model.embed_tokens(c)
        x = model.layers[2](model.layers[0](x))  # block 1 skipped: its input passes on
        expected = model.lm_head(model.norm(x))
    assert torch.allclose(smaller(c), expected, atol=1e-6)
    assert pl.count_parameters(smaller) < pl.count_parameters(model)
    for bad in ([3], [-1], [1, 1], ["1"]):
        with pytest.raises(ValueError, match="indices|block"):
            drop_blocks(model, bad)
    with pytest.raises(ValueError, match="already dropped"):
        drop_blocks(smaller, [1])


def test_block_influence_is_one_minus_cosine():
    model, c = small_model(), calib()
    scores = block_influence(model, c)
    with torch.no_grad():
        x = model.embed_tokens(c)
        y = model.layers[0](x)
    expected = 1 - float(F.cosine_similarity(x, y, dim=-1).mean())
    assert len(scores) == SMALL.n_layers and scores[0] == pytest.approx(expected, rel=1e-5)
    identity = drop_blocks(model, [2])
    with pytest.raises(ValueError, match="LLaMA-style"):
        block_influence(nn.Linear(2, 2), c)
    assert block_influence(identity, c)[:2] == pytest.approx(scores[:2])


def test_distillation_lowers_the_kl_and_leaves_the_teacher_alone():
    teacher, student = small_model(seed=0), small_model(seed=1)
    before = state(teacher)
    data = tokens(2000)
    losses = distill(
        student, teacher, data, 2.0, steps=40, batch_size=8, seq_len=16, lr=5e-3, progress=False
    )
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
    assert same_state(teacher, before)
    with pytest.raises(ValueError, match="temperature"):
        distill(student, teacher, data, 0.0)


def test_fine_tuning_lowers_the_next_token_loss_on_the_windows_distillation_draws():
    model, data = small_model(seed=1), tokens(2000)
    losses = fine_tune(model, data, steps=40, batch_size=8, seq_len=16, lr=5e-3, progress=False)
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5
    assert not model.training  # its mode is given back

    def inputs_seen(recover) -> list[torch.Tensor]:
        seen, student = [], small_model()
        student.register_forward_pre_hook(lambda _, args: seen.append(args[0].clone()))
        recover(student)
        return seen

    budget = {"steps": 3, "batch_size": 4, "seq_len": 12, "seed": 5, "progress": False}
    tuned = inputs_seen(lambda m: fine_tune(m, data, **budget))
    distilled = inputs_seen(lambda m: distill(m, small_model(seed=2), data, **budget))
    assert len(tuned) == len(distilled) == 3
    for a, b in zip(tuned, distilled, strict=True):  # the same windows, less their last token
        assert torch.equal(a, b[:, :-1])


def test_fine_tuning_trains_only_what_requires_a_gradient_and_checks_its_arguments():
    model, data = small_model(), tokens(400)
    model.embed_tokens.weight.requires_grad_(False)
    frozen = model.embed_tokens.weight.detach().clone()
    fine_tune(model, data, steps=2, batch_size=2, seq_len=8, lr=1e-2, progress=False)
    assert torch.equal(model.embed_tokens.weight, frozen)
    for bad, match in (
        ({"seq_len": 1}, "seq_len must be at least 2"),
        ({"lr": 0}, "lr must be a positive"),
        ({"weight_decay": -0.1}, "weight_decay must be a non-negative"),
        ({"steps": 0}, "steps must be a positive"),
    ):
        with pytest.raises(ValueError, match=match):
            fine_tune(model, data, **bad)
    with pytest.raises(TypeError, match="integer tensor"):
        fine_tune(model, data.float())


# ------------------------------------------------------------------ the lesson's slider


def test_pruned_perplexity_and_the_explorer():
    from pruning_lessons.teaching.explorers.llm import llm_explorer, pruned_perplexity

    model, data = small_model(), tokens(3000)
    before = state(model)
    result = pruned_perplexity(model, data[:300], data, "sparsegpt", "2:4", 4)
    assert result.target == "2:4" and result.pruned > 0 and same_state(model, before)
    pruned = copy.deepcopy(model)
    sparsegpt_prune(pruned, calibration_batches(data, 4, 128, seed=0), n_m=(2, 4))
    assert result.pruned == pytest.approx(perplexity(pruned, data[:300]))
    assert "sparsegpt at 2:4 (4 sequences)" in str(result)
    with pytest.raises(ValueError, match="method"):
        pruned_perplexity(model, data[:300], data, "obs")
    box = llm_explorer(model, data[:300], data)
    sparsity, method, size, label = box.children
    first = label.value
    method.value = "magnitude"
    assert label.value != first and "magnitude at 50% (no data)" in label.value
    sparsity.value = 0.7
    assert "magnitude at 70%" in label.value
    assert same_state(model, before)
