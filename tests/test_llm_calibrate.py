"""Calibration sums shared by layers that read the same tensor (llm.calibrate.SharedSums)."""

import torch

from pruning_lessons.llm.calibrate import InputStats, SharedSums


def test_layers_reading_one_tensor_share_its_sums_and_get_the_same_statistics():
    x = torch.randn(2, 5, 4, generator=torch.Generator().manual_seed(0))
    shared = SharedSums()
    first, second = (InputStats(4, x.device, hessian=True) for _ in range(2))
    first.add(x, shared)
    before = shared._sums
    second.add(x, shared)
    assert shared._sums is before  # summed once
    rows = x.reshape(-1, 4).double()
    for stats in (first, second):
        assert torch.allclose(stats.xtx, rows.T @ rows) and stats.tokens == 10
        assert torch.allclose(stats.norms, rows.norm(dim=0))


def test_a_changed_or_new_tensor_is_summed_afresh():
    shared = SharedSums()
    x = torch.ones(3, 2)
    assert shared.sums(x, True)[2].sum() == 12
    x.mul_(2)  # in place: the version counter moves
    assert shared.sums(x, True)[2].sum() == 48
    y = torch.ones(3, 2)  # equal values, another tensor
    assert shared.sums(y, True)[2].sum() == 12
    assert shared.sums(y, False)[2] is not None  # a Hessian already summed serves both
    z = torch.ones(3, 2)
    assert shared.sums(z, False)[2] is None
    assert shared.sums(z, True)[2].sum() == 12  # asked for more than was summed


def test_the_sums_are_dropped_with_their_tensor():
    shared = SharedSums()
    shared.sums(torch.ones(3, 2), True)  # a temporary: gone after this line
    assert shared._sums is None
