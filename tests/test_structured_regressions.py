"""Cross-checks against Torch-Pruning on real architectures, and the bugs that were reported.

Cross-check: Torch-Pruning 1.6.1's ``MagnitudeImportance(p=1, group_reduction="sum",
normalizer=None)`` scores a channel by the sum of the L1 norms of the weight slices of its
group: the producers' filter rows, the consumers' input columns and the BatchNorm scales, but
not a depthwise convolution's filters (measured: counting them changes 154 tensors of
MobileNetV2). :func:`group_l1` computes exactly that from our groups, and both libraries must
then keep the same channels of ResNet-18 and MobileNetV2, i.e. produce identical state dicts.
"""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch import nn
from zoo_models import build

import pruning_lessons as pl


def group_l1(group: pl.UnitGroup) -> torch.Tensor:
    """Sum over the group's weight slices (producer rows, consumer columns, norm scales),
    grouped convolutions left out, as Torch-Pruning's sum reduction does."""
    total = torch.zeros(group.size)
    for member in group.members:
        grouped = getattr(member.module, "groups", 1) > 1
        if member.param == "weight" and member.role in ("producer", "consumer", "norm"):
            if grouped:
                continue
            total += member.rows().abs().flatten(1).sum(1).float()
    return total


def _torch_pruning(model: nn.Module, example: torch.Tensor, amount: float) -> nn.Module:
    tp = pytest.importorskip("torch_pruning")
    theirs = copy.deepcopy(model)
    last = [m for m in theirs.modules() if isinstance(m, nn.Linear | nn.Conv2d)][-1]
    importance = tp.importance.MagnitudeImportance(p=1, group_reduction="sum", normalizer=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tp.pruner.MetaPruner(
            theirs, example, importance=importance, pruning_ratio=amount, ignored_layers=[last]
        ).step()
    return theirs


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_same_kept_channels_as_torch_pruning_for_the_same_group_l1(name):
    pytest.importorskip("transformers")
    model, example = build(name)
    theirs = _torch_pruning(model, example, 0.5)
    ours = pl.prune_units(model, 0.5, importance=group_l1, example_input=example)
    mine, other = ours.state_dict(), theirs.state_dict()
    assert mine.keys() == other.keys()
    assert {k: v.shape for k, v in mine.items()} == {k: v.shape for k, v in other.items()}
    assert all(torch.equal(mine[k], other[k]) for k in mine)


# --- the bugs reported in the issue ----------------------------------------------------------


class _TiedMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc0 = nn.Linear(8, 8)
        self.fc1 = nn.Linear(8, 8)
        self.fc2 = nn.Linear(8, 8)
        self.fc2.weight = self.fc1.weight
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.fc0(x))
        return self.head(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


def test_tied_weights_stay_tied_and_the_model_does_not_grow():
    torch.manual_seed(0)
    model = _TiedMLP().eval()
    x = torch.randn(4, 8)
    groups = {g.name: g for g in pl.unit_groups(model, x)}
    # fc1 and fc2 share one square matrix: its rows and columns must lose the same units,
    # so fc0's, fc1's and fc2's outputs are one group
    assert groups["fc0"].layers == ["fc0", "fc1"] and groups["fc0"].pinned is None
    pruned = pl.prune_units(model, 0.5, example_input=x)
    assert pruned.fc2.weight is pruned.fc1.weight
    assert tuple(pruned.fc1.weight.shape) == (4, 4)
    assert pl.count_parameters(pruned) < pl.count_parameters(model)
    removed = pl.select_units(model, 0.5, example_input=x)["fc0"]
    zeroed = copy.deepcopy(model)
    with torch.no_grad():
        for layer in (zeroed.fc0, zeroed.fc1, zeroed.fc2):
            layer.weight[removed] = 0
            layer.bias[removed] = 0
        zeroed.fc1.weight[:, removed] = 0
        torch.testing.assert_close(pruned(x), zeroed(x))


def _pooled(pool: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), pool, nn.LazyLinear(3))


@pytest.mark.parametrize("pool", [nn.MaxPool1d(2), nn.MaxPool1d(3, 1, 1)])
def test_pooling_across_features_keeps_those_features(pool):
    model = _pooled(pool)
    x = torch.randn(4, 6)
    model(x)
    model.eval()
    groups = {g.name: g for g in pl.unit_groups(model, x)}
    assert "pooling across its units in module '3'" in groups["2"].pinned
    pruned = pl.prune_units(model, 0.5, example_input=x)
    assert pruned[0].out_features == 4 and pruned[2].out_features == 8
    removed = pl.select_units(model, 0.5, example_input=x)
    zeroed = copy.deepcopy(model)
    with torch.no_grad():
        zeroed[0].weight[removed["0"]] = 0
        zeroed[0].bias[removed["0"]] = 0
        torch.testing.assert_close(pruned(x), zeroed(x))


