"""Shared fixtures: every device-sensitive test runs once per available device."""

from __future__ import annotations

import pytest
import torch

from pruning_lessons import available_devices, load_digits


@pytest.fixture(params=available_devices(), ids=str)
def device(request) -> torch.device:
    return request.param


@pytest.fixture(scope="session")
def digits():
    return load_digits(seed=0)


@pytest.fixture(scope="session")
def trained_mlp(digits):
    """A briefly trained digits MLP, shared read-only: tests that change it take a copy."""
    from pruning_lessons import fit, mlp, seed_everything

    seed_everything(0)
    model = mlp()
    fit(model, digits, epochs=3, progress=False)
    return model


@pytest.fixture
def torch_load_calls(monkeypatch) -> list:
    """The ``weights_only`` argument of every ``torch.load`` call made during the test."""
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    return calls
