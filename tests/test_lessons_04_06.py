"""The functions behind the sliders of lessons 04-06, and the sliders themselves."""

import pytest

import pruning_lessons as pl
from pruning_lessons.teaching.explorers.criteria import (
    LESSON_CRITERIA,
    criteria_effect,
    criteria_explorer,
    draw_criteria,
)
from pruning_lessons.teaching.explorers.layer_ratio import (
    draw_sensitivity,
    layer_ratio_effect,
    layer_ratio_explorer,
)
from pruning_lessons.teaching.explorers.noise import (
    draw_noise,
    draw_noisy_digits,
    noise_effect,
    noise_explorer,
)
from pruning_lessons.teaching.explorers.schedules import (
    draw_schedules,
    schedule_effect,
    schedule_explorer,
)
from pruning_lessons.teaching.plots import png
from pruning_lessons.weights.analysis import sensitivity_scan
from pruning_lessons.weights.schedules import sparsity_schedule


@pytest.fixture(scope="module")
def scan(trained_mlp, digits):
    return sensitivity_scan(trained_mlp, digits.val, amounts=(0.0, 0.5, 0.9, 0.98))


def _is_png(data: bytes) -> bool:
    return data[:4] == b"\x89PNG"


# --- lesson 04 ------------------------------------------------------------------------------


def test_criteria_effect_prunes_copies_with_every_criterion(trained_mlp, digits):
    before = pl.count_nonzero(trained_mlp)
    none = criteria_effect(trained_mlp, digits, 0.0)
    most = criteria_effect(trained_mlp, digits, 0.9)
    assert pl.count_nonzero(trained_mlp) == before
    assert set(none.accuracy) == set(LESSON_CRITERIA) == set(most.accuracy)
    dense = pl.evaluate(trained_mlp, digits.test)
    assert none.dense == most.dense == dense
    assert all(accuracy == dense for accuracy in none.accuracy.values())
    assert most.accuracy["magnitude"] > most.accuracy["random"]
    assert "90% of the weights pruned" in str(most) and "random" in str(most)


def test_criteria_effect_takes_other_criteria(trained_mlp, digits):
    effect = criteria_effect(trained_mlp, digits, 0.5, criteria=("snip",), scope="layer")
    assert list(effect.accuracy) == ["snip"] and 0.0 <= effect.accuracy["snip"] <= 1.0


def test_criteria_explorer_redraws_when_the_slider_moves(trained_mlp, digits):
    box = criteria_explorer(trained_mlp, digits, start=0.5, criteria=("magnitude", "random"))
    slider, label, picture = box.children
    assert slider.continuous_update is False
    first_text, first_picture = label.value, picture.value
    assert "50% of the weights pruned" in first_text and _is_png(first_picture)
    slider.value = 0.95
    assert "95% of the weights pruned" in label.value and picture.value != first_picture


def test_draw_criteria(trained_mlp, digits):
    assert _is_png(png(draw_criteria, criteria_effect(trained_mlp, digits, 0.8)))


# --- lesson 05 ------------------------------------------------------------------------------


def test_schedule_effect_lists_every_schedules_levels():
    effect = schedule_effect(0.9, 5)
    assert effect.levels["one-shot"] == [0.9]
    for kind in ("iterative", "cubic"):
        levels = effect.levels[kind]
        assert len(levels) == 5 and levels[-1] == pytest.approx(0.9)
        assert levels == sorted(levels)
    assert effect.levels["cubic"] == sparsity_schedule("cubic", 0.9, 5)
    # the cubic schedule prunes most early and little at the end
    assert effect.first_step("cubic") > effect.first_step("iterative")
    assert effect.last_step("cubic") < effect.last_step("iterative")
    assert effect.last_step("one-shot") == effect.first_step("one-shot") == 0.9
    assert "to 90% in 5 step(s)" in str(effect) and "cubic:" in str(effect)


