"""Sparse from the start or pruned after training? RigL, SET and prune-after-training, equal budget.

    python benchmarks/bench_sparse_training.py [--seeds 3] [--sparsities 0.9 0.95 0.98] [--quick]

Digits MLP (64-300-100-10), every run trained for the same number of epochs in total:

* **prune after training**: dense for ``--dense-epochs``, one-shot magnitude pruning (global, and
  per layer: the per-layer split dynamic sparse training uses), then ``--fine-tune-epochs``;
* **RigL** / **SET** (``pruning_lessons.weights.sparse_training``): sparse from the first step
  for dense + fine-tune epochs, the mask moved every ``--update-every`` steps;
* **static**: the same random initial mask, never moved (what moving the mask buys).

A second table removes whole hidden neurons instead of weights, every hidden layer keeping the
same fraction (``--kept``), again at an equal budget of epochs:

* **prune after training**: dense for ``--dense-epochs``, the neurons with the smallest L2 norm
  of their incoming weights removed (``pl.prune_units``), then ``--fine-tune-epochs``;
* **group lasso** (``pl.group_lasso``, strength ``--lasso``): trained with the penalty for
  ``--dense-epochs``, then pruned and fine-tuned the same way;
* **L0 gates** (``pl.HardConcreteGates`` + ``pl.train_l0``): trained with hard-concrete gates
  steered to the target by a Lagrangian for ``--dense-epochs``, the closed neurons removed
  (``pl.remove_closed_units``), then fine-tuned the same way.

Besides test accuracy (mean +- std over seeds) the table gives each recipe's training compute
as a fraction of dense training: forward multiply-adds of the epochs run dense count 1, sparse
epochs count ``1 - sparsity`` (backward costs about twice the forward in both, so the ratio
holds for the whole step; RigL's dense gradient every ``update_every`` steps is left out).
Writes results/sparse_training.json and .md.
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
from _common import markdown_table, write_results
from _common import percent_cell as cell
from _common import seed_spread as spread

import pruning_lessons as pl
from pruning_lessons.weights.pipeline import prune_and_fine_tune, train_dense
from pruning_lessons.weights.sparse_training import sparse_train

RECIPES = ("after training, global", "after training, per layer", "RigL", "SET", "static")
UNIT_RECIPES = ("after training (L2 norm)", "group lasso", "L0 gates")


def compute(recipe: str, sparsity: float, args) -> float:
    """Training multiply-adds as a fraction of training the dense model for the same epochs."""
    total = args.dense_epochs + args.fine_tune_epochs
    if recipe.startswith("after training"):
        return (args.dense_epochs + args.fine_tune_epochs * (1 - sparsity)) / total
    return 1 - sparsity


def after_training(dense, record, data, sparsity, scope, args, seed) -> float:
    model, run = copy.deepcopy(dense), copy.deepcopy(record)
    prune_and_fine_tune(
        model,
        data,
        run,
        sparsity=sparsity,
        schedule="one-shot",
        fine_tune_epochs=args.fine_tune_epochs,
        scope=scope,
        seed=seed,
    )
    return run.final_accuracy


def from_the_start(method: str, data, sparsity: float, args, seed: int) -> float:
    pl.seed_everything(seed)
    model = pl.mlp()
    sparse_train(
        model,
        data,
        sparsity,
        method=method,
        epochs=args.dense_epochs + args.fine_tune_epochs,
        update_every=args.update_every,
        seed=seed,
        progress=False,
    )
    return pl.evaluate(model, data.test)


def cut_and_fine_tune(model, data, kept: float, args, seed: int) -> tuple[float, float]:
    """Remove ``1 - kept`` of every hidden layer's neurons by L2 norm, fine-tune, evaluate."""
    small = pl.prune_units(model, 1 - kept, importance="l2")
    return finish(small, data, args, seed), hidden_kept(small)


def finish(small, data, args, seed: int) -> float:
    pl.fine_tune(small, data, epochs=args.fine_tune_epochs, seed=seed, progress=False)
    return pl.evaluate(small, data.test)


def hidden_width(model) -> int:
    return sum(m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear)) - 10


def hidden_kept(model) -> float:
    """Hidden neurons left, as a fraction of the dense MLP's."""
    return hidden_width(model) / hidden_width(pl.mlp())


def unit_recipes(dense, data, kept: float, args, seed: int) -> dict[str, tuple[float, float]]:
    """Test accuracy and the hidden neurons kept, for each way of removing neurons."""
    results = {UNIT_RECIPES[0]: cut_and_fine_tune(copy.deepcopy(dense), data, kept, args, seed)}
    pl.seed_everything(seed)
    lasso = pl.mlp()
    penalty = pl.group_lasso(lasso, args.lasso)
    pl.fit(lasso, data, epochs=args.dense_epochs, penalty=penalty, seed=seed, progress=False)
    results[UNIT_RECIPES[1]] = cut_and_fine_tune(lasso, data, kept, args, seed)
    pl.seed_everything(seed)
    gated = pl.mlp()
    gates = pl.HardConcreteGates(gated, seed=seed)
    pl.train_l0(gated, gates, data, kept, epochs=args.dense_epochs, seed=seed, progress=False)
    small = pl.remove_closed_units(gated, gates)
    results[UNIT_RECIPES[2]] = finish(small, data, args, seed), hidden_kept(small)
    return results


