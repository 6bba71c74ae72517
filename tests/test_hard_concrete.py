"""Hard-concrete L0 gates: the distribution, the expected-L0 penalty, training, exact removal."""

import math

import pytest
import torch
from torch.utils.data import TensorDataset

import pruning_lessons as pl
from pruning_lessons.structured.hard_concrete import (
    HardConcreteGates,
    deterministic_gate,
    hard_concrete_sample,
    probability_closed,
    probability_one,
    probability_open,
    remove_closed_units,
)
from pruning_lessons.structured.l0_training import lagrangian, train_l0

LOG_ALPHAS = torch.tensor([-3.0, -1.0, 0.0, 0.5, 2.0])


def samples(log_alpha: torch.Tensor, n: int = 200_000, beta: float = 2 / 3) -> torch.Tensor:
    u = torch.rand(n, len(log_alpha), generator=torch.Generator().manual_seed(0))
    return hard_concrete_sample(log_alpha.expand(n, -1), u, beta=beta)


def test_samples_lie_in_the_unit_interval_with_mass_at_both_ends():
    z = samples(LOG_ALPHAS)
    assert z.min() == 0.0 and z.max() == 1.0
    assert ((z > 0) & (z < 1)).float().mean() > 0.1  # and a continuous part in between


def test_closed_form_probabilities_match_monte_carlo():
    z = samples(LOG_ALPHAS)
    # 200k samples: standard error at most 0.0011
    assert torch.allclose((z > 0).float().mean(0), probability_open(LOG_ALPHAS), atol=0.005)
    assert torch.allclose((z == 0).float().mean(0), probability_closed(LOG_ALPHAS), atol=0.005)
    assert torch.allclose((z == 1).float().mean(0), probability_one(LOG_ALPHAS), atol=0.005)


def test_the_expected_l0_formula():
    # P(z != 0) = sigmoid(log_alpha - beta * log(-gamma / zeta)), Louizos et al. eq. 12
    expected = torch.sigmoid(LOG_ALPHAS - (2 / 3) * math.log(0.1 / 1.1))
    assert torch.allclose(probability_open(LOG_ALPHAS), expected)
    # the symmetric stretch (-0.1, 1.1) puts as much mass at 0 as at 1 when log_alpha = 0
    zero = torch.tensor([0.0])
    assert torch.allclose(probability_closed(zero), probability_one(zero))


def test_limits():
    far = torch.tensor([-30.0, 30.0])
    z = samples(far, n=10_000)
    assert (z[:, 0] == 0).all() and (z[:, 1] == 1).all()
    # a cold temperature makes the gate a Bernoulli(sigmoid(log_alpha)) coin
    cold = samples(LOG_ALPHAS, n=50_000, beta=1e-3)
    assert ((cold == 0) | (cold == 1)).float().mean() > 0.999
    assert torch.allclose((cold == 1).float().mean(0), torch.sigmoid(LOG_ALPHAS), atol=0.01)


def test_penalty_is_differentiable_and_pushes_gates_down():
    log_alpha = LOG_ALPHAS.clone().requires_grad_(True)
    probability_open(log_alpha).sum().backward()
    assert (log_alpha.grad > 0).all()


def test_deterministic_gate_and_eval_forward():
    # closed exactly when sigmoid(log_alpha) <= 0.1 / 1.2, i.e. log_alpha <= log(1/11)
    edge = math.log(1 / 11)
    z = deterministic_gate(torch.tensor([edge - 1e-3, edge + 1e-2, 0.0, 10.0]))
    assert z[0] == 0 and z[1] > 0 and z[2] == pytest.approx(0.5) and z[3] == 1
    model = pl.mlp((64, 16, 10))
    HardConcreteGates(model, init_log_alpha=0.0)  # the hooks keep the gates alive
    x = torch.randn(4, 64)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
        model.train()
        assert not torch.equal(model(x), model(x))  # a new sample of the gates per batch


def test_lagrangian():
    kept, l1, l2 = torch.tensor(0.4), torch.tensor(2.0), torch.tensor(3.0)
    assert lagrangian(kept, 0.25, l1, l2).item() == pytest.approx(2 * 0.15 + 3 * 0.15**2)


def tiny_data(n: int = 256) -> TensorDataset:
    digits = pl.load_digits(seed=0)
    x, y = digits.train.tensors
    return TensorDataset(x[:n], y[:n])


def trained(seed: int, target: float = 0.5, epochs: int = 12):
    pl.seed_everything(seed)
    model = pl.mlp((64, 32, 16, 10))
    gates = HardConcreteGates(model, seed=seed)
    history = train_l0(model, gates, tiny_data(), target, epochs=epochs, seed=seed, progress=False)
    return model, gates, history


