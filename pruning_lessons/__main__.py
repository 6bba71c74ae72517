"""Command line: ``python -m pruning_lessons demo`` trains, prunes and prints a table.

Run ``python -m pruning_lessons --help`` (or ``demo --help``) for the options.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

from .schedules import SCHEDULES

DESCRIPTION = """\
Neural-network pruning on the scikit-learn digits, on your CPU, in seconds.

The demo trains the 64-300-100-10 MLP, then for each sparsity prunes a copy of it
(global magnitude pruning by default), fine-tunes it and reports the accuracy.
"""

EXAMPLES = """\
examples:
  python -m pruning_lessons demo
  python -m pruning_lessons demo --sparsity 0.9 0.95 --schedule cubic --seed 1
  python -m pruning_lessons demo --method random --json results.json --plot curve.png
  python -m pruning_lessons demo --method taylor --sparsity 0.9
"""


def _sparsity(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"sparsity must be in [0, 1), got {value}")
    return value


def _whole(minimum: int, name: str = "must"):
    """An argparse type: a whole number of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{name} be at least {minimum}, got {value}")
        return value

    return parse


_positive = _whole(1)
_seed = _whole(0, "seed must")


def build_parser() -> argparse.ArgumentParser:
    from .pipeline import PRUNERS

    parser = argparse.ArgumentParser(
        prog="python -m pruning_lessons",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="train, prune and fine-tune the digits MLP; print a table",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument(
        "--method",
        choices=sorted(PRUNERS),
        default="magnitude",
        help="what decides which weights go (default: magnitude); taylor and snip read "
        "training batches, movement spends part of the fine-tuning budget recording scores",
    )
    demo.add_argument(
        "--scope",
        choices=["global", "layer"],
        default="global",
        help="rank all layers together, or each layer alone (default: global)",
    )
    demo.add_argument(
        "--sparsity",
        type=_sparsity,
        nargs="+",
        default=[0.5, 0.8, 0.9, 0.95],
        metavar="S",
        help="fractions of weights to remove (default: 0.5 0.8 0.9 0.95)",
    )
    demo.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default="one-shot",
        help="prune at once, in steps, or on the cubic curve (default: one-shot)",
    )
    demo.add_argument(
        "--steps",
        type=_positive,
        default=5,
        help="pruning steps for iterative and cubic schedules (default: 5)",
    )
    demo.add_argument(
        "--train-epochs",
        type=_positive,
        default=30,
        metavar="N",
        help="epochs to train the dense model (default: 30)",
    )
    demo.add_argument(
        "--fine-tune-epochs",
        type=_positive,
        default=10,
        metavar="N",
        help="fine-tuning epochs after pruning, in total (default: 10)",
    )
    demo.add_argument("--seed", type=_seed, default=0, help="random seed (default: 0)")
    demo.add_argument("--json", type=Path, metavar="PATH", help="also save the results as JSON")
    demo.add_argument("--plot", type=Path, metavar="PATH", help="also save a plot as PNG")
    grade = commands.add_parser(
        "grade",
        help="run a folder of submitted notebooks and every exercise's check; write a CSV",
        description="Run each notebook under SUBMISSIONS_DIR (one process each, with a time "
        "limit), check every exercise it holds, write a CSV (student file, exercise, status, "
        "message) and print a summary.",
    )
    grade.add_argument("submissions", type=Path, metavar="SUBMISSIONS_DIR")
    grade.add_argument(
        "--csv",
        type=Path,
        metavar="PATH",
        help="where to write the grades (default: SUBMISSIONS_DIR/grades.csv)",
    )
    grade.add_argument(
        "--timeout",
        type=_positive,
        default=600,
        metavar="SECONDS",
        help="time limit per notebook (default: 600)",
    )
    return parser


def grade(args: argparse.Namespace) -> int:
    from .grading import grade_folder, summary

    parser = build_parser()
    if not args.submissions.is_dir():
        parser.error(f"SUBMISSIONS_DIR {args.submissions} is not a folder")
    csv_path = args.csv or args.submissions / "grades.csv"
    if not csv_path.parent.exists():
        parser.error(f"folder {csv_path.parent} does not exist")
    grades = grade_folder(args.submissions, csv_path, timeout=args.timeout)
    print()
    print(summary(grades))
    print(f"\nsaved {csv_path}")
    return 0


def demo(args: argparse.Namespace) -> dict:
    import pruning_lessons as pl
    from pruning_lessons.pipeline import prune_and_fine_tune, train_dense
    from pruning_lessons.train import progress_bar

    data = pl.load_digits(seed=0)
    dense, record = train_dense(pl.mlp, data, epochs=args.train_epochs, seed=args.seed)
    rows = []
    for sparsity in progress_bar(args.sparsity, desc="sparsities"):
        model, run = copy.deepcopy(dense), copy.deepcopy(record)
        prune_and_fine_tune(
            model,
            data,
            run,
            sparsity=sparsity,
            schedule=args.schedule,
            steps=args.steps,
            fine_tune_epochs=args.fine_tune_epochs,
            method=args.method,
            scope=args.scope,
            seed=args.seed,
        )
        pruned = [s for s in run.steps if s.step == "prune"][-1]  # the last pruning step
        rows.append(
            {
                "sparsity": pl.sparsity(model),
                "after_pruning": pruned.accuracy,
                "after_fine_tuning": run.final_accuracy,
                "nonzero_parameters": pl.count_nonzero(model),
            }
        )
    results = {
        "dense_accuracy": record.dense_accuracy,
        "dense_parameters": pl.count_parameters(dense),
        "settings": vars(args)
        | {
            "json": str(args.json) if args.json else None,
            "plot": str(args.plot) if args.plot else None,
        },
        "rows": rows,
    }
    print(
        f"dense MLP: {results['dense_accuracy']:.1%} test accuracy, "
        f"{results['dense_parameters']:,} parameters"
    )
    print(f"{'sparsity':>9s} {'pruned':>8s} {'fine-tuned':>11s} {'non-zero params':>16s}")
    for r in rows:
        print(
            f"{r['sparsity']:9.1%} {r['after_pruning']:8.1%} {r['after_fine_tuning']:11.1%} "
            f"{r['nonzero_parameters']:16,}"
        )
    return results


def save(results: dict, args: argparse.Namespace) -> None:
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"saved {args.json}")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        from .viz import accuracy_curves

        sparsities = [r["sparsity"] for r in results["rows"]]
        ax = accuracy_curves(
            {
                "after pruning": (sparsities, [r["after_pruning"] for r in results["rows"]]),
                "after fine-tuning": (
                    sparsities,
                    [r["after_fine_tuning"] for r in results["rows"]],
                ),
            },
            dense=results["dense_accuracy"],
        )
        ax.figure.savefig(args.plot, dpi=120)
        print(f"saved {args.plot}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "grade":
        return grade(args)
    for path in (args.json, args.plot):
        if path is not None and not path.parent.exists():
            build_parser().error(f"folder {path.parent} does not exist")
    save(demo(args), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
