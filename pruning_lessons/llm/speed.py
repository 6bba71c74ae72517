"""Where speed comes from: one linear layer timed dense, with zeros, narrower, and as 2:4.

At batch 1 (one token at a time, as in LLM decoding) a linear layer reads its whole weight
matrix to do 2 flops per weight: memory-bound. At batch 256 it does 512 flops per weight read:
compute-bound. Zeros stored in a dense matrix change neither; a narrower matrix (structured
width removal) changes both; a compressed format (CSR, 2:4) pays for its indices and only wins
where a kernel is built for it (2:4 on NVIDIA sparse tensor cores).
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable

import torch

from ..weights.nm import nm_mask, semi_structured_unavailable


def _time(fn: Callable[[], object], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def _csr(dense: torch.Tensor) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        return dense.to_sparse_csr()


@torch.no_grad()
def linear_timings(
    features: int = 1024,
    batch_sizes: tuple[int, ...] = (1, 256),
    *,
    rounds: int = 7,
    repeat: int = 20,
    seed: int = 0,
) -> list[dict]:
    """Median seconds per call of ``x @ W^T`` for a ``features x features`` weight, on the CPU.

    Variants: ``dense``; ``50 % zeros (dense storage)`` (half of each row zeroed, same kernel);
    ``50 % zeros (CSR)`` (``torch.sparse_csr``); ``half width (structured)`` (half the rows
    removed). They are timed in alternation, ``rounds`` times ``repeat`` calls each, so that
    a busy machine slows them alike. Returns one dict per (batch size, variant) with
    ``seconds`` and ``speedup`` (dense time / this time).
    """
    g = torch.Generator().manual_seed(seed)
    weight = torch.randn(features, features, generator=g)
    zeroed = weight * torch.rand(features, features, generator=g).argsort(1).ge(features // 2)
    variants = {
        "dense": weight,
        "50 % zeros (dense storage)": zeroed,
        "50 % zeros (CSR)": _csr(zeroed),
        "half width (structured)": weight[: features // 2].contiguous(),
    }
    rows = []
    for batch in batch_sizes:
        x = torch.randn(batch, features, generator=g)
        calls = {
            name: (
                lambda w=w, x=x: torch.sparse.mm(w, x.T) if w.layout != torch.strided else x @ w.T
            )
            for name, w in variants.items()
        }
        for call in calls.values():
            call()
        times: dict[str, list[float]] = {name: [] for name in calls}
        for _ in range(rounds):
            for name, call in calls.items():
                times[name].append(_time(call, repeat))
        dense = statistics.median(times["dense"])
        for name, samples in times.items():
            seconds = statistics.median(samples)
            rows.append(
                {"batch": batch, "variant": name, "seconds": seconds, "speedup": dense / seconds}
            )
    return rows


@torch.no_grad()
def semi_structured_timing(features: int = 4096, batch: int = 4096, device: str = "cuda"):
    """Dense vs 2:4 (``torch.sparse.to_sparse_semi_structured``) float16 matmul on a GPU.

    Returns ``(None, {"dense": s, "2:4": s, "speedup": x})`` where the kernels exist, else
    ``(reason, None)`` saying why they cannot run here.
    """
    reason = semi_structured_unavailable(device)
    if reason is not None:
        return reason, None
    weight = torch.randn(features, features, device=device, dtype=torch.float16)
    weight = weight * nm_mask(weight, 2, 4)
    sparse = torch.sparse.to_sparse_semi_structured(weight)
    x = torch.randn(features, batch, device=device, dtype=torch.float16)

    def timed(w: torch.Tensor) -> float:
        for _ in range(3):
            w @ x
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(20):
            w @ x
        torch.cuda.synchronize()
        return (time.perf_counter() - start) / 20

    dense, semi = timed(weight), timed(sparse)
    return None, {"dense": dense, "2:4": semi, "speedup": dense / semi}
