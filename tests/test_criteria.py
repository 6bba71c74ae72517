"""Pruning criteria: hand-computed cases, exact targets, devices, errors that change nothing."""

from __future__ import annotations

import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.ao.pruning import WeightNormSparsifier
from torch.utils.data import TensorDataset

import pruning_lessons as pl
from pruning_lessons.__main__ import main
from pruning_lessons.structured.redundancy import merge_plan
from pruning_lessons.weights.pipeline import PRUNERS, prune_and_fine_tune, train_dense

WEIGHT_NAMES = ["magnitude", "random", "taylor", "snip", "movement", "lamp"]


def _sum_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """A loss whose gradient is easy by hand: dL/dout = target."""
    return (out * target).sum()


def _linear(weight: list[list[float]], device=None) -> nn.Linear:
    w = torch.tensor(weight)
    layer = nn.Linear(w.shape[1], w.shape[0], bias=False)
    with torch.no_grad():
        layer.weight.copy_(w)
    return layer.to(device)


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _small_mlp(device=None, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return pl.mlp((64, 24, 16, 10)).to(device)


def _track_a_few_steps(model: nn.Module, digits, steps: int = 3) -> pl.MovementTracker:
    device = next(model.parameters()).device
    x, y = (t[: 32 * steps].to(device) for t in digits.train.tensors)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    with pl.MovementTracker(model) as tracker:
        for xb, yb in zip(x.split(32), y.split(32), strict=True):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            optimizer.step()
    return tracker


# --- hand-computed cases --------------------------------------------------------------------


def test_taylor_is_the_mean_square_of_gradient_times_weight(device):
    layer = _linear([[1, 2], [3, 4]], device)
    # L = sum(out * t), so dL/dW[i, j] = t_i * x_j: batch 1 gives g = [[1, 1], [-1, -1]],
    # batch 2 gives g = [[2, 0], [2, 0]].
    batch1 = (torch.tensor([[1.0, 1.0]]), torch.tensor([[1.0, -1.0]]))
    batch2 = (torch.tensor([[2.0, 0.0]]), torch.tensor([[1.0, 1.0]]))
    one = pl.taylor_scores(layer, [batch1], loss_fn=_sum_loss)
    assert torch.equal(one["weight"].cpu(), torch.tensor([[1.0, 4.0], [9.0, 16.0]]))
    two = pl.taylor_scores(layer, [batch1, batch2], loss_fn=_sum_loss)
    assert torch.equal(two["weight"].cpu(), torch.tensor([[2.5, 2.0], [22.5, 8.0]]))
    assert two["weight"].device.type == device.type


def test_snip_is_the_absolute_gradient_times_weight_of_one_batch(device):
    layer = _linear([[1, 2], [3, 4]], device)
    batch1 = (torch.tensor([[1.0, 1.0]]), torch.tensor([[1.0, -1.0]]))
    batch2 = (torch.tensor([[2.0, 0.0]]), torch.tensor([[1.0, 1.0]]))
    scores = pl.snip_scores(layer, [batch1, batch2], loss_fn=_sum_loss)  # batch 2 is not read
    assert torch.equal(scores["weight"].cpu(), torch.tensor([[1.0, 2.0], [3.0, 4.0]]))


def test_lamp_by_hand_and_ties_to_the_lower_index():
    layer = _linear([[2.0, -1.0, 3.0, 0.5]])
    # squares 4, 1, 9, 0.25; ascending 0.25 | 1 | 4 | 9; sums at or after: 14.25, 14, 13, 9
    expected = torch.tensor([[4 / 13, 1 / 14, 1.0, 0.25 / 14.25]])
    assert torch.allclose(pl.lamp_scores(layer)["weight"], expected)
    tied = pl.lamp_scores(_linear([[1.0, -1.0, 0.0]]))["weight"]
    assert torch.allclose(tied, torch.tensor([[0.5, 1.0, 0.0]]))


def test_lamp_keeps_every_layers_largest_weight_under_global_pruning():
    model = _small_mlp()
    with torch.no_grad():
        model.fc3.weight.mul_(1e-3)  # global magnitude would empty this layer
    masks = pl.prune_weights(model, 0.97, criterion="lamp")
    assert all(int(m.sum()) >= 1 for m in masks.values())
    nothing = pl.prune_weights(_small_mlp(), 0.0, criterion="lamp")
    assert all(bool(m.all()) for m in nothing.values())


def test_movement_accumulates_minus_gradient_times_weight_per_step(device):
    layer = _linear([[1.0, -2.0]], device)
    x, t = torch.ones(1, 2, device=device), torch.ones(1, 1, device=device)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    with pl.MovementTracker(layer) as tracker:
        for _ in range(3):  # g = [1, 1] each step; w = [1, -2], [0.9, -2.1], [0.8, -2.2]
            optimizer.zero_grad()
            _sum_loss(layer(x), t).backward()
            optimizer.step()
        pl.taylor_scores(layer, [(x, t)], loss_fn=_sum_loss)  # autograd.grad is not a step
    assert tracker.steps == 3
    assert torch.allclose(pl.movement_scores(layer)["weight"].cpu(), torch.tensor([[-2.7, 6.3]]))
    optimizer.step()  # after the with block nothing more is recorded
    assert tracker.steps == 3


def test_movement_counts_accumulated_gradients_once():
    layer = _linear([[1.0, -2.0]])
    x, t = torch.ones(1, 2), torch.ones(1, 1)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    with pl.MovementTracker(layer) as tracker:
        _sum_loss(layer(x), t).backward()
        _sum_loss(layer(x), t).backward()  # g accumulates to [2, 2]: one step, counted once
        optimizer.step()
    assert tracker.steps == 1
    assert torch.allclose(tracker.scores()["weight"], torch.tensor([[-2.0, 4.0]]))


def test_fpgm_gives_the_median_filter_the_lowest_score():
    model = pl.mlp((2, 3, 1))
    with torch.no_grad():
        model.fc1.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]]))
    # sums of distances to the others: 1 + 3, 1 + 2, 3 + 2
    example = torch.zeros(1, 2)
    scores = pl.unit_scores(model, "fpgm", example_input=example)["fc1"]
    assert torch.allclose(scores, torch.tensor([4.0, 3.0, 5.0]))
    pruned = pl.prune_units(model, 1 / 3, importance="fpgm", example_input=example)
    assert torch.equal(pruned.fc1.weight, torch.tensor([[0.0, 0.0], [3.0, 0.0]]))


