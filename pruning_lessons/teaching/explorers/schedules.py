"""Lesson 05's sliders: one-shot, iterative and cubic sparsity schedules."""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
from matplotlib.axes import Axes

from ...weights.schedules import cubic_sparsity, sparsity_schedule
from .ui import Canvas, float_slider, png_image, result_label


@dataclass(frozen=True)
class ScheduleEffect:
    """The sparsity after each pruning step of the one-shot, iterative and cubic schedules."""

    final: float
    steps: int
    levels: dict[str, list[float]]

    def __str__(self) -> str:
        parts = [
            f"{kind}: " + " -> ".join(f"{level:.1%}" for level in levels)
            for kind, levels in self.levels.items()
        ]
        return f"to {self.final:.0%} in {self.steps} step(s) | " + " | ".join(parts)

    def first_step(self, kind: str) -> float:
        """The share of all weights removed by the first pruning step of ``kind``."""
        return self.levels[kind][0]

    def last_step(self, kind: str) -> float:
        """The share of all weights removed by the last pruning step of ``kind``."""
        levels = [0.0, *self.levels[kind]]
        return levels[-1] - levels[-2]


def schedule_effect(final: float, steps: int) -> ScheduleEffect:
    """Each schedule's levels (:func:`~pruning_lessons.weights.schedules.sparsity_schedule`)."""
    kinds = ("one-shot", "iterative", "cubic")
    return ScheduleEffect(final, steps, {k: sparsity_schedule(k, final, steps) for k in kinds})


def draw_schedules(effect: ScheduleEffect, *, ax: Axes | None = None) -> Axes:
    """Sparsity against pruning step for each schedule, with Zhu & Gupta's cubic curve."""
    from ..plots import _axes

    ax = _axes(ax)
    for kind, levels in effect.levels.items():
        padded = levels + levels[-1:] * (effect.steps - len(levels))  # one-shot stays there
        xs = list(range(len(padded) + 1))
        ax.step(xs, [0.0, *(100 * level for level in padded)], where="post", marker="o", label=kind)
    fine = [i / 20 for i in range(20 * effect.steps + 1)]
    curve = [100 * cubic_sparsity(t, effect.final, steps=effect.steps) for t in fine]
    ax.plot(fine, curve, color="grey", linestyle=":", label="cubic curve s(t)")
    ax.set(
        xlabel="pruning step",
        ylabel="sparsity (%)",
        ylim=(0, 100),
        title=f"Reaching {effect.final:.0%} in {effect.steps} step(s)",
    )
    ax.legend(loc="lower right")
    return ax


def schedule_explorer(*, final: float = 0.9, steps: int = 5) -> widgets.VBox:
    """Sliders over the final sparsity and the number of steps: the schedules, redrawn."""
    final_slider = float_slider(final, 0.5, 0.98, 0.01, "final", ".0%")
    steps_slider = widgets.IntSlider(
        value=steps, min=1, max=10, description="steps", continuous_update=False
    )
    label, picture, canvas = result_label(), png_image(), Canvas()

    def redraw(change: dict | None = None) -> None:
        effect = schedule_effect(final_slider.value, steps_slider.value)
        label.value = f"<b>{effect}</b>"
        picture.value = canvas.png(draw_schedules, effect)

    final_slider.observe(redraw, names="value")
    steps_slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([final_slider, steps_slider, label, picture])