def test_training_reaches_the_target_and_is_reproducible():
    model, gates, history = trained(0)
    for name, fraction in gates.open_fraction().items():
        assert abs(fraction - 0.5) <= 0.1, (name, fraction, history.expected_kept)
    assert all(k <= 0.5 for k in gates.kept_fraction().values())  # the cap: at most the target
    assert history.expected_kept[-1] == pytest.approx(0.5, abs=0.1)
    again, gates_again, _ = trained(0)
    for a, b in zip(gates.parameters(), gates_again.parameters(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(model.parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("build", [lambda: pl.mlp(), pl.cnn, pl.tiny_resnet])
def test_removing_closed_units_computes_what_the_gated_model_computes(build):
    torch.manual_seed(0)
    model = build()
    gates = HardConcreteGates(model)
    with torch.no_grad():
        for log_alpha in gates.parameters():
            log_alpha.normal_(0.0, 4.0)  # some closed, some open, some in between
    assert any(gates.closed().values())
    model.eval()
    x = torch.rand(16, 1, 8, 8)
    small = remove_closed_units(model, gates, example_input=x)
    with torch.no_grad():
        assert torch.allclose(small(x), model(x), atol=1e-5, rtol=0)
    closed = sum(len(c) for c in gates.closed().values())
    widths = sum(g.size for g in gates.groups.values())
    assert pl.count_parameters(small) < pl.count_parameters(model)
    small_gates = HardConcreteGates(small)  # the copy has no hooks, so it can take new gates
    assert sum(g.size for g in small_gates.groups.values()) == widths - closed


def test_trained_model_loses_its_closed_units_exactly():
    model, gates, _ = trained(1)
    small = remove_closed_units(model, gates)
    x = tiny_data().tensors[0]
    with torch.no_grad():
        assert torch.allclose(small(x), model(x), atol=1e-5, rtol=0)
    widths = [small.fc1.out_features, small.fc2.out_features]
    kept = gates.kept_fraction()
    assert widths == [round(gates.groups[n].size * kept[n]) for n in ("fc1", "fc2")]


def outputs(model):
    with torch.no_grad():
        return model.eval()(torch.ones(2, 64))


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"beta": 0.0}, "beta"),
        ({"gamma": 0.1}, "gamma"),
        ({"zeta": float("nan")}, "zeta"),
        ({"init_log_alpha": float("inf")}, "init_log_alpha"),
        ({"layers": ["fc9"]}, "layers"),
        ({"layers": ["fc3"]}, "layers"),  # the outputs: pinned
    ],
)
def test_bad_gate_arguments_raise_before_any_change(kwargs, named):
    model = pl.mlp()
    before = outputs(model)
    with pytest.raises(ValueError, match=named):
        HardConcreteGates(model, **kwargs)
    assert torch.equal(outputs(model), before)
    HardConcreteGates(model)  # no hooks were left behind: gates can still be attached


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"target": 0.0}, "target"),
        ({"target": 1.5}, "target"),
        ({"target": {"fc7": 0.5}}, "target"),
        ({"warmup": 2.0}, "warmup"),
        ({"lambda_lr": -1.0}, "lambda_lr"),
    ],
)
def test_bad_training_arguments_raise_before_any_change(kwargs, named):
    model = pl.mlp((64, 8, 10))
    gates = HardConcreteGates(model)
    before = [p.detach().clone() for p in [*model.parameters(), *gates.parameters()]]
    arguments = {"target": 0.5, **kwargs}
    with pytest.raises(ValueError, match=named):
        train_l0(model, gates, tiny_data(32), epochs=1, progress=False, **arguments)
    after = [*model.parameters(), *gates.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert gates.shape == {}


def test_gates_belong_to_their_model():
    model, other = pl.mlp(), pl.mlp()
    gates = HardConcreteGates(model)
    with pytest.raises(ValueError, match="gates"):
        remove_closed_units(other, gates)
    with pytest.raises(ValueError, match="already"):
        HardConcreteGates(model)
    gates.detach()
    with pytest.raises(ValueError, match="detached"):
        remove_closed_units(model, gates)
    with pytest.raises(ValueError, match="sizes"):
        HardConcreteGates(model).set_shape({"fc1": 0})


def test_a_norm_without_a_scale_is_not_gated():
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3),
        torch.nn.BatchNorm2d(4, affine=False),
        torch.nn.ReLU(),
        torch.nn.Conv2d(4, 2, 3),
    )
    x = torch.randn(1, 1, 8, 8)
    with pytest.raises(ValueError, match="affine=False"):
        HardConcreteGates(model, example_input=x, layers=["0"])
