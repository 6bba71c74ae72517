"""What perplexity hides: loss and top-1 accuracy on the bytes of names, after pruning.

    python benchmarks/bench_llm_names.py [--eval-tokens 200000] [--calibration 64]

The course's trained TinyLlama, pruned with row magnitude, Wanda and SparseGPT at 50 / 60 /
70 % and 2:4 (one calibration sample of ``--calibration`` windows of 128 bytes, seed 1000,
as bench_llm.py's first sample). On the first ``--eval-tokens`` bytes of the held-out files
(``llm.names.name_scores``): mean loss and top-1 accuracy on every byte, on the bytes of
attribute names seen earlier in the window (copied from context) and on those not seen
(recalled from the weights). The accuracy drops are paired (same bytes, dense vs pruned), with
their standard error. Writes results/llm_names.json and results/llm_names.md.
"""

from __future__ import annotations

import argparse
import copy
import json
import math

import torch
from _common import RESULTS, markdown_table, write_results
from tqdm.auto import tqdm

from pruning_lessons import llm
from pruning_lessons.llm.names import name_scores

TARGETS = {"50%": {"amount": 0.5}, "60%": {"amount": 0.6}, "70%": {"amount": 0.7}}
TARGETS["2:4"] = {"n_m": (2, 4)}
METHODS = ("magnitude", "wanda", "sparsegpt")
GROUPS = ("all", "memory", "context")


def paired_drop(dense: torch.Tensor, pruned: torch.Tensor) -> dict[str, float]:
    """Top-1 accuracy lost, in points, on the same bytes, with its standard error."""
    diff = dense.double() - pruned.double()
    se = float(diff.std() / math.sqrt(len(diff))) if len(diff) > 1 else float("nan")
    return {"points": 100 * float(diff.mean()), "se": 100 * se}


def points(drop: dict[str, float]) -> str:
    return f"{drop['points']:.1f} +- {drop['se']:.2f}"


def summary(scores: dict, dense: dict) -> dict:
    out = {}
    for group in GROUPS:
        out[group] = {
            "loss": scores[group]["loss"],
            "top1": scores[group]["top1"],
            "loss_rise": scores[group]["loss"] / dense[group]["loss"] - 1,
            "top1_drop": paired_drop(dense["hits"][group], scores["hits"][group]),
            "top1_relative_drop": 1 - scores[group]["top1"] / dense[group]["top1"],
        }
    return out


def measure(args) -> dict:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model, corpus = llm.load_tiny_llama(), llm.load_corpus(seed=0)
    test = corpus.test[: args.eval_tokens]
    calibration = llm.calibration_batches(corpus.train, args.calibration, 128, seed=1000)
    dense = name_scores(model, test)
    runs = {}
    for target in tqdm(TARGETS, desc="targets"):
        for method in METHODS:
            pruned = copy.deepcopy(model)
            llm.prune_llm(pruned, method, calibration, **TARGETS[target])
            runs[f"{method} {target}"] = summary(name_scores(pruned, test), dense)
    return {
        "eval_tokens": len(test),
        "calibration": args.calibration,
        "dense": {g: {k: dense[g][k] for k in ("loss", "top1", "bytes")} for g in GROUPS},
        "runs": runs,
    }


def report(data: dict) -> None:
    runs = data["runs"]
    rows = [
        [
            name,
            f"{math.exp(r['all']['loss']):.3f}",
            *(f"{100 * r[g]['loss_rise']:+.1f}" for g in GROUPS),
            *(points(r[g]["top1_drop"]) for g in GROUPS),
        ]
        for name, r in runs.items()
    ]
    header = ["pruned", "perplexity", *(f"loss rise % ({g})" for g in GROUPS)]
    header += [f"top-1 points lost ({g})" for g in GROUPS]
    d = data["dense"]
    text = (
        f"The course's TinyLlama on {data['eval_tokens']:,} held-out bytes; dense perplexity "
        f"{math.exp(d['all']['loss']):.3f}, top-1 {100 * d['all']['top1']:.1f} % on all bytes, "
        f"{100 * d['memory']['top1']:.1f} % on the {d['memory']['bytes']:,} bytes of names "
        f"recalled from memory, {100 * d['context']['top1']:.1f} % on the "
        f"{d['context']['bytes']:,} bytes of names seen earlier in the window. Calibration: "
        f"{data['calibration']} windows of 128 bytes, seed 1000. Top-1 points lost are paired "
        "(same bytes), +- one standard error."
    )
    write_results(
        "llm_names",
        data,
        f"{text}\n\n{markdown_table(header, rows)}",
        "What perplexity hides: the bytes of names after pruning",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-tokens", type=int, default=200_000)
    parser.add_argument("--calibration", type=int, default=64)
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite llm_names.md from the saved JSON"
    )
    args = parser.parse_args()
    if args.report_only:
        report(json.loads((RESULTS / "llm_names.json").read_text()))  # keeps its "machine"
    else:
        report(measure(args))


if __name__ == "__main__":
    main()
