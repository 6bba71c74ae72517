"""Shared fixtures: every device-sensitive test runs once per available device."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("TQDM_DISABLE", "1")  # also inherited by notebook kernels

from pruning_lessons import available_devices, load_digits  # noqa: E402


@pytest.fixture(params=available_devices(), ids=str)
def device(request) -> torch.device:
    return request.param


@pytest.fixture(scope="session")
def digits():
    return load_digits(seed=0)
