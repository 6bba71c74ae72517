"""OWL (outlier-weighted layer-wise sparsity) against uniform sparsity on the course's small LLaMA.

    python benchmarks/bench_llm_owl.py [--samples 3] [--eval-tokens 32768] [--calibration 64]

OWL (Yin et al. 2024) gives every block its own sparsity: the blocks with the larger share of
outlier scores (Wanda scores above ``M`` times the block's mean) are pruned less, the others
more, within ``target +- lambda``, the mean held at the target (``llm.owl_sparsities``; the
paper's ``M = 5``, ``lambda = 0.08``). For row magnitude, Wanda and SparseGPT at 50 / 60 / 70 %
unstructured this script measures test perplexity with uniform sparsity (every block at the
target; the calibration windows of bench_llm.py) and with OWL's
sparsities, mean +- std over ``--samples`` calibration samples (uniform magnitude needs no data:
one value; OWL magnitude needs the calibration for its outlier ratios). It saves each block's
outlier ratio and the sparsity OWL chose, per sample. At 70 %, on the first sample, two
controls: ``lambda`` halved and doubled, and OWL *reversed* (the blocks with more outliers
pruned more), which says whether the direction matters or any spread would do.
Writes results/llm_owl.json and .md.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from _common import markdown_table, write_results
from tqdm.auto import tqdm

from pruning_lessons import llm
from pruning_lessons.llm.owl import spread_sparsities

LEVELS = (0.5, 0.6, 0.7)
METHODS = ("magnitude", "wanda", "sparsegpt")
OUTLIER_M, SPREAD = 5.0, 0.08


def pruned_perplexity(model, method, calibration, amount, test) -> float:
    pruned = copy.deepcopy(model)
    llm.prune_llm(pruned, method, calibration, amount)
    return llm.perplexity(pruned, test)


def measure(args, model, corpus) -> dict:
    test = corpus.test[: args.eval_tokens]
    samples = [
        llm.calibration_batches(corpus.train, args.calibration, 128, seed=1000 + s)
        for s in range(args.samples)
    ]
    ratios, seconds = [], []
    for calibration in samples:
        start = time.perf_counter()
        ratios.append(llm.owl_outlier_ratios(model, calibration, outlier_m=OUTLIER_M))
        seconds.append(time.perf_counter() - start)
    chosen = {
        f"{level:.0%}": [spread_sparsities(r, level, SPREAD) for r in ratios] for level in LEVELS
    }
    runs = {f"{level:.0%}": {m: {"uniform": [], "owl": []} for m in METHODS} for level in LEVELS}
    jobs = [(lv, m, s) for lv in LEVELS for m in METHODS for s in range(args.samples)]
    for level, method, s in tqdm(jobs, desc="uniform and OWL"):
        run = runs[f"{level:.0%}"][method]
        if method != "magnitude" or s == 0:
            run["uniform"].append(pruned_perplexity(model, method, samples[s], level, test))
        owl = chosen[f"{level:.0%}"][s]
        run["owl"].append(pruned_perplexity(model, method, samples[s], owl, test))
    level = max(LEVELS)
    variants = {
        f"lambda {SPREAD / 2:g}": spread_sparsities(ratios[0], level, SPREAD / 2),
        f"lambda {SPREAD * 2:g}": spread_sparsities(ratios[0], level, SPREAD * 2),
        "reversed": spread_sparsities({k: -v for k, v in ratios[0].items()}, level, SPREAD),
    }
    controls = {m: {} for m in METHODS}
    for method in tqdm(METHODS, desc="controls at 70 %"):
        for name, amounts in variants.items():
            controls[method][name] = pruned_perplexity(model, method, samples[0], amounts, test)
    return {
        "dense": llm.perplexity(model, test),
        "eval_tokens": len(test),
        "calibration": args.calibration,
        "samples": args.samples,
        "outlier_m": OUTLIER_M,
        "spread": SPREAD,
        "outlier_ratios": ratios,
        "owl_seconds": seconds,
        "sparsities": chosen,
        "runs": runs,
        "controls_level": f"{level:.0%}",
        "control_sparsities": variants,
        "controls": controls,
    }


def spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.fmean(values):.3f} +- {statistics.stdev(values):.3f}"


def verdict(run: dict) -> str:
    """``OWL better`` / ``OWL worse`` beyond the spread over calibration samples, else ``tie``."""
    uniform, owl = statistics.fmean(run["uniform"]), statistics.fmean(run["owl"])
    noise = max(statistics.stdev(v) if len(v) > 1 else 0.0 for v in (run["uniform"], run["owl"]))
    if owl + noise < uniform:
        return "OWL better"
    if owl - noise > uniform:
        return "OWL worse"
    return "tie"


def render(data: dict) -> str:
    rows = []
    for level, methods in data["runs"].items():
        for method, run in methods.items():
            change = statistics.fmean(run["owl"]) - statistics.fmean(run["uniform"])
            rows.append(
                [
                    level,
                    method,
                    spread(run["uniform"]),
                    spread(run["owl"]),
                    f"{change:+.3f}",
                    verdict(run),
                ]
            )
    table = markdown_table(
        ["target", "method", "uniform", "OWL", "OWL - uniform", "beyond the spread"], rows
    )
    blocks = list(data["outlier_ratios"][0])
    ratio_rows = []
    for b in blocks:
        values = [r[b] for r in data["outlier_ratios"]]
        cells = [
            f"{statistics.fmean(s[b] for s in data['sparsities'][lv]):.3f}"
            for lv in data["sparsities"]
        ]
        ratio_rows.append([b, f"{100 * statistics.fmean(values):.2f} %", *cells])
    ratio_table = markdown_table(
        [
            "block",
            f"outlier ratio (score > {data['outlier_m']:g} x mean)",
            *[f"OWL sparsity at {lv}" for lv in data["sparsities"]],
        ],
        ratio_rows,
    )
    control_rows = [
        [method, *(f"{v:.3f}" for v in values.values())]
        for method, values in data["controls"].items()
    ]
    names = list(next(iter(data["controls"].values())))
    control_table = markdown_table(["method", *names], control_rows)
    better = sum(verdict(r) == "OWL better" for m in data["runs"].values() for r in m.values())
    worse = sum(verdict(r) == "OWL worse" for m in data["runs"].values() for r in m.values())
    total = sum(len(m) for m in data["runs"].values())
    return "\n".join(
        [
            f"Test perplexity on {data['eval_tokens']:,} bytes (dense {data['dense']:.3f}); "
            f"calibration {data['calibration']} x 128 bytes, mean +- std over {data['samples']} "
            f"samples; OWL with M = {data['outlier_m']:g}, lambda = {data['spread']:g}.",
            "",
            f"- OWL beats uniform beyond the spread in {better} of {total} cells, loses in "
            f"{worse}, ties in {total - better - worse} (generated).",
            f"- Outlier ratios and sparsities in one call: "
            f"{statistics.fmean(data['owl_seconds']):.1f} s.",
            "",
            table,
            "",
            "## Outlier ratio and OWL's sparsity per block (mean over samples)",
            "",
            ratio_table,
            "",
            f"## Controls at {data['controls_level']} (first calibration sample)",
            "",
            control_table,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=3, help="calibration samples")
    parser.add_argument("--eval-tokens", type=int, default=32768, help="test bytes evaluated")
    parser.add_argument("--calibration", type=int, default=64, help="sequences of 128 bytes")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = llm.load_tiny_llama()
    corpus = llm.load_corpus(seed=0)
    data = measure(args, model, corpus)
    write_results("llm_owl", data, render(data), "OWL against uniform sparsity")


if __name__ == "__main__":
    main()
