"""The functions behind the sliders, and the sliders themselves (moved from Python)."""

import torch

import pruning_lessons as pl
from pruning_lessons.teaching.explorers.threshold import threshold_effect, threshold_explorer
from pruning_lessons.teaching.explorers.units import units_effect, units_explorer
from pruning_lessons.teaching.plots import png, weight_histogram


def test_threshold_effect_leaves_the_model_alone(trained_mlp, digits):
    before = pl.count_nonzero(trained_mlp)
    none = threshold_effect(trained_mlp, digits.test, 0.0)
    some = threshold_effect(trained_mlp, digits.test, 0.05)
    assert pl.count_nonzero(trained_mlp) == before
    assert none.sparsity == 0.0 and none.accuracy == pl.evaluate(trained_mlp, digits.test)
    assert 0.0 < some.sparsity < 1.0 and 0.0 <= some.accuracy <= 1.0
    assert "threshold 0.050" in str(some)


def test_units_effect(trained_mlp, digits):
    whole = units_effect(trained_mlp, digits.test, 0.0)
    half = units_effect(trained_mlp, digits.test, 0.5)
    assert whole.parameters == pl.count_parameters(trained_mlp)
    assert half.parameters < whole.parameters and half.milliseconds > 0
    assert "50% of the units removed" in str(half)


def test_threshold_explorer_redraws_when_the_slider_moves(trained_mlp, digits):
    box = threshold_explorer(trained_mlp, digits.test, start=0.02)
    slider, label, picture = box.children
    assert slider.continuous_update is False
    first_text, first_picture = label.value, picture.value
    assert "threshold 0.020" in first_text and first_picture[:4] == b"\x89PNG"
    slider.value = slider.value + 5 * slider.step
    assert label.value != first_text and picture.value != first_picture


def test_units_explorer_redraws_when_the_slider_moves(trained_mlp, digits):
    box = units_explorer(trained_mlp, digits.test, start=0.5)
    slider, label = box.children
    first = label.value
    slider.value = 0.2
    assert label.value != first and "20% of the units removed" in label.value


def test_png_draws_without_pyplot(trained_mlp):
    data = png(weight_histogram, trained_mlp, 0.05)
    assert data[:4] == b"\x89PNG" and len(data) > 5_000


def test_weight_histogram_draws_a_bfloat16_model():
    model = pl.mlp().to(torch.bfloat16)
    assert png(weight_histogram, model, 0.05)[:4] == b"\x89PNG"


def _counting(monkeypatch, owner, name):
    """Wrap ``owner.name`` so that its calls are counted in the returned list."""
    calls = []
    real = getattr(owner, name)

    def counted(*args, **kwargs):
        calls.append(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def test_moving_a_slider_recomputes_only_what_depends_on_it(monkeypatch, trained_mlp, digits):
    # what does not change with the slider (figures and their layout, the weight histogram,
    # the scores of each criterion, the pruned models of a budget curve) is made once
    import matplotlib.figure

    import pruning_lessons.structured as structured
    import pruning_lessons.weights.criteria as importance
    from pruning_lessons.teaching.explorers.amount import amount_explorer
    from pruning_lessons.teaching.explorers.budget import budget_explorer
    from pruning_lessons.teaching.explorers.criteria import criteria_explorer
    from pruning_lessons.teaching.explorers.schedules import schedule_explorer

    figures = _counting(monkeypatch, matplotlib.figure.Figure, "__init__")
    scored = _counting(monkeypatch, importance, "weight_scores")
    pruned = _counting(monkeypatch, structured, "prune_units")
    splits = pl.load_digits(seed=0)
    boxes = {
        "amount": amount_explorer(trained_mlp, digits.test),
        "threshold": threshold_explorer(trained_mlp, digits.test),
        "criteria": criteria_explorer(trained_mlp, splits, criteria=("magnitude", "taylor")),
        "budget": budget_explorer(pl.cnn(), digits.test),
        "schedule": schedule_explorer(),
    }
    built = len(figures), len(scored), len(pruned)
    for name, box in boxes.items():
        slider, label = box.children[0], box.children[-2 if name == "schedule" else 1]
        before = label.value
        slider.value = slider.value - 2 * slider.step
        assert label.value != before, name
    assert (len(figures), len(scored), len(pruned)) == built
