"""Reconstruction-based channel pruning (ThiNet greedy selection + least-squares refit)."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

import pruning_lessons as pl


@pytest.fixture(scope="module")
def tiny():
    """A trained-looking tiny MLP (random weights, 12 hidden units) and calibration inputs."""
    torch.manual_seed(0)
    model = pl.mlp([64, 12, 8, 10])
    inputs = torch.rand(200, 1, 8, 8)
    return model, inputs


def _fc2_output(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    out = []
    handle = model.fc2.register_forward_hook(lambda _m, _a, y: out.append(y))
    with torch.no_grad():
        model.eval()(inputs)
    handle.remove()
    return out[0]


def _error(model: nn.Module, pruned: nn.Module, inputs: torch.Tensor) -> float:
    return float((_fc2_output(model, inputs) - _fc2_output(pruned, inputs)).pow(2).sum())


def _contributions(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """contributions[c] = unit c's contribution W[:, c] x_c to fc2's output, every sample."""
    seen = []
    handle = model.fc2.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    with torch.no_grad():
        model.eval()(inputs)
    handle.remove()
    x, w = seen[0].double(), model.fc2.weight.detach().double()
    return torch.einsum("nc,oc->cno", x, w)


def test_greedy_matches_the_rule_computed_by_brute_force(tiny):
    model, inputs = tiny
    contrib = _contributions(model, inputs)  # (units, samples, outputs)
    gram = contrib.flatten(1) @ contrib.flatten(1).T
    n = len(contrib)
    for count in range(1, 5):
        removed: list[int] = []
        for _ in range(count):  # each step: try every unit, keep ||sum of contributions||^2 least
            costs = [
                contrib[removed + [c]].sum(0).pow(2).sum().item() if c not in removed else 1e300
                for c in range(n)
            ]
            removed.append(min(range(n), key=lambda c: (costs[c], c)))
        assert pl.thinet_select(gram, count) == sorted(removed)
    # one unit: greedy is the exhaustive optimum; more: never better than it
    best = min(range(n), key=lambda c: contrib[c].pow(2).sum().item())
    assert pl.thinet_select(gram, 1) == [best]
    optimum = min(
        contrib[list(t)].sum(0).pow(2).sum().item() for t in itertools.combinations(range(n), 3)
    )
    assert contrib[pl.thinet_select(gram, 3)].sum(0).pow(2).sum().item() >= optimum - 1e-9


def test_ties_go_to_the_lower_index():
    assert pl.thinet_select(torch.eye(4), 2) == [0, 1]


def test_refit_beats_the_same_mask_and_l1_without_refit(tiny):
    model, inputs = tiny
    contrib = _contributions(model, inputs)
    gram = contrib.flatten(1) @ contrib.flatten(1).T
    for amount in (0.25, 0.5, 0.75):
        count = round(amount * 12)
        removed = pl.thinet_select(gram, count)
        kept = [u for u in range(12) if u not in removed]
        greedy = pl.reconstruction_prune(model, amount, inputs, layer="fc1")
        assert torch.equal(greedy.fc1.weight, model.fc1.weight[kept])  # the greedy set went
        same = pl.reconstruction_prune(
            model, 0.0, inputs, layer="fc1", selection=removed, refit=False
        )
        l1 = pl.reconstruction_prune(
            model, amount, inputs, layer="fc1", selection="l1", refit=False
        )
        assert torch.equal(l1.fc1.weight, pl.prune_units(model, {"fc1": amount}).fc1.weight)
        refit_error = _error(model, greedy, inputs)
        assert refit_error <= _error(model, same, inputs) * (1 + 1e-6)
        assert refit_error <= _error(model, l1, inputs) * (1 + 1e-6)


def test_removing_nothing_changes_nothing(tiny):
    model, inputs = tiny
    for selection in ("thinet", "l1", []):
        same = pl.reconstruction_prune(model, 0.0, inputs, layer="fc1", selection=selection)
        for (name, a), (_, b) in zip(
            model.state_dict().items(), same.state_dict().items(), strict=True
        ):
            assert torch.equal(a, b), name


def test_shapes_and_the_refit_goes_into_the_consumer(tiny):
    model, inputs = tiny
    pruned = pl.reconstruction_prune(model, 0.5, inputs, layer="fc1")
    assert (pruned.fc1.weight.shape, pruned.fc1.bias.shape) == ((6, 64), (6,))
    assert pruned.fc2.weight.shape == (8, 6) and pruned.fc2.in_features == 6
    assert pruned.fc3.weight.shape == (10, 8)
    assert pruned(inputs).shape == (200, 10)
    assert not torch.equal(pruned.fc2.bias, model.fc2.bias)  # refit bias too
    assert model.fc1.out_features == 12


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"amount": 1.0}, "amount"),
        ({"amount": -0.1}, "amount"),
        ({"amount": 0.99}, "amount"),
        ({"layer": "fc9"}, "layer"),
        ({"layer": "fc3"}, "fc3"),
        ({"selection": "lasso"}, "selection"),
        ({"selection": [0, 12]}, "selection"),
        ({"selection": list(range(12))}, "selection"),
        ({"selection": [True]}, "selection"),
        ({"selection": 3}, "selection"),
        ({"inputs": torch.empty(0, 1, 8, 8)}, "inputs"),
    ],
)
def test_bad_arguments_are_refused_by_name(tiny, kwargs, word):
    model, inputs = tiny
    before = {k: v.clone() for k, v in model.state_dict().items()}
    call = {"amount": 0.5, "inputs": inputs, "layer": "fc1", **kwargs}
    with pytest.raises(ValueError, match=word):
        pl.reconstruction_prune(model, call.pop("amount"), call.pop("inputs"), **call)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_wrong_types_are_refused_by_name(tiny):
    model, inputs = tiny
    with pytest.raises(TypeError, match="amount"):
        pl.reconstruction_prune(model, 1, inputs, layer="fc1")
    with pytest.raises(TypeError, match="refit"):
        pl.reconstruction_prune(model, 0.5, inputs, layer="fc1", refit="yes")


def test_a_group_it_cannot_handle_is_refused_naming_the_module():
    model = pl.cnn()
    with pytest.raises(ValueError, match=r"conv2 \(Conv2d\)"):
        pl.reconstruction_prune(model, 0.5, torch.rand(4, 1, 8, 8), layer="conv1")
