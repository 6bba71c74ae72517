"""Bad input gets a clear error naming the argument, and one rule for ints in every amount."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import pruning_lessons as pl
from pruning_lessons.teaching.explorers.budget import fit_to_budget
from pruning_lessons.weights.analysis import sensitivity_scan
from pruning_lessons.weights.pipeline import prune_and_fine_tune
from pruning_lessons.weights.schedules import sparsity_schedule


def _unchanged(model: nn.Module, before: dict) -> bool:
    after = model.state_dict()
    return after.keys() == before.keys() and all(torch.equal(before[k], after[k]) for k in after)


def _meta_cnn() -> nn.Module:
    with torch.device("meta"):
        return pl.cnn()


@pytest.mark.parametrize(
    "call",
    [
        lambda m: pl.magnitude_prune(m, 0.5),
        lambda m: pl.random_prune(m, 0.5),
        lambda m: pl.prune_weights(m, 0.5),
        lambda m: pl.prune_units(m, 0.5),
    ],
    ids=["magnitude_prune", "random_prune", "prune_weights", "prune_units"],
)
def test_a_model_on_the_meta_device_is_told_so(call):
    model = _meta_cnn()
    with pytest.raises(ValueError, match="(?i)meta device.*materialise"):
        call(model)
    assert pl.get_masks(model) == {}


def test_meta_tensors_are_told_so():
    with pytest.raises(ValueError, match="meta device"):
        pl.magnitude_mask(torch.empty(4, 4, device="meta"), 0.5)
    with pytest.raises(ValueError, match="meta device"):
        pl.global_magnitude_masks([torch.empty(4, 4, device="meta")], 0.5)


@pytest.mark.parametrize("bad", [[[0.0] * 8] * 8, (torch.zeros(1, 1, 8, 8),), "image"])
def test_example_input_that_is_not_a_tensor_is_named(bad):
    model = pl.cnn()
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(
        TypeError, match=r"example_input must be a torch\.Tensor.*got (list|tuple|str)"
    ):
        pl.prune_units(model, 0.5, example_input=bad)
    assert _unchanged(model, before)


def test_a_model_without_linear_or_conv_is_told_it_has_no_prunable_layer():
    model = nn.Sequential(nn.Flatten(), nn.ReLU())
    with pytest.raises(ValueError, match="no prunable layer: it has no Linear or Conv layer"):
        pl.prune_units(model, 0.5)
    with pytest.raises(ValueError, match="nothing to prune: no Linear or Conv"):
        pl.magnitude_prune(model, 0.5)


def _tensor():
    return torch.arange(1.0, 17.0).reshape(4, 4)


# every public function that takes an amount (or a sparsity target), called with a given value
AMOUNT_TAKERS = {
    "magnitude_mask": lambda a: pl.magnitude_mask(_tensor(), a),
    "global_magnitude_masks": lambda a: pl.global_magnitude_masks([_tensor()], a),
    "magnitude_prune": lambda a: pl.magnitude_prune(pl.mlp(), a),
    "magnitude_prune global": lambda a: pl.magnitude_prune(pl.mlp(), a, scope="global"),
    "random_prune": lambda a: pl.random_prune(pl.mlp(), a),
    "prune_weights": lambda a: pl.prune_weights(pl.mlp(), a),
    "prune_units": lambda a: pl.prune_units(pl.cnn(), a),
    "prune_units per layer": lambda a: pl.prune_units(pl.cnn(), {"conv1": a}),
    "prune_units global": lambda a: pl.prune_units(pl.cnn(), a, scope="global"),
    "merge_redundant_neurons": lambda a: pl.merge_redundant_neurons(pl.mlp(), a),
    "sparsity_schedule": lambda a: sparsity_schedule("cubic", a),
    "prune_and_fine_tune": lambda a: prune_and_fine_tune(pl.mlp(), None, None, sparsity=a),
    "sensitivity_scan": lambda a: sensitivity_scan(pl.mlp(), _digits_like(), amounts=(a,)),
    "fit_to_budget": lambda a: fit_to_budget(pl.mlp(), _digits_like(), 0.5, amounts=(a,)),
}


def _digits_like():
    g = torch.Generator().manual_seed(0)
    return torch.utils.data.TensorDataset(torch.rand(8, 64, generator=g), torch.arange(8) % 10)


@pytest.mark.parametrize("name", list(AMOUNT_TAKERS))
@pytest.mark.parametrize("value", [0, 1])
def test_one_rule_for_ints_every_amount_refuses_them(name, value):
    with pytest.raises(TypeError, match=rf"must be a float fraction.*got int {value}; write"):
        AMOUNT_TAKERS[name](value)


@pytest.mark.parametrize("name", [n for n in AMOUNT_TAKERS if n != "prune_and_fine_tune"])
def test_the_same_amount_as_a_float_is_accepted(name):
    AMOUNT_TAKERS[name](0.0)
