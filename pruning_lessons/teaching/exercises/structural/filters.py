"""Exercise 08.2: remove conv filters with their BatchNorm channels and the next conv's inputs."""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..core import Exercise
from ..probes import keep_four, shares_storage


def remove_filters(
    conv: nn.Conv2d, bn: nn.BatchNorm2d, next_conv: nn.Conv2d, keep: torch.Tensor
) -> tuple[nn.Conv2d, nn.BatchNorm2d, nn.Conv2d]:
    """Keep filters ``keep`` of ``conv``, and those channels of ``bn`` and ``next_conv``."""
    new_conv = copy.deepcopy(conv)
    new_bn = copy.deepcopy(bn)
    new_next = copy.deepcopy(next_conv)
    with torch.no_grad():
        new_conv.weight = nn.Parameter(conv.weight[keep].clone())
        if conv.bias is not None:
            new_conv.bias = nn.Parameter(conv.bias[keep].clone())
        new_conv.out_channels = len(keep)
        new_bn.weight = nn.Parameter(bn.weight[keep].clone())
        new_bn.bias = nn.Parameter(bn.bias[keep].clone())
        new_bn.running_mean = bn.running_mean[keep].clone()
        new_bn.running_var = bn.running_var[keep].clone()
        new_bn.num_features = len(keep)
        new_next.weight = nn.Parameter(next_conv.weight[:, keep].clone())
        new_next.in_channels = len(keep)
    return new_conv, new_bn, new_next


def _trio(bias: bool = True):
    """Conv, BatchNorm (eps and momentum not the defaults) and the next conv, seeded."""
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 6, 3, padding=1, bias=bias)
    bn, next_conv = nn.BatchNorm2d(6, eps=1e-3, momentum=0.3), nn.Conv2d(6, 4, 3)
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    return conv, bn, next_conv


def _filters_shapes(fn):
    conv, bn, next_conv = _trio()
    result = fn(conv, bn, next_conv, keep_four())
    if not isinstance(result, tuple) or len(result) != 3:
        return "return the three new modules as a tuple (conv, bn, next_conv)"
    new_conv, new_bn, new_next = result
    if new_conv.weight.shape[0] != 4:
        return "the conv should keep 4 filters: its weight is (out_channels, in, kH, kW)"
    if new_bn.weight.shape[0] != 4 or new_bn.bias.shape[0] != 4:
        return "BatchNorm's scale and shift must shrink with the filters"
    if new_bn.running_mean.shape[0] != 4 or new_bn.running_var.shape[0] != 4:
        return (
            "BatchNorm's running_mean / running_var still have 6 entries: slice the running "
            "statistics too, or eval mode fails ('running_mean should contain 4 elements')"
        )
    if new_next.weight.shape[1] != 4:
        return "the next conv still expects 6 input channels: slice its weight's dim 1"
    if new_conv.bias is not None and new_conv.bias.shape[0] != 4:
        return "the conv's bias still has 6 entries: one bias per filter, so it shrinks too"
    if tuple(new_next.weight.shape) != (4, 4, 3, 3):
        return "the next conv's filters (dim 0) and kernel size must not change"
    return None


def _filters_function(fn):
    conv, bn, next_conv = _trio()
    with torch.no_grad():
        next_conv.weight[:, [1, 5]] = 0.0
    bn.eval()
    x = torch.randn(3, 2, 5, 5)
    with torch.no_grad():
        before = next_conv(torch.relu(bn(conv(x))))  # before fn could change the originals
    new_conv, new_bn, new_next = fn(conv, bn, next_conv, keep_four())
    new_bn.eval()
    after = new_next(torch.relu(new_bn(new_conv(x))))
    if not torch.allclose(before, after, atol=1e-5):
        return (
            "in eval mode the pruned trio computes something else: check that the kept "
            "channels are the same in the conv, in every BatchNorm tensor and in the next conv"
        )
    return None


