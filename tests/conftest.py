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
