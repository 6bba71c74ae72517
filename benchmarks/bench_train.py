"""How long the digits MLP takes to train, how accurate it gets, and whether it is reproducible.

    python benchmarks/bench_train.py [--seeds 3] [--threads 2]

Writes results/train.json and results/train.md.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from _common import markdown_table, write_results

import pruning_lessons as pl


def train_once(seed: int) -> tuple[float, float, pl.History]:
    data = pl.load_digits(seed=0)
    pl.seed_everything(seed)
    model = pl.mlp()
    start = time.perf_counter()
    history = pl.fit(model, data, seed=seed, progress=False)
    return time.perf_counter() - start, pl.evaluate(model, data.test), history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows, runs = [], []
    for seed in range(args.seeds):
        seconds, accuracy, history = train_once(seed)
        _, again, _ = train_once(seed)
        runs.append(
            {
                "seed": seed,
                "seconds": seconds,
                "test_accuracy": accuracy,
                "repeat_accuracy": again,
                "epochs": len(history.train_loss),
            }
        )
        rows.append(
            [
                seed,
                f"{seconds:.2f}",
                f"{100 * accuracy:.2f}",
                f"{100 * again:.2f}",
                "yes" if again == accuracy else "NO",
            ]
        )
    accs = [r["test_accuracy"] for r in runs]
    summary = {
        "mean_accuracy": statistics.mean(accs),
        "std_accuracy": statistics.pstdev(accs),
        "max_seconds": max(r["seconds"] for r in runs),
    }
    rows.append(
        [
            "mean",
            f"{statistics.mean(r['seconds'] for r in runs):.2f}",
            f"{100 * summary['mean_accuracy']:.2f} +- {100 * summary['std_accuracy']:.2f}",
            "",
            "",
        ]
    )
    table = markdown_table(
        ["seed", "train seconds", "test accuracy %", "same seed again %", "identical"], rows
    )
    note = (
        f"\n\nDigits 64-300-100-10 MLP, default `fit` (Adam, 30 epochs), "
        f"{args.threads} CPU threads."
    )
    write_results(
        "train",
        {"threads": args.threads, "runs": runs, "summary": summary},
        table + note,
        "Training the digits MLP",
    )


if __name__ == "__main__":
    main()
