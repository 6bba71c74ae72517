"""SR-STE: N:M in the forward pass, gradients to every weight, a decay that settles the mask."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import pruning_lessons as pl
from pruning_lessons.weights.nm import nm_mask
from pruning_lessons.weights.sr_ste import finish_nm_training, mask_changes, start_nm_training


def _layer() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 3))


def test_forward_is_n_of_m_and_the_gradient_reaches_pruned_weights():
    model = _layer()
    dense = model[0].weight.detach().clone()
    start_nm_training(model, 2, 4, decay=0.0)
    keep = nm_mask(dense, 2, 4)
    assert torch.equal(model[0].weight, dense * keep)  # what the forward pass uses
    x = torch.randn(5, 8)
    model(x).sum().backward()
    grad = model[0].parametrizations.weight.original.grad
    # straight through: d(sum)/dW_ij = sum over the batch of x_j, masked or not
    assert torch.allclose(grad, x.sum(0).expand(3, 8))
    assert torch.all(grad[~keep] != 0)


def test_the_penalty_adds_decay_times_the_pruned_weights_to_the_gradient():
    model = _layer()
    penalty = start_nm_training(model, 2, 4, decay=0.5)
    original = model[0].parametrizations.weight.original
    keep = nm_mask(original, 2, 4)
    penalty(model).backward()
    assert torch.allclose(original.grad, 0.5 * original.detach() * ~keep)


def test_finish_fixes_an_exact_mask_that_holds(digits):
    pl.seed_everything(0)
    model = pl.mlp()
    penalty = start_nm_training(model, 2, 4)
    pl.fit(model, digits, epochs=1, penalty=penalty, progress=False)
    before = pl.evaluate(model, digits.test)
    masks = finish_nm_training(model)
    assert set(masks) == set(pl.prunable_parameters(model))
    assert pl.evaluate(model, digits.test) == before  # same function, now stored sparse
    pl.fit(model, digits, epochs=1, progress=False)  # the masks hold through more training
    assert all(pl.is_nm_sparse(model.get_parameter(name), 2, 4) for name in masks)
    assert not any(hasattr(m, "parametrizations") for m in model.modules())


def test_sr_ste_decay_makes_the_mask_move_less_than_plain_ste(digits):
    """Measured 0.070-0.073 (plain STE) vs 0.043-0.050 (decay 2e-3) over seeds 0-2."""
    changed = {}
    for decay in (0.0, 2e-3):
        pl.seed_everything(0)
        model = pl.mlp()
        penalty = start_nm_training(model, 2, 4, decay=decay)
        chain = model.fc1.parametrizations.weight
        pl.fit(model, digits, epochs=3, penalty=penalty, progress=False)
        early = chain[0].keep(chain.original)
        pl.fit(model, digits, epochs=2, seed=10, penalty=penalty, progress=False)
        changed[decay] = mask_changes(early, chain[0].keep(chain.original))
    assert changed[0.0] > 0  # plain STE: the mask does move (it is learned)
    assert changed[2e-3] < changed[0.0]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n": 3, "m": 2}, ValueError, "0 < n <= m"),
        ({"n": 2.0}, TypeError, "n must be an int"),
        ({"decay": -1.0}, ValueError, "decay must be a number >= 0"),
        ({"m": 5}, ValueError, "not a multiple of m=5"),
    ],
)
def test_bad_arguments_change_nothing(kwargs, error, match):
    model = _layer()
    before = model[0].weight.detach().clone()
    with pytest.raises(error, match=match):
        start_nm_training(model, **{"n": 2, "m": 4, **kwargs})
    assert not hasattr(model[0], "parametrizations")
    assert torch.equal(model[0].weight, before)