def test_taylor_unit_importance_by_hand():
    model = pl.mlp((1, 2, 1))
    with torch.no_grad():
        model.fc1.weight.copy_(torch.tensor([[1.0], [2.0]]))
        model.fc1.bias.zero_()
        model.fc2.weight.copy_(torch.tensor([[3.0, -1.0]]))
    batch = (torch.ones(1, 1), torch.ones(1, 1))
    # z = [1, 2], dL/dz = [3, -1]: (dL/dz_u * z_u)^2 = [9, 4]
    score = pl.taylor_unit_importance(model, batch, loss_fn=_sum_loss)
    scores = pl.unit_scores(model, score, example_input=torch.zeros(1, 1))["fc1"]
    assert torch.allclose(scores, torch.tensor([9.0, 4.0]))


def test_taylor_unit_importance_estimates_zeroing_the_batchnorm_output(digits, device):
    torch.manual_seed(0)
    model = pl.cnn((4, 6)).to(device).eval()
    x, y = (t[:64].to(device) for t in digits.train.tensors)
    outputs = {}
    handle = model.bn1.register_forward_hook(lambda m, i, out: outputs.update(bn1=out))
    loss = nn.functional.cross_entropy(model(x), y)
    handle.remove()
    (grad,) = torch.autograd.grad(loss, outputs["bn1"])
    expected = (grad * outputs["bn1"]).sum(dim=(0, 2, 3)).square()  # removal zeroes bn1's output
    score = pl.taylor_unit_importance(model, (x, y), batch_size=64)
    got = pl.unit_scores(model, score)["conv1"]
    assert got.shape == (4,) and got.device.type == device.type
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-9)


