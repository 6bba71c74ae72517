"""Latency side by side: several models timed in alternating rounds (lessons 02, 03 and 08)."""

from __future__ import annotations

import torch
from torch import nn


def side_by_side_ms(
    models: dict[str, nn.Module],
    example: torch.Tensor,
    *,
    rounds: int = 5,
    batch_size: int = 256,
    min_run_time: float = 0.02,
) -> dict[str, float]:
    """Milliseconds per batch of each model: the fastest of ``rounds`` alternating rounds.

    Round after round every model is timed once with :func:`~pruning_lessons.measure_latency`
    (one thread), so a burst of load from another program hits all of them alike. Each model
    keeps its fastest round: other programs, page faults of the memory allocator and the like
    can only add time, never remove it, so the minimum is the steadiest estimate on a busy
    machine.
    """
    from ...core.metrics import measure_latency

    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be a positive int, got {rounds!r}")
    seconds: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            latency = measure_latency(
                model, example, batch_size=batch_size, min_run_time=min_run_time
            )
            seconds[name].append(latency.median)
    return {name: 1e3 * min(values) for name, values in seconds.items()}
