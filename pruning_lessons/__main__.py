"""Command line: ``pruning-lessons demo`` (or ``python -m pruning_lessons demo``).

Run ``pruning-lessons --help`` (or ``demo --help``) for the options. torch is imported only
once the arguments are checked, so ``--help``, ``--version`` and mistakes answer at once;
every argument, output paths included, is checked before any training starts.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
from pathlib import Path

from . import __version__
from .weights.schedules import SCHEDULES

#: The pruners ``demo --method`` offers: the keys of ``pipeline.PRUNERS`` (a test keeps them
#: equal), listed here so that ``--help`` needs no torch.
METHODS = ("lamp", "magnitude", "movement", "random", "snip", "taylor")
#: File endings ``--plot`` accepts: formats every matplotlib >= 3.7 writes (a test checks them
#: against matplotlib's own list), named here so that a wrong one fails before any import.
PLOT_FORMATS = ("eps", "jpeg", "jpg", "pdf", "png", "ps", "svg", "svgz", "tif", "tiff")

DESCRIPTION = """\
Neural-network pruning on the scikit-learn digits, on your CPU, in seconds.

The demo trains the 64-300-100-10 MLP, then for each sparsity prunes a copy of it
(global magnitude pruning by default), fine-tunes it and reports the accuracy.
"""

EXAMPLES = """\
examples:
  {prog} demo
  {prog} demo --sparsity 0.9 0.95 --schedule cubic --seed 1
  {prog} demo --method random --json results.json --plot curve.png
  {prog} demo --method taylor --sparsity 0.9
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


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: ``prog: error: what (see prog --help)``."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def program_name(argv0: str | None = None) -> str:
    """The program as the user invoked it: ``pruning-lessons`` or ``python -m pruning_lessons``."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    name = os.path.basename(argv0)
    if name in ("__main__.py", "-c", "") or name.startswith("pytest"):
        return "python -m pruning_lessons"
    return name


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    prog = program_name() if prog is None else prog
    parser = _Parser(
        prog=prog,
        description=DESCRIPTION,
        epilog=EXAMPLES.format(prog=prog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )
    demo = commands.add_parser(
        "demo",
        help="train, prune and fine-tune the digits MLP; print a table",
        description=DESCRIPTION,
        epilog=EXAMPLES.format(prog=prog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument(
        "--method",
        choices=METHODS,
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
    demo.add_argument(
        "--plot",
        type=Path,
        metavar="PATH",
        help="also save a plot; the file name's ending picks the format (.png, .pdf, .svg, ...)",
    )
    grade = commands.add_parser(
        "grade",
        help="run a folder of submitted notebooks and every exercise's check; write a CSV",
        description="Check every exercise of each notebook under SUBMISSIONS_DIR (its "
        "definitions only, one sandboxed process per exercise, with a time limit), write a CSV "
        "(student file, exercise, status, message) row by row and print a summary.",
    )
    grade.add_argument("submissions", type=Path, metavar="SUBMISSIONS_DIR")
    grade.add_argument(
        "--csv",
        type=Path,
        metavar="PATH",
        help="where to write the grades, outside SUBMISSIONS_DIR "
        "(default: SUBMISSIONS_DIR-grades.csv beside the folder)",
    )
    grade.add_argument(
        "--timeout",
        type=_positive,
        default=600,
        metavar="SECONDS",
        help="time limit per exercise check (default: 600)",
    )
    lab = commands.add_parser(
        "lab",
        help="open the course in JupyterLab, with the course's quiet settings",
        description="Start JupyterLab on the course's notebooks/ folder with a settings "
        "overlay of the course's own (no news pop-up; no grading tools unless --teach). "
        "Your own JupyterLab settings stay as they are. Other options go to JupyterLab.",
    )
    lab.add_argument(
        "--teach", action="store_true", help="keep the grading tools (nbgrader) if installed"
    )
    commands.add_parser(  # its arguments live in llm/cli.py; main() hands it the command line
        "llm", help="prune a local transformers model folder (see llm --help)", add_help=False
    )
    return parser


def _writable_file(path: Path, option: str) -> str | None:
    """Why ``path`` cannot be written as a new or replaced file, or None if it can."""
    folder = path.parent
    if path.is_dir():
        return f"{option} {path} is a folder: give a file name"
    if not folder.exists():
        return f"{option} {path}: folder {folder} does not exist"
    if not folder.is_dir():
        return f"{option} {path}: {folder} is not a folder"
    if path.exists() and not os.access(path, os.W_OK):
        return f"{option} {path}: the file is read-only"
    try:  # the only sure test: create (and remove) a file in that folder
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".pruning-lessons-"):
            pass
    except OSError as error:
        return f"{option} {path}: cannot write in {folder} ({error.strerror or error})"
    return None


def check_outputs(args: argparse.Namespace) -> str | None:
    """Why the output paths cannot be used, or None: checked before any training."""
    outputs = [(p, option) for p, option in ((args.json, "--json"), (args.plot, "--plot")) if p]
    if args.json and args.plot and args.json.resolve() == args.plot.resolve():
        return f"--json and --plot name the same file, {args.json}"
    if args.plot is not None:
        suffix = args.plot.suffix.lower().lstrip(".")
        if suffix not in PLOT_FORMATS:
            known = ", ".join(f".{f}" for f in PLOT_FORMATS)
            return f"--plot {args.plot}: the name must end in one of {known}"
    for path, option in outputs:
        problem = _writable_file(path, option)
        if problem:
            return problem
    return None


def grade(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .teaching.grading import grade_folder, summary

    if not args.submissions.is_dir():
        parser.error(f"SUBMISSIONS_DIR {args.submissions} is not a folder")
    folder = args.submissions.resolve()
    csv_path = args.csv or folder.parent / f"{folder.name}-grades.csv"
    if not csv_path.parent.exists():
        parser.error(f"folder {csv_path.parent} does not exist")
    if csv_path.resolve().is_relative_to(folder):
        parser.error(f"--csv {csv_path} is inside SUBMISSIONS_DIR: write the grades elsewhere")
    grades = grade_folder(args.submissions, csv_path, timeout=args.timeout)
    print()
    print(summary(grades))
    print(f"\nsaved {csv_path}")
    return 0


def demo(args: argparse.Namespace) -> dict:
    import pruning_lessons as pl
    from pruning_lessons.core.train import progress_bar
    from pruning_lessons.weights.pipeline import prune_and_fine_tune, train_dense

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
    print(f"{args.scope} {args.method} pruning, {args.schedule} schedule; test accuracy:")
    print(f"{'sparsity':>9s} {'after pruning':>14s} {'after fine-tuning':>18s} {'non-zeros':>10s}")
    for r in rows:
        print(
            f"{r['sparsity']:9.1%} {r['after_pruning']:14.1%} {r['after_fine_tuning']:18.1%} "
            f"{r['nonzero_parameters']:10,}"
        )
    print(column_note(args))
    return results


def column_note(args: argparse.Namespace) -> str:
    """What the two accuracy columns mean for this schedule, and which one to compare."""
    if args.schedule == "one-shot":
        first = "after pruning: the trained model pruned once, before any fine-tuning"
    else:
        first = (
            f"after pruning: right after the last of {args.steps} pruning steps, so after "
            "the fine-tuning between earlier steps; not comparable with one-shot's"
        )
    return (
        f"{first}.\nafter fine-tuning: after all {args.fine_tune_epochs} fine-tuning epochs, "
        "the same budget for every schedule: compare schedules on this column."
    )


def save(results: dict, args: argparse.Namespace) -> None:
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"saved {args.json}")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        from .teaching.plots import accuracy_curves

        sparsities = [r["sparsity"] for r in results["rows"]]
        settings = results["settings"]
        after = "after pruning" if settings["schedule"] == "one-shot" else "after last pruning step"
        ax = accuracy_curves(
            {
                after: (sparsities, [r["after_pruning"] for r in results["rows"]]),
                "after fine-tuning": (
                    sparsities,
                    [r["after_fine_tuning"] for r in results["rows"]],
                ),
            },
            dense=results["dense_accuracy"],
        )
        ax.set_title(plot_title(settings, sparsities), fontsize=10)
        ax.figure.savefig(args.plot, dpi=120, bbox_inches="tight")
        print(f"saved {args.plot}")


def plot_title(settings: dict, sparsities: list[float]) -> str:
    """``global magnitude pruning, one-shot schedule, 50-95 % sparsity`` and the budget."""
    low, high = 100 * min(sparsities), 100 * max(sparsities)
    span = f"{low:.0f} %" if round(low) == round(high) else f"{low:.0f}-{high:.0f} %"
    steps = "" if settings["schedule"] == "one-shot" else f" ({settings['steps']} steps)"
    return (
        f"{settings['scope']} {settings['method']} pruning, {settings['schedule']} schedule"
        f"{steps}, {span} sparsity\n{settings['fine_tune_epochs']} fine-tuning epochs, "
        f"seed {settings['seed']}"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["llm"]:
        from .llm.cli import main as llm_main

        return llm_main(argv[1:], program_name())
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "lab":
        from .teaching.lab import run

        return run(teach=args.teach, extra=extra)
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "grade":
        return grade(args, parser)
    problem = check_outputs(args)
    if problem:
        parser.error(problem)
    try:
        save(demo(args), args)
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
    except OSError as error:  # e.g. the disk filled up while writing
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
