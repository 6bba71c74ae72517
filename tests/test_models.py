import pytest
import torch
from torch import nn

from pruning_lessons import cnn, count_parameters, mlp, tiny_resnet


@pytest.mark.parametrize("build", [mlp, cnn, tiny_resnet])
def test_output_shape_on_every_device(build, device):
    model = build().to(device)
    out = model(torch.rand(5, 1, 8, 8, device=device))
    assert out.shape == (5, 10) and out.device.type == device.type


def test_mlp_layers_and_parameter_count():
    model = mlp()
    linears = [m for m in model if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(64, 300), (300, 100), (100, 10)]
    assert count_parameters(model) == 64 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10
    assert "fc1.weight" in dict(model.named_parameters())
    assert mlp([64, 10])(torch.rand(2, 64)).shape == (2, 10)


def test_cnn_layers():
    model = cnn()
    convs = [m for m in model if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64, 64]
    assert min(c.out_channels for c in convs) >= 32
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model) == 3
    assert model.fc.in_features == 64 * 2 * 2
    assert cnn(channels=(8,)).fc.in_features == 8 * 8 * 8


def test_residual_block_keeps_shape_and_adds_input():
    block = tiny_resnet().block1.eval()
    x = torch.rand(2, 32, 8, 8)
    for conv in (block.conv2,):
        nn.init.zeros_(conv.weight)
    nn.init.zeros_(block.bn2.bias)
    # with the second conv zeroed the block is relu(x): the skip path alone
    assert torch.allclose(block(x), torch.relu(x))


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: mlp([64]), ValueError, "sizes"),
        (lambda: mlp([64, 0, 10]), ValueError, "sizes"),
        (lambda: mlp("64-10"), TypeError, "sizes"),
        (lambda: cnn(channels=()), ValueError, "channels"),
        (lambda: cnn(channels=(8, -1)), ValueError, "channels"),
        (lambda: tiny_resnet(channels=0), ValueError, "channels"),
    ],
)
def test_bad_input(call, error, words):
    with pytest.raises(error, match=words):
        call()
