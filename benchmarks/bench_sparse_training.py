"""Sparse from the start (RigL, SET, a static random mask) against prune-after-training.

    python benchmarks/bench_sparse_training.py [--seeds 3] [--epochs 30]

On the digits MLP (64-300-100-10), at 90, 95 and 98 % sparsity, every method gets the same
budget of ``--epochs`` passes over the training split:

* **prune after training**: dense training for two thirds of the budget, magnitude pruning
  (per layer, the sparse runs' distribution, and global), fine-tuning for the last third;
* **RigL / SET / static**: ``pl.weights.dynamic.sparse_train`` for the whole budget, at the
  same sparsity in every layer, regrowing by gradient, at random, or never.

Test accuracy, mean +- std over ``--seeds`` seeds (the same dense start per seed for the
pruned runs). Writes results/sparse_training.json and .md.
"""

from __future__ import annotations

import argparse
import copy
import statistics

import torch
from _common import markdown_table, write_results
from tqdm.auto import tqdm

import pruning_lessons as pl
from pruning_lessons.weights.dynamic import sparse_train

SPARSITIES = (0.9, 0.95, 0.98)
METHODS = ("prune after training, per layer", "prune after training, global")
METHODS += ("RigL", "SET", "static random mask")
REGROW = {"RigL": "gradient", "SET": "random", "static random mask": "none"}


def run(seed: int, epochs: int, data) -> dict[str, dict[str, float]]:
    dense_epochs = 2 * epochs // 3
    torch.manual_seed(seed)
    dense = pl.mlp()
    pl.fit(dense, data, epochs=dense_epochs, seed=seed, progress=False)
    torch.manual_seed(seed)
    full = pl.mlp()
    pl.fit(full, data, epochs=epochs, seed=seed, progress=False)
    out = {"dense": {"0": pl.evaluate(full, data.test)}}
    for sparsity in SPARSITIES:
        for scope, method in (("layer", METHODS[0]), ("global", METHODS[1])):
            pruned = copy.deepcopy(dense)
            pl.prune_weights(pruned, sparsity, criterion="magnitude", scope=scope)
            pl.fine_tune(pruned, data, epochs=epochs - dense_epochs, seed=seed, progress=False)
            out.setdefault(method, {})[str(sparsity)] = pl.evaluate(pruned, data.test)
        for method, regrow in REGROW.items():
            torch.manual_seed(seed)
            model = pl.mlp()
            sparse_train(model, data, sparsity, regrow=regrow, epochs=epochs, seed=seed)
            out.setdefault(method, {})[str(sparsity)] = pl.evaluate(model, data.test)
    return out


def spread(values: list[float]) -> str:
    return f"{statistics.fmean(values):.1%} +- {statistics.pstdev(values):.1%}"


def render(data: dict) -> str:
    runs = data["runs"]
    rows = []
    for method in METHODS:
        rows.append([method] + [spread([r[method][str(s)] for r in runs]) for s in SPARSITIES])
    dense = spread([r["dense"]["0"] for r in runs])
    best = {}
    for s in SPARSITIES:
        means = {m: statistics.fmean(r[m][str(s)] for r in runs) for m in METHODS}
        best[s] = max(means, key=means.get)
    lines = [
        f"Digits MLP, test accuracy (mean +- std over {len(runs)} seeds); every method trained "
        f"for {data['epochs']} epochs in all. Dense, {data['epochs']} epochs: {dense}.",
        "",
        markdown_table(["method"] + [f"{s:.0%}" for s in SPARSITIES], rows),
        "",
        "What the numbers say (generated):",
        "",
    ]
    lines += [f"- {s:.0%}: highest mean accuracy: {best[s]}." for s in SPARSITIES]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds per method")
    parser.add_argument("--epochs", type=int, default=30, help="training budget in epochs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = pl.load_digits(seed=0)
    runs = [run(seed, args.epochs, data) for seed in tqdm(range(args.seeds), desc="seeds")]
    result = {"epochs": args.epochs, "sparsities": list(SPARSITIES), "runs": runs}
    title = "Sparse training against prune-after-training at an equal budget"
    write_results("sparse_training", result, render(result), title)


if __name__ == "__main__":
    main()