# --- one interface: shapes, devices, exact targets ------------------------------------------


@pytest.mark.parametrize("criterion", WEIGHT_NAMES)
@pytest.mark.parametrize("scope", ["layer", "global"])
def test_every_weight_criterion_hits_the_exact_target(criterion, scope, digits, device):
    model = _small_mlp(device)
    if criterion == "movement":
        _track_a_few_steps(model, digits)
    before = _state(model)
    scores = pl.weight_scores(model, criterion, data=digits, batches=2, seed=3)
    params = pl.prunable_parameters(model)
    for name, param in params.items():
        assert scores[name].shape == param.shape and scores[name].device == param.device
    assert _same(before, _state(model))  # scoring changes nothing
    amount = 0.37
    masks = pl.prune_weights(
        model, amount, criterion=criterion, scope=scope, data=digits, batches=2, seed=3
    )
    pruned = {n: int((~m).sum()) for n, m in masks.items()}
    if scope == "global":
        assert sum(pruned.values()) == round(amount * sum(p.numel() for p in params.values()))
    else:
        assert pruned == {n: round(amount * p.numel()) for n, p in params.items()}
    assert all(not params[n][~m].any() for n, m in masks.items())


def test_scores_from_a_tracker_or_a_dict_select_like_the_name(digits):
    model = _small_mlp()
    tracker = _track_a_few_steps(model, digits)
    twin = copy.deepcopy(model)  # a copy has no tracker of its own, but takes the scores
    by_name = pl.prune_weights(model, 0.5, criterion="movement")
    by_dict = pl.prune_weights(twin, 0.5, criterion=tracker.scores())
    assert all(torch.equal(by_name[n], by_dict[n]) for n in by_name)


def test_random_criterion_matches_random_prune():
    a, b = _small_mlp(), _small_mlp()
    masks = pl.prune_weights(a, 0.6, criterion="random", scope="layer", seed=7)
    reference = pl.random_prune(b, 0.6, scope="layer", seed=7)
    assert all(torch.equal(masks[n], reference[n]) for n in masks)


def test_magnitude_criterion_matches_magnitude_prune():
    a, b = _small_mlp(), _small_mlp()
    masks = pl.prune_weights(a, 0.8, criterion="magnitude", scope="global")
    reference = pl.magnitude_prune(b, 0.8, scope="global")
    assert all(torch.equal(masks[n], reference[n]) for n in masks)


def test_already_pruned_weights_go_first_and_stay_pruned(digits):
    model = _small_mlp()
    old = pl.magnitude_prune(model, 0.5, scope="layer")
    new = pl.prune_weights(model, 0.7, criterion="taylor", data=digits, batches=1)
    assert all(not (new[n] & ~old[n]).any() for n in new)
    assert pl.sparsity(model) == pytest.approx(0.7, abs=1e-3)


def test_ties_go_to_the_lower_index():
    layer = _linear([[1.0, 1.0, 1.0, 1.0]])
    masks = pl.prune_weights(layer, 0.5, criterion="magnitude")
    assert masks["weight"].tolist() == [[False, False, True, True]]


def test_a_custom_criterion_is_one_function():
    def row_norms(model, names, options):  # every weight scores its row's L1 norm
        weights = {n: model.get_parameter(n).detach() for n in names}
        return {n: w.abs().sum(1, keepdim=True).expand_as(w) for n, w in weights.items()}

    model = _small_mlp()
    masks = pl.prune_weights(model, 0.25, criterion=row_norms, scope="layer")
    assert all(int((~m).sum()) == round(0.25 * m.numel()) for m in masks.values())


