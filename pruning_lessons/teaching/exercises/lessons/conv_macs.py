"""Exercise 03: the multiply-accumulates of a convolution."""

from __future__ import annotations

import copy

import torch
from torch import nn

from ....core.metrics import count_macs
from ..core import Exercise


def conv_macs(conv: nn.Conv2d, height: int, width: int) -> int:
    """Multiply-accumulates of ``conv`` on one (in_channels, height, width) input."""
    (kh, kw), (sh, sw), (ph, pw) = conv.kernel_size, conv.stride, conv.padding
    out_h = (height + 2 * ph - kh) // sh + 1
    out_w = (width + 2 * pw - kw) // sw + 1
    per_output = (conv.in_channels // conv.groups) * kh * kw
    return conv.out_channels * out_h * out_w * per_output


def _convs():
    """A fresh copy each call: a learner's function may edit what it gets."""
    return [
        ("a 3x3 convolution without padding", nn.Conv2d(2, 4, 3), 8, 8),
        ("a padded convolution", nn.Conv2d(3, 5, 3, padding=1), 8, 8),
        ("a strided convolution", nn.Conv2d(3, 4, 3, stride=2, padding=1), 9, 7),
        ("a grouped convolution", nn.Conv2d(4, 6, 3, groups=2, padding=1), 6, 6),
        ("a 1x5 kernel", nn.Conv2d(2, 3, (1, 5)), 6, 9),
        (
            "a convolution with stride (2, 1) and padding (1, 0)",
            nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 0)),
            7,
            6,
        ),
        ("a convolution with stride (1, 3)", nn.Conv2d(1, 2, 3, stride=(1, 3), padding=1), 5, 10),
    ]


def _macs_int(fn):
    got = fn(nn.Conv2d(2, 4, 3), 8, 8)
    if isinstance(got, bool) or not isinstance(got, int):
        return f"return an int (a count of multiply-accumulates), got {type(got).__name__}"
    return None


def _macs_cases(fn):
    for label, conv, h, w in _convs():
        got, want = fn(copy.deepcopy(conv), h, w), conv_macs(conv, h, w)
        if got == want:
            continue
        if got == 2 * want and conv.groups == 1:
            return f"for {label} you counted 2 operations per multiply-accumulate (FLOPs)"
        if got == want + want // conv.weight[0].numel():  # one addition per output value
            return f"for {label} you counted the bias additions: MACs count the products only"
        return (
            f"for {label} on a {h}x{w} input the count is off: count each output position of "
            "each filter once (the output size depends on padding, stride and kernel), times "
            "the products one output needs"
        )
    return None


def _macs_library(fn):
    conv = nn.Conv2d(3, 8, 3, padding=1, stride=2)
    if fn(conv, 8, 8) != _count_one(conv, 8, 8):
        return "your count disagrees with pl.count_macs on a strided, padded convolution"
    return None


def _count_one(conv: nn.Conv2d, h: int, w: int) -> int:
    return count_macs(conv, torch.zeros(1, conv.in_channels, h, w))


lesson03 = Exercise(
    "03.ex1",
    "the MACs of a convolution",
    conv_macs,
    [_macs_int, _macs_cases, _macs_library],
    [
        "Every output value of every filter costs one multiply-accumulate per weight it "
        "touches: in_channels / groups x kernel height x kernel width.",
        "The output is smaller or larger than the input depending on padding and stride: "
        "out = (in + 2 * padding - kernel) // stride + 1, for height and width separately.",
        "MACs = out_channels x out_h x out_w x (in_channels // groups) x kh x kw. Bias "
        "additions are not counted.",
    ],
)
