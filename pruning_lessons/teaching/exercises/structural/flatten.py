"""Exercise 08.3: the input features of a Linear after Flatten that belong to kept channels."""

from __future__ import annotations

import torch
from torch import nn

from ..core import Exercise


def flatten_keep(keep: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Input features of a Linear after Flatten that belong to the kept channels ``keep``.

    Flatten lays a (C, H, W) map out channel by channel, so channel c owns the features
    c*H*W ... (c+1)*H*W - 1.
    """
    per_channel = height * width
    offsets = torch.arange(per_channel, device=keep.device)
    return (keep[:, None] * per_channel + offsets[None, :]).flatten()


def _flatten_values(fn):
    got = fn(torch.tensor([1, 3]), 2, 2)
    if not torch.is_tensor(got) or got.dtype not in (torch.int64, torch.int32):
        return "return a tensor of integer feature indices"
    if got.numel() == 2:
        return (
            "you returned one index per channel, but after Flatten each channel owns "
            "height x width features"
        )
    if got.tolist() != [4, 5, 6, 7, 12, 13, 14, 15]:
        return (
            "those are not the features of the kept channels: Flatten lays out channel 0's "
            "H*W values first, then channel 1's, and so on"
        )
    return None


def _flatten_runs(fn):
    torch.manual_seed(0)
    conv, fc = nn.Conv2d(1, 4, 3, padding=1), nn.Linear(4 * 3 * 3, 2)
    keep = torch.tensor([0, 2])
    with torch.no_grad():
        fc.weight[:, fn(torch.tensor([1, 3]), 3, 3)] = 0.0
    features = fn(keep, 3, 3)
    small_conv = nn.Conv2d(1, 2, 3, padding=1)
    small_fc = nn.Linear(len(features), 2)
    with torch.no_grad():
        small_conv.weight.copy_(conv.weight[keep])
        small_conv.bias.copy_(conv.bias[keep])
        small_fc.weight.copy_(fc.weight[:, features])
        small_fc.bias.copy_(fc.bias)
    x = torch.randn(2, 1, 3, 3)
    if not torch.allclose(fc(conv(x).flatten(1)), small_fc(small_conv(x).flatten(1)), atol=1e-6):
        return "slicing the Linear with your indices changes the output"
    return None


def _flatten_not_square(fn):
    got = fn(torch.tensor([0, 2]), 2, 3)
    if not torch.is_tensor(got) or got.tolist() != [0, 1, 2, 3, 4, 5, 12, 13, 14, 15, 16, 17]:
        return (
            "on a 2 x 3 map (height 2, width 3) those are not the kept channels' features: each "
            "channel owns height * width of them, whatever the map's shape"
        )
    return None


ex3 = Exercise(
    "08.ex3",
    "flatten into a linear layer",
    flatten_keep,
    [_flatten_values, _flatten_not_square, _flatten_runs],
    [
        "After Flatten, a (C, H, W) map becomes C*H*W features, channel after channel.",
        "Channel c owns the features c*H*W up to (c+1)*H*W - 1.",
        "`(keep[:, None] * (H * W) + torch.arange(H * W)[None, :]).flatten()` lists them.",
    ],
)