def test_schedule_explorer_redraws_when_either_slider_moves():
    box = schedule_explorer(final=0.8, steps=4)
    final, steps, label, picture = box.children
    assert final.continuous_update is False and steps.continuous_update is False
    first_text, first_picture = label.value, picture.value
    assert "to 80% in 4 step(s)" in first_text and _is_png(first_picture)
    final.value = 0.95
    assert "to 95% in 4 step(s)" in label.value and picture.value != first_picture
    second_picture = picture.value
    steps.value = 2
    assert "to 95% in 2 step(s)" in label.value and picture.value != second_picture


def test_draw_schedules():
    assert _is_png(png(draw_schedules, schedule_effect(0.9, 1)))


# --- lesson 06 ------------------------------------------------------------------------------


def test_layer_ratio_effect_applies_the_chosen_amounts_together(trained_mlp, digits, scan):
    before = pl.count_nonzero(trained_mlp)
    strict = layer_ratio_effect(trained_mlp, digits.val, scan, 0.0)
    loose = layer_ratio_effect(trained_mlp, digits.val, scan, 0.15)
    assert pl.count_nonzero(trained_mlp) == before
    assert set(strict.amounts) == set(scan.accuracy)
    assert all(a in scan.amounts for a in loose.amounts.values())
    assert all(loose.amounts[n] >= strict.amounts[n] for n in scan.accuracy)
    assert loose.sparsity >= strict.sparsity and 0.0 <= loose.sparsity < 1.0
    assert strict.baseline == loose.baseline == scan.baseline
    assert 0.0 <= loose.accuracy <= 1.0
    assert "allowing 15.0% per layer" in str(loose)


def test_layer_ratio_explorer_redraws_when_the_slider_moves(trained_mlp, digits, scan):
    box = layer_ratio_explorer(trained_mlp, digits.val, scan, start=0.0)
    slider, label, picture = box.children
    assert slider.continuous_update is False
    first_text, first_picture = label.value, picture.value
    assert "allowing 0.0% per layer" in first_text and _is_png(first_picture)
    slider.value = 0.2
    assert "allowing 20.0% per layer" in label.value and picture.value != first_picture


def test_draw_sensitivity(scan):
    assert _is_png(png(draw_sensitivity, scan))
    assert _is_png(png(draw_sensitivity, scan, {name: 0.5 for name in scan.accuracy}))


def test_noise_effect(trained_mlp, digits):
    models = {"dense": trained_mlp, "pruned": pl.prune_units(trained_mlp, 0.5)}
    clean = noise_effect(models, digits.test, 0.0)
    noisy = noise_effect(models, digits.test, 0.6)
    shifted = noise_effect(models, digits.test, 2, kind="shift")
    assert clean.accuracy["dense"] == pl.evaluate(trained_mlp, digits.test)
    assert noisy.accuracy["dense"] < clean.accuracy["dense"]
    assert set(shifted.accuracy) == {"dense", "pruned"}
    assert str(noisy).startswith("Gaussian noise, std 0.60: dense")
    assert "shifted by up to 2 pixel(s)" in str(shifted)


def test_noise_explorer_redraws_when_the_slider_moves(trained_mlp, digits):
    box = noise_explorer({"dense": trained_mlp}, digits.test, start=0.1)
    slider, label, digits_picture, bars_picture = box.children
    assert slider.continuous_update is False
    first = (label.value, digits_picture.value, bars_picture.value)
    assert "std 0.10" in first[0] and all(_is_png(p) for p in first[1:])
    slider.value = 0.5
    assert "std 0.50" in label.value
    assert digits_picture.value != first[1] and bars_picture.value != first[2]


def test_noise_explorer_shifts_by_whole_pixels(trained_mlp, digits):
    box = noise_explorer({"dense": trained_mlp}, digits.test, start=1, kind="shift")
    slider, label = box.children[:2]
    assert slider.continuous_update is False and slider.value == 1
    slider.value = 3
    assert "shifted by up to 3 pixel(s)" in label.value


def test_draw_noise(trained_mlp, digits):
    assert _is_png(png(draw_noisy_digits, digits.test, 0.3, size=(6, 1.6)))
    effect = noise_effect({"dense": trained_mlp}, digits.test, 0.3)
    assert _is_png(png(draw_noise, effect))