# --- errors change nothing ------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"criterion": "taylor"}, ValueError, "needs data"),
        ({"criterion": "snip"}, ValueError, "needs data"),
        ({"criterion": "movement"}, ValueError, "MovementTracker"),
        ({"criterion": "taylor", "data": []}, ValueError, "no batch"),
        ({"criterion": "taylor", "data": 3}, TypeError, "data must be"),
        ({"criterion": "psychic"}, ValueError, "criterion must be one of"),
        ({"criterion": 3}, TypeError, "criterion must be"),
        ({"criterion": {"fc1.weight": torch.zeros(2)}}, ValueError, "lack parameters"),
        ({"scope": "everywhere"}, ValueError, "scope must be one of"),
        ({"amount": 2}, TypeError, "float fraction"),
        ({"amount": 1.5}, ValueError, r"\[0, 1\]"),
        ({"criterion": "taylor", "batches": 0, "data": "x"}, ValueError, "batches"),
        ({"criterion": lambda m, n, o: {k: torch.zeros(1) for k in n}}, ValueError, "shape"),
    ],
)
def test_bad_calls_raise_and_change_nothing(kwargs, error, words):
    model = _small_mlp()
    before = _state(model)
    kwargs = {"amount": 0.5, **kwargs}
    with pytest.raises(error, match=words):
        pl.prune_weights(model, kwargs.pop("amount"), **kwargs)
    assert _same(before, _state(model)) and not pl.get_masks(model)


def test_lower_target_after_pruning_raises_and_changes_nothing(digits):
    model = _small_mlp()
    pl.prune_weights(model, 0.6, criterion="lamp")
    before = _state(model)
    with pytest.raises(ValueError, match="pruned weights never come back"):
        pl.prune_weights(model, 0.3, criterion="taylor", data=digits)
    assert _same(before, _state(model))


def test_unit_criteria_without_data_say_what_is_missing():
    model = pl.cnn((4, 6))
    with pytest.raises(ValueError, match=r"taylor_unit_importance\(model, data\)"):
        pl.prune_units(model, 0.5, importance="taylor")
    with pytest.raises(ValueError, match="needs data"):
        pl.taylor_unit_importance(model, None)
    score = pl.taylor_unit_importance(model, (torch.rand(2, 1, 8, 8), torch.tensor([0, 1])))
    with pytest.raises(ValueError, match="another model"):
        pl.prune_units(pl.cnn((4, 6)), 0.5, importance=score)


# --- N:M ------------------------------------------------------------------------------------


def test_nm_mask_by_hand():
    weight = torch.tensor([[0.1, -3.0, 2.0, 0.5, 1.0, 1.0, -1.0, 1.0]])
    keep = pl.nm_mask(weight)
    assert keep.tolist() == [[False, True, True, False, False, False, True, True]]
    assert pl.is_nm_sparse(weight * keep) and not pl.is_nm_sparse(weight)
    assert pl.nm_mask(weight, 1, 4).sum() == 2 and pl.is_nm_sparse(
        weight * pl.nm_mask(weight, 1, 4), 1, 4
    )
    assert not pl.is_nm_sparse(torch.zeros(2, 6))  # rows not a multiple of 4
    with pytest.raises(ValueError, match="multiple of m=4"):
        pl.nm_mask(torch.ones(2, 6))
    with pytest.raises(ValueError, match="0 < n <= m"):
        pl.nm_mask(weight, 5, 4)


def _sparsifier_mask(weight: torch.Tensor) -> torch.Tensor:
    model = nn.Sequential(nn.Linear(weight.shape[1], weight.shape[0], bias=False))
    with torch.no_grad():
        model[0].weight.copy_(weight)
    sparsifier = WeightNormSparsifier(
        sparsity_level=1.0, sparse_block_shape=(1, 4), zeros_per_block=2
    )
    sparsifier.prepare(model, config=[{"tensor_fqn": "0.weight"}])
    sparsifier.step()
    return model[0].parametrizations.weight[0].mask.bool()


