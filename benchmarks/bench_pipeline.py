"""The pruning pipeline on the digits: schedules, lottery tickets and channel pruning, 3 seeds.

    python benchmarks/bench_pipeline.py [--seeds 3] [--methods magnitude lamp] [--quick]

* MLP 64-300-100-10, global pruning to 80 / 90 / 95 / 98 % with one-shot, iterative and
  cubic schedules, each with the same fine-tuning budget (``--fine-tune-epochs``).
* Lottery tickets: iterative magnitude pruning with rewinding to the initial weights,
  against the same mask on a random re-initialisation.
* CNN with 50 % of its channels removed (``prune_units``), then fine-tuned.

Everything is mean +- std over seeds (population std). Writes results/pipeline.json, .md and
pipeline.png (accuracy against sparsity), which lessons 05 and 06 read.
"""

from __future__ import annotations

import argparse
import copy

import matplotlib

matplotlib.use("Agg")
import torch  # noqa: E402
from _common import RESULTS, markdown_table, write_results
from _common import percent_cell as cell
from _common import seed_spread as spread  # noqa: E402

import pruning_lessons as pl  # noqa: E402
from pruning_lessons.teaching.plots import accuracy_curves  # noqa: E402
from pruning_lessons.weights.pipeline import lottery_ticket, prune_and_fine_tune, train_dense  # noqa: E402

SCHEDULES = ("one-shot", "iterative", "cubic")


def mlp_study(args, data) -> tuple[dict, dict]:
    dense_acc, runs = [], {}
    for seed in args.seeds:
        dense, record = train_dense(pl.mlp, data, epochs=args.train_epochs, seed=seed)
        dense_acc.append(record.dense_accuracy)
        for method in args.methods:
            for schedule in SCHEDULES:
                for sparsity in args.sparsities:
                    model, run = copy.deepcopy(dense), copy.deepcopy(record)
                    prune_and_fine_tune(
                        model,
                        data,
                        run,
                        sparsity=sparsity,
                        schedule=schedule,
                        steps=args.steps,
                        fine_tune_epochs=args.fine_tune_epochs,
                        method=method,
                        lr=args.lr,
                        seed=seed,
                    )
                    key = (method, schedule, sparsity)
                    runs.setdefault(key, []).append(run.final_accuracy)
                    print(
                        f"seed {seed} {method} {schedule} {sparsity:.0%}: {run.final_accuracy:.2%}",
                        flush=True,
                    )
    table = {}
    for (method, schedule, sparsity), values in runs.items():
        table.setdefault(method, {}).setdefault(schedule, {})[f"{sparsity}"] = spread(values)
    return spread(dense_acc), table


def lottery_study(args, data) -> dict:
    out = {}
    for sparsity in args.sparsities:
        tickets, controls = [], []
        for seed in args.seeds:
            _, record, _, control_record = lottery_ticket(
                pl.mlp,
                data,
                sparsity=sparsity,
                rounds=args.rounds,
                epochs=args.train_epochs,
                seed=seed,
            )
            tickets.append(record.final_accuracy)
            controls.append(control_record.final_accuracy)
        out[f"{sparsity}"] = {"ticket": spread(tickets), "random_reinit": spread(controls)}
        print(
            f"lottery {sparsity:.0%}: {cell(out[f'{sparsity}']['ticket'])} vs "
            f"{cell(out[f'{sparsity}']['random_reinit'])}",
            flush=True,
        )
    return out


def cnn_study(args, data) -> dict:
    dense_acc, pruned_acc, recalibrated_acc, tuned_acc = [], [], [], []
    for seed in args.seeds:
        dense, record = train_dense(pl.cnn, data, epochs=args.cnn_epochs, seed=seed)
        pruned = pl.prune_units(dense, 0.5)
        pruned_acc.append(pl.evaluate(pruned, data.test))
        pl.recalibrate_bn(pruned, data)  # fresh BatchNorm statistics, no gradient step
        recalibrated_acc.append(pl.evaluate(pruned, data.test))
        pl.fit(
            pruned,
            data,
            epochs=args.fine_tune_epochs,
            lr=args.lr,
            seed=seed,
            lr_schedule="cosine",
            desc="fine-tune",
        )
        dense_acc.append(record.dense_accuracy)
        tuned_acc.append(pl.evaluate(pruned, data.test))
    result = {
        "dense": spread(dense_acc),
        "after_pruning": spread(pruned_acc),
        "after_recalibration": spread(recalibrated_acc),
        "fine_tuned": spread(tuned_acc),
        "parameters": [pl.count_parameters(dense), pl.count_parameters(pruned)],
    }
    print(
        f"cnn 50% channels: dense {cell(result['dense'])}, fine-tuned {cell(result['fine_tuned'])}",
        flush=True,
    )
    return result


def _best(mlp: dict, key: str) -> tuple[float, str] | None:
    """The best mean accuracy at sparsity ``key`` over methods and schedules, and its name."""
    found = [
        (by[key]["mean"], f"{m}/{sch}")
        for m, schedules in mlp.items()
        for sch, by in schedules.items()
        if key in by
    ]
    return max(found) if found else None


