"""The library picks a thread count for small models and gives the caller's back afterwards."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import pruning_lessons as pl


@pytest.fixture
def two_threads():
    """The process runs at 2 threads during the test, and at its own count afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield 2
    torch.set_num_threads(before)


def _recorder(seen: list[int]):
    def penalty(model: nn.Module) -> torch.Tensor:
        seen.append(torch.get_num_threads())
        return torch.zeros(())

    return penalty


def test_small_models_get_one_thread_and_large_ones_keep_the_callers(two_threads):
    assert pl.threads_for(pl.mlp()) == 1
    assert pl.count_parameters(pl.mlp()) < pl.SMALL_MODEL_PARAMETERS
    large = nn.Linear(pl.SMALL_MODEL_PARAMETERS, 1, bias=False)
    assert pl.threads_for(large) == two_threads


def test_fit_trains_a_small_model_on_one_thread_and_restores_the_setting(two_threads, digits):
    seen: list[int] = []
    pl.fit(pl.mlp(), digits.train, epochs=1, progress=False, penalty=_recorder(seen))
    assert seen and set(seen) == {1}
    assert torch.get_num_threads() == two_threads


def test_the_setting_comes_back_after_an_error(two_threads):
    def failing(model: nn.Module) -> torch.Tensor:
        raise RuntimeError("stop")

    data = torch.utils.data.TensorDataset(torch.rand(8, 64), torch.zeros(8, dtype=torch.long))
    with pytest.raises(RuntimeError, match="stop"):
        pl.fit(pl.mlp(), data, epochs=1, progress=False, penalty=failing)
    assert torch.get_num_threads() == two_threads


def test_evaluate_scores_and_latency_leave_the_setting_alone(two_threads, digits, trained_mlp):
    pl.evaluate(trained_mlp, digits.test)
    pl.taylor_scores(trained_mlp, digits, batches=1)
    pl.snip_scores(trained_mlp, digits)
    pl.measure_latency(trained_mlp, digits.test.tensors[0][:1], min_run_time=0.01, warmup=1)
    assert torch.get_num_threads() == two_threads


def test_evaluate_runs_a_small_model_on_one_thread(two_threads, digits):
    seen: list[int] = []

    class Probe(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(torch.get_num_threads())
            return x

    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10), Probe())
    pl.evaluate(model, digits.test)
    assert set(seen) == {1}


def test_structured_pruning_runs_a_small_model_on_one_thread(two_threads):
    seen: list[int] = []

    class Probe(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(torch.get_num_threads())
            return x

    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), Probe(), nn.ReLU(), nn.Linear(16, 10))
    pruned = pl.prune_units(model, 0.5)
    assert seen and set(seen) == {1}
    assert pruned[1].out_features == 8
    assert torch.get_num_threads() == two_threads


def test_bad_arguments_still_get_the_functions_own_errors():
    with pytest.raises((TypeError, AttributeError)):
        pl.fit("not a model", torch.utils.data.TensorDataset(torch.rand(2, 64)))
