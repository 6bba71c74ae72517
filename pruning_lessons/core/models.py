"""The three small models the course prunes, all plain ``nn.Module``s you can print and read.

* ``mlp()``: 64-300-100-10, the digits analogue of LeNet-300-100 (Han et al. 2015).
* ``cnn()``: three Conv-BatchNorm-ReLU blocks, wide enough for channel pruning to matter.
* ``tiny_resnet()``: a stem and two residual blocks, where channels are tied by additions.

Every model takes images of shape ``(N, 1, 8, 8)`` and returns ``(N, 10)`` logits.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from .data import IMAGE_SHAPE, NUM_CLASSES


def _check_widths(values: Sequence[int], name: str, minimum: int) -> tuple[int, ...]:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence of ints, got {type(values).__name__}")
    if len(values) < minimum:
        raise ValueError(f"{name} needs at least {minimum} entries, got {list(values)}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must hold positive ints, got {list(values)}")
    return tuple(values)


def mlp(sizes: Sequence[int] = (64, 300, 100, 10)) -> nn.Sequential:
    """Fully connected net ``sizes[0] -> ... -> sizes[-1]`` with ReLU between layers.

    Layers are named ``fc1``, ``fc2``, ... so reports read ``fc1.weight`` rather than ``1.weight``.
    The input is flattened first, so it accepts ``(N, 1, 8, 8)`` images as well as ``(N, 64)``.
    """
    sizes = _check_widths(sizes, "sizes", minimum=2)
    layers: OrderedDict[str, nn.Module] = OrderedDict(flatten=nn.Flatten())
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        layers[f"fc{i}"] = nn.Linear(n_in, n_out)
        if i < len(sizes) - 1:
            layers[f"relu{i}"] = nn.ReLU()
    return nn.Sequential(layers)


def cnn(channels: Sequence[int] = (32, 64, 64), num_classes: int = NUM_CLASSES) -> nn.Sequential:
    """Conv(3x3)-BatchNorm-ReLU blocks; every block after the first halves the image with max-pool.

    Default: 1 -> 32 -> 64 -> 64 channels on 8x8 -> 8x8 -> 4x4 -> 2x2, then flatten (256) -> 10.
    """
    channels = _check_widths(channels, "channels", minimum=1)
    _check_widths([num_classes], "num_classes", minimum=1)
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    size, c_in = IMAGE_SHAPE[1], IMAGE_SHAPE[0]
    for i, c_out in enumerate(channels, start=1):
        layers[f"conv{i}"] = nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False)
        layers[f"bn{i}"] = nn.BatchNorm2d(c_out)
        layers[f"relu{i}"] = nn.ReLU()
        if i > 1 and size >= 2:
            layers[f"pool{i}"] = nn.MaxPool2d(2)
            size //= 2
        c_in = c_out
    layers["flatten"] = nn.Flatten()
    layers["fc"] = nn.Linear(c_in * size * size, num_classes)
    return nn.Sequential(layers)


class ResidualBlock(nn.Module):
    """``relu(x + bn2(conv2(relu(bn1(conv1(x))))))``: input and output have the same shape."""

    def __init__(self, channels: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = channels if hidden is None else hidden
        self.conv1 = nn.Conv2d(channels, hidden, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(hidden, channels, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + x)


class TinyResNet(nn.Module):
    """Stem, residual block, max-pool, residual block, global average pool, classifier.

    The stem's output channels and both blocks' outputs are added together, so structured
    pruning must remove the same channels from all of them at once.
    """

    def __init__(self, channels: int = 32, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        _check_widths([channels, num_classes], "channels/num_classes", minimum=2)
        self.stem = nn.Sequential(
            OrderedDict(
                conv=nn.Conv2d(IMAGE_SHAPE[0], channels, kernel_size=3, padding=1, bias=False),
                bn=nn.BatchNorm2d(channels),
                relu=nn.ReLU(),
            )
        )
        self.block1 = ResidualBlock(channels)
        self.pool = nn.MaxPool2d(2)
        self.block2 = ResidualBlock(channels)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block1(self.stem(x))
        x = self.block2(self.pool(x))
        return self.fc(self.flatten(self.gap(x)))


def tiny_resnet(channels: int = 32, num_classes: int = NUM_CLASSES) -> TinyResNet:
    """Build a :class:`TinyResNet`; ``channels`` is the width shared by the stem and both blocks."""
    return TinyResNet(channels, num_classes)
