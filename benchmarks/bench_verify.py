"""What prune_units' self-check costs: one pruning call with ``verify=True`` (the default)
and with ``verify=False``, on every model of ``tests/zoo_models.py`` at 50 %.

The two calls alternate in this process, ``--rounds`` times (median), each at the library's
default threads; ``--full-size`` adds ``transformers``' default ResNet-50 and ViT-Base on one
224 x 224 image (random weights).

    python benchmarks/bench_verify.py      # writes results/verify.json and results/verify.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

from _common import load_average, markdown_table, write_results

import pruning_lessons as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from zoo_models import ZOO, build  # noqa: E402


def prune_seconds(model, example, amount: float, verify: bool) -> float:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pl.StructureWarning)
        pl.prune_units(model, amount, example_input=example, verify=verify)
    return time.perf_counter() - start


def study(name: str, model, example, amount: float, rounds: int) -> dict:
    checked, unchecked = [], []
    for _ in range(rounds):
        checked.append(prune_seconds(model, example, amount, True))
        unchecked.append(prune_seconds(model, example, amount, False))
    on, off = statistics.median(checked), statistics.median(unchecked)
    return {
        "model": name,
        "verify_s": on,
        "no_verify_s": off,
        "overhead": on / off - 1,
        "load_average": load_average(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--amount", type=float, default=0.5, help="fraction of units removed")
    parser.add_argument("--rounds", type=int, default=5, help="alternating timing rounds")
    parser.add_argument("--models", nargs="*", default=list(ZOO), help="zoo models to run")
    parser.add_argument("--full-size", action="store_true", help="add ResNet-50 and ViT-Base")
    args = parser.parse_args()
    warm, example = build("resnet18")
    prune_seconds(warm, example, args.amount, True)
    models = {name: build(name) for name in args.models}
    if args.full_size:
        from bench_zoo import full_size_models

        models.update({n: (m.eval(), x) for n, (m, x, _) in full_size_models().items()})
    rows = [study(n, m, x, args.amount, args.rounds) for n, (m, x) in models.items()]
    table = [
        [r["model"], f"{r['no_verify_s']:.3f}", f"{r['verify_s']:.3f}", f"{r['overhead']:+.0%}"]
        for r in rows
    ]
    overheads = sorted(r["overhead"] for r in rows)
    summary = (
        f"{args.amount:.0%} of the units of every prunable group removed; seconds per "
        f"prune_units call, median of {args.rounds} alternating rounds, on a shared CPU. "
        f"The self-check (two forward passes on example_input and the comparison) added "
        f"{statistics.median(overheads):+.0%} in the median, {overheads[0]:+.0%} to "
        f"{overheads[-1]:+.0%} over {len(rows)} models."
    )
    header = ["model", "verify=False s", "verify=True s", "cost of the check"]
    write_results(
        "verify",
        {"amount": args.amount, "rounds": args.rounds, "rows": rows},
        summary + "\n\n" + markdown_table(header, table),
        "The cost of prune_units' self-check",
    )


if __name__ == "__main__":
    main()
