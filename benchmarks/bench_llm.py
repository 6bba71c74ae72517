"""Post-training pruning of the course's small LLaMA-style model: perplexity and time.

    python benchmarks/bench_llm.py [--samples 3] [--eval-tokens 32768] [--calibration 64]

Loads the checkpoint made by train_tiny_llama.py (Python standard library, bytes). For dense,
row magnitude, Wanda and SparseGPT at 50 / 60 / 70 % unstructured and 2:4: test perplexity,
mean +- std over ``--samples`` calibration samples (different random windows of the training
bytes; magnitude needs none, so it has one value), and the time of each pruning call. Then
Wanda and SparseGPT at 50 % with 1 / 4 / 16 / 64 / 256 calibration sequences. Then the
evidence for *why* the methods rank as they do: the spread of the input-feature norms
``||X_j||`` (outlier features are what break magnitude pruning in large LLMs). Then depth:
the blocks with the lowest Block Influence dropped (ShortGPT), without recovery.
Perplexity is measured on the first ``--eval-tokens`` bytes of the test files (windows of
128). Writes results/llm.json, results/llm.md and results/llm.png.
"""

from __future__ import annotations

import argparse
import copy
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


def outlier_table(model, calibration) -> tuple[list[list], dict]:
    """Per projection kind: mean over blocks of max / median input-feature norm."""
    norms = llm.input_norms(model, calibration)
    ratios: dict[str, list[float]] = {}
    for name, values in norms.items():
        ratios.setdefault(name.rpartition(".")[2], []).append(float(values.max() / values.median()))
    rows = [[kind, f"{statistics.mean(r):.1f}", f"{max(r):.1f}"] for kind, r in ratios.items()]
    return rows, {k: statistics.mean(r) for k, r in ratios.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--eval-tokens", type=int, default=32768)
    parser.add_argument("--calibration", type=int, default=64, help="sequences of 128 bytes")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 16, 64, 256])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = llm.load_tiny_llama()
    corpus = llm.load_corpus(seed=0)
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

    sizes: dict[str, dict[int, list[float]]] = {"wanda": {}, "sparsegpt": {}}
    jobs = [(n, m, s) for n in args.sizes for s in range(args.samples) for m in sizes]
    for n, method, sample in tqdm(jobs, desc="calibration sizes"):
        ppl, _ = pruned_perplexity(model, method, calibration(n, sample), TARGETS["50%"], test)
        sizes[method].setdefault(n, []).append(ppl)

    outlier_rows, outliers = outlier_table(model, calibration(args.calibration, 0))
    influence = llm.block_influence(model, calibration(args.calibration, 0))
    depth = {}
    for n in (1, 2, 3):
        order = llm.blocks_by_influence(model, calibration(args.calibration, 0), n)
        smaller = llm.drop_blocks(model, order)
        depth[n] = {
            "blocks": order,
            "params": pl.count_parameters(smaller) / pl.count_parameters(model),
            "ppl": llm.perplexity(smaller, test),
        }

    # ---- tables
    rows = [["dense", "-", f"{dense:.3f}", "-"]]
    for target in TARGETS:
        for method in METHODS:
            run = runs[target][method]
            secs = f"{statistics.median(run['seconds']):.2f}"
            rows.append([method, target, spread(run["ppl"]), secs])
    main_table = markdown_table(["method", "sparsity", "test perplexity", "prune s"], rows)
    size_rows = [[n, spread(sizes["wanda"][n]), spread(sizes["sparsegpt"][n])] for n in args.sizes]
    size_table = markdown_table(
        ["calibration sequences", "Wanda 50 %", "SparseGPT 50 %"], size_rows
    )
    depth_rows = [
        [n, d["blocks"], f"{d['params']:.2f}", f"{d['ppl']:.2f}"] for n, d in depth.items()
    ]
    depth_table = markdown_table(
        ["blocks dropped", "which (lowest BI)", "params left", "test perplexity"], depth_rows
    )
    bi = ", ".join(f"{i}: {v:.3f}" for i, v in enumerate(influence))

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
    text = "\n".join(
        [
            f"Model: {pl.count_parameters(model):,} parameters, trained "
            f"{model.record.get('train_tokens', '?'):,} bytes "
            f"(results/tiny_llama.md). Test slice: {len(test):,} bytes of held-out standard-"
            f"library files. Dense perplexity {dense:.3f}; unigram (byte frequencies) "
            f"{unigram:.3f}. Calibration: {args.calibration} sequences of 128 bytes from the "
            f"training files, {args.samples} samples. All 7 projections of every block are "
            "pruned, per output row; embedding and lm_head stay dense. One thread.",
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
            "## Not here yet",
            "",
            "Heads / MLP width / model width removal at 25 % and 50 % of the parameters, "
            "before and after distillation against training the same shape from scratch: the "
            "removal is the structured pruner (`prune_units`) being extended to transformers "
            "in another issue; those rows come when it lands. Depth rows above have no "
            "distillation yet.",
            "",
            "Other helpers were loading the 2-core machine while this ran: times are noisy.",
        ]
    )

    # ---- plot
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    xs = [0.5, 0.6, 0.7]
    for method in METHODS:
        ys = [mean(f"{int(x * 100)}%", method) for x in xs]
        left.plot(xs, ys, marker="o", label=method)
    left.axhline(dense, color="k", ls="--", label="dense")
    left.set(xlabel="sparsity of every projection", ylabel="test perplexity", yscale="log")
    left.set_title("one-shot pruning, no retraining")
    left.legend()
    for method in sizes:
        means = [statistics.mean(sizes[method][n]) for n in args.sizes]
        right.plot(args.sizes, means, marker="o", label=method)
    right.axhline(dense, color="k", ls="--", label="dense")
    right.set(xscale="log", xlabel="calibration sequences (128 bytes)", ylabel="test perplexity")
    right.set_title("50 % unstructured")
    right.legend()
    fig.tight_layout()
    RESULTS.mkdir(exist_ok=True)
    fig.savefig(RESULTS / "llm.png", dpi=100)

    data = {
        "dense": dense,
        "unigram": unigram,
        "eval_tokens": len(test),
        "calibration": args.calibration,
        "samples": args.samples,
        "runs": runs,
        "calibration_sizes": {m: {str(n): v for n, v in s.items()} for m, s in sizes.items()},
        "input_norm_max_over_median": outliers,
        "block_influence": influence,
        "depth": {str(n): d for n, d in depth.items()},
    }
    write_results("llm", data, text, "Pruning the small LLaMA-style model after training")


if __name__ == "__main__":
    main()
