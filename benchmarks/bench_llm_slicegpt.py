"""SliceGPT (rotate, then slice the embedding dimension) on the course's small LLaMA.

    python benchmarks/bench_llm_slicegpt.py [--samples 3] [--eval-tokens 32768] [--calibration 64]

``llm.slice_model`` folds the RMSNorm scales into the linears, rotates the residual stream by
the principal directions of the normalised stream on calibration text (one global Q), and
keeps the top ``dim - round(slicing * dim)`` directions. For slicing 10-50 % of the 128
dimensions this script measures the parameters left and the test perplexity without any
recovery, mean +- std over ``--samples`` calibration samples (the windows of bench_llm.py), and
the share of the pooled stream's energy (sum of PCA eigenvalues) the kept directions hold. As
a control with the same shape and parameter count: ``llm.prune_model_width`` removing the same
number of residual channels, ranked by activation size (Minitron's score), also without
recovery. Writes results/llm_slicegpt.json and .md.
"""

from __future__ import annotations

import argparse
import statistics

import torch
from _common import markdown_table, write_results
from tqdm.auto import tqdm

import pruning_lessons as pl
from pruning_lessons import llm
from pruning_lessons.llm.slicegpt import rotate

LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5)


def measure(args, model, corpus) -> dict:
    test = corpus.test[: args.eval_tokens]
    dim = model.config.dim
    samples = [
        llm.calibration_batches(corpus.train, args.calibration, 128, seed=1000 + s)
        for s in range(args.samples)
    ]
    rows = {
        f"{s:.0%}": {"kept_dims": dim - round(s * dim), "slicegpt": [], "energy": [], "width": []}
        for s in LEVELS
    }
    rotated = []
    for calibration in tqdm(samples, desc="calibration samples"):
        values, q = llm.residual_pca(model, calibration)
        rotated.append(llm.perplexity(rotate(model, q), test))
        for level in LEVELS:
            row = rows[f"{level:.0%}"]
            kept = row["kept_dims"]
            sliced = rotate(model, q[:, :kept])
            row["parameters"] = pl.count_parameters(sliced)
            row["slicegpt"].append(llm.perplexity(sliced, test))
            row["energy"].append(float(values[:kept].sum() / values.sum()))
            narrow = llm.prune_model_width(model, level, calibration)
            assert pl.count_parameters(narrow) == row["parameters"]  # the same shape
            row["width"].append(llm.perplexity(narrow, test))
    return {
        "dense": llm.perplexity(model, test),
        "rotated_only": rotated,
        "parameters": pl.count_parameters(model),
        "dim": dim,
        "eval_tokens": len(test),
        "calibration": args.calibration,
        "samples": args.samples,
        "rows": rows,
    }


def spread(values: list[float], digits: int = 3) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.fmean(values):.{digits}f} +- {statistics.stdev(values):.{digits}f}"


def render(data: dict) -> str:
    table = markdown_table(
        [
            "sliced",
            "dims kept",
            "parameters",
            "energy kept",
            "SliceGPT perplexity",
            "model width (same shape)",
        ],
        [
            [
                level,
                f"{r['kept_dims']} / {data['dim']}",
                f"{r['parameters']:,} ({r['parameters'] / data['parameters']:.0%})",
                f"{100 * statistics.fmean(r['energy']):.2f} %",
                spread(r["slicegpt"]),
                spread(r["width"], 2),
            ]
            for level, r in data["rows"].items()
        ],
    )
    wins = sum(statistics.fmean(r["slicegpt"]) < min(r["width"]) for r in data["rows"].values())
    return "\n".join(
        [
            f"Test perplexity on {data['eval_tokens']:,} bytes, no recovery; dense "
            f"{data['dense']:.3f} ({data['parameters']:,} parameters); rotated without slicing "
            f"{spread(data['rotated_only'])}. Calibration {data['calibration']} x 128 bytes, "
            f"mean +- std over {data['samples']} samples.",
            "",
            f"- SliceGPT beats removing the same number of residual channels by activation "
            f"ranking at {wins} of {len(data['rows'])} levels (generated).",
            "",
            table,
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
    write_results("llm_slicegpt", data, render(data), "SliceGPT on the course's small LLaMA")


if __name__ == "__main__":
    main()
