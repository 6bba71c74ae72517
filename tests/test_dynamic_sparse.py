import copy

import pytest
import torch

import pruning_lessons as pl
from pruning_lessons.weights.dynamic import sparse_train, update_topology


@pytest.fixture(scope="module")
def digits():
    return pl.load_digits(seed=0)


def test_update_drops_the_smallest_active_and_regrows_the_largest_gradients():
    weight = torch.tensor([0.5, -0.1, 0.0, 2.0, 0.0, 0.3])
    keep = torch.tensor([True, True, False, True, False, True])
    grad = torch.tensor([0.0, 0.0, 0.2, 0.0, 0.9, 0.0])
    new = update_topology(weight, keep, 2, "gradient", grad, torch.Generator().manual_seed(0))
    assert new.tolist() == [True, False, True, True, True, False]
    assert update_topology(weight, keep, 2, "none", grad, torch.Generator()) is keep
    random = update_topology(weight, keep, 1, "random", None, torch.Generator().manual_seed(0))
    assert int(random.sum()) == 4 and not random[1]  # -0.1 dropped, one of the zeros grown


@pytest.mark.parametrize("regrow", ["gradient", "random", "none"])
def test_sparse_training_keeps_each_layers_budget_and_exact_zeros(digits, regrow):
    model = pl.mlp()
    start = pl.mlp()
    start.load_state_dict(model.state_dict())
    masks = sparse_train(model, digits, 0.9, regrow=regrow, epochs=6, update_every=5, seed=0)
    for name, keep in masks.items():
        weight = model.get_parameter(name)
        assert int((~keep).sum()) == round(0.9 * keep.numel())
        assert torch.all(weight[~keep] == 0)
    assert pl.evaluate(model, digits.test) > 0.5  # it learns
    assert set(pl.get_masks(model)) == set(masks)  # installed: an ordinary pruned model
    same = copy.deepcopy(start)
    again = sparse_train(same, digits, 0.9, regrow=regrow, epochs=6, update_every=5, seed=0)
    assert all(torch.equal(again[n], masks[n]) for n in masks)  # deterministic by seed


def test_the_mask_moves_only_when_connections_regrow(digits):
    initial = {}
    for regrow in ("none", "gradient"):
        torch.manual_seed(0)
        model = pl.mlp()
        initial[regrow] = sparse_train(
            model, digits, 0.9, regrow=regrow, epochs=1, update_every=100, seed=1
        )
    torch.manual_seed(0)
    model = pl.mlp()
    moved = sparse_train(model, digits, 0.9, regrow="gradient", epochs=1, update_every=5, seed=1)
    assert any(not torch.equal(moved[n], initial["none"][n]) for n in moved)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sparsity": 1.0}, "sparsity"),
        ({"sparsity": "0.9"}, "sparsity"),
        ({"sparsity": 0.9, "regrow": "magic"}, "regrow"),
        ({"sparsity": 0.9, "drop_fraction": 2.0}, "drop_fraction"),
        ({"sparsity": 0.9, "update_every": 0}, "update_every"),
    ],
)
def test_bad_arguments_are_refused_before_any_change(digits, kwargs, match):
    model = pl.mlp()
    before = copy.deepcopy(model.state_dict())
    with pytest.raises((ValueError, TypeError), match=match):
        sparse_train(model, digits, **kwargs)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
