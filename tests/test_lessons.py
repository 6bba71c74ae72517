"""The pure functions behind lessons 01-03's sliders, and the sliders wired to them."""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pytest
import torch

import pruning_lessons as pl
from pruning_lessons.teaching.explorers.amount import amount_effect, amount_explorer
from pruning_lessons.teaching.explorers.budget import BudgetFit, budget_explorer, fit_to_budget
from pruning_lessons.teaching.explorers.granularity import (
    granularity_effect,
    granularity_explorer,
    unit_keep_masks,
)
from pruning_lessons.teaching.explorers.timing import side_by_side_ms
from pruning_lessons.teaching.plots import budget_curve


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These models are tiny: one thread is as fast, and does not stall on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def small_mlp(digits):
    model = pl.mlp([64, 32, 16, 10])
    pl.fit(model, digits, epochs=3, progress=False)
    return model


@pytest.fixture(scope="module")
def small_cnn(digits):
    model = pl.cnn((4, 8, 8))
    pl.fit(model, digits, epochs=1, progress=False)
    return model


def _weights(model) -> int:
    return sum(p.numel() for p in pl.prunable_parameters(model).values())


def _snapshot(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _unchanged(model, before) -> bool:
    after = model.state_dict()
    return after.keys() == before.keys() and all(torch.equal(after[k], before[k]) for k in before)


def _label(explorer: widgets.VBox) -> widgets.HTML:
    labels = [w for w in explorer.children if isinstance(w, widgets.HTML)]
    assert len(labels) == 1 and "pl-result" in labels[0]._dom_classes
    return labels[0]


def _slider(explorer: widgets.VBox) -> widgets.FloatSlider:
    slider = explorer.children[0]
    assert isinstance(slider, widgets.FloatSlider) and slider.continuous_update is False
    return slider


def _pictures(explorer: widgets.VBox) -> list[bytes]:
    """The PNG bytes of every picture in the explorer (drawn without pyplot)."""
    found, boxes = [], list(explorer.children)
    while boxes:
        widget = boxes.pop(0)
        if isinstance(widget, widgets.Image):
            found.append(widget.value)
        elif isinstance(widget, widgets.Box):
            boxes += list(widget.children)
    assert found and all(png[:4] == b"\x89PNG" for png in found)
    return found


# --- lesson 01 --------------------------------------------------------------------------------


def test_amount_effect_prunes_the_smallest_weights_of_a_copy(small_mlp, digits):
    before = _snapshot(small_mlp)
    effect = amount_effect(small_mlp, digits.test, 0.8)
    assert _unchanged(small_mlp, before) and not pl.get_masks(small_mlp)
    pruned_count = round(0.8 * _weights(small_mlp))
    assert effect.parameters == pl.count_parameters(small_mlp)
    assert effect.parameters - effect.nonzero == pruned_count  # biases are not zero
    magnitudes = torch.cat(
        [p.detach().abs().flatten() for p in pl.prunable_parameters(small_mlp).values()]
    )
    assert int((magnitudes <= effect.cut).sum()) == pruned_count
    assert effect.dense_bytes == pl.file_size(small_mlp)
    assert 0 < effect.sparse_bytes < effect.dense_bytes
    assert 0.0 <= effect.accuracy <= 1.0
    assert "80% of the weights pruned" in str(effect)


def test_amount_effect_of_nothing_is_the_dense_model(small_mlp, digits):
    effect = amount_effect(small_mlp, digits.test, 0.0)
    assert effect.cut == 0.0 and effect.nonzero == effect.parameters
    assert effect.accuracy == pl.evaluate(small_mlp, digits.test)


def test_amount_explorer_redraws_the_label_when_the_slider_moves(small_mlp, digits):
    plt.close("all")  # figures other tests left open
    explorer = amount_explorer(small_mlp, digits.test, start=0.9)
    slider, label = _slider(explorer), _label(explorer)
    assert label.value.startswith("<b>90% of the weights pruned")
    histogram, sizes = _pictures(explorer)
    slider.value = 0.5
    assert "50% of the weights pruned" in label.value
    new_histogram, new_sizes = _pictures(explorer)
    assert new_histogram != histogram and new_sizes != sizes
    assert not plt.get_fignums()  # no pyplot figures left open


# --- lesson 02 --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["small_mlp", "small_cnn"])
def test_unit_keep_masks_keep_exactly_what_prune_units_keeps(kind, request):
    model = request.getfixturevalue(kind)
    masks = unit_keep_masks(model, 0.5)
    smaller = pl.prune_units(model, 0.5)
    assert set(masks) == set(pl.prunable_parameters(model))
    for name, keep in masks.items():
        original, kept = model.get_parameter(name), smaller.get_parameter(name)
        assert keep.shape == original.shape and keep.dtype == torch.bool
        assert torch.equal(original.detach()[keep].reshape(kept.shape), kept.detach())


def test_unit_keep_masks_of_nothing_keep_everything(small_mlp):
    assert all(keep.all() for keep in unit_keep_masks(small_mlp, 0.0).values())


def test_granularity_effect_prunes_both_ways_to_one_budget(small_mlp, digits):
    before = _snapshot(small_mlp)
    effect = granularity_effect(small_mlp, digits.test, 0.5)
    assert _unchanged(small_mlp, before) and not pl.get_masks(small_mlp)
    assert effect.dense_parameters == pl.count_parameters(small_mlp)
    assert effect.parameters == pl.count_parameters(pl.prune_units(small_mlp, 0.5))
    others = effect.dense_parameters - _weights(small_mlp)  # biases stay dense
    kept_weights = sum(int(keep.sum()) for keep in effect.weight_masks.values())
    assert kept_weights + others == effect.parameters
    unit_kept = sum(int(keep.sum()) for keep in effect.unit_masks.values())
    assert unit_kept == _weights(pl.prune_units(small_mlp, 0.5))
    assert 0 < effect.weight_amount < 1
    for value in (effect.dense_accuracy, effect.weight_accuracy, effect.unit_accuracy):
        assert 0.0 <= value <= 1.0
    assert min(effect.dense_ms, effect.weight_ms, effect.unit_ms) > 0
    assert len(str(effect).splitlines()) == 3


def test_side_by_side_ms_times_every_model(small_mlp, digits):
    models = {"dense": small_mlp, "smaller": pl.prune_units(small_mlp, 0.5)}
    ms = side_by_side_ms(models, digits.test.tensors[0][:1], rounds=2, min_run_time=0.01)
    assert list(ms) == ["dense", "smaller"] and all(v > 0 for v in ms.values())
    with pytest.raises(ValueError, match="rounds must be a positive int"):
        side_by_side_ms(models, digits.test.tensors[0][:1], rounds=0)


def test_granularity_explorer_redraws_the_label_when_the_slider_moves(small_mlp, digits):
    plt.close("all")  # figures other tests left open
    explorer = granularity_explorer(small_mlp, digits.test, start=0.5)
    slider, label = _slider(explorer), _label(explorer)
    first, pictures = label.value, _pictures(explorer)
    assert "structured removes 50%" in first and len(pictures) == 2
    slider.value = 0.3
    assert "structured removes 30%" in label.value and label.value != first
    assert all(new != old for new, old in zip(_pictures(explorer), pictures, strict=True))
    assert not plt.get_fignums()


# --- lesson 03 --------------------------------------------------------------------------------


@pytest.mark.parametrize("measure", ["macs", "parameters"])
def test_fit_to_budget_picks_the_least_pruning_that_fits(small_cnn, digits, measure):
    fit = fit_to_budget(small_cnn, digits.test, 0.4, measure=measure)
    assert fit.fits and fit.cost <= 0.4 * fit.dense_cost
    amounts = [a for a, _ in fit.curve]
    costs = [c for _, c in fit.curve]
    assert amounts == sorted(amounts) and costs == sorted(costs, reverse=True)
    earlier = [c for a, c in fit.curve if a < fit.amount]
    assert earlier and all(c > 0.4 * fit.dense_cost for c in earlier)
    assert fit.parameters == pl.count_parameters(fit.model)
    if measure == "parameters":
        assert fit.cost == fit.parameters
    else:
        assert fit.cost == pl.count_macs(fit.model, digits.test.tensors[0][:1])
    assert fit.accuracy == pl.evaluate(fit.model, digits.test)


def test_fit_to_budget_says_when_nothing_fits(small_mlp, digits):
    fit = fit_to_budget(small_mlp, digits.test, 0.001, amounts=(0.0, 0.5))
    assert not fit.fits and fit.amount == 0.5 and "nothing tried fits" in str(fit)
    assert fit_to_budget(small_mlp, digits.test, 1.0).amount == 0.0


def test_fit_to_budget_by_latency(small_mlp, digits):
    fit = fit_to_budget(small_mlp, digits.test, 2.0, measure="latency", amounts=(0.0, 0.5))
    assert fit.fits and fit.amount == 0.0 and fit.dense_cost > 0
    assert "ms per batch" in str(fit)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"budget": 0.5, "measure": "flops"}, "measure must be one of"),
        ({"budget": 0.0}, "budget must be a positive"),
        ({"budget": 0.5, "amounts": ()}, "amounts is empty"),
        ({"budget": 0.5, "amounts": (0.99,)}, "would remove all units"),
    ],
)
def test_fit_to_budget_rejects_bad_arguments(small_mlp, digits, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_to_budget(small_mlp, digits.test, **kwargs)


def test_budget_explorer_and_curve(small_cnn, digits):
    plt.close("all")  # figures other tests left open
    explorer = budget_explorer(small_cnn, digits.test, start=0.5)
    slider, label = _slider(explorer), _label(explorer)
    first, (picture,) = label.value, _pictures(explorer)
    assert "50% of dense" in first
    slider.value = 0.2
    assert "20% of dense" in label.value and _pictures(explorer) != [picture]
    assert not plt.get_fignums()
    fit = fit_to_budget(small_cnn, digits.test, 0.5)
    assert isinstance(fit, BudgetFit)
    ax = budget_curve(fit)
    assert len(ax.lines) == 3 and ax.get_legend() is not None
    plt.close("all")