class _Broadcast(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.one = nn.Conv2d(1, 1, 3, padding=1)
        self.eight = nn.Conv2d(1, 8, 3, padding=1)
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.one(x) + self.eight(x)))


def test_broadcast_add_of_one_and_eight_channels():
    torch.manual_seed(0)
    model = _Broadcast().eval()
    x = torch.randn(2, 1, 8, 8)
    groups = {g.name: g for g in pl.unit_groups(model, x)}
    assert groups["one"].pinned == "it has a single unit" and groups["eight"].pinned is None
    pruned = pl.prune_units(model, 0.5, example_input=x)
    removed = pl.select_units(model, 0.5, example_input=x)["eight"]
    zeroed = copy.deepcopy(model)
    with torch.no_grad():
        zeroed.head.weight[:, removed] = 0
        torch.testing.assert_close(pruned(x), zeroed(x))
    assert pruned.eight.out_channels == pruned.head.in_channels == 4


def test_a_model_that_is_not_the_courses_needs_example_input():
    model, _ = build("resnet18")
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError, match=r"pass example_input=.*\(1, 1, 8, 8\)"):
        pl.prune_units(model, 0.5)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_unfollowable_operations_warn_with_the_module_path_or_refuse_when_strict():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.PixelShuffle(2), nn.Conv2d(2, 4, 1))
    model.add_module("pool", nn.AdaptiveAvgPool2d(1))
    x = torch.randn(1, 3, 8, 8)
    with pytest.warns(pl.StructureWarning, match=r"'pixel_shuffle' in module '1'"):
        groups = {g.name: g for g in pl.unit_groups(model, x)}
    assert "pixel_shuffle" in groups["0"].pinned
    with pytest.raises(TypeError, match=r"'pixel_shuffle' in module '1'.*strict=True"):
        pl.prune_units(model, 0.5, example_input=x, strict=True)


def test_ignored_layers_and_round_to():
    model, x = build("resnet18")
    pruned = pl.prune_units(model, 0.3, example_input=x, ignored_layers=[model.layer4])
    assert pruned.layer4[0].conv1.out_channels == model.layer4[0].conv1.out_channels
    assert pruned.layer1[0].conv1.out_channels == 6  # round(0.3 * 8) = 2 removed
    rounded = pl.prune_units(model, 0.3, example_input=x, round_to=4, ignored_layers=["layer4"])
    assert rounded.layer1[0].conv1.out_channels == 8  # 6 kept -> rounded up to 8
    assert rounded.layer3[0].conv1.out_channels == 24  # 32 - round(9.6) = 22 -> 24
    with pytest.raises(ValueError, match="ignored_layers must hold submodules"):
        pl.prune_units(model, 0.3, example_input=x, ignored_layers=["nope"])
    with pytest.raises(ValueError, match="round_to must be a positive int"):
        pl.prune_units(model, 0.3, example_input=x, round_to=0)


def test_transformers_llama_prunes_directly_from_token_ids():
    pytest.importorskip("transformers")
    model, ids = build("llama_gqa")
    pruned = pl.prune_units(model, 0.5, example_input=ids)
    out = pruned(ids)
    assert out.logits.shape == model(ids).logits.shape
    attention = pruned.model.layers[1].self_attn
    assert attention.q_proj.out_features == pruned.config.num_attention_heads * attention.head_dim


class _Attend(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.scaled_dot_product_attention(x, x, x)


def test_count_macs_sees_attention_products_and_lstm_gates():
    # q @ k^T and weights @ v: 2 x (batch 1 x heads 2 x 4 x 4 tokens x head_dim 8)
    assert pl.count_macs(_Attend(), torch.randn(1, 2, 4, 8)) == 2 * 2 * 4 * 4 * 8
    lstm = nn.LSTM(6, 16, num_layers=2, batch_first=True)
    per_step = 4 * 16 * (6 + 16) + 4 * 16 * (16 + 16)  # both layers, all four gates
    assert pl.count_macs(lstm, torch.randn(2, 7, 6)) == 2 * 7 * per_step
    gru = nn.GRU(6, 16, num_layers=2, batch_first=True)
    assert pl.count_macs(gru, torch.randn(2, 7, 6)) == 2 * 7 * 3 * 16 * (22 + 32)
