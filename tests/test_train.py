import pytest
import torch

import pruning_lessons as pl
from pruning_lessons import (
    evaluate,
    fine_tune,
    fit,
    load_digits,
    make_optimizer,
    mlp,
    seed_everything,
)


def _trained(seed: int, epochs: int = 3):
    data = load_digits()
    seed_everything(seed)
    model = mlp()
    history = fit(model, data, epochs=epochs, seed=seed, progress=False)
    return model, history, data


def test_same_seed_same_weights_bit_for_bit():
    a, ha, data = _trained(seed=1)
    b, hb, _ = _trained(seed=1)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert ha.train_loss == hb.train_loss
    assert evaluate(a, data.test) == evaluate(b, data.test)


def test_training_learns_and_records_history():
    model, history, data = _trained(seed=0, epochs=5)
    assert len(history.train_loss) == len(history.val_accuracy) == 5
    assert history.train_loss[-1] < history.train_loss[0]
    assert evaluate(model, data.test) > 0.85  # 5 epochs; the 97 % study is in benchmarks/
    assert history.seconds > 0


def test_fit_and_evaluate_on_device(device):
    data = load_digits(device=device)
    model = mlp()
    fit(model, data.train, epochs=1, progress=False)
    assert next(model.parameters()).device.type == device.type
    assert 0.0 <= evaluate(model, data.val) <= 1.0


def test_fine_tune_uses_a_lower_learning_rate():
    data = load_digits()
    model = mlp()
    history = fine_tune(model, data, epochs=1, progress=False)
    assert len(history.train_loss) == 1


def test_evaluate_restores_mode():
    model = mlp().train()
    evaluate(model, load_digits().val)
    assert model.training


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"epochs": 0}, ValueError, "epochs"),
        ({"epochs": 1.5}, TypeError, "epochs"),
        ({"lr": -1.0}, ValueError, "lr"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"optimizer": "rmsprop"}, ValueError, "optimizer"),
        ({"seed": -3}, ValueError, "seed"),
        ({"lr_schedule": "step"}, ValueError, "lr_schedule must be one of"),
    ],
)
def test_fit_bad_input_leaves_model_unchanged(kwargs, error, words):
    model = mlp()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(error, match=words):
        fit(model, load_digits(), progress=False, **kwargs)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_bad_data_and_optimizer_names():
    with pytest.raises(TypeError, match="data"):
        fit(mlp(), [(torch.rand(1, 64), torch.tensor([1]))], progress=False)
    with pytest.raises(ValueError, match="optimizer"):
        make_optimizer(mlp(), "lbfgs")


def test_evaluate_and_metrics_restore_every_modules_own_mode(digits):
    # a frozen BatchNorm inside a model in train mode (a common fine-tuning set-up)
    model = pl.cnn()
    model.train()
    model.bn1.eval()
    example = digits.test.tensors[0][:1]
    pl.evaluate(model, digits.val)
    pl.count_macs(model, example)
    pl.measure_latency(model, example, batch_size=2, min_run_time=0.01, warmup=1)
    assert model.training and model.conv2.training and not model.bn1.training


def test_a_float64_model_takes_the_float32_digits(digits):
    model = pl.mlp().double()
    pl.fit(model, digits, epochs=1, progress=False)
    assert 0.0 <= pl.evaluate(model, digits.test) <= 1.0
    assert model.fc1.weight.dtype == torch.float64
    example = digits.test.tensors[0][:1]
    assert pl.count_macs(model, example) == pl.count_macs(pl.mlp(), example)
    assert pl.measure_latency(model, example, batch_size=4, min_run_time=0.01).median > 0
    scores = pl.prune_weights(model, 0.5, criterion="taylor", data=digits)
    assert pl.sparsity(model) == pytest.approx(0.5, abs=1e-3) and scores