def goals(dense: dict, mlp: dict, lottery: dict, cnn: dict) -> list[list[str]]:
    """The issue's goals, each with what was measured (the best schedule and method)."""
    rows = []
    for key, words, passes in [
        ("0.9", "within 0.3 points of dense", lambda a: a >= dense["mean"] - 0.003),
        ("0.95", "within 0.5 points of dense", lambda a: a >= dense["mean"] - 0.005),
        ("0.98", ">= 95.5 %", lambda a: a >= 0.955),
    ]:
        best = _best(mlp, key)
        if best:
            rows.append(
                [
                    f"MLP {float(key):.0%}",
                    words,
                    f"{100 * best[0]:.2f} ({best[1]})",
                    "met" if passes(best[0]) else "MISSED",
                ]
            )
    gap = cnn["dense"]["mean"] - cnn["fine_tuned"]["mean"]
    rows.append(
        [
            "CNN, 50% channels",
            "within 1 point of dense",
            f"{100 * abs(gap):.2f} points {'below' if gap > 0 else 'above'} dense",
            "met" if gap <= 0.01 else "MISSED",
        ]
    )
    if "0.95" in lottery:
        t, r = lottery["0.95"]["ticket"]["mean"], lottery["0.95"]["random_reinit"]["mean"]
        rows.append(
            [
                "lottery ticket 95%",
                "beats random re-init",
                f"{100 * t:.2f} vs {100 * r:.2f}",
                "met" if t > r else "MISSED",
            ]
        )
    return rows


def plot(dense: dict, mlp: dict, lottery: dict, sparsities: list[float]) -> None:
    curves, errors = {}, {}
    for method, by in mlp.items():
        for schedule, stats in by.items():
            name = f"{method}, {schedule}"
            curves[name] = (sparsities, [stats[f"{s}"]["mean"] for s in sparsities])
            errors[name] = [stats[f"{s}"]["std"] for s in sparsities]
    curves["lottery ticket"] = (sparsities, [lottery[f"{s}"]["ticket"]["mean"] for s in sparsities])
    errors["lottery ticket"] = [lottery[f"{s}"]["ticket"]["std"] for s in sparsities]
    ax = accuracy_curves(curves, dense=dense["mean"], errors=errors)
    ax.set_ylim(max(0, 100 * min(min(c[1]) for c in curves.values()) - 2), 100)
    ax.set_title("Digits MLP: accuracy after pruning and fine-tuning (mean +- std)")
    ax.figure.set_size_inches(8, 4.5)
    ax.figure.savefig(RESULTS / "pipeline.png", dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--methods", nargs="+", default=["magnitude", "lamp"])
    parser.add_argument("--sparsities", type=float, nargs="+", default=[0.8, 0.9, 0.95, 0.98])
    parser.add_argument("--train-epochs", type=int, default=30)
    parser.add_argument("--fine-tune-epochs", type=int, default=60)
    parser.add_argument("--cnn-epochs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5, help="lottery-ticket rounds")
    parser.add_argument("--lr", type=float, default=2e-3, help="fine-tuning learning rate")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.sparsities, args.methods = 1, [0.9], ["magnitude"]
        args.train_epochs = args.fine_tune_epochs = args.cnn_epochs = 2
        args.rounds = 2
    args.seeds = list(range(args.seeds))
    torch.set_num_threads(args.threads)
    data = pl.load_digits(seed=0)
    dense, mlp = mlp_study(args, data)
    lottery = lottery_study(args, data)
    cnn = cnn_study(args, data)
    plot(dense, mlp, lottery, args.sparsities)

    header = ["method", "schedule", *[f"{s:.0%}" for s in args.sparsities]]
    rows = [
        [m, sch, *[cell(by[f"{s}"]) for s in args.sparsities]]
        for m, schedules in mlp.items()
        for sch, by in schedules.items()
    ]
    rows.append(
        [
            "lottery ticket",
            "rewind to init",
            *[cell(lottery[f"{s}"]["ticket"]) for s in args.sparsities],
        ]
    )
    rows.append(
        [
            "same mask",
            "random re-init",
            *[cell(lottery[f"{s}"]["random_reinit"]) for s in args.sparsities],
        ]
    )
    text = (
        f"Dense MLP: {cell(dense)} % test accuracy over {len(args.seeds)} seeds.\n\n"
        + markdown_table(header, rows)
        + "\n\n"
        + markdown_table(["goal", "target", "measured", "status"], goals(dense, mlp, lottery, cnn))
        + f"\n\nFine-tuning budget: {args.fine_tune_epochs} epochs (Adam, lr {args.lr}) for "
        f"every schedule; iterative and cubic use {args.steps} pruning steps in the first "
        f"half of it, then recover at the final sparsity with a cosine decay. Lottery "
        f"tickets: {args.rounds} rounds of {args.train_epochs} epochs. CNN: "
        f"{cell(cnn['dense'])} dense, {cell(cnn['after_pruning'])} right after removing "
        f"50 % of the channels, {cell(cnn['after_recalibration'])} once BatchNorm statistics "
        f"are recalibrated (one pass of training data, no gradient step), "
        f"{cell(cnn['fine_tuned'])} after fine-tuning. "
        f"{args.threads} CPU thread(s).\n\n![accuracy against sparsity](pipeline.png)"
    )
    settings = {k: v for k, v in vars(args).items() if k != "quick"}
    write_results(
        "pipeline",
        {
            "settings": settings,
            "dense": dense,
            "mlp": mlp,
            "lottery": lottery,
            "cnn_channels_50": cnn,
        },
        text,
        "The pruning pipeline on the digits",
    )


if __name__ == "__main__":
    main()