@settings(max_examples=100, deadline=None)
@given(rows=st.integers(1, 6), groups=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_nm_mask_matches_weight_norm_sparsifier(rows, groups, seed):
    weight = torch.randn(rows, 4 * groups, generator=torch.Generator().manual_seed(seed))
    if weight.abs().unique().numel() != weight.numel():
        return  # the sparsifier breaks ties its own way
    keep = pl.nm_mask(weight)
    assert torch.equal(keep, _sparsifier_mask(weight))
    assert pl.is_nm_sparse(weight * keep) and int(keep.sum()) == weight.numel() // 2


def test_nm_prune_installs_masks_that_hold_and_refuses_bad_widths(digits, device):
    model = _small_mlp(device)
    pl.magnitude_prune(model, 0.3, scope="layer")
    masks = pl.nm_prune(model)
    assert set(masks) == {"fc1.weight", "fc2.weight", "fc3.weight"}
    few = TensorDataset(*(t[:128].to(device) for t in digits.train.tensors))
    pl.fine_tune(model, few, epochs=1, progress=False)
    assert all(pl.is_nm_sparse(p) for p in pl.prunable_parameters(model).values())
    odd = pl.mlp((64, 6, 10)).to(device)  # fc2 reads 6 inputs
    before = _state(odd)
    with pytest.raises(ValueError, match="fc2.weight has rows of 6"):
        pl.nm_prune(odd)
    assert _same(before, _state(odd))


def test_semi_structured_conversion_or_a_clear_reason(device):
    model = nn.Sequential(nn.Linear(128, 64)).to(device)
    pl.nm_prune(model)
    reason = pl.semi_structured_unavailable(device)
    if reason is not None:
        if device.type != "cuda":
            assert "CUDA" in reason and device.type in reason
        with pytest.raises(RuntimeError, match="semi-structured"):
            pl.to_semi_structured(model)
        return
    model = model.half()
    converted, report = pl.to_semi_structured(model)
    assert report == {"0": "converted"}
    x = torch.rand(64, 128, device=device, dtype=torch.half)
    assert torch.allclose(converted(x), model(x), atol=1e-2, rtol=1e-2)


# --- redundancy -----------------------------------------------------------------------------


def test_merging_two_identical_neurons_leaves_the_outputs_unchanged(device):
    torch.manual_seed(0)
    model = pl.mlp((8, 6, 3)).to(device)
    with torch.no_grad():
        model.fc1.weight[4] = model.fc1.weight[1]
        model.fc1.bias[4] = model.fc1.bias[1]
    before = _state(model)
    merged = pl.merge_redundant_neurons(
        model, 1 / 6, example_input=torch.zeros(1, 8, device=device)
    )
    assert merged.fc1.out_features == 5 and merged.fc2.in_features == 5
    x = torch.rand(32, 8, device=device)
    assert torch.allclose(merged(x), model(x), atol=1e-5)
    assert _same(before, _state(model))  # the original is untouched
    on_data = pl.merge_redundant_neurons(
        model, 1 / 6, data=(x, torch.zeros(32)), example_input=x[:1]
    )
    assert torch.allclose(on_data(x), model(x), atol=1e-5)


def test_merge_saliency_by_hand():
    model = pl.mlp((2, 3, 1))
    with torch.no_grad():
        model.fc1.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]]))
        model.fc1.bias.zero_()
        model.fc2.weight.copy_(torch.tensor([[1.0, 2.0, 3.0]]))
    # s(0 -> 2) = 1^2 * 0.01 is the lowest (s(2 -> 0) = 3^2 * 0.01): fold a_0 into a_2
    merged = pl.merge_redundant_neurons(model, 1 / 3, example_input=torch.zeros(1, 2))
    assert torch.equal(merged.fc1.weight, torch.tensor([[0.0, 1.0], [1.0, 0.1]]))
    assert torch.equal(merged.fc2.weight, torch.tensor([[2.0, 4.0]]))
    ties = merge_plan(torch.zeros(3, 3), torch.ones(3, 1), 2)
    assert ties == [(0, 1), (1, 2)]


