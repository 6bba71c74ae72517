"""Exercise 08.4: remove a whole layer whose input and output widths match."""

from __future__ import annotations

import copy
from collections import OrderedDict

import torch
from torch import nn

from ..core import Exercise
from ..probes import shares_storage


def drop_layer(model: nn.Sequential, name: str) -> nn.Sequential:
    """A copy of ``model`` without layer ``name`` (and the activation right after it).

    Only possible when the layer maps a width to the same width, so its neighbours still fit.
    """
    layer = model.get_submodule(name)
    if not isinstance(layer, nn.Linear) or layer.in_features != layer.out_features:
        raise ValueError(f"{name} changes the width, so removing it breaks its neighbours")
    names = [n for n, _ in model.named_children()]
    drop = {name}
    following = names.index(name) + 1
    if following < len(names) and isinstance(model[following], nn.ReLU):
        drop.add(names[following])
    kept = [(n, copy.deepcopy(m)) for n, m in model.named_children() if n not in drop]
    return nn.Sequential(OrderedDict(kept))


def _deep_mlp():
    torch.manual_seed(0)
    return nn.Sequential(
        OrderedDict(
            fc1=nn.Linear(4, 6),
            relu1=nn.ReLU(),
            fc2=nn.Linear(6, 6),
            relu2=nn.ReLU(),
            fc3=nn.Linear(6, 2),
        )
    )


def _drop_runs(fn):
    model = _deep_mlp()
    smaller = fn(model, "fc2")
    if not isinstance(smaller, nn.Module):
        return "return the new, smaller model"
    try:
        out = smaller(torch.randn(3, 4))
    except RuntimeError as error:
        return f"the smaller model cannot run: {error}"
    if out.shape != (3, 2):
        return f"the smaller model's output has shape {tuple(out.shape)}, expected (3, 2)"
    if any(
        isinstance(m, nn.Linear) and m.in_features == 6 and m.out_features == 6
        for m in smaller.modules()
    ):
        return "the 6 -> 6 layer is still there"
    if sum(isinstance(m, nn.ReLU) for m in smaller.modules()) != 1:
        return "remove the dropped layer's activation too, and keep the other one"
    return None


def _drop_refuses(fn):
    try:
        fn(_deep_mlp(), "fc1")
    except ValueError:
        return None
    return (
        "removing fc1 (4 -> 6) must raise ValueError: fc2 expects 6 inputs and would get 4; "
        "only a layer whose input and output widths match can go"
    )


def _drop_original(fn):
    model = _deep_mlp()
    fn(model, "fc2")
    if len(model) != 5:
        return "the original model lost a layer; build a new Sequential instead"
    return None


def _drop_independent(fn):
    model = _deep_mlp()
    smaller = fn(model, "fc2")
    if any(m is o for m in smaller.modules() for o in model.modules()) or shares_storage(
        smaller, [model]
    ):
        return (
            "the new model shares layers with the original: fine-tuning it would silently "
            "change the original model too. The new model needs its own copies"
        )
    return None


def _drop_keeps_weights(fn):
    model = _deep_mlp()
    smaller = fn(model, "fc2")
    linears = [m for m in smaller.modules() if isinstance(m, nn.Linear)]
    originals = (model.fc1, model.fc3)
    if len(linears) != 2 or any(
        not (torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias))
        for a, b in zip(linears, originals, strict=True)
    ):
        return (
            "the layers that stay must keep their trained weights and biases; yours hold "
            "different values (freshly initialised layers forget what was learned)"
        )
    return None


def _drop_other_model(fn):
    torch.manual_seed(2)
    model = nn.Sequential(
        OrderedDict(inp=nn.Linear(3, 5), act=nn.ReLU(), mid=nn.Linear(5, 5), out=nn.Linear(5, 2))
    )
    smaller = fn(model, "mid")
    kinds = [type(m).__name__ for m in smaller.children()]
    if kinds != ["Linear", "ReLU", "Linear"]:
        return (
            f"removing 'mid' from inp -> act -> mid -> out left {kinds}: remove the named layer, "
            "and the activation after it only when there is one (here 'out' follows, and stays)"
        )
    x = torch.randn(4, 3)
    if not torch.allclose(smaller(x), model.out(model.act(model.inp(x))), atol=1e-6):
        return "the smaller model does not compute inp -> act -> out with the trained weights"
    return None


ex4 = Exercise(
    "08.ex4",
    "remove a whole layer",
    drop_layer,
    [
        _drop_refuses,
        _drop_runs,
        _drop_original,
        _drop_independent,
        _drop_keeps_weights,
        _drop_other_model,
    ],
    [
        "A layer can go only if its input and output widths are equal: its neighbours must "
        "still fit together.",
        "Check `in_features == out_features` first and raise ValueError otherwise.",
        "Build a new nn.Sequential from an OrderedDict of the other children (deep copies), "
        "leaving out the layer and the ReLU right after it.",
    ],
)
