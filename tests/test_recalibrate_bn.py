"""recalibrate_bn: BatchNorm running statistics re-estimated without a gradient step."""

import copy

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

import pruning_lessons as pl


def _conv_bn(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, bias=False),
        nn.BatchNorm2d(4, momentum=0.3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 8 * 8, 10),
    )
    with torch.no_grad():  # stale statistics, as after pruning
        model[1].running_mean.fill_(5.0)
        model[1].running_var.fill_(9.0)
    return model.eval()


def _dataset(n: int = 40, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.rand(n, 1, 8, 8, generator=g), torch.randint(0, 10, (n,)))


def _conv_outputs(model: nn.Sequential, images: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model[0](images).transpose(0, 1).reshape(4, -1)  # channel x (N*H*W)


def test_one_batch_gives_the_batch_mean_and_unbiased_variance():
    model, data = _conv_bn(), _dataset()
    used = pl.recalibrate_bn(model, data, batch_size=len(data))
    z = _conv_outputs(model, data.tensors[0])
    assert used == 1
    torch.testing.assert_close(model[1].running_mean, z.mean(dim=1))
    torch.testing.assert_close(model[1].running_var, z.var(dim=1, unbiased=True))


def test_several_batches_average_the_batch_statistics_and_batches_limits_them():
    model, data = _conv_bn(), _dataset(n=40)
    used = pl.recalibrate_bn(model, data, batches=3, batch_size=10)
    chunks = [_conv_outputs(model, data.tensors[0][i : i + 10]) for i in (0, 10, 20)]
    assert used == 3
    mean = torch.stack([c.mean(dim=1) for c in chunks]).mean(dim=0)
    var = torch.stack([c.var(dim=1, unbiased=True) for c in chunks]).mean(dim=0)
    torch.testing.assert_close(model[1].running_mean, mean)
    torch.testing.assert_close(model[1].running_var, var)
    assert int(model[1].num_batches_tracked) == 3


def test_weights_modes_and_momentum_are_left_as_they_were():
    model, data = _conv_bn(), _dataset()
    model[4].train()  # a module in its own mode, unlike its parent
    before = copy.deepcopy(model.state_dict())
    pl.recalibrate_bn(model, data)
    after = model.state_dict()
    for name, value in before.items():
        if name.startswith("1.running") or name.endswith("num_batches_tracked"):
            continue
        assert torch.equal(after[name], value), name
    assert not model.training and not model[1].training and model[4].training
    assert model[1].momentum == 0.3
    assert all(p.grad is None for p in model.parameters())


def test_splits_use_the_training_set_and_recover_a_pruned_cnn():
    data = pl.load_digits(seed=0)
    pl.seed_everything(0)
    model = pl.cnn()
    pl.fit(model, data, epochs=3, progress=False)
    pruned = pl.prune_units(model, 0.5, importance="l1")
    stale = pl.evaluate(pruned, data.val)
    pl.recalibrate_bn(pruned, data)
    fresh = pl.evaluate(pruned, data.val)
    assert fresh > stale  # the lesson's claim, on this seed: stale statistics cost accuracy
    reference = copy.deepcopy(pruned)
    pl.recalibrate_bn(reference, data.train)
    for a, b in zip(pruned.buffers(), reference.buffers(), strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"data": [1, 2]}, TypeError, "data"),
        ({"batches": 0}, ValueError, "batches"),
        ({"batches": 1.5}, TypeError, "batches"),
        ({"batch_size": -1}, ValueError, "batch_size"),
    ],
)
def test_bad_arguments_leave_the_model_unchanged(kwargs, error, words):
    model = _conv_bn()
    before = copy.deepcopy(model.state_dict())
    arguments = {"data": _dataset(), **kwargs}
    with pytest.raises(error, match=words):
        pl.recalibrate_bn(model, **arguments)
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert model[1].momentum == 0.3 and not model.training


def test_a_model_without_batchnorm_is_refused():
    with pytest.raises(ValueError, match="BatchNorm"):
        pl.recalibrate_bn(pl.mlp(), _dataset())


def test_a_failing_forward_restores_the_statistics():
    model = _conv_bn()
    before = copy.deepcopy(model.state_dict())
    wrong = TensorDataset(torch.rand(8, 3, 8, 8), torch.zeros(8, dtype=torch.long))
    with pytest.raises(RuntimeError):
        pl.recalibrate_bn(model, wrong)
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert model[1].momentum == 0.3 and not model.training


def test_the_pipeline_records_a_cnn_before_and_after_recalibration():
    from pruning_lessons.weights.pipeline import prune_and_fine_tune, train_dense

    data = pl.load_digits(seed=0)
    model, record = train_dense(pl.cnn, data, epochs=1, seed=0)
    prune_and_fine_tune(model, data, record, sparsity=0.5, fine_tune_epochs=1)
    steps = [s.step for s in record.steps]
    assert steps == ["train", "prune", "recalibrate BN", "fine-tune"]
    prune, recalibrated = record.steps[1], record.steps[2]
    assert recalibrated.sparsity == prune.sparsity  # no weight changed
    mlp, mlp_record = train_dense(pl.mlp, data, epochs=1, seed=0)
    prune_and_fine_tune(mlp, data, mlp_record, sparsity=0.5, fine_tune_epochs=1)
    assert "recalibrate BN" not in [s.step for s in mlp_record.steps]
