"""Full-size CPU latency after structured pruning: measured speed-up next to the MAC ratio.

ResNet-50 and ViT-B/16 (``full_size.py``: random weights, no download) pruned with
``pl.prune_units`` at 30 % and 50 % (its defaults: ResNet-50 loses channels of every
prunable group, the residual widths included; ViT-B/16 loses whole attention heads and MLP
width, its model width being what LayerNorm normalises over and kept), then timed at batch 1
and 32 on the CPU at torch's default thread count, in two runtimes: eager PyTorch, and
TorchScript traced and frozen (``torch.jit.freeze``: weights become constants, BatchNorm is
folded into the convolutions). Dense and pruned models are timed alternately (dense, 30 %,
50 %, then 50 %, 30 %, dense, ...) after one warm-up call each; the speed-up is the dense
median over the pruned median. The MAC ratio is dense MACs over pruned MACs
(``pl.count_macs``), the speed-up MACs alone promise.

    python benchmarks/bench_latency.py     # writes results/latency.json and results/latency.md
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch
from _common import load_average, markdown_table, write_results
from full_size import image, resnet50, vit_b_16
from torch import nn

import pruning_lessons as pl

AMOUNTS = (0.3, 0.5)
BATCHES = (1, 32)


class Logits(nn.Module):
    """The logits of a ``transformers`` classifier: one tensor, as tracing wants."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).logits


def frozen(model: nn.Module, x: torch.Tensor) -> torch.jit.ScriptModule:
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.jit.freeze(torch.jit.trace(Logits(model).eval(), x))


def eager(model: nn.Module, x: torch.Tensor) -> nn.Module:
    return Logits(model).eval()


RUNTIMES = {"eager": eager, "TorchScript (frozen)": frozen}


def pruned_units(model: nn.Module) -> str:
    """What the pruned model has left, in its own terms (heads and MLP width, or widths)."""
    heads = [m.num_attention_heads for m in model.modules() if hasattr(m, "head_dim")]
    if heads:
        mlp = next(
            m.out_features
            for n, m in model.named_modules()
            if isinstance(m, nn.Linear) and n.endswith(("fc1", "intermediate.dense"))
        )
        return f"{heads[0]} heads, MLP {mlp} (first layer)"
    widths = sorted({m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)})
    return f"conv widths {widths[0]}-{widths[-1]}"


def timings(runners: dict, x: torch.Tensor, reps: int) -> dict[str, float]:
    """Median seconds per call of each runner, alternated forward and backward."""
    times: dict[str, list[float]] = {name: [] for name in runners}
    order = list(runners)
    with torch.no_grad():
        for run in runners.values():
            run(x)  # warm-up
        for r in range(reps):
            for name in order if r % 2 == 0 else reversed(order):
                start = time.perf_counter()
                runners[name](x)
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def study(name: str, build, reps: dict[int, int]) -> dict:
    dense = build()
    one = image(1)
    models = {"dense": dense}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pl.StructureWarning)
        for amount in AMOUNTS:
            models[f"{amount:.0%}"] = pl.prune_units(dense, amount, example_input=one)
    macs = {k: pl.count_macs(m, one) for k, m in models.items()}
    row: dict = {
        "model": name,
        "params": {k: pl.count_parameters(m) for k, m in models.items()},
        "macs": macs,
        "units": {k: pruned_units(m) for k, m in models.items()},
        "threads": torch.get_num_threads(),
        "results": [],
    }
    for runtime, make in RUNTIMES.items():
        for batch in BATCHES:
            x = image(batch)
            runners = {k: make(m, x) for k, m in models.items()}
            row["results"].append(
                {
                    "runtime": runtime,
                    "batch": batch,
                    "reps": reps[batch],
                    "load_average": load_average(),
                    "seconds": timings(runners, x, reps[batch]),
                }
            )
            print(name, runtime, batch, row["results"][-1]["seconds"], flush=True)
    return row


def table(rows: list[dict]) -> str:
    header = ["model", "runtime", "batch", "reps", "dense ms"]
    for amount in AMOUNTS:
        header += [f"{amount:.0%}: MAC ratio", f"{amount:.0%}: speed-up"]
    lines = []
    for row in rows:
        for r in row["results"]:
            cells = [row["model"], r["runtime"], r["batch"], r["reps"]]
            cells.append(f"{1000 * r['seconds']['dense']:.0f}")
            for amount in AMOUNTS:
                key = f"{amount:.0%}"
                cells.append(f"{row['macs']['dense'] / row['macs'][key]:.2f}x")
                cells.append(f"{r['seconds']['dense'] / r['seconds'][key]:.2f}x")
            lines.append(cells)
    return markdown_table(header, lines)


def page(rows: list[dict]) -> str:
    loads = [r["load_average"] for row in rows for r in row["results"] if r["load_average"]]
    units = "; ".join(
        f"{row['model']}: " + ", ".join(f"{k} {v}" for k, v in row["units"].items()) for row in rows
    )
    params = "; ".join(
        f"{row['model']}: " + ", ".join(f"{k} {v:,}" for k, v in row["params"].items())
        for row in rows
    )
    load = f"{min(loads):.1f}-{max(loads):.1f}" if loads else "unknown"
    return (
        "Measured CPU speed-up (dense median / pruned median, alternated) next to the MAC "
        "ratio (dense MACs / pruned MACs) after `pl.prune_units` at 30 % and 50 %, at "
        f"torch's default {rows[0]['threads']} threads, one warm-up call each, medians of "
        "'reps' calls per model (fewer at batch 32, where one ViT-B/16 call takes seconds). "
        f"What is left: {units}. Parameters: {params}. On a shared CPU (1-minute load "
        f"average {load} while measuring): the ratios are measured side by side, the "
        "absolute times are not the machine's best.\n\n" + table(rows)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps-1", type=int, default=3, help="timed calls at batch 1")
    parser.add_argument("--reps-32", type=int, default=2, help="timed calls at batch 32")
    args = parser.parse_args()
    reps = {1: args.reps_1, 32: args.reps_32}
    rows = [
        study("ResNet-50", resnet50, reps),
        study("ViT-B/16", vit_b_16, {1: reps[1], 32: max(1, reps[32] - 1)}),
    ]
    write_results("latency", {"rows": rows}, page(rows), "Full-size CPU latency after pruning")


if __name__ == "__main__":
    main()