def study(args, data) -> tuple[dict, dict, dict]:
    runs: dict[tuple[str, float], list[float]] = {}
    units: dict[tuple[str, float], list[tuple[float, float]]] = {}
    dense_accuracy = []
    for seed in args.seeds:
        dense, record = train_dense(pl.mlp, data, epochs=args.dense_epochs, seed=seed)
        dense_accuracy.append(record.dense_accuracy)
        for sparsity in args.sparsities:
            results = {
                RECIPES[0]: after_training(dense, record, data, sparsity, "global", args, seed),
                RECIPES[1]: after_training(dense, record, data, sparsity, "layer", args, seed),
                RECIPES[2]: from_the_start("rigl", data, sparsity, args, seed),
                RECIPES[3]: from_the_start("set", data, sparsity, args, seed),
                RECIPES[4]: from_the_start("static", data, sparsity, args, seed),
            }
            for recipe, accuracy in results.items():
                runs.setdefault((recipe, sparsity), []).append(accuracy)
                print(f"seed {seed} {sparsity:.0%} {recipe}: {accuracy:.2%}", flush=True)
        for kept in args.kept:
            for recipe, result in unit_recipes(dense, data, kept, args, seed).items():
                units.setdefault((recipe, kept), []).append(result)
                print(f"seed {seed} kept {kept:.0%} {recipe}: {result}", flush=True)
    table = {
        recipe: {f"{s}": spread(runs[recipe, s]) for s in args.sparsities} for recipe in RECIPES
    }
    unit_table = {
        recipe: {
            f"{k}": {
                **spread([a for a, _ in units[recipe, k]]),
                "kept": spread([kept for _, kept in units[recipe, k]]),
            }
            for k in args.kept
        }
        for recipe in UNIT_RECIPES
    }
    return spread(dense_accuracy), table, unit_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sparsities", type=float, nargs="+", default=[0.9, 0.95, 0.98])
    parser.add_argument("--dense-epochs", type=int, default=20)
    parser.add_argument("--fine-tune-epochs", type=int, default=10)
    parser.add_argument("--update-every", type=int, default=50, help="steps between mask moves")
    parser.add_argument("--kept", type=float, nargs="+", default=[0.5, 0.25, 0.1])
    parser.add_argument("--lasso", type=float, default=1e-3, help="group-lasso strength")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.sparsities, args.dense_epochs, args.fine_tune_epochs = 1, [0.9], 2, 1
        args.kept = [0.5]
    args.seeds = list(range(args.seeds))
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    dense, table, unit_table = study(args, pl.load_digits(seed=0))
    header = ["recipe", *[f"{s:.0%}" for s in args.sparsities], "training compute"]
    rows = [
        [
            recipe,
            *[cell(table[recipe][f"{s}"]) for s in args.sparsities],
            " / ".join(f"{compute(recipe, s, args):.2f}" for s in args.sparsities),
        ]
        for recipe in RECIPES
    ]
    epochs = args.dense_epochs + args.fine_tune_epochs
    text = (
        f"Dense MLP after {args.dense_epochs} epochs: {cell(dense)} % test accuracy over "
        f"{len(args.seeds)} seeds. Every recipe trains {epochs} epochs in total (Adam); "
        f"test accuracy in %, mean +- std over seeds.\n\n"
        + markdown_table(header, rows)
        + f"\n\nTraining compute: forward multiply-adds as a fraction of {epochs} dense epochs, "
        f"one value per sparsity. Masks of RigL / SET move every {args.update_every} steps "
        f"until 3/4 of training (cosine-decayed drop fraction 0.3). "
        + "\n\n## Whole neurons: learned L0 gates vs group lasso vs prune after training\n\n"
        + f"Every hidden layer keeps the same fraction of its neurons; {args.dense_epochs} "
        f"epochs of training (dense, with group lasso of strength {args.lasso}, or with "
        f"hard-concrete gates and a Lagrangian), then the cut, then {args.fine_tune_epochs} "
        "epochs of fine-tuning; test accuracy in %, mean +- std over seeds. The L0 gates keep "
        "at most the target; the last column gives the hidden neurons they did keep.\n\n"
        + markdown_table(
            ["recipe", *[f"{k:.0%} kept" for k in args.kept], "neurons kept"],
            [
                [
                    recipe,
                    *[cell(unit_table[recipe][f"{k}"]) for k in args.kept],
                    " / ".join(
                        f"{unit_table[recipe][f'{k}']['kept']['mean']:.3f}" for k in args.kept
                    ),
                ]
                for recipe in UNIT_RECIPES
            ],
        )
        + f"\n\n{args.threads} CPU thread(s), {time.perf_counter() - start:.0f} s in all."
    )
    settings = {k: v for k, v in vars(args).items() if k != "quick"}
    write_results(
        "sparse_training",
        {"settings": settings, "dense": dense, "recipes": table, "units": unit_table},
        text,
        "Sparse from the start vs pruned after training (digits MLP)",
    )


if __name__ == "__main__":
    main()
