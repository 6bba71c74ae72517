"""Structured pruning: smaller models that compute what the zero-masked original computes."""

from __future__ import annotations

import copy
from collections import OrderedDict

import pytest
import torch
from torch import nn
from zoo_models import zeroed_copy

import pruning_lessons as pl

MODELS = {"mlp": pl.mlp, "cnn": pl.cnn, "resnet": pl.tiny_resnet}


def _build(kind: str, seed: int = 0) -> nn.Module:
    """A course model with random weights and non-trivial BatchNorm statistics."""
    torch.manual_seed(seed)
    model = MODELS[kind]()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                m.bias.copy_(torch.rand(n, generator=generator) - 0.5)
                m.running_mean.copy_(torch.randn(n, generator=generator) * 0.5)
                m.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
    return model


def _images(n: int = 16, device: torch.device | None = None) -> torch.Tensor:
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(1)).to(device)


def _zero_removed_units(model: nn.Module, removed: dict[str, list[int]]) -> nn.Module:
    """A copy of ``model`` in which every tensor entry of the removed units is zero."""
    return zeroed_copy(model, pl.unit_groups(model), removed)


def _same_state(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("scope", ["layer", "global"])
def test_pruned_model_computes_what_the_zeroed_original_computes(kind, scope, device):
    model = _build(kind).to(device).eval()
    example = _images(1, device)
    pruned = pl.prune_units(model, 0.5, scope=scope, example_input=example)
    removed = pl.select_units(model, 0.5, scope=scope, example_input=example)
    assert any(removed.values())
    zeroed = _zero_removed_units(model, removed)
    x = _images(device=device)
    with torch.no_grad():
        torch.testing.assert_close(pruned(x), zeroed(x), atol=1e-5, rtol=0)
    assert pl.count_parameters(pruned) < pl.count_parameters(model)
    assert next(pruned.parameters()).device.type == device.type


class _Functional(nn.Module):
    """Pass-through operations written as functions, methods, pooling and dropout."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.pool = nn.AvgPool2d(2)
        self.drop = nn.Dropout(0.5)
        self.fc1 = nn.Linear(8 * 4 * 4, 12)
        self.fc2 = nn.Linear(12, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv(x)))
        x = self.drop(torch.flatten(x, 1))
        return self.fc2(nn.functional.relu(self.fc1(x)).sigmoid())


def test_activations_pooling_dropout_and_functional_calls_pass_through():
    torch.manual_seed(0)
    model = _Functional().eval()
    removed = pl.select_units(model, 0.5)
    assert removed.keys() == {"conv", "fc1"}
    pruned = pl.prune_units(model, 0.5)
    assert (pruned.conv.out_channels, pruned.fc1.in_features, pruned.fc2.in_features) == (4, 64, 6)
    # a removed sigmoid unit still sends sigmoid(0) = 0.5 onwards, so compare shapes only here
    assert pruned(_images()).shape == (16, 10)
    only_conv = pl.prune_units(model, {"conv": 0.5})
    x = _images()
    with torch.no_grad():
        zeroed = _zero_removed_units(model, {"conv": removed["conv"]})
        torch.testing.assert_close(only_conv(x), zeroed(x), atol=1e-5, rtol=0)


def test_registered_and_callable_criteria_plug_in(monkeypatch):
    def largest_first(group: pl.UnitGroup) -> torch.Tensor:
        return -pl.UNIT_IMPORTANCE["l1"](group)

    monkeypatch.setitem(pl.UNIT_IMPORTANCE, "largest", largest_first)
    model = _build("cnn")
    by_name = pl.select_units(model, 0.25, importance="largest")
    assert by_name == pl.select_units(model, 0.25, importance=largest_first)
    l1 = pl.unit_scores(model)["conv2"]
    assert by_name["conv2"] == sorted(torch.sort(l1, descending=True).indices[:16].tolist())


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_removing_units_whose_outgoing_weights_are_zero_changes_nothing(kind):
    model = _build(kind).eval()
    first, second = ("fc1", "fc2") if kind == "mlp" else ("conv1", "conv2")
    dead = [1, 4, 5, 9]
    with torch.no_grad():
        model.get_submodule(second).weight[:, dead] = 0

    def outgoing_l1(group: pl.UnitGroup) -> torch.Tensor:  # a plug-in criterion
        (consumer,) = group.consumers
        columns = consumer.module.weight.detach().abs().transpose(0, 1).flatten(1)
        return columns.reshape(group.size, -1).sum(dim=1)

    amount = len(dead) / model.get_submodule(first).weight.shape[0]
    pruned = pl.prune_units(model, {first: amount}, importance=outgoing_l1)
    assert pl.select_units(model, {first: amount}, importance=outgoing_l1) == {first: dead}
    x = _images()
    with torch.no_grad():
        torch.testing.assert_close(pruned(x), model(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", MODELS)
def test_original_model_is_untouched(kind):
    model = _build(kind).train()
    before = copy.deepcopy(model.state_dict())
    pl.prune_units(model, 0.5)
    pl.prune_units(model, 0.3, scope="global", importance="l2")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(m.training for m in model.modules())  # modes restored after the shape pass


def test_shapes_after_half_of_the_units_go():
    cnn = pl.prune_units(pl.cnn(), 0.5)
    assert [cnn.get_submodule(f"conv{i}").out_channels for i in (1, 2, 3)] == [16, 32, 32]
    assert [cnn.get_submodule(f"bn{i}").running_var.shape[0] for i in (1, 2, 3)] == [16, 32, 32]
    assert (cnn.conv2.in_channels, cnn.fc.in_features, cnn.fc.out_features) == (16, 128, 10)
    mlp = pl.prune_units(pl.mlp(), 0.5)
    assert [tuple(mlp.get_submodule(f"fc{i}").weight.shape) for i in (1, 2, 3)] == [
        (150, 64),
        (50, 150),
        (10, 50),
    ]
    net = pl.prune_units(pl.tiny_resnet(), 0.25)
    assert net.stem.conv.out_channels == net.block1.conv2.out_channels == 24
    assert net.block1.conv1.in_channels == net.block2.bn2.num_features == net.fc.in_features == 24
    assert net(_images()).shape == (16, 10)


def test_counts_follow_python_round_half_to_even():
    pruned = pl.prune_units(pl.mlp((64, 5, 7, 10)), 0.5)  # round(2.5) = 2, round(3.5) = 4
    assert (pruned.fc1.out_features, pruned.fc2.out_features) == (3, 3)


def test_residual_stream_is_one_group_scored_by_all_its_producers():
    model = _build("resnet")
    groups = {g.name: g for g in pl.unit_groups(model)}
    assert list(groups) == ["stem.conv", "block1.conv1", "block2.conv1", "fc"]
    stream = groups["stem.conv"]
    assert stream.layers == ["stem.conv", "block1.conv2", "block2.conv2"]
    assert [m.name for m in stream.norms] == ["stem.bn", "block1.bn2", "block2.bn2"]
    assert [m.name for m in stream.consumers] == ["block1.conv1", "block2.conv1", "fc"]
    assert groups["fc"].pinned and stream.pinned is None
    expected = sum(model.get_submodule(n).weight.abs().sum(dim=(1, 2, 3)) for n in stream.layers)
    torch.testing.assert_close(pl.unit_scores(model)["stem.conv"], expected)


def test_flatten_into_linear_slices_every_feature_of_a_removed_channel():
    groups = {g.name: g for g in pl.unit_groups(pl.cnn())}
    assert [(m.name, m.per_unit) for m in groups["conv3"].consumers] == [("fc", 4)]


def test_importances_are_computed_once_before_anything_is_removed():
    model = _build("cnn")
    alone = pl.select_units(model, {"conv2": 0.5})["conv2"]
    together = pl.select_units(model, {"conv1": 0.5, "conv2": 0.5})["conv2"]
    assert alone == together


def test_ties_remove_the_lower_index_first():
    model = pl.mlp((64, 6, 10))
    with torch.no_grad():
        model.fc1.weight.fill_(1.0)
        model.fc1.weight[1] = 2.0
    assert pl.select_units(model, 0.5) == {"fc1": [0, 2, 3]}


def test_bn_and_l2_importance():
    model = _build("cnn")
    with torch.no_grad():
        model.bn1.weight.copy_(torch.linspace(1, 2, 32))
        model.bn1.weight[[30, 7]] = torch.tensor([-0.01, 0.02])
    assert pl.select_units(model, {"conv1": 2 / 32}, importance="bn") == {"conv1": [7, 30]}
    mlp = pl.mlp((64, 2, 10))
    with torch.no_grad():
        mlp.fc1.weight.zero_()
        mlp.fc1.weight[0, :4] = 1.0  # L1 4, L2 2
        mlp.fc1.weight[1, 0] = 3.0  # L1 3, L2 3
    assert pl.select_units(mlp, 0.5, importance="l1") == {"fc1": [1]}
    assert pl.select_units(mlp, 0.5, importance="l2") == {"fc1": [0]}


def test_random_importance_is_reproducible_with_a_seed():
    model = pl.cnn()
    first = pl.select_units(model, 0.5, importance="random", seed=3)
    assert first == pl.select_units(model, 0.5, importance="random", seed=3)
    assert first != pl.select_units(model, 0.5, importance="random", seed=4)
    with pytest.raises(ValueError, match="importance='random' needs seed"):
        pl.prune_units(model, 0.5, importance="random")


def _scored(scores: dict[str, list[float]]):
    """A criterion that returns fixed scores per group (for selection tests)."""
    return lambda group: torch.tensor(scores[group.name])


def test_global_scope_ranks_scores_normalised_per_layer():
    model = pl.mlp((64, 4, 4, 10))
    importance = _scored({"fc1": [100, 200, 300, 400], "fc2": [1, 1, 1, 1]})
    # normalised by the mean: fc1 -> 0.4, 0.8, 1.2, 1.6 and fc2 -> 1, 1, 1, 1
    chosen = pl.select_units(model, 0.5, importance=importance, scope="global")
    assert chosen == {"fc1": [0, 1], "fc2": [0, 1]}
    pruned = pl.prune_units(model, 0.5, importance=importance, scope="global")
    assert (pruned.fc1.out_features, pruned.fc2.out_features) == (2, 2)


def test_global_scope_never_empties_a_layer():
    model = pl.mlp((64, 4, 4, 4, 10))
    ones = [1.0, 1.0, 1.0, 1.0]
    importance = _scored({"fc1": ones, "fc2": ones, "fc3": [0.2, 0.2, 0.2, 3.4]})
    chosen = pl.select_units(model, 0.75, importance=importance, scope="global")
    assert chosen == {"fc1": [0, 1, 2], "fc2": [0, 1, 2], "fc3": [0, 1, 2]}
    with pytest.raises(ValueError, match="would empty a layer"):
        pl.select_units(model, 0.9, importance=importance, scope="global")


def test_dict_amounts_prune_only_the_listed_layers():
    pruned = pl.prune_units(pl.cnn(), {"conv2": 0.25})
    assert [pruned.get_submodule(f"conv{i}").out_channels for i in (1, 2, 3)] == [32, 48, 64]
    net = pl.prune_units(pl.tiny_resnet(), {"block2.conv2": 0.5})  # a member of the stream
    assert (net.stem.conv.out_channels, net.block1.conv1.out_channels) == (16, 32)


def test_remove_layers_drops_blocks_and_square_layers():
    resnet = _build("resnet").eval()
    smaller = pl.remove_layers(resnet, ["block2"])
    assert isinstance(smaller.block2, nn.Identity) and isinstance(resnet.block2, pl.ResidualBlock)
    x = _images()
    with torch.no_grad():
        expected = resnet.fc(resnet.flatten(resnet.gap(resnet.pool(resnet.block1(resnet.stem(x))))))
        torch.testing.assert_close(smaller(x), expected)
    mlp = pl.mlp((64, 100, 100, 10))
    shorter = pl.remove_layers(mlp, ["fc2", "relu2"])
    assert shorter(x).shape == (16, 10)
    assert pl.count_parameters(shorter) == pl.count_parameters(mlp) - 100 * 101


def test_remove_layers_says_why_a_layer_cannot_go():
    model = pl.mlp()
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError, match=r"cannot remove layer 'fc2'.*\(1, 300\).*\(1, 100\)"):
        pl.remove_layers(model, ["fc2"])
    with pytest.raises(ValueError, match="submodule names.*'fc9'"):
        pl.remove_layers(model, ["fc9"])
    with pytest.raises(ValueError, match="'block1.conv1' lies inside 'block1'"):
        pl.remove_layers(pl.tiny_resnet(), ["block1", "block1.conv1"])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("kind", ["cnn", "resnet"])
def test_save_and_load_rebuild_the_pruned_model(kind, tmp_path, torch_load_calls):
    pruned = pl.prune_units(_build(kind), 0.5).eval()
    if kind == "resnet":
        pruned = pl.remove_layers(pruned, ["block2"])
    path = tmp_path / "pruned.pt"
    pl.save_pruned_structure(pruned, path)
    fresh = MODELS[kind]()
    loaded = pl.load_pruned_structure(fresh, path).eval()
    assert torch_load_calls == [True]
    assert pl.count_parameters(fresh) == pl.count_parameters(MODELS[kind]())  # blueprint kept
    assert _same_state(loaded, pruned)
    x = _images()
    with torch.no_grad():
        assert torch.equal(loaded(x), pruned(x))
    pl.save_pruned_structure(pl.prune_units(pl.cnn(), 0.5), tmp_path / "cnn.pt")
    with pytest.raises(ValueError, match="pruned Sequential, but model is a TinyResNet"):
        pl.load_pruned_structure(pl.tiny_resnet(), tmp_path / "cnn.pt")


def _assert_rejected(model, error, match, *args, **kwargs):
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(error, match=match):
        pl.prune_units(model, *args, **kwargs)
    assert model.state_dict().keys() == before.keys()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("amount", [1.0, -0.1, 1.5])
def test_amount_outside_zero_one_is_rejected(amount):
    _assert_rejected(pl.cnn(), ValueError, r"amount must be in \[0, 1\)", amount)


def test_bad_amounts_are_rejected_with_the_layer_named():
    model = pl.cnn()
    _assert_rejected(
        model, ValueError, r"amount for layer 'conv2' must be in \[0, 1\)", {"conv2": 1.0}
    )
    _assert_rejected(model, TypeError, "amount must be a float", "0.5")
    _assert_rejected(model, TypeError, "amount must be a float", True)
    _assert_rejected(model, ValueError, "'conv9', which is not one of", {"conv9": 0.5})
    _assert_rejected(
        model, ValueError, "'fc' cannot be pruned: its units are the model's", {"fc": 0.5}
    )
    _assert_rejected(model, ValueError, "needs one float amount", {"conv1": 0.5}, scope="global")
    resnet = pl.tiny_resnet()
    two = {"stem.conv": 0.5, "block1.conv2": 0.25}
    _assert_rejected(resnet, ValueError, "added together.*one amount", two)


def test_an_amount_that_would_empty_a_layer_is_rejected():
    model = pl.mlp((64, 2, 10))
    _assert_rejected(model, ValueError, r"remove all 2 units of layer 'fc1'.*= 2", 0.8)


def test_unknown_importance_and_scope_are_rejected():
    model = pl.cnn()
    _assert_rejected(
        model, ValueError, r"importance must be one of \('l1', 'l2', 'bn'", 0.5, importance="l3"
    )
    _assert_rejected(
        model, ValueError, r"scope must be one of \('layer', 'global'\)", 0.5, scope="net"
    )
    _assert_rejected(pl.mlp(), ValueError, "needs a BatchNorm.*'fc1'", 0.5, importance="bn")
    _assert_rejected(model, ValueError, r"shape \(32,\)", 0.5, importance=lambda g: torch.ones(3))


class _Concat(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(64, 8)
        self.b = nn.Linear(64, 8)
        self.head = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        return self.head(torch.cat([self.a(x), self.b(x)], dim=1))


class _Shared(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(64, 64)
        self.head = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.fc(self.fc(x.flatten(1))))


class _Branchy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1)) if x.sum() > 0 else -self.fc(x.flatten(1))


def _layer_norm_mlp() -> nn.Module:
    layers = OrderedDict(flatten=nn.Flatten(), fc1=nn.Linear(64, 32), norm=nn.LayerNorm(32))
    return nn.Sequential(layers | {"relu": nn.ReLU(), "fc2": nn.Linear(32, 10)})


def test_concatenated_layers_lose_their_units_at_their_offsets():
    torch.manual_seed(0)
    model = _Concat().eval()
    removed = pl.select_units(model, 0.5)
    assert removed.keys() == {"a", "b"}
    pruned = pl.prune_units(model, 0.5)
    assert pruned.head.in_features == 8
    head = {g.name: g for g in pl.unit_groups(model)}["b"].consumers[0]
    assert head.name == "head" and head.units.tolist() == [-1] * 8 + list(range(8))
    x = _images()
    with torch.no_grad():
        torch.testing.assert_close(pruned(x), _zero_removed_units(model, removed)(x))


def test_a_layer_called_twice_is_kept_whole():
    groups = {g.name: g for g in pl.unit_groups(_Shared())}
    assert "keeps its size" in groups["fc"].pinned
    _assert_rejected(_Shared(), ValueError, "no prunable layer.*'fc'", 0.5)


def test_normalising_over_units_keeps_them():
    _assert_rejected(_layer_norm_mlp(), ValueError, "no prunable layer.*normalisation", 0.5)


def test_data_dependent_control_flow_is_refused_by_name():
    _assert_rejected(_Branchy(), TypeError, "cannot record the forward pass of _Branchy", 0.5)


def test_grouped_convolutions_lose_whole_groups():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3, groups=4), nn.Flatten(), nn.LazyLinear(3)
    )
    model(_images(1))
    model.eval()
    groups = pl.unit_groups(model)
    first = groups[0]
    assert first.size == 4 and first.grouped == {"2": 4} and first.layers == ["0", "2"]
    pruned = pl.prune_units(model, 0.5)
    assert (pruned[0].out_channels, pruned[2].groups, pruned[2].in_channels) == (4, 2, 4)
    removed = pl.select_units(model, 0.5)
    x = _images()
    with torch.no_grad():
        torch.testing.assert_close(pruned(x), _zero_removed_units(model, removed)(x))


def test_grouped_convolutions_can_narrow_every_group_instead():
    """``grouped="within"``: a unit is one channel position of every group (strided), on the
    input side and on the output side; the layer keeps its 4 groups, each narrower."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Conv2d(8, 16, 3, groups=4), nn.Flatten(), nn.LazyLinear(3)
    )
    model(_images(1))
    model.eval()
    first, second = pl.unit_groups(model, grouped="within")[:2]
    assert (first.size, second.size) == (2, 4) and first.grouped == {} == second.grouped
    producer = next(m for m in first.members if m.name == "0" and m.param == "weight")
    assert producer.units.tolist() == [0, 1] * 4  # channel c belongs to position c % 2
    removed = pl.select_units(model, 0.5, grouped="within")
    pruned = pl.prune_units(model, 0.5, grouped="within")
    assert (pruned[0].out_channels, pruned[2].groups) == (4, 4)
    assert (pruned[2].in_channels, pruned[2].out_channels) == (4, 8)
    x = _images()
    with torch.no_grad():
        zeroed = zeroed_copy(model, pl.unit_groups(model, grouped="within"), removed)
        torch.testing.assert_close(pruned(x), zeroed(x))
    assert pl.count_macs(pruned, x[:1]) < pl.count_macs(pl.prune_units(model, 0.5), x[:1])


