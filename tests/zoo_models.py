"""Small versions of the networks people prune, built offline with random weights.

``transformers`` classes from small configs where the CPU wheel has them (ResNet, MobileNetV2,
ConvNeXt, ViT, LLaMA with grouped-query attention, GPT-2, BERT); compact re-implementations
of torchvision's architectures otherwise (same block structure and the same habits, e.g. one
``relu`` module called several times per block). Every builder returns ``(model, input)``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

IMAGE = (2, 3, 32, 32)


def _image(seed: int = 0) -> torch.Tensor:
    return torch.randn(*IMAGE, generator=torch.Generator().manual_seed(seed))


def _tokens(vocab: int = 96, length: int = 12) -> torch.Tensor:
    return torch.randint(0, vocab, (2, length), generator=torch.Generator().manual_seed(0))


def conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)
    )


# --- torchvision-style ResNet ---------------------------------------------------------------


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, width: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)  # called twice, as in torchvision
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = None
        if stride != 1 or cin != width:
            self.downsample = conv_bn(cin, width, 1, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, width: int, stride: int = 1) -> None:
        super().__init__()
        out = width * self.expansion
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = conv_bn(cin, out, 1, stride) if stride != 1 or cin != out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self, block: type, layers: list[int], width: int = 8, classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin, stages = width, []
        for i, count in enumerate(layers):
            blocks = []
            for j in range(count):
                blocks.append(block(cin, width * 2**i, 2 if (i and not j) else 1))
                cin = width * 2**i * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18():
    return ResNet(BasicBlock, [2, 2, 2, 2]), _image()


def resnet50():
    return ResNet(Bottleneck, [3, 4, 6, 3], width=4), _image()


# --- MobileNetV3 / EfficientNet-B0 (squeeze-excitation, hardswish / SiLU) -------------------


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, squeeze: int, gate: type = nn.Hardsigmoid) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = nn.ReLU()
        self.scale_activation = gate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.fc2(self.activation(self.fc1(self.avgpool(x))))
        return x * self.scale_activation(scale)


class InvertedResidual(nn.Module):
    """MobileNetV3 block / EfficientNet MBConv: expand, depthwise, SE, project (+ residual)."""

    def __init__(self, cin, expanded, cout, k, stride, se, act, gate=nn.Hardsigmoid) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        if expanded != cin:
            layers += [conv_bn(cin, expanded, 1), act()]
        layers += [conv_bn(expanded, expanded, k, stride, groups=expanded), act()]
        if se:
            layers.append(SqueezeExcitation(expanded, max(expanded // 4, 2), gate))
        layers.append(conv_bn(expanded, cout, 1))
        self.block = nn.Sequential(*layers)
        self.use_res = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return out + x if self.use_res else out


class MobileNetV3(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        hs, relu = nn.Hardswish, nn.ReLU
        settings = [  # cin, expanded, cout, kernel, stride, SE, activation
            (8, 8, 8, 3, 2, True, relu),
            (8, 36, 12, 3, 2, False, relu),
            (12, 44, 12, 3, 1, False, relu),
            (12, 48, 16, 5, 2, True, hs),
            (16, 64, 16, 5, 1, True, hs),
        ]
        self.features = nn.Sequential(
            nn.Sequential(conv_bn(3, 8, 3, 2), hs()),
            *[InvertedResidual(*s) for s in settings],
            nn.Sequential(conv_bn(16, 48, 1), hs()),
        )
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(48, 64), hs(), nn.Dropout(0.2), nn.Linear(64, classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class EfficientNetB0(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        silu = nn.SiLU
        settings = [  # cin, expanded, cout, kernel, stride (expand ratio 1 then 6, as in B0)
            (8, 8, 8, 3, 1),
            (8, 48, 12, 3, 2),
            (12, 72, 12, 3, 1),
            (12, 72, 16, 5, 2),
            (16, 96, 16, 5, 1),
        ]
        blocks = [InvertedResidual(*s, True, silu, nn.Sigmoid) for s in settings]
        self.features = nn.Sequential(
            nn.Sequential(conv_bn(3, 8, 3, 2), silu()),
            *blocks,
            nn.Sequential(conv_bn(16, 64, 1), silu()),
        )
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(64, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def mobilenet_v3():
    return MobileNetV3(), _image()


def efficientnet_b0():
    return EfficientNetB0(), _image()


# --- RegNet (grouped convolutions), DenseNet (concatenation), SqueezeNet (fire) -------------


class RegNetBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, group_width: int) -> None:
        super().__init__()
        self.a = nn.Sequential(conv_bn(cin, cout, 1), nn.ReLU())
        self.b = nn.Sequential(conv_bn(cout, cout, 3, stride, cout // group_width), nn.ReLU())
        self.c = conv_bn(cout, cout, 1)
        self.proj = conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else None
        self.activation = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.proj is None else self.proj(x)
        return self.activation(self.c(self.b(self.a(x))) + shortcut)


class RegNet(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(conv_bn(3, 8, 3, 2), nn.ReLU())
        widths, cin, blocks = [16, 32, 64], 8, []
        for i, w in enumerate(widths):
            blocks += (
                [RegNetBlock(cin, w, 2, 8), RegNetBlock(w, w, 1, 8)]
                if i
                else [RegNetBlock(cin, w, 2, 8)]
            )
            cin = w
        self.trunk = nn.Sequential(*blocks)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(self.trunk(self.stem(x))), 1))


class DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int) -> None:
        super().__init__()
        self.norm1, self.relu1 = nn.BatchNorm2d(cin), nn.ReLU()
        self.conv1 = nn.Conv2d(cin, 4 * growth, 1, bias=False)
        self.norm2, self.relu2 = nn.BatchNorm2d(4 * growth), nn.ReLU()
        self.conv2 = nn.Conv2d(4 * growth, growth, 3, 1, 1, bias=False)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = torch.cat(features, 1)
        return self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))


class DenseBlock(nn.ModuleDict):
    def __init__(self, layers: int, cin: int, growth: int) -> None:
        super().__init__()
        for i in range(layers):
            self[f"denselayer{i + 1}"] = DenseLayer(cin + i * growth, growth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class DenseNet(nn.Module):
    """DenseNet-121's structure (dense blocks and transitions), fewer and thinner layers."""

    def __init__(self, growth: int = 6, classes: int = 10) -> None:
        super().__init__()
        c = 2 * growth
        modules: list[nn.Module] = [nn.Conv2d(3, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c)]
        modules += [nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
        for i, count in enumerate((3, 4, 3)):
            modules.append(DenseBlock(count, c, growth))
            c += count * growth
            if i < 2:
                half = c // 2
                modules += [nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, half, 1, bias=False)]
                modules.append(nn.AvgPool2d(2))
                c = half
        self.features = nn.Sequential(*modules, nn.BatchNorm2d(c))
        self.classifier = nn.Linear(c, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.adaptive_avg_pool2d(torch.relu(self.features(x)), 1)
        return self.classifier(torch.flatten(x, 1))


class Fire(nn.Module):
    def __init__(self, cin: int, squeeze: int, expand: int) -> None:
        super().__init__()
        self.squeeze, self.squeeze_activation = nn.Conv2d(cin, squeeze, 1), nn.ReLU()
        self.expand1x1, self.expand1x1_activation = nn.Conv2d(squeeze, expand, 1), nn.ReLU()
        self.expand3x3 = nn.Conv2d(squeeze, expand, 3, padding=1)
        self.expand3x3_activation = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat(
            [
                self.expand1x1_activation(self.expand1x1(x)),
                self.expand3x3_activation(self.expand3x3(x)),
            ],
            1,
        )


class SqueezeNet(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, 2),
            nn.ReLU(),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(16, 4, 8),
            Fire(16, 4, 8),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(16, 8, 16),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Conv2d(32, classes, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.classifier(self.features(x)), 1)


def regnet():
    return RegNet(), _image()


def densenet121():
    return DenseNet(), _image()


def squeezenet():
    return SqueezeNet(), _image()


# --- ShuffleNetV2 (channel split, concatenation and channel shuffle) ------------------------


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """torchvision's shuffle: (N, g * c, H, W) -> view (N, g, c) -> transpose -> flatten."""
    n, channels, h, w = x.size()
    x = x.view(n, groups, channels // groups, h, w)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(n, -1, h, w)


class ShuffleBlock(nn.Module):
    """ShuffleNetV2 unit: stride 1 splits the channels in two halves, stride 2 runs two
    branches on all of them; the halves are concatenated and shuffled."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.stride, half = stride, cout // 2
        self.branch1 = nn.Sequential()
        if stride > 1:
            self.branch1 = nn.Sequential(
                conv_bn(cin, cin, 3, stride, groups=cin), conv_bn(cin, half, 1), nn.ReLU()
            )
        self.branch2 = nn.Sequential(
            conv_bn(cin if stride > 1 else half, half, 1),
            nn.ReLU(),
            conv_bn(half, half, 3, stride, groups=half),
            conv_bn(half, half, 1),
            nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(conv_bn(3, 8, 3, 2), nn.ReLU())
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.stage2 = nn.Sequential(ShuffleBlock(8, 16, 2), ShuffleBlock(16, 16, 1))
        self.stage3 = nn.Sequential(ShuffleBlock(16, 32, 2), ShuffleBlock(32, 32, 1))
        self.conv5 = nn.Sequential(conv_bn(32, 64, 1), nn.ReLU())
        self.fc = nn.Linear(64, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stage3(self.stage2(self.maxpool(self.conv1(x))))
        return self.fc(self.conv5(x).mean([2, 3]))


def shufflenet_v2():
    return ShuffleNetV2(), _image()


# --- recurrent ------------------------------------------------------------------------------


class Recurrent(nn.Module):
    def __init__(self, kind: type, classes: int = 5, bidirectional: bool = False) -> None:
        super().__init__()
        self.embed = nn.Linear(6, 12)
        self.rnn = kind(12, 16, num_layers=2, batch_first=True, bidirectional=bidirectional)
        self.fc = nn.Linear(32 if bidirectional else 16, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(torch.relu(self.embed(x)))
        return self.fc(out[:, -1])


def _sequence() -> torch.Tensor:
    return torch.randn(2, 7, 6, generator=torch.Generator().manual_seed(0))


def lstm():
    return Recurrent(nn.LSTM), _sequence()


def gru():
    return Recurrent(nn.GRU), _sequence()


def bilstm():
    return Recurrent(nn.LSTM, bidirectional=True), _sequence()


def bigru():
    return Recurrent(nn.GRU, bidirectional=True), _sequence()


# --- transformers classes -------------------------------------------------------------------


def _hf(kind: str, **config):
    import transformers

    return getattr(transformers, f"{kind}Config")(**config)


def hf_resnet():
    from transformers import ResNetForImageClassification

    cfg = _hf("ResNet", embedding_size=8, hidden_sizes=[8, 16, 32], depths=[1, 1, 1], num_labels=10)
    return ResNetForImageClassification(cfg), _image()


def mobilenet_v2():
    from transformers import MobileNetV2ForImageClassification

    cfg = _hf("MobileNetV2", image_size=32, depth_multiplier=0.25, num_labels=10)
    return MobileNetV2ForImageClassification(cfg), _image()


def convnext():
    from transformers import ConvNextForImageClassification

    cfg = _hf("ConvNext", hidden_sizes=[8, 16, 32], depths=[1, 1, 1], num_stages=3, num_labels=10)
    return ConvNextForImageClassification(cfg), _image()


def vit():
    from transformers import ViTForImageClassification

    cfg = _hf(
        "ViT",
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        num_labels=10,
    )
    return ViTForImageClassification(cfg), _image()


def llama():
    from transformers import LlamaForCausalLM

    cfg = _hf(
        "Llama",
        vocab_size=96,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=8,
        num_key_value_heads=4,
    )
    return LlamaForCausalLM(cfg), _tokens()


def gpt2():
    from transformers import GPT2LMHeadModel

    cfg = _hf("GPT2", vocab_size=96, n_embd=32, n_layer=2, n_head=4, n_positions=32)
    cfg.bos_token_id = cfg.eos_token_id = 0
    return GPT2LMHeadModel(cfg), _tokens()


def bert():
    from transformers import BertForSequenceClassification

    cfg = _hf(
        "Bert",
        vocab_size=96,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=32,
        num_labels=3,
    )
    return BertForSequenceClassification(cfg), _tokens()


ZOO: dict[str, Callable[[], tuple[nn.Module, torch.Tensor]]] = {
    "resnet18": resnet18,
    "resnet50": resnet50,
    "hf_resnet": hf_resnet,
    "mobilenet_v2": mobilenet_v2,
    "mobilenet_v3": mobilenet_v3,
    "efficientnet_b0": efficientnet_b0,
    "regnet": regnet,
    "densenet121": densenet121,
    "squeezenet": squeezenet,
    "shufflenet_v2": shufflenet_v2,
    "convnext": convnext,
    "vit": vit,
    "llama_gqa": llama,
    "gpt2": gpt2,
    "bert": bert,
    "lstm": lstm,
    "gru": gru,
    "bilstm": bilstm,
    "bigru": bigru,
}


# --- beyond the zoo: architectures judged by tests/test_zoo_beyond.py ------------------------


def _decoder(kind: str, cls: str, **extra):
    import transformers

    small = dict(vocab_size=96, hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
    cfg = _hf(kind, **{**small, **extra})
    return getattr(transformers, cls)(cfg), _tokens()


def mistral():
    return _decoder("Mistral", "MistralForCausalLM", intermediate_size=64, num_key_value_heads=2)


def qwen3():
    return _decoder("Qwen3", "Qwen3ForCausalLM", intermediate_size=64, num_key_value_heads=2)


def gemma2():
    return _decoder(
        "Gemma2", "Gemma2ForCausalLM", intermediate_size=64, num_key_value_heads=2, head_dim=8
    )


def phi3():
    return _decoder(
        "Phi3", "Phi3ForCausalLM", intermediate_size=64, num_key_value_heads=2, pad_token_id=0
    )


def opt():
    import transformers

    cfg = _hf("OPT", vocab_size=96, hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
    cfg.ffn_dim, cfg.word_embed_proj_dim = 64, 32
    return transformers.OPTForCausalLM(cfg), _tokens()


def falcon():
    return _decoder("Falcon", "FalconForCausalLM")


def gpt_neox():
    return _decoder("GPTNeoX", "GPTNeoXForCausalLM", intermediate_size=64)


def bloom():
    import transformers

    cfg = _hf("Bloom", vocab_size=96, hidden_size=32, n_layer=2, n_head=4)
    return transformers.BloomForCausalLM(cfg), _tokens()


def mixtral():
    return _decoder(
        "Mixtral",
        "MixtralForCausalLM",
        intermediate_size=32,
        num_key_value_heads=2,
        num_local_experts=4,
        num_experts_per_tok=2,
    )


def qwen2_moe():
    return _decoder(
        "Qwen2Moe",
        "Qwen2MoeForCausalLM",
        intermediate_size=32,
        num_key_value_heads=2,
        moe_intermediate_size=16,
        shared_expert_intermediate_size=16,
        num_experts=4,
        num_experts_per_tok=2,
    )


def t5_encoder():
    import transformers

    cfg = _hf("T5", vocab_size=96, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4)
    return transformers.T5EncoderModel(cfg), _tokens()


def bart_encoder():
    import transformers

    cfg = _hf(
        "Bart",
        vocab_size=96,
        d_model=32,
        encoder_layers=2,
        decoder_layers=1,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=32,
    )
    return transformers.BartModel(cfg).get_encoder(), _tokens()


def _vision(kind: str, cls: str, **config):
    import transformers

    return getattr(transformers, cls)(_hf(kind, num_labels=10, **config)), _image()


def swin():
    return _vision(
        "Swin",
        "SwinForImageClassification",
        image_size=32,
        patch_size=4,
        embed_dim=16,
        depths=[1, 1],
        num_heads=[2, 4],
        window_size=4,
    )


def beit():
    return _vision(
        "Beit",
        "BeitForImageClassification",
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        use_relative_position_bias=True,
    )


def deit():
    return _vision(
        "DeiT",
        "DeiTForImageClassification",
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
    )


def segformer():
    return _vision(
        "Segformer",
        "SegformerForImageClassification",
        num_encoder_blocks=2,
        depths=[1, 1],
        sr_ratios=[2, 1],
        hidden_sizes=[16, 32],
        num_attention_heads=[1, 2],
        patch_sizes=[7, 3],
        strides=[4, 2],
        mlp_ratios=[2, 2],
    )


def whisper_encoder():
    import transformers

    cfg = _hf(
        "Whisper",
        vocab_size=96,
        d_model=32,
        encoder_layers=2,
        decoder_layers=1,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        num_mel_bins=8,
        max_source_positions=16,
        pad_token_id=0,
        bos_token_id=0,
        eos_token_id=0,
        decoder_start_token_id=0,
    )
    features = torch.randn(2, 8, 32, generator=torch.Generator().manual_seed(0))
    return transformers.WhisperModel(cfg).get_encoder(), features


def mamba():
    return _decoder("Mamba", "MambaForCausalLM", state_size=8, use_cache=False)


class NanoGPTBlock(nn.Module):
    """Karpathy's nanoGPT block: fused q/k/v split by ``self.n_embd``, heads by ``self.n_head``."""

    def __init__(self, n_embd: int = 32, n_head: int = 4) -> None:
        super().__init__()
        self.n_embd, self.n_head = n_embd, n_head
        self.ln_1, self.ln_2 = nn.LayerNorm(n_embd), nn.LayerNorm(n_embd)
        self.c_attn, self.c_proj = nn.Linear(n_embd, 3 * n_embd), nn.Linear(n_embd, n_embd)
        self.c_fc, self.mlp_proj = nn.Linear(n_embd, 4 * n_embd), nn.Linear(4 * n_embd, n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.size()
        q, k, v = self.c_attn(self.ln_1(x)).split(self.n_embd, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        y = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))
        return x + self.mlp_proj(nn.functional.gelu(self.c_fc(self.ln_2(x))))


class NanoGPT(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.wte, self.wpe = nn.Embedding(96, 32), nn.Embedding(16, 32)
        self.h = nn.ModuleList(NanoGPTBlock() for _ in range(2))
        self.ln_f, self.lm_head = nn.LayerNorm(32), nn.Linear(32, 96, bias=False)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def nanogpt():
    return NanoGPT(), _tokens()


def transformer_encoder():
    layer = nn.TransformerEncoderLayer(32, 4, 64, batch_first=True)
    encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    model = nn.Sequential(nn.Linear(8, 32), encoder, nn.Linear(32, 5))
    return model, torch.randn(2, 6, 8, generator=torch.Generator().manual_seed(0))


#: Architectures beyond the zoo (issue 22), judged by exactness or a refusal by name.
BEYOND: dict[str, Callable[[], tuple[nn.Module, torch.Tensor]]] = {
    "mistral": mistral,
    "qwen3": qwen3,
    "gemma2": gemma2,
    "phi3": phi3,
    "opt": opt,
    "falcon": falcon,
    "gpt_neox": gpt_neox,
    "bloom": bloom,
    "mixtral": mixtral,
    "qwen2_moe": qwen2_moe,
    "t5_encoder": t5_encoder,
    "bart_encoder": bart_encoder,
    "swin": swin,
    "beit": beit,
    "deit": deit,
    "segformer": segformer,
    "whisper_encoder": whisper_encoder,
    "mamba": mamba,
    "nanogpt": nanogpt,
    "transformer_encoder": transformer_encoder,
}


#: Every architecture above, the zoo first: what ``benchmarks/bench_zoo.py`` runs.
ALL: dict[str, Callable[[], tuple[nn.Module, torch.Tensor]]] = {**ZOO, **BEYOND}


def build(name: str, seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    """Model ``name`` with random weights and non-trivial normalisation statistics, in eval mode."""
    torch.manual_seed(seed)
    model, example = ALL[name]()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._NormBase) and m.running_mean is not None:
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=generator) * 0.3)
                m.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                if m.weight is not None:
                    m.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                    m.bias.copy_(torch.rand(n, generator=generator) - 0.5)
    return model.eval(), example


def output(result: object) -> torch.Tensor:
    """The main output tensor of a model call (a ``transformers`` output's logits)."""
    if isinstance(result, torch.Tensor):
        return result
    return result.logits if hasattr(result, "logits") else result[0]


def zeroed_copy(model: nn.Module, groups: list, removed: dict[str, list[int]]) -> nn.Module:
    """``model`` with every tensor entry of the removed units zeroed (weights, biases, norm
    scales and shifts; running statistics are left, a zero scale and shift silence them)."""
    zeroed = copy.deepcopy(model)
    by_name = {g.name: g for g in groups}
    with torch.no_grad():
        for name, units in removed.items():
            for member in by_name[name].members:
                if member.param.startswith("running_"):
                    continue
                tensor = getattr(zeroed.get_submodule(member.name), member.param)
                gone = torch.isin(member.units, torch.tensor(units, dtype=torch.long))
                tensor.index_fill_(member.dim, gone.nonzero().flatten().to(tensor.device), 0.0)
    return zeroed


# --- the same pruning, done by Torch-Pruning --------------------------------------------------

#: Zoo models that Torch-Pruning 1.6 also prunes into a model that runs, at 30 % and 50 %, with
#: what makes the two comparable: ``through_norms`` for us (Torch-Pruning prunes the width a
#: LayerNorm normalises over) and ``heads`` for Torch-Pruning (its documented head options:
#: ``num_heads``, ``prune_num_heads=True``, ``prune_head_dims=False``; its default call on ViT
#: and BERT at 30 % cuts head widths unevenly and the result fails at run time). Not here:
#: shufflenet_v2 (IndexError inside Torch-Pruning), llama_gqa (AttributeError on the model's
#: output; given output_transform, its trace did not end within 150 s), gpt2 (TypeError),
#: lstm, gru, bilstm and bigru (it does not prune them).
TORCH_PRUNING_COMPARABLE: dict[str, dict[str, object]] = {
    **{
        name: {"through_norms": False, "heads": False, "grouped": "whole"}
        for name in (
            "resnet18",
            "resnet50",
            "hf_resnet",
            "mobilenet_v2",
            "mobilenet_v3",
            "efficientnet_b0",
            "densenet121",
            "squeezenet",
        )
    },
    "regnet": {"through_norms": False, "heads": False, "grouped": "within"},
    "convnext": {"through_norms": True, "heads": False, "grouped": "whole"},
    "vit": {"through_norms": True, "heads": True, "grouped": "whole"},
    "bert": {"through_norms": True, "heads": True, "grouped": "whole"},
}

ATTENTION_INPUTS = ("q_proj", "k_proj", "v_proj", "query", "key", "value")


def torch_pruning_prune(model: nn.Module, example, amount: float, heads: bool = False):
    """Torch-Pruning's ``MetaPruner`` with L1 magnitude (``group_reduction="mean"``) on a copy
    of ``model``, the final layer ignored; ``heads``: whole attention heads, as documented."""
    import warnings

    import torch_pruning as tp

    model = copy.deepcopy(model)
    last = [m for m in model.modules() if isinstance(m, nn.Linear | nn.Conv2d)][-1]
    options: dict = {}
    if heads:
        config = model.config
        kv = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
        num_heads = {}
        for name, module in model.named_modules():
            leaf = name.rpartition(".")[2]
            if isinstance(module, nn.Linear) and leaf in ATTENTION_INPUTS:
                grouped = leaf in ("k_proj", "v_proj")
                num_heads[module] = kv if grouped else config.num_attention_heads
        options = dict(
            num_heads=num_heads,
            prune_num_heads=True,
            prune_head_dims=False,
            head_pruning_ratio=amount,
            output_transform=output,  # logits from a transformers output
        )
    importance = tp.importance.MagnitudeImportance(p=1, group_reduction="mean")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pruner = tp.pruner.MetaPruner(
            model,
            example,
            importance=importance,
            pruning_ratio=amount,
            ignored_layers=[last],
            **options,
        )
        pruner.step()
    return model.eval()


def torch_pruning_counts(groups: list, amount: float) -> dict[str, float]:
    """Per-layer amounts that make ``prune_units`` remove Torch-Pruning's unit counts.

    Torch-Pruning keeps ``int(n * (1 - amount))`` of ``n`` units, so it removes
    ``n - int(n * (1 - amount))`` (rounding the removal up: 3 of 8 at 30 %); ``prune_units``
    removes ``round(amount * n)`` (2 of 8). The amount ``k / n`` makes ours remove exactly
    ``k``. Each group is named by a layer that produces no other group.
    """
    produced: dict[str, int] = {}
    for group in groups:
        for layer in group.layers:
            produced[layer] = produced.get(layer, 0) + 1
    amounts = {}
    for group in groups:
        if group.pinned is None:
            n = group.size
            layer = next((x for x in group.layers if produced[x] == 1), group.layers[0])
            amounts[layer] = (n - int(n * (1 - amount))) / n
    return amounts
