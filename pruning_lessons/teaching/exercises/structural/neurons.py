"""Exercise 08.1: remove neurons of a Linear layer and the matching inputs of the next."""

from __future__ import annotations

import torch
from torch import nn

from ..core import Exercise
from ..probes import keep_four, shares_storage


def remove_neurons(
    layer: nn.Linear, next_layer: nn.Linear, keep: torch.Tensor
) -> tuple[nn.Linear, nn.Linear]:
    """Keep the neurons ``keep`` (indices) of ``layer`` and the matching inputs of the next."""
    new = nn.Linear(layer.in_features, len(keep), bias=layer.bias is not None)
    new_next = nn.Linear(len(keep), next_layer.out_features, bias=next_layer.bias is not None)
    with torch.no_grad():
        new.weight.copy_(layer.weight[keep])  # rows are output neurons
        if layer.bias is not None:
            new.bias.copy_(layer.bias[keep])
        new_next.weight.copy_(next_layer.weight[:, keep])  # columns are input features
        if next_layer.bias is not None:
            new_next.bias.copy_(next_layer.bias)
    return new, new_next


def _pair():
    torch.manual_seed(0)
    return nn.Linear(5, 6), nn.Linear(6, 3)


def _neurons_shapes(fn):
    layer, next_layer = _pair()
    result = fn(layer, next_layer, keep_four())
    if not isinstance(result, tuple) or len(result) != 2:
        return "return the two new layers as a tuple (layer, next_layer)"
    new, new_next = result
    if tuple(new.weight.shape) != (4, 5):
        if tuple(new.weight.shape) == (6, 4):
            return (
                "you removed inputs of the first layer instead of its neurons: a Linear "
                "weight is (out_features, in_features), so neurons are rows"
            )
        shape = tuple(new.weight.shape)
        return f"the first layer's weight should be (4, 5) after keeping 4 neurons, not {shape}"
    if tuple(new_next.weight.shape) != (3, 4):
        return (
            f"the next layer's weight is {tuple(new_next.weight.shape)}: it still expects the "
            "removed neurons as inputs. Remove the matching columns of the next layer too"
        )
    if new.out_features != 4 or new_next.in_features != 4:
        return "update out_features / in_features as well, so the layers describe themselves"
    return None


def _neurons_values(fn):
    layer, next_layer = _pair()
    weight, bias = layer.weight.detach().clone(), layer.bias.detach().clone()
    next_weight, next_bias = next_layer.weight.detach().clone(), next_layer.bias.detach().clone()
    new, new_next = fn(layer, next_layer, keep_four())
    if not torch.equal(new.weight, weight[keep_four()]):
        if not any(torch.equal(row, original) for row in new.weight for original in weight):
            return (
                "the first layer's rows hold none of the original weights: copy the trained "
                "values of the kept neurons (freshly initialised layers forget what was learned)"
            )
        return "the first layer's surviving rows are not the kept neurons, in their order"
    if new.bias is None or not torch.equal(new.bias, bias[keep_four()]):
        return "the first layer's bias must shrink with its neurons (one bias per neuron)"
    if not torch.equal(new_next.weight, next_weight[:, keep_four()]):
        return "the next layer's columns do not match the kept neurons"
    if new_next.bias is None or not torch.equal(new_next.bias, next_bias):
        return "the next layer's bias belongs to its outputs, which did not change: keep it whole"
    return None


def _neurons_function(fn):
    layer, next_layer = _pair()
    with torch.no_grad():
        next_layer.weight[:, [1, 5]] = 0.0  # the removed neurons feed nothing forward
    new, new_next = fn(layer, next_layer, keep_four())
    x = torch.randn(7, 5)
    before = next_layer(torch.relu(layer(x)))
    after = new_next(torch.relu(new(x)))
    if not torch.allclose(before, after, atol=1e-6):
        return "removing neurons whose outgoing weights are zero changed the network's output"
    return None


def _neurons_original(fn):
    layer, next_layer = _pair()
    before = [p.clone() for p in (*layer.parameters(), *next_layer.parameters())]
    fn(layer, next_layer, keep_four())
    after = [*layer.parameters(), *next_layer.parameters()]
    if any(a.shape != b.shape or not torch.equal(a, b) for a, b in zip(before, after, strict=True)):
        return "the original layers were modified; build new layers and leave the old ones intact"
    return None


def _neurons_independent(fn):
    layer, next_layer = _pair()
    result = fn(layer, next_layer, keep_four())
    originals = [layer, next_layer]
    shared = [
        name
        for module, label in zip(result, ("layer", "next_layer"), strict=True)
        for name, p in module.named_parameters()
        if any(p is q for o in originals for q in o.parameters())
        or shares_storage(module, originals)
    ]
    if shared or any(r is o for r in result for o in originals):
        return (
            "a returned layer shares a Parameter or its memory with the original (the next "
            "layer's bias, say): training the pruned network would silently change the "
            "original too. Give the new layers their own copies (clone)"
        )
    return None


def _neurons_other_sizes(fn):
    torch.manual_seed(1)
    layer, next_layer = nn.Linear(3, 7), nn.Linear(7, 2)
    keep = torch.tensor([0, 3, 6])
    new, new_next = fn(layer, next_layer, keep.clone())
    if tuple(new.weight.shape) != (3, 3) or tuple(new_next.weight.shape) != (2, 3):
        return (
            "keeping 3 of 7 neurons gives weights of the wrong shapes: use len(keep) and the "
            "layers' own sizes, not the example's numbers"
        )
    x = torch.randn(4, 3)
    with torch.no_grad():
        before = layer.weight[keep] @ x.T
        if not torch.allclose(new(x).T - new.bias[:, None], before, atol=1e-6):
            return "keeping neurons 0, 3 and 6 of 7: the first layer's rows are not those neurons"
    return None


ex1 = Exercise(
    "08.ex1",
    "remove neurons",
    remove_neurons,
    [
        _neurons_shapes,
        _neurons_original,
        _neurons_values,
        _neurons_function,
        _neurons_independent,
        _neurons_other_sizes,
    ],
    [
        "A neuron of a Linear layer is one row of its weight and one entry of its bias. Its "
        "output is read by the next layer through one column of that layer's weight.",
        "Index with the kept indices: `layer.weight[keep]` keeps rows; "
        "`next_layer.weight[:, keep]` keeps columns.",
        "Build two new nn.Linear layers of the new sizes and copy the sliced tensors into them "
        "inside `torch.no_grad()`; the next layer's bias stays whole.",
    ],
)
