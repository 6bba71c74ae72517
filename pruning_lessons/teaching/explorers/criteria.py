"""Lesson 04's slider: the same share of weights pruned by several criteria."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import ipywidgets as widgets
import torch
from matplotlib.axes import Axes
from torch import nn

from ...core.data import Splits
from ...core.train import evaluate
from .ui import Canvas, float_slider, png_image, result_label, wired

#: The weight criteria the lesson-04 slider compares (all score a trained model; SNIP and
#: movement need a different recipe, see the lesson).
LESSON_CRITERIA = ("magnitude", "lamp", "taylor", "random")


@dataclass(frozen=True)
class CriteriaEffect:
    """Test accuracy right after pruning the same share of weights by several criteria."""

    amount: float
    dense: float
    accuracy: dict[str, float]

    def __str__(self) -> str:
        ranked = sorted(self.accuracy.items(), key=lambda item: -item[1])
        parts = ", ".join(f"{name} {accuracy:.1%}" for name, accuracy in ranked)
        return (
            f"{self.amount:.0%} of the weights pruned, no fine-tuning: {parts} "
            f"(dense {self.dense:.1%})"
        )


def criteria_effect(
    model: nn.Module,
    data: Splits,
    amount: float,
    *,
    criteria: Sequence[str] = LESSON_CRITERIA,
    scope: str = "global",
    seed: int = 1,
    scores: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
) -> CriteriaEffect:
    """Prune a copy of ``model`` to ``amount`` with each criterion (no fine-tuning) and test it.

    Each criterion is a name in :data:`~pruning_lessons.weights.criteria.WEIGHT_CRITERIA`; the ones
    that need gradients (``"taylor"``, ``"snip"``) read batches of ``data.train``. Accuracy is
    measured on ``data.test``. ``model`` itself is not changed.

    ``seed`` seeds the ``"random"`` criterion (its stream is independent of the model's
    initialisation, see :func:`~pruning_lessons.core.device.independent_generator`).
    ``scores`` (optional): each criterion's precomputed scores (:func:`criteria_scores`), so a
    slider does not score the same model again at every move.
    """
    from ...weights.criteria import prune_weights

    accuracy = {}
    for criterion in criteria:
        pruned = copy.deepcopy(model)
        how = scores[criterion] if scores is not None else criterion
        prune_weights(pruned, amount, criterion=how, scope=scope, data=data, seed=seed)
        accuracy[criterion] = evaluate(pruned, data.test)
    return CriteriaEffect(amount, evaluate(model, data.test), accuracy)


def criteria_scores(
    model: nn.Module, data: Splits, *, criteria: Sequence[str] = LESSON_CRITERIA, seed: int = 1
) -> dict[str, dict[str, torch.Tensor]]:
    """Each criterion's scores of ``model``'s weights, as :func:`criteria_effect` computes them."""
    from ...weights.criteria import weight_scores

    return {c: dict(weight_scores(model, c, data=data, seed=seed)) for c in criteria}


def draw_criteria(effect: CriteriaEffect, *, ax: Axes | None = None) -> Axes:
    """Bars of each criterion's accuracy, with the dense model as a dashed line."""
    from ..plots import bars

    ax = bars({k: 100 * v for k, v in effect.accuracy.items()}, ylabel="test accuracy (%)", ax=ax)
    ax.axhline(100 * effect.dense, color="grey", linestyle="--")
    ax.set(
        ylim=(0, 105),
        title=f"{effect.amount:.0%} of the weights pruned, no fine-tuning (dashed: dense)",
    )
    return ax


def criteria_explorer(
    model: nn.Module,
    data: Splits,
    *,
    start: float = 0.9,
    criteria: Sequence[str] = LESSON_CRITERIA,
) -> widgets.VBox:
    """A slider over the share of weights pruned: every criterion's accuracy at that amount."""
    slider = float_slider(start, 0.0, 0.99, 0.01, "pruned", ".0%")
    label, picture, canvas = result_label(), png_image(), Canvas()
    scores = criteria_scores(model, data, criteria=criteria)  # they do not depend on the amount

    def redraw(change: dict | None = None) -> None:
        effect = criteria_effect(model, data, slider.value, criteria=criteria, scores=scores)
        label.value = f"<b>{effect}</b>"
        picture.value = canvas.png(draw_criteria, effect)

    return wired(slider, redraw, label, picture)
