import copy

import pytest
import torch

import pruning_lessons as pl
from pruning_lessons.weights.analysis import (
    amounts_for_budget,
    over_seeds,
    perturb,
    perturbed_accuracy,
    sensitivity_scan,
)
from pruning_lessons.weights.pipeline import (
    Record,
    _fine_tune_plan,
    _split_budget,
    lottery_ticket,
    prune_and_fine_tune,
    run,
    train_dense,
)
from pruning_lessons.weights.schedules import sparsity_schedule


@pytest.fixture(scope="module")
def trained(digits):
    return train_dense(pl.mlp, digits, epochs=2, seed=0)


@pytest.mark.parametrize("schedule", ["one-shot", "iterative", "cubic"])
def test_record_follows_the_schedule_at_an_equal_budget(trained, digits, schedule):
    dense, record = copy.deepcopy(trained[0]), copy.deepcopy(trained[1])
    prune_and_fine_tune(
        dense, digits, record, sparsity=0.9, schedule=schedule, steps=3, fine_tune_epochs=4
    )
    prunes = [s for s in record.steps if s.step == "prune"]
    levels = sparsity_schedule(schedule, 0.9, 3)
    assert [s.sparsity for s in prunes] == pytest.approx(levels, abs=1e-4)
    assert sum(s.epochs for s in record.steps if s.step == "fine-tune") == 4
    assert record.steps[0].step == "train" and record.steps[-1].step == "fine-tune"
    assert record.steps[-1].sparsity == pytest.approx(0.9, abs=1e-4)
    assert all(0 <= s.accuracy <= 1 and s.seconds >= 0 for s in record.steps)
    assert record.config["schedule"] == schedule and record.config["fine_tune_epochs"] == 4
    assert '"steps"' in record.to_json() and "fine-tune" in str(record)
    assert "<table>" in record._repr_html_()


def test_budget_split():
    assert _split_budget(10, 3) == [3, 3, 4] and sum(_split_budget(7, 5)) == 7
    assert _split_budget(2, 5) == [0, 0, 0, 1, 1]
    assert _fine_tune_plan(10, 1) == [10]
    assert _fine_tune_plan(20, 5) == [2, 2, 3, 3, 10]  # ramp in the first half, then recover
    assert sum(_fine_tune_plan(7, 4)) == 7


def test_run_and_bad_method(digits):
    model, record = run(
        pl.mlp, digits, sparsity=0.5, train_epochs=1, fine_tune_epochs=1, method="random"
    )
    assert pl.sparsity(model) == pytest.approx(0.5, abs=1e-4)
    assert isinstance(record, Record) and record.config["method"] == "random"
    with pytest.raises(ValueError, match="method must be one of"):
        prune_and_fine_tune(model, digits, record, sparsity=0.6, method="psychic")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"method": "movement", "scope": "globl", "fine_tune_epochs": 2, "steps": 1},
            ValueError,
            "scope must be one of",
        ),
        ({"lr": 0.0}, ValueError, "lr must be positive"),
        ({"lr": "1e-3"}, TypeError, "lr must be a positive float"),
        ({"seed": -1}, ValueError, "seed"),
        ({"fine_tune_epochs": -1}, ValueError, "fine_tune_epochs must be an int >= 0"),
        ({"fine_tune_epochs": 2.0}, TypeError, "fine_tune_epochs must be an int"),
    ],
)
def test_bad_arguments_are_refused_before_the_model_or_record_changes(
    trained, digits, kwargs, error, match
):
    model, record = copy.deepcopy(trained[0]), copy.deepcopy(trained[1])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    config, steps = dict(record.config), list(record.steps)
    with pytest.raises(error, match=match):
        prune_and_fine_tune(model, digits, record, **{"sparsity": 0.5, **kwargs})
    after = model.state_dict()
    assert after.keys() == before.keys() and all(torch.equal(after[k], before[k]) for k in before)
    assert not pl.get_masks(model) and record.config == config and record.steps == steps


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, "epochs must be an int >= 1"),
        ({"rewind_epoch": -1}, "rewind_epoch"),
        ({"rounds": 0}, "steps|rounds"),
        ({"seed": -3}, "seed"),
    ],
)
def test_lottery_ticket_checks_its_arguments_first(digits, kwargs, match):
    with pytest.raises(ValueError, match=match):
        lottery_ticket(pl.mlp, digits, **{"sparsity": 0.5, **kwargs})