def test_depthwise_convolutions_keep_whole_groups_either_way():
    model = nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.Conv2d(6, 6, 3, groups=6))
    model.append(nn.Flatten()).append(nn.LazyLinear(2))
    model(_images(1))
    whole, within = pl.unit_groups(model), pl.unit_groups(model, grouped="within")
    assert [g.size for g in whole] == [g.size for g in within] and whole[0].grouped == {"2": 6}


def test_an_unknown_grouped_option_is_refused():
    model = pl.mlp()
    _assert_rejected(
        model, ValueError, r"grouped must be one of \('whole', 'within'\)", 0.5, grouped="inside"
    )


def test_an_example_input_that_does_not_fit_is_rejected():
    model = pl.mlp()
    _assert_rejected(
        model, ValueError, r"example_input of shape \(1, 3\)", 0.5, example_input=torch.ones(1, 3)
    )


def test_a_model_without_prunable_layers_is_rejected():
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    _assert_rejected(model, ValueError, "model has no prunable layer", 0.5)


def test_amount_zero_returns_an_equal_copy():
    model = _build("cnn")
    copy_ = pl.prune_units(model, 0.0)
    assert copy_ is not model and _same_state(copy_, model)


def _torch_pruning_cnn(model: nn.Module, ratio: float) -> nn.Module:
    tp = pytest.importorskip("torch_pruning")
    model = copy.deepcopy(model)
    importance = tp.importance.MagnitudeImportance(p=1, group_reduction="first", normalizer=None)
    pruner = tp.pruner.MetaPruner(
        model,
        torch.zeros(1, 1, 8, 8),
        importance=importance,
        pruning_ratio=ratio,
        ignored_layers=[model.fc],
    )
    pruner.step()
    return model


@pytest.mark.filterwarnings("ignore")
def test_same_channels_and_shapes_as_torch_pruning_on_the_course_cnn():
    model = _build("cnn")
    theirs = _torch_pruning_cnn(model, 0.5)
    ours = pl.prune_units(model, 0.5, importance="l1")
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in theirs.state_dict().items()
    }
    assert _same_state(ours, theirs)  # same surviving filters, in the same order


@pytest.mark.filterwarnings("ignore")
def test_torch_pruning_keeps_floor_of_the_rest_where_we_round_the_removed_count():
    model = pl.cnn(channels=(6, 10, 10))
    theirs = _torch_pruning_cnn(model, 0.25)  # keeps int(n * 0.75): 4, 7, 7
    ours = pl.prune_units(model, 0.25)  # removes round(n * 0.25) = 2, 2, 2
    assert [theirs.get_submodule(f"conv{i}").out_channels for i in (1, 2, 3)] == [4, 7, 7]
    assert [ours.get_submodule(f"conv{i}").out_channels for i in (1, 2, 3)] == [4, 8, 8]
