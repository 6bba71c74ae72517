"""Plot helpers of lesson 04 (colours, panels, legends, labels) and the study readers."""

import matplotlib.pyplot as plt
import pytest
from matplotlib.colors import to_rgb

from pruning_lessons.teaching.plots import (
    BASELINE_GREYS,
    PALETTE,
    bars,
    comparison_panels,
    method_colours,
    study_panels,
)
from pruning_lessons.teaching.studies import spread, study_curves, study_row

STUDY = {
    "rows": [
        {
            "model": "MLP",
            "granularity": "weights",
            "criterion": "magnitude",
            "sparsity": s,
            "before": [0.5, 0.7],
            "after": [0.9, 0.94],
            "kept": [{}],
        }
        for s in (0.9, 0.8)
    ]
    + [
        {
            "model": "CNN",
            "granularity": "channels",
            "criterion": "random",
            "sparsity": 0.8,
            "before": [0.1, 0.1],
            "recalibrated": [0.3, 0.5],
            "after": [0.97, 0.97],
        }
    ],
}


def test_every_method_gets_its_own_colour_and_random_gets_grey():
    names = [
        "magnitude",
        "lamp",
        "taylor",
        "snip",
        "movement",
        "neurons, L1",
        "neurons, FPGM",
        "neurons, merged",
        "random",
        "neurons, random",
    ]
    colours = method_colours(names)
    assert len(set(colours.values())) == len(names)
    assert colours["random"] in BASELINE_GREYS and colours["neurons, random"] in BASELINE_GREYS
    assert all(colours[n] in PALETTE for n in names if "random" not in n)
    with pytest.raises(ValueError, match="too many methods"):
        method_colours([f"m{i}" for i in range(len(PALETTE) + 1)])


def test_comparison_panels_draw_each_method_once_per_panel_with_a_labelled_split():
    runs = {
        "magnitude": [(0.5, 0.9, 0.95), (0.9, 0.4, 0.9)],
        "snip": [(0.5, None, 0.93), (0.9, None, 0.9)],
        "random": [(0.5, 0.3, 0.9), (0.9, 0.1, 0.6)],
    }
    families = {"magnitude": "magnitude", "snip": "gradient", "random": "random"}
    figure = comparison_panels(runs, families, dense=0.97, split="test")
    left, right = figure.axes
    assert left.get_ylabel() == "test accuracy (%)"
    left_labels = [line.get_label() for line in left.get_lines()]
    assert "snip" not in left_labels and "magnitude" in left_labels  # no "before" for SNIP
    colours = {line.get_label(): to_rgb(line.get_color()) for line in right.get_lines()}
    assert len({colours[n] for n in runs}) == 3
    legend = figure.legends[0]
    assert legend.get_texts()[0].get_fontsize() >= 9
    assert sorted(t.get_text() for t in legend.get_texts()) == sorted([*runs, "dense"])
    plt.close(figure)


def test_bar_labels_stay_inside_the_frame():
    ax = bars({"dense": 205.0, "pruned": 16.1}, ylabel="kB")
    ax.figure.canvas.draw()
    frame = ax.get_window_extent()
    for text in ax.texts:
        box = text.get_window_extent()
        assert box.y1 <= frame.y1, text.get_text()
    plt.close(ax.figure)


def test_study_rows_and_curves():
    row = study_row(STUDY, "MLP", "weights", "magnitude", 0.8)
    assert row["sparsity"] == 0.8
    with pytest.raises(KeyError, match="no row"):
        study_row(STUDY, "MLP", "weights", "lamp", 0.8)
    curves = study_curves(
        STUDY,
        {("weights", "magnitude"): "magnitude", ("channels", "random"): "random"},
        lambda r: r["sparsity"],
    )
    mlp = curves["MLP"]["weights: magnitude"]
    assert mlp["x"] == [0.8, 0.9] and mlp["y"] == pytest.approx([0.92, 0.92])
    assert mlp["err"] == pytest.approx([0.02, 0.02]) and mlp["family"] == "magnitude"
    recal = study_curves(
        STUDY, {("channels", "random"): "random"}, lambda r: 0.8, stage="recalibrated"
    )
    assert recal == {
        "CNN": {
            "channels: random": {
                "family": "random",
                "x": [0.8],
                "y": [pytest.approx(0.4)],
                "err": [pytest.approx(0.1)],
            }
        }
    }
    assert spread([1.0, 3.0]) == (2.0, 1.0)


def test_study_panels_label_split_and_stage():
    curves = study_curves(STUDY, {("weights", "magnitude"): "magnitude"}, lambda r: r["sparsity"])
    figure = study_panels(
        {"MLP": curves["MLP"]}, dense={"MLP": 0.97}, xlabels={"MLP": "sparsity (%)"}
    )
    (ax,) = figure.axes
    assert ax.get_ylabel() == "test accuracy after fine-tuning (%)"
    assert ax.get_legend() is not None
    plt.close(figure)