def test_run_checks_pruning_arguments_before_training(digits, monkeypatch):
    monkeypatch.setattr(pl.weights.pipeline, "train_dense", lambda *a, **k: pytest.fail("trained"))
    with pytest.raises(ValueError, match="scope must be one of"):
        run(pl.mlp, digits, sparsity=0.5, scope="everywhere")


def test_lottery_ticket_rewinds_survivors_and_controls_with_the_same_mask(digits):
    ticket, record, control, control_record = lottery_ticket(
        pl.mlp, digits, sparsity=0.75, rounds=2, epochs=1, seed=5
    )
    steps = [s.step for s in record.steps]
    assert steps == ["train", "prune", "rewind", "train", "prune", "rewind", "train"]
    rewinds = [s for s in record.steps if s.step == "rewind"]
    assert rewinds[-1].sparsity == pytest.approx(0.75, abs=1e-4)
    masks, control_masks = pl.get_masks(ticket), pl.get_masks(control)
    assert all(torch.equal(masks[k], control_masks[k]) for k in masks)
    assert not torch.equal(ticket.fc1.weight, control.fc1.weight)
    assert control_record.config["method"] == "random re-initialisation"
    assert control_record.steps[0].sparsity == pytest.approx(0.75, abs=1e-4)


def test_rewind_restores_initial_values_on_survivors(digits):
    from pruning_lessons.weights.pipeline import _rewind

    model = pl.mlp()
    start = {k: v.detach().clone() for k, v in model.named_parameters()}
    pl.fit(model, digits, epochs=1, progress=False)
    masks = pl.magnitude_prune(model, 0.5, scope="global")
    _rewind(model, start)
    for name, keep in masks.items():
        weight = model.get_parameter(name)
        assert torch.equal(weight[keep], start[name][keep])
        assert not weight[~keep].any()


def test_sensitivity_scan_and_budget(trained, digits):
    scan = sensitivity_scan(trained[0], digits.val, amounts=(0.0, 0.5, 0.99))
    assert list(scan.accuracy) == ["fc1.weight", "fc2.weight", "fc3.weight"]
    assert all(len(v) == 3 for v in scan.accuracy.values())
    assert all(v[0] == scan.baseline for v in scan.accuracy.values())  # 0 % changes nothing
    assert "fc3.weight" in str(scan)
    chosen = amounts_for_budget(scan, 0.5)
    assert set(chosen) == set(scan.accuracy) and all(a in scan.amounts for a in chosen.values())
    strict = amounts_for_budget(scan, 0.0)
    for name, amount in strict.items():  # the chosen amount never costs accuracy
        assert scan.accuracy[name][scan.amounts.index(amount)] >= scan.baseline
    with pytest.raises(ValueError, match="max_drop"):
        amounts_for_budget(scan, 1.5)


def test_over_seeds():
    spread = over_seeds(lambda seed: [0.9, 0.95, 1.0][seed])
    assert spread.mean == pytest.approx(0.95) and spread.std == pytest.approx(0.0408248, abs=1e-6)
    assert "95.0 +- 4.1 (n=3)" == str(spread)
    with pytest.raises(ValueError, match="seeds is empty"):
        over_seeds(lambda s: 1.0, seeds=[])


def test_perturbations(digits, device):
    images = digits.test.tensors[0][:20].to(device)
    noisy = perturb(images, "noise", 0.3, seed=1)
    assert noisy.shape == images.shape and noisy.device.type == device.type
    assert torch.equal(noisy, perturb(images, "noise", 0.3, seed=1))
    assert 0 <= float(noisy.min()) and float(noisy.max()) <= 1
    shifted = perturb(images, "shift", 1, seed=2)
    assert shifted.shape == images.shape and not torch.equal(shifted, images)
    assert torch.equal(perturb(images, "shift", 0), images)
    with pytest.raises(ValueError, match="whole number"):
        perturb(images, "shift", 1.5)
    with pytest.raises(ValueError, match="kind must be one of"):
        perturb(images, "blur", 1)


def test_perturbed_accuracy_drops_with_heavy_noise(trained, digits):
    model = trained[0]
    clean = pl.evaluate(model, digits.test)
    assert perturbed_accuracy(model, digits.test, "noise", 0.0) == clean
    assert perturbed_accuracy(model, digits.test, "noise", 2.0) < clean
