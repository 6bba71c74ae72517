import warnings

import pytest
import torch
from torch import nn

from pruning_lessons import (
    cnn,
    count_macs,
    count_nonzero,
    count_parameters,
    file_size,
    measure_latency,
    mlp,
    sparsity_report,
)


def _linear_3_to_2() -> nn.Linear:
    layer = nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]]))
        layer.bias.copy_(torch.tensor([0.0, 1.0]))
    return layer


def test_counts_on_a_layer_counted_by_hand():
    layer = _linear_3_to_2()
    assert count_parameters(layer) == 8
    assert count_nonzero(layer) == 4  # 1, 2, 3 and the bias 1


def test_sparsity_report_by_hand():
    report = sparsity_report(_linear_3_to_2())
    assert [(r.name, r.numel, r.nonzero) for r in report] == [("weight", 6, 3), ("bias", 2, 1)]
    assert report[0].sparsity == 0.5
    assert (report.total.numel, report.total.nonzero) == (8, 4)
    text = str(report)
    assert "weight" in text and "50.0%" in text and "total" in text
    assert "<table>" in report._repr_html_()
    names = [r.name for r in sparsity_report(mlp(), weights_only=True)]
    assert names == ["fc1.weight", "fc2.weight", "fc3.weight"]


def test_linear_macs_by_hand():
    layer = _linear_3_to_2()
    x = torch.rand(4, 3)
    assert count_macs(layer, x) == 4 * 2 * 3  # 4 samples x 2 outputs x 3 inputs
    assert count_macs(layer, x, nonzero_only=True) == 4 * 3  # 3 non-zero weights per sample


def test_conv_macs_by_hand():
    conv = nn.Conv2d(2, 3, kernel_size=3)  # 5x5 input, no padding -> 3x3 output
    x = torch.rand(1, 2, 5, 5)
    assert count_macs(conv, x) == (3 * 3) * 3 * (2 * 3 * 3)
    with torch.no_grad():
        conv.weight[0].zero_()  # one filter fully zero
    assert count_macs(conv, x, nonzero_only=True) == (3 * 3) * 2 * (2 * 3 * 3)
    grouped = nn.Conv2d(4, 4, kernel_size=1, groups=2)
    assert count_macs(grouped, torch.rand(1, 4, 2, 2)) == 4 * 4 * 2


def test_mlp_macs_equal_its_weight_count():
    model = mlp()
    assert count_macs(model, torch.rand(1, 1, 8, 8)) == 64 * 300 + 300 * 100 + 100 * 10


def test_file_size_grows_with_the_weights():
    small, big = file_size(nn.Linear(10, 10)), file_size(nn.Linear(100, 100))
    extra_floats = (100 * 100 + 100) - (10 * 10 + 10)
    assert abs((big - small) - 4 * extra_floats) <= 1024  # 4 bytes a float, plus framing
    assert file_size(nn.Linear(10, 10).state_dict()) == small


def test_latency_is_measured(device):
    model = mlp().to(device)
    result = measure_latency(model, torch.rand(1, 1, 8, 8), batch_size=8, min_run_time=0.05)
    assert result.median > 0 and result.batch_size == 8 and result.threads == 1
    assert result.per_sample == pytest.approx(result.median / 8)
    assert model.training  # mode restored


def test_latency_of_a_model_without_parameters(device):
    # e.g. a frozen TorchScript module or a pooling layer: it runs on the input's device
    pool = nn.MaxPool2d(2)
    result = measure_latency(
        pool, torch.rand(1, 3, 8, 8, device=device), batch_size=4, min_run_time=0.01
    )
    assert result.median > 0 and torch.device(result.device).type == torch.device(device).type


def test_latency_of_a_frozen_torchscript_module():
    # the inference runtime of benchmarks/bench_structured.py: no parameters, no .training
    if not hasattr(torch.jit, "optimize_for_inference"):
        pytest.skip("this torch has no torch.jit.optimize_for_inference")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated
        frozen = torch.jit.optimize_for_inference(torch.jit.script(cnn().eval()))
    result = measure_latency(frozen, torch.rand(1, 1, 8, 8), batch_size=4, min_run_time=0.01)
    assert result.median > 0 and result.device == "cpu"


@pytest.mark.parametrize("kwargs", [{"batch_size": 0}, {"threads": 0}, {"batch_size": 2.5}])
def test_latency_bad_input(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        measure_latency(mlp(), torch.rand(1, 64), **kwargs)