def _filters_settings(fn):
    conv, bn, next_conv = _trio()
    _, new_bn, _ = fn(conv, bn, next_conv, keep_four())
    changed = [
        f"{name} {getattr(new_bn, name)} instead of {getattr(bn, name)}"
        for name in ("eps", "momentum", "affine", "track_running_stats")
        if getattr(new_bn, name) != getattr(bn, name)
    ]
    if changed:
        return (
            "the new BatchNorm does not keep the original's settings ("
            + ", ".join(changed)
            + "): a BatchNorm rebuilt with the defaults normalises differently"
        )
    return None


def _filters_without_bias(fn):
    conv, bn, next_conv = _trio(bias=False)  # a conv before BatchNorm usually has no bias
    keep = torch.tensor([1, 4, 5])
    bn.eval()
    x = torch.randn(2, 2, 5, 5)
    new_conv, new_bn, new_next = fn(conv, bn, next_conv, keep.clone())
    if new_conv.bias is not None:
        return "the conv had no bias (bias=False), so the pruned conv must not have one either"
    if new_conv.weight.shape[0] != 3 or new_bn.num_features != 3 or new_next.in_channels != 3:
        return "keeping 3 filters: use len(keep), not a fixed number of channels"
    with torch.no_grad():
        small = new_next(torch.relu(new_bn.eval()(new_conv(x))))
        weight = next_conv.weight.clone()
        weight[:, [0, 2, 3]] = 0  # what the removed channels would have fed forward
        expected = nn.functional.conv2d(torch.relu(bn(conv(x))), weight, next_conv.bias)
    if not torch.allclose(small, expected, atol=1e-5):
        return (
            "on a conv without bias, keeping filters 1, 4 and 5, the pruned trio computes "
            "something else"
        )
    return None


def _filters_metadata(fn):
    new_conv, new_bn, new_next = fn(*_trio(), keep_four())
    stale = [
        f"{label} says {value}"
        for label, value in (
            ("conv.out_channels", new_conv.out_channels),
            ("bn.num_features", new_bn.num_features),
            ("next_conv.in_channels", new_next.in_channels),
        )
        if value != 4
    ]
    if stale:
        return (
            "the tensors have 4 channels but the modules still describe the old size ("
            + ", ".join(stale)
            + "): printing, copying or exporting the model would be wrong"
        )
    return None


def _filters_independent(fn):
    conv, bn, next_conv = _trio()
    result = fn(conv, bn, next_conv, keep_four())
    if any(r is o for r in result for o in (conv, bn, next_conv)) or any(
        shares_storage(r, [conv, bn, next_conv]) for r in result
    ):
        return (
            "a returned module shares its tensors with the original: training the pruned "
            "network would silently change the original too. Return independent modules"
        )
    return None


def _filters_original(fn):
    conv, bn, next_conv = _trio()
    before = [t.clone() for m in (conv, bn, next_conv) for t in m.state_dict().values()]
    fn(conv, bn, next_conv, keep_four())
    after = [t for m in (conv, bn, next_conv) for t in m.state_dict().values()]
    if any(a.shape != b.shape or not torch.equal(a, b) for a, b in zip(before, after, strict=True)):
        return "the original modules were modified; build new ones"
    return None


ex2 = Exercise(
    "08.ex2",
    "remove filters, with BatchNorm",
    remove_filters,
    [
        _filters_shapes,
        _filters_original,
        _filters_metadata,
        _filters_settings,
        _filters_independent,
        _filters_function,
        _filters_without_bias,
    ],
    [
        "A filter is the first dimension of the conv weight; BatchNorm then has one scale, "
        "shift, running mean and running variance per channel.",
        "Four BatchNorm tensors must shrink: weight, bias, running_mean, running_var. The next "
        "conv's weight is (out, in, kH, kW): slice dim 1.",
        "Deep-copy the three modules, then replace the tensors with sliced clones and update "
        "out_channels, num_features and in_channels.",
    ],
)
