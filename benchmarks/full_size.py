"""The two full-size networks the benchmarks prune: ResNet-50 and ViT-B/16, random weights.

``transformers``' ``ResNetConfig()`` and ``ViTConfig()`` defaults are those architectures
(ResNet-50: bottleneck depths 3-4-6-3, widths 256-2048; ViT-B/16: 12 layers, width 768,
12 heads, MLP 3072, 16 x 16 patches of a 224 x 224 image), given torchvision's 1000 classes
here. torchvision itself does not import next to the CPU build of torch, so its own
``resnet50`` / ``vit_b_16`` are not used; built offline, no weights downloaded.
"""

from __future__ import annotations

import torch
from torch import nn


def image(batch: int = 1) -> torch.Tensor:
    return torch.randn(batch, 3, 224, 224, generator=torch.Generator().manual_seed(0))


def resnet50() -> nn.Module:
    import transformers

    torch.manual_seed(0)
    config = transformers.ResNetConfig(num_labels=1000)
    return transformers.ResNetForImageClassification(config).eval()


def vit_b_16() -> nn.Module:
    import transformers

    torch.manual_seed(0)
    config = transformers.ViTConfig(num_labels=1000)
    return transformers.ViTForImageClassification(config).eval()


def full_size_models() -> dict[str, tuple[nn.Module, torch.Tensor, bool]]:
    """``name -> (model, one image, whether Torch-Pruning prunes it by whole heads)``."""
    return {"ResNet-50": (resnet50(), image(), False), "ViT-B/16": (vit_b_16(), image(), True)}