def test_merging_refuses_what_it_cannot_merge():
    small = {"example_input": torch.zeros(1, 8)}
    with pytest.raises(ValueError, match="BatchNorm"):
        pl.merge_redundant_neurons(pl.cnn((4, 6)), 0.5, layers="conv1")
    with pytest.raises(ValueError, match="no layer whose units can be merged"):
        pl.merge_redundant_neurons(pl.cnn((4, 6)), 0.5)
    with pytest.raises(ValueError, match="outputs"):
        pl.merge_redundant_neurons(pl.mlp((8, 6, 3)), 0.5, layers="fc2", **small)
    with pytest.raises(ValueError, match="remove all"):
        pl.merge_redundant_neurons(pl.mlp((8, 6, 3)), 0.99, **small)
    with pytest.raises(ValueError, match="got 'fc9'"):
        pl.merge_redundant_neurons(pl.mlp((8, 6, 3)), 0.5, layers="fc9", **small)


# --- Network Slimming -----------------------------------------------------------------------


def test_bn_l1_penalty_value_and_errors():
    model = pl.cnn((2, 3))
    with torch.no_grad():
        model.bn1.weight.copy_(torch.tensor([1.0, -2.0]))
        model.bn2.weight.copy_(torch.tensor([0.5, 0.0, -0.5]))
    assert pl.bn_l1_penalty(0.1)(model).item() == pytest.approx(0.1 * 4.0)
    with pytest.raises(ValueError, match="BatchNorm"):
        pl.bn_l1_penalty(0.1)(pl.mlp())
    with pytest.raises(ValueError, match="strength must be >= 0"):
        pl.bn_l1_penalty(-1.0)


def test_bn_l1_penalty_pulls_the_scales_towards_zero(digits):
    few = TensorDataset(*(t[:256] for t in digits.train.tensors))

    def scales_after(penalty) -> float:
        torch.manual_seed(0)
        model = pl.cnn((4, 4))
        pl.fit(model, few, epochs=3, lr=0.02, seed=0, penalty=penalty, progress=False)
        return float(sum(m.weight.detach().abs().sum() for m in (model.bn1, model.bn2)))

    # Adam moves each scale by about lr per step whatever the gradient's size, so over 24 steps
    # a strong penalty shows a clear pull: 8.75 -> 6.16 here
    assert scales_after(pl.bn_l1_penalty(0.1)) < 0.85 * scales_after(None)


# --- pipeline and command line --------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(digits):
    return train_dense(lambda: pl.mlp((64, 32, 10)), digits, epochs=1, seed=0)


@pytest.mark.parametrize("method", ["taylor", "snip", "lamp", "movement"])
def test_pipeline_runs_every_registered_criterion_at_an_equal_budget(trained, digits, method):
    model, record = copy.deepcopy(trained[0]), copy.deepcopy(trained[1])
    prune_and_fine_tune(model, digits, record, sparsity=0.8, fine_tune_epochs=2, method=method)
    assert pl.sparsity(model) == pytest.approx(0.8, abs=1e-3)
    assert sum(s.epochs for s in record.steps if s.step == "fine-tune") == 2
    steps = [s.step for s in record.steps]
    expected = (
        ["train", "fine-tune", "prune", "fine-tune"]
        if method == "movement"
        else ["train", "prune", "fine-tune"]
    )
    assert steps == expected


def test_pipeline_movement_needs_a_budget_to_record(trained, digits):
    model, record = copy.deepcopy(trained[0]), copy.deepcopy(trained[1])
    with pytest.raises(ValueError, match="fine_tune_epochs >= 2"):
        prune_and_fine_tune(
            model, digits, record, sparsity=0.5, fine_tune_epochs=1, method="movement"
        )
    assert {"taylor", "snip", "movement", "lamp"} <= set(PRUNERS)


def test_cli_demo_with_taylor(capsys):
    args = [
        "demo",
        "--method",
        "taylor",
        "--sparsity",
        "0.8",
        "--train-epochs",
        "1",
        "--fine-tune-epochs",
        "1",
    ]
    assert main(args) == 0
    assert "80.0%" in capsys.readouterr().out
