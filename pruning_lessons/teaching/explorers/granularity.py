"""Lesson 02's slider: weight pruning and structured pruning at the same parameter budget."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import ipywidgets as widgets
import torch
from torch import nn
from torch.utils.data import TensorDataset

from ...core.train import evaluate
from ...weights.magnitude import magnitude_prune, prunable_parameters
from .timing import side_by_side_ms
from .ui import Canvas, float_slider, png_image, result_label, wired


def unit_keep_masks(
    model: nn.Module, fraction: float, *, importance: str = "l1"
) -> dict[str, torch.Tensor]:
    """What :func:`~pruning_lessons.prune_units` removes, drawn on the original weights.

    One keep-mask per prunable weight, in the *original* shapes: a removed unit clears its row
    in the layer that produces it and its column(s) in every layer that reads it. So a
    structured mask is made of whole stripes, where a magnitude mask is scattered.
    """
    from ...structured import select_units, unit_groups

    removed = select_units(model, fraction, importance=importance)
    masks = {
        name: torch.ones_like(p, dtype=torch.bool) for name, p in prunable_parameters(model).items()
    }
    for group in unit_groups(model):
        drop = torch.tensor(removed.get(group.name, []), dtype=torch.long)
        if drop.numel() == 0:
            continue
        for member in group.producers:
            masks[f"{member.name}.weight"][drop.to(masks[f"{member.name}.weight"].device)] = False
        for member in group.consumers:
            columns = (drop[:, None] * member.per_unit + torch.arange(member.per_unit)).flatten()
            mask = masks[f"{member.name}.weight"]
            mask[:, columns.to(mask.device)] = False
    return masks


@dataclass(frozen=True)
class GranularityEffect:
    """One budget, two granularities (see :func:`granularity_effect`)."""

    fraction: float  # of every hidden layer's units removed by structured pruning
    dense_parameters: int
    parameters: int  # stored by both pruned models: the smaller one, and the non-zeros
    weight_amount: float  # fraction of the weights zeroed so that the budgets match
    dense_accuracy: float
    weight_accuracy: float
    unit_accuracy: float
    dense_ms: float
    weight_ms: float
    unit_ms: float
    batch_size: int
    weight_masks: dict = field(repr=False, compare=False)
    unit_masks: dict = field(repr=False, compare=False)

    def __str__(self) -> str:
        return (
            f"budget {self.parameters:,} of {self.dense_parameters:,} parameters: "
            f"structured removes {self.fraction:.0%} of the hidden units, weight pruning "
            f"zeroes {self.weight_amount:.1%} of the weights\n"
            f"accuracy without fine-tuning: dense {self.dense_accuracy:.1%}, "
            f"weight-pruned {self.weight_accuracy:.1%}, structured {self.unit_accuracy:.1%}\n"
            f"latency per batch of {self.batch_size}: dense {self.dense_ms:.2f} ms, "
            f"weight-pruned {self.weight_ms:.2f} ms, structured {self.unit_ms:.2f} ms"
        )


def granularity_effect(
    model: nn.Module,
    dataset: TensorDataset,
    fraction: float,
    *,
    importance: str = "l1",
    batch_size: int = 256,
) -> GranularityEffect:
    """Prune copies of ``model`` both ways to the same parameter budget and measure them.

    Structured: remove ``fraction`` of every hidden layer's units (L1 norm, Li et al. 2017),
    giving a model with ``P`` parameters. Weight pruning: zero the smallest weights globally
    (Han et al. 2015) until exactly ``P`` parameters are left non-zero. No fine-tuning.
    Latency is measured side by side (:func:`side_by_side_ms`), on the weight-pruned model with
    its masks baked in, as you would export it: a plain dense model that happens to hold zeros.
    """
    from ...core.metrics import count_parameters
    from ...structured import prune_units
    from ...weights.masks import bake_masks, get_masks

    smaller = prune_units(model, fraction, importance=importance)
    parameters = count_parameters(smaller)
    weights = prunable_parameters(model)
    total = sum(p.numel() for p in weights.values())
    kept = parameters - (count_parameters(model) - total)  # biases and norms stay dense
    weight_amount = (total - kept) / total
    zeroed = copy.deepcopy(model)
    magnitude_prune(zeroed, weight_amount, scope="global")
    weight_masks = {name: keep.clone() for name, keep in get_masks(zeroed).items()}
    weight_accuracy = evaluate(zeroed, dataset)
    bake_masks(zeroed)
    ms = side_by_side_ms(
        {"dense": model, "weight": zeroed, "unit": smaller},
        dataset.tensors[0][:1],
        batch_size=batch_size,
    )
    return GranularityEffect(
        fraction=fraction,
        dense_parameters=count_parameters(model),
        parameters=parameters,
        weight_amount=weight_amount,
        dense_accuracy=evaluate(model, dataset),
        weight_accuracy=weight_accuracy,
        unit_accuracy=evaluate(smaller, dataset),
        dense_ms=ms["dense"],
        weight_ms=ms["weight"],
        unit_ms=ms["unit"],
        batch_size=batch_size,
        weight_masks=weight_masks,
        unit_masks=unit_keep_masks(model, fraction, importance=importance),
    )


def granularity_explorer(
    model: nn.Module, dataset: TensorDataset, *, start: float = 0.5, layer: str = "fc2.weight"
) -> widgets.VBox:
    """A slider over the budget: both sparsity patterns of ``layer``, accuracy and latency."""
    from ..plots import mask_heatmap

    slider = float_slider(start, 0.1, 0.9, 0.1, "units off", ".0%")
    label, weights, units = result_label(), png_image("410px"), png_image("410px")
    canvases = {"weight pruning": Canvas((4.5, 3.2)), "structured": Canvas((4.5, 3.2))}

    effects: dict[float, GranularityEffect] = {}  # a slider has 9 positions: measure each once

    def redraw(change: dict | None = None) -> None:
        if slider.value not in effects:
            effects[slider.value] = granularity_effect(model, dataset, slider.value)
        effect = effects[slider.value]
        label.value = "<b>" + str(effect).replace("\n", "<br>") + "</b>"
        for picture, masks, kind in (
            (weights, effect.weight_masks, "weight pruning"),
            (units, effect.unit_masks, "structured"),
        ):
            picture.value = canvases[kind].png(mask_heatmap, masks[layer], title=f"{layer}: {kind}")

    return wired(slider, redraw, label, widgets.HBox([weights, units]))
