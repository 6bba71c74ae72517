"""Is a structurally pruned model really faster? Dense vs 50 %-pruned CNN and MLP, side by side.

    python benchmarks/bench_structured.py [--threads 1] [--batch 256] [--rounds 5]

Trains each model briefly, removes half of the CNN's channels (half of the MLP's hidden
neurons) with ``prune_units``, fine-tunes, and times dense and pruned forward passes in
alternation at a fixed thread count (the CNN in both NCHW and channels_last memory format).
Writes results/structured.json and results/structured.md.
Goals (from the issue): CNN measured speed-up >= 0.8 x the MAC reduction; MLP speed-up >= 2x.
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import ctypes.util
import statistics

import torch
from _common import markdown_table, write_results
from torch import nn

import pruning_lessons as pl

CASES = {
    # name: (builder, training epochs, what is removed, goal on the measured speed-up, layouts)
    "cnn": (pl.cnn, 10, "channels", ("speed-up / MAC ratio", 0.8), ("NCHW", "channels_last")),
    "mlp": (pl.mlp, 30, "hidden neurons", ("speed-up", 2.0), ("-",)),
}


def steady_heap() -> bool:
    """Ask glibc to keep large buffers on the heap instead of mapping fresh pages for each one.

    By default glibc serves every buffer above a moving threshold with ``mmap`` and returns it
    on ``free``, so a model whose activations are a few MB (the dense CNN at batch 256) may pay
    page faults on every forward pass, or not, depending on the process's history. That made
    the dense CNN's latency (and so the speed-up) swing from run to run; a fixed threshold makes
    it repeatable. Returns False where the C library is not glibc.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
        return bool(
            libc.mallopt(m_mmap_threshold, 32 << 20) and libc.mallopt(m_trim_threshold, 1 << 30)
        )
    except (OSError, AttributeError, TypeError):
        return False


def side_by_side(dense: nn.Module, pruned: nn.Module, example: torch.Tensor, args) -> dict:
    """Both models timed in alternation ``rounds`` times: median latencies and per-round ratios."""
    rounds = {"dense": [], "pruned": []}
    for _ in range(args.rounds):
        for key, model in (("dense", dense), ("pruned", pruned)):
            latency = pl.measure_latency(
                model, example, batch_size=args.batch, threads=args.threads, min_run_time=0.2
            )
            rounds[key].append(latency.median)
    ratios = [d / p for d, p in zip(rounds["dense"], rounds["pruned"], strict=True)]
    return {
        "dense_ms": 1e3 * statistics.median(rounds["dense"]),
        "pruned_ms": 1e3 * statistics.median(rounds["pruned"]),
        "speedup": statistics.median(ratios),
        "speedup_min": min(ratios),
        "speedup_max": max(ratios),
    }


def in_layout(model: nn.Module, layout: str) -> nn.Module:
    if layout != "channels_last":
        return model
    return copy.deepcopy(model).to(memory_format=torch.channels_last)


def run_case(name: str, data: pl.Splits, args) -> list[dict]:
    build, epochs, removed, (goal_name, goal), layouts = CASES[name]
    pl.seed_everything(0)
    dense = build()
    pl.fit(dense, data, epochs=epochs, progress=False)
    pruned = pl.prune_units(dense, args.amount)
    accuracy_pruned = pl.evaluate(pruned, data.test)
    pl.fine_tune(pruned, data, epochs=args.fine_tune_epochs, progress=False)
    example = data.test.tensors[0][:1]
    mac_ratio = pl.count_macs(dense, example) / pl.count_macs(pruned, example)
    common = {
        "model": name,
        "removed": f"{args.amount:.0%} of {removed}",
        "mac_ratio": mac_ratio,
        "goal": f"{goal_name} >= {goal}",
        "params_dense": pl.count_parameters(dense),
        "params_pruned": pl.count_parameters(pruned),
        "bytes_dense": pl.file_size(dense),
        "bytes_pruned": pl.file_size(pruned),
        "accuracy_dense": pl.evaluate(dense, data.test),
        "accuracy_pruned": accuracy_pruned,
        "accuracy_fine_tuned": pl.evaluate(pruned, data.test),
    }
    results = []
    for layout in layouts:
        timing = side_by_side(in_layout(dense, layout), in_layout(pruned, layout), example, args)
        over_macs = timing["speedup"] / mac_ratio
        measured = over_macs if goal_name.startswith("speed-up /") else timing["speedup"]
        results.append(
            {**common, "layout": layout, **timing, "speedup_over_mac_ratio": over_macs}
            | {"goal_met": measured >= goal}
        )
    return results


def row(r: dict) -> list:
    return [
        r["model"],
        r["removed"],
        r["layout"],
        f"{r['dense_ms']:.2f}",
        f"{r['pruned_ms']:.2f}",
        f"{r['speedup']:.2f}x ({r['speedup_min']:.2f}-{r['speedup_max']:.2f})",
        f"{r['mac_ratio']:.2f}x",
        f"{r['speedup_over_mac_ratio']:.2f}",
        f"{r['goal']}: {'met' if r['goal_met'] else 'MISSED'}",
        f"{r['params_dense']:,} -> {r['params_pruned']:,}",
        f"{r['bytes_dense'] / 1024:.0f} -> {r['bytes_pruned'] / 1024:.0f}",
        f"{100 * r['accuracy_dense']:.1f} / {100 * r['accuracy_pruned']:.1f} / "
        f"{100 * r['accuracy_fine_tuned']:.1f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--amount", type=float, default=0.5)
    parser.add_argument("--fine-tune-epochs", type=int, default=5)
    parser.add_argument(
        "--default-malloc", action="store_true", help="keep glibc's moving mmap threshold"
    )
    args = parser.parse_args()
    args.allocator = "glibc default" if args.default_malloc or not steady_heap() else "steady heap"
    torch.set_num_threads(args.threads)
    data = pl.load_digits(seed=0)
    results = [r for name in CASES for r in run_case(name, data, args)]
    header = [
        "model",
        "removed",
        "layout",
        "dense ms",
        "pruned ms",
        "speed-up (range over rounds)",
        "MAC ratio",
        "speed-up / MAC ratio",
        "goal",
        "parameters",
        "state_dict KB",
        "test accuracy % dense / pruned / fine-tuned",
    ]
    note = (
        f"\n\nCPU latency of one forward pass at batch {args.batch}, {args.threads} thread(s), "
        f"median of {args.rounds} alternating rounds of `measure_latency` (warm-up, eval, "
        "no autograd); the speed-up is the median of the per-round ratios, with their range. "
        f"Allocator: {args.allocator} (see `steady_heap`). "
        f"Fine-tuned {args.fine_tune_epochs} epochs after pruning; "
        "`prune_units(model, amount)` with L1 filter/neuron norms."
    )
    settings = {k: getattr(args, k) for k in ("threads", "batch", "rounds", "amount", "allocator")}
    write_results(
        "structured",
        {"settings": settings, "results": results},
        markdown_table(header, [row(r) for r in results]) + note,
        "Structured pruning: dense vs pruned, side by side",
    )


if __name__ == "__main__":
    main()
