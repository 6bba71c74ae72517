"""Post-training pruning of the course's small LLaMA-style model: perplexity and time.

    python benchmarks/bench_llm.py [--samples 3] [--eval-tokens 32768] [--calibration 64]

Loads the checkpoint made by train_tiny_llama.py (Python standard library, bytes). For dense,
row magnitude, Wanda and SparseGPT at 50 / 60 / 70 % unstructured and 2:4: test perplexity,
mean +- std over ``--samples`` calibration samples (different random windows of the training
bytes; magnitude needs none, so it has one value), and the time of each pruning call. Then
Wanda and SparseGPT at 50 % with 1 / 4 / 16 / 64 / 256 calibration sequences. Then the
evidence for *why* the methods rank as they do: the spread of the input-feature norms
``||X_j||`` (outlier features are what break magnitude pruning in large LLMs). Then depth:
the blocks with the lowest Block Influence dropped (ShortGPT), without recovery (recovery by
distillation, plain fine-tuning and from scratch is measured by bench_llm_depth.py and
bench_llm_width.py; their rows are summed up here). Perplexity is measured on the first
``--eval-tokens`` bytes of the test files (windows of 128). Writes results/llm.json,
results/llm.md and results/llm.png; ``--report-only`` rewrites llm.md from the saved JSON
files without measuring again.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from _common import RESULTS, markdown_table, write_results  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

import pruning_lessons as pl  # noqa: E402
from pruning_lessons import llm  # noqa: E402

TARGETS = {"50%": {"amount": 0.5}, "60%": {"amount": 0.6}, "70%": {"amount": 0.7}}
TARGETS["2:4"] = {"n_m": (2, 4)}
METHODS = ("magnitude", "wanda", "sparsegpt")


def pruned_perplexity(model, method, calibration, target, test) -> tuple[float, float]:
    pruned = copy.deepcopy(model)
    start = time.perf_counter()
    llm.prune_llm(pruned, method, calibration, **target)
    seconds = time.perf_counter() - start
    return llm.perplexity(pruned, test), seconds


def spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} +- {statistics.stdev(values):.3f}"


def outlier_table(model, calibration) -> dict[str, dict[str, float]]:
    """Per projection kind: mean and max over blocks of max / median input-feature norm."""
    norms = llm.input_norms(model, calibration)
    ratios: dict[str, list[float]] = {}
    for name, values in norms.items():
        ratios.setdefault(name.rpartition(".")[2], []).append(float(values.max() / values.median()))
    return {k: {"mean": statistics.mean(r), "largest": max(r)} for k, r in ratios.items()}


def measure(args, model, corpus) -> dict:
    """Every number of the page, JSON-shaped (string keys)."""
    test = corpus.test[: args.eval_tokens]
    dense = llm.perplexity(model, test)
    unigram = llm.unigram_perplexity(corpus.train, test)

    def calibration(n: int, sample: int) -> torch.Tensor:
        return llm.calibration_batches(corpus.train, n, 128, seed=1000 + sample)

    runs: dict[str, dict[str, dict[str, list[float]]]] = {}
    jobs = [(t, m, s) for t in TARGETS for s in range(args.samples) for m in METHODS]
    jobs = [(t, m, s) for t, m, s in jobs if not (m == "magnitude" and s > 0)]
    for target, method, sample in tqdm(jobs, desc="targets"):
        ppl, seconds = pruned_perplexity(
            model, method, calibration(args.calibration, sample), TARGETS[target], test
        )
        run = runs.setdefault(target, {}).setdefault(method, {"ppl": [], "seconds": []})
        run["ppl"].append(ppl)
        run["seconds"].append(seconds)

    sizes: dict[str, dict[str, list[float]]] = {"wanda": {}, "sparsegpt": {}}
    jobs = [(n, m, s) for n in args.sizes for s in range(args.samples) for m in sizes]
    for n, method, sample in tqdm(jobs, desc="calibration sizes"):
        ppl, _ = pruned_perplexity(model, method, calibration(n, sample), TARGETS["50%"], test)
        sizes[method].setdefault(str(n), []).append(ppl)

    outliers = outlier_table(model, calibration(args.calibration, 0))
    influence = llm.block_influence(model, calibration(args.calibration, 0))
    depth = {}
    for n in (1, 2, 3):
        order = llm.blocks_by_influence(model, calibration(args.calibration, 0), n)
        smaller = llm.drop_blocks(model, order)
        depth[str(n)] = {
            "blocks": order,
            "params": pl.count_parameters(smaller) / pl.count_parameters(model),
            "ppl": llm.perplexity(smaller, test),
        }
    return {
        "dense": dense,
        "unigram": unigram,
        "eval_tokens": len(test),
        "calibration": args.calibration,
        "samples": args.samples,
        "runs": runs,
        "calibration_sizes": sizes,
        "input_norm_max_over_median": {k: v["mean"] for k, v in outliers.items()},
        "input_norm_largest_max_over_median": {k: v["largest"] for k, v in outliers.items()},
        "block_influence": influence,
        "depth": depth,
    }


def recovery_lines() -> list[str]:
    """One generated line per row of results/llm_width.json (with its depth rows), if present."""
    width = RESULTS / "llm_width.json"
    if not width.exists():
        return []
    saved = json.loads(width.read_text())
    lines = []
    for r in saved["rows"] + saved.get("depth_rows", []):
        verdict = "beats" if r["distilled"] < r["fine_tuned"] else "loses to"
        lines.append(
            f"- {r['kind']}, {r['removed_share']:.0%} of the parameters removed: "
            f"{r['pruned']:.2f} pruned; {r['distilled']:.2f} distilled, {r['fine_tuned']:.2f} "
            f"fine-tuned on the same {saved['tokens']:,} bytes (distillation {verdict} plain "
            f"fine-tuning); the same shape from scratch {r['scratch']:.2f}."
        )
    return lines


def render(data: dict, model) -> str:
    """The Markdown page; every sentence is generated from ``data``."""
    dense, runs, sizes = data["dense"], data["runs"], data["calibration_sizes"]
    rows = [["dense", "-", f"{dense:.3f}", "-"]]
    for target in TARGETS:
        for method in METHODS:
            run = runs[target][method]
            secs = f"{statistics.median(run['seconds']):.2f}"
            rows.append([method, target, spread(run["ppl"]), secs])
    main_table = markdown_table(["method", "sparsity", "test perplexity", "prune s"], rows)
    counts = sorted(sizes["wanda"], key=int)
    size_rows = [[n, spread(sizes["wanda"][n]), spread(sizes["sparsegpt"][n])] for n in counts]
    size_table = markdown_table(
        ["calibration sequences", "Wanda 50 %", "SparseGPT 50 %"], size_rows
    )
    outliers = data["input_norm_max_over_median"]
    largest = data["input_norm_largest_max_over_median"]
    outlier_rows = [[k, f"{v:.1f}", f"{largest[k]:.1f}"] for k, v in outliers.items()]
    depth_rows = [
        [n, d["blocks"], f"{d['params']:.2f}", f"{d['ppl']:.2f}"] for n, d in data["depth"].items()
    ]
    depth_table = markdown_table(
        ["blocks dropped", "which (lowest BI)", "params left", "test perplexity"], depth_rows
    )
    bi = ", ".join(f"{i}: {v:.3f}" for i, v in enumerate(data["block_influence"]))

    # ---- sentences generated from the numbers
    def mean(target: str, method: str) -> float:
        return statistics.mean(runs[target][method]["ppl"])

    lines = []
    for target in TARGETS:
        gap = {m: mean(target, m) - dense for m in METHODS}
        best = min(METHODS, key=lambda m: gap[m])
        lines.append(
            f"- {target}: perplexity above dense: magnitude +{gap['magnitude']:.2f}, "
            f"Wanda +{gap['wanda']:.2f}, SparseGPT +{gap['sparsegpt']:.2f}; closest to dense: "
            f"{best}."
        )
    paper_order = [
        t for t in TARGETS if max(mean(t, "wanda"), mean(t, "sparsegpt")) < mean(t, "magnitude")
    ]
    lines.append(
        f"- Both calibrated methods beat magnitude at {len(paper_order)} of {len(TARGETS)} "
        f"targets ({', '.join(paper_order) or 'none'})."
    )
    ratio = statistics.mean(outliers.values())
    lines.append(
        f"- Input-feature norms: the largest is on average {ratio:.1f}x the median "
        "(max / median of ||X_j|| over a projection's inputs, mean over projections)."
    )
    recovery = recovery_lines() or ["- Not measured yet: run bench_llm_width.py."]
    return "\n".join(
        [
            f"Model: {pl.count_parameters(model):,} parameters, trained "
            f"{model.record.get('train_tokens', '?'):,} bytes "
            f"(results/tiny_llama.md). Test slice: {data['eval_tokens']:,} bytes of held-out "
            f"standard-library files. Dense perplexity {dense:.3f}; unigram (byte frequencies) "
            f"{data['unigram']:.3f}. Calibration: {data['calibration']} sequences of 128 bytes "
            f"from the training files, {data['samples']} samples. All 7 projections of every "
            "block are pruned, per output row; embedding and lm_head stay dense. One thread.",
            "",
            main_table,
            "",
            "What the numbers say (generated):",
            "",
            *lines,
            "",
            "## Calibration size (50 % unstructured)",
            "",
            size_table,
            "",
            "## Why: input-feature norms of the dense model",
            "",
            "Wanda scores |W_ij| * ||X_j||: it differs from magnitude only where the norms "
            "differ across input features. Max / median of ||X_j|| per projection kind:",
            "",
            markdown_table(["projection", "mean over blocks", "largest"], outlier_rows),
            "",
            "## Depth: blocks with the lowest Block Influence dropped (no recovery)",
            "",
            f"Block Influence (1 - cos(in, out)) per block: {bi}.",
            "",
            depth_table,
            "",
            "## Heads, MLP width, model width and depth, with recovery",
            "",
            "Structured removal, then distillation from the dense model against plain "
            "fine-tuning of the same pruned model and training the same shape from scratch, "
            "each on an equal budget: results/llm_width.md (heads, MLP width, model width, "
            "with the depth rows) and results/llm_depth.md. In short (generated from their "
            "JSON, means over their seeds):",
            "",
            *recovery,
            "",
            "Other helpers were loading the 2-core machine while this ran: times are noisy.",
        ]
    )


def plot(data: dict) -> None:
    dense, runs, sizes = data["dense"], data["runs"], data["calibration_sizes"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    xs = [0.5, 0.6, 0.7]
    for method in METHODS:
        ys = [statistics.mean(runs[f"{int(x * 100)}%"][method]["ppl"]) for x in xs]
        left.plot(xs, ys, marker="o", label=method)
    left.axhline(dense, color="k", ls="--", label="dense")
    left.set(xlabel="sparsity of every projection", ylabel="test perplexity", yscale="log")
    left.set_title("one-shot pruning, no retraining")
    left.legend()
    for method in sizes:
        counts = sorted(sizes[method], key=int)
        means = [statistics.mean(sizes[method][n]) for n in counts]
        right.plot([int(n) for n in counts], means, marker="o", label=method)
    right.axhline(dense, color="k", ls="--", label="dense")
    right.set(xscale="log", xlabel="calibration sequences (128 bytes)", ylabel="test perplexity")
    right.set_title("50 % unstructured")
    right.legend()
    fig.tight_layout()
    RESULTS.mkdir(exist_ok=True)
    fig.savefig(RESULTS / "llm.png", dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--eval-tokens", type=int, default=32768)
    parser.add_argument("--calibration", type=int, default=64, help="sequences of 128 bytes")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 16, 64, 256])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite llm.md from the saved llm.json (and the width / depth JSON) without "
        "measuring; only the cheap outlier ratios are recomputed if the JSON lacks them",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = llm.load_tiny_llama()
    title = "Pruning the small LLaMA-style model after training"
    if args.report_only:
        data = json.loads((RESULTS / "llm.json").read_text())
        if "input_norm_largest_max_over_median" not in data:
            corpus = llm.load_corpus(seed=0)
            calibration = llm.calibration_batches(corpus.train, data["calibration"], 128, 1000)
            outliers = outlier_table(model, calibration)
            data["input_norm_max_over_median"] = {k: v["mean"] for k, v in outliers.items()}
            data["input_norm_largest_max_over_median"] = {
                k: v["largest"] for k, v in outliers.items()
            }
        write_results("llm", data, render(data, model), title)  # keeps the saved "machine"
        return
    data = measure(args, model, llm.load_corpus(seed=0))
    plot(data)
    write_results("llm", data, render(data, model), title)


if __name__ == "__main__":
    main()
