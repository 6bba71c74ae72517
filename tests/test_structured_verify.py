"""``prune_units`` checks its own result: a broken surgery never reaches the user.

The self-check (``verify=True``, the default) runs the pruned copy and the original with the
removed units zeroed on ``example_input``. Here a wrong slice is injected into the surgery:
without the check the wrong model comes back; with it, the broken group is kept whole and
named, or the call refuses.
"""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch import nn
from zoo_models import zeroed_copy

import pruning_lessons as pl
from pruning_lessons.structured import surgery


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc, self.hidden, self.out = nn.Linear(8, 16), nn.Linear(16, 16), nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.hidden(torch.relu(self.fc(x)))))


def by_index(group: pl.UnitGroup) -> torch.Tensor:
    """Unit 0 scores lowest, so the first units are the ones removed."""
    return torch.arange(group.size, dtype=torch.float)


@pytest.fixture
def wrong_slice(monkeypatch):
    """``fc``'s rows are cut as ``weight[:kept]`` instead of the kept rows."""
    original = surgery._sliced_tensors

    def broken(model, keep):
        replaced = original(model, keep)
        weight = model.fc.weight
        if id(weight) in replaced:
            kept = replaced[id(weight)].shape[0]
            replaced[id(weight)] = nn.Parameter(weight.detach()[:kept].clone())
        return replaced

    monkeypatch.setattr(surgery, "_sliced_tensors", broken)


def test_without_the_check_the_injected_wrong_slice_gives_a_wrong_model(wrong_slice):
    model, x = MLP().eval(), torch.randn(5, 8)
    removed = pl.select_units(model, 0.25, importance=by_index, example_input=x)
    pruned = pl.prune_units(model, 0.25, importance=by_index, example_input=x, verify=False)
    zeroed = zeroed_copy(model, pl.unit_groups(model, x), removed)
    with torch.no_grad():
        assert (pruned(x) - zeroed(x)).abs().max() > 1e-3


def test_the_check_keeps_the_broken_group_whole_and_names_it(wrong_slice):
    model, x = MLP().eval(), torch.randn(5, 8)
    before = copy.deepcopy(model.state_dict())
    with pytest.warns(pl.StructureWarning, match=r"self-check.*'fc'.*differs"):
        pruned = pl.prune_units(model, 0.25, importance=by_index, example_input=x)
    assert pruned.fc.out_features == 16 and pruned.hidden.out_features == 12
    removed = {"hidden": [0, 1, 2, 3]}
    zeroed = zeroed_copy(model, pl.unit_groups(model, x), removed)
    with torch.no_grad():
        torch.testing.assert_close(pruned(x), zeroed(x))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_the_check_refuses_when_nothing_can_be_kept_exact(wrong_slice):
    model, x = MLP().eval(), torch.randn(5, 8)
    with pytest.raises(ValueError, match=r"wrong model.*'fc'"):
        pl.prune_units(model, {"fc": 0.25}, importance=by_index, example_input=x)


def test_the_check_sees_a_crash_of_the_pruned_model(monkeypatch):
    original = surgery._sliced_tensors

    def too_narrow(model, keep):  # the next layer keeps its full input width
        replaced = original(model, keep)
        replaced.pop(id(model.hidden.weight), None)
        return replaced

    monkeypatch.setattr(surgery, "_sliced_tensors", too_narrow)
    model, x = MLP().eval(), torch.randn(5, 8)
    with pytest.raises(ValueError, match=r"'fc'.*fails \(RuntimeError.*module 'hidden'"):
        pl.prune_units(model, {"fc": 0.25}, example_input=x)


class Normed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc, self.norm, self.out = nn.Linear(8, 16), nn.LayerNorm(16), nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.norm(self.fc(x)))


def test_through_norms_is_checked_for_shapes_and_finiteness_only():
    model, x = Normed().eval(), torch.randn(5, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", pl.StructureWarning)
        pruned = pl.prune_units(model, 0.25, example_input=x, through_norms=True)
    assert pruned.fc.out_features == 12
    assert pruned(x).shape == model(x).shape


def test_verify_must_be_a_bool():
    with pytest.raises(TypeError, match="verify"):
        pl.prune_units(MLP(), 0.25, example_input=torch.randn(5, 8), verify="yes")


class NonFinite(MLP):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)
        return torch.cat([y.relu().log(), y.relu().log() * 0.0])  # -inf and NaN entries


def test_outputs_that_are_infinite_or_nan_in_the_original_agree_where_they_match():
    model, x = NonFinite().eval(), torch.randn(5, 8)
    assert not torch.isfinite(model(x)).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error", pl.StructureWarning)
        pruned = pl.prune_units(model, 0.25, example_input=x)
    assert pruned.fc.out_features == 12
