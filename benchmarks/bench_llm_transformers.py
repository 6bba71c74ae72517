"""The course model as a ``LlamaForCausalLM``: SparseGPT's two mask rules, and file sizes.

    python benchmarks/bench_llm_transformers.py [--calibration 64] [--eval-tokens 32768]

1. SparseGPT at 50 / 60 / 70 % with ``mask_rule="block"`` (the paper's: one threshold per
   128-column tile, rows may differ) and ``mask_rule="row"`` (every row loses the same share),
   on the course's trained model converted with ``llm.to_transformers``: test perplexity on the
   first ``--eval-tokens`` bytes of the held-out files, the same calibration windows for both.
2. The pruned model on disk: ``save_pretrained`` (dense, zeros stored) against
   ``llm.saving.save_compact`` (2:4: kept values + 2-bit positions; 50 %: bitmask + values),
   in fp32 and fp16, whole file and block layers alone.

Writes results/llm_transformers.{json,md}.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import torch
from _common import markdown_table, write_results

from pruning_lessons import llm
from pruning_lessons.llm.saving import save_compact


def mask_rules(model, calibration, test) -> list[dict]:
    rows = []
    for amount in (0.5, 0.6, 0.7):
        for rule in ("block", "row"):
            pruned = copy.deepcopy(model)
            start = time.perf_counter()
            llm.sparsegpt_prune(pruned, calibration, amount, mask_rule=rule)
            seconds = time.perf_counter() - start
            rows.append(
                {
                    "sparsity": amount,
                    "mask_rule": rule,
                    "seconds": seconds,
                    "perplexity": llm.perplexity(pruned, test),
                }
            )
            print(rows[-1], flush=True)
    return rows


def sizes(model, calibration) -> list[dict]:
    rows = []
    block_keys = {n + ".weight" for n in llm.find_decoder(model).all_layers()}
    for label, target in (("2:4", {"n_m": (2, 4)}), ("50%", {"amount": 0.5})):
        for dtype in (torch.float32, torch.float16):
            pruned = copy.deepcopy(model)
            llm.wanda_prune(pruned, calibration, **target)
            pruned = pruned.to(dtype)
            with tempfile.TemporaryDirectory() as work:
                pruned.save_pretrained(f"{work}/dense")
                dense = sum(f.stat().st_size for f in Path(f"{work}/dense").glob("*.safetensors"))
                compact = save_compact(pruned, f"{work}/compact").stat().st_size
            state = pruned.state_dict()
            block = sum(state[k].numel() * state[k].element_size() for k in block_keys)
            rest = sum(
                v.numel() * v.element_size() for k, v in state.items() if k not in block_keys
            )
            rows.append(
                {
                    "target": label,
                    "dtype": str(dtype).removeprefix("torch."),
                    "dense_bytes": dense,
                    "compact_bytes": compact,
                    "block_layers_ratio": (compact - rest) / block,
                }
            )
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calibration", type=int, default=64)
    parser.add_argument("--eval-tokens", type=int, default=32768)
    args = parser.parse_args()
    torch.set_num_threads(1)
    corpus = llm.load_corpus(seed=0)
    model = llm.to_transformers(llm.load_tiny_llama())
    test = corpus.test[: args.eval_tokens]
    calibration = llm.calibration_batches(corpus.train, args.calibration, 128, seed=0)
    dense = llm.perplexity(model, test)
    rules = mask_rules(model, calibration, test)
    files = sizes(model, calibration)
    table = markdown_table(
        ["sparsity", "mask_rule", "test perplexity", "prune s"],
        [["dense", "-", f"{dense:.3f}", "-"]]
        + [
            [
                f"{r['sparsity']:.0%}",
                r["mask_rule"],
                f"{r['perplexity']:.3f}",
                f"{r['seconds']:.1f}",
            ]
            for r in rules
        ],
    )
    size_table = markdown_table(
        [
            "target",
            "dtype",
            "save_pretrained bytes",
            "save_compact bytes",
            "compact / dense",
            "block layers: compact / dense",
        ],
        [
            [
                r["target"],
                r["dtype"],
                f"{r['dense_bytes']:,}",
                f"{r['compact_bytes']:,}",
                f"{r['compact_bytes'] / r['dense_bytes']:.3f}",
                f"{r['block_layers_ratio']:.3f}",
            ]
            for r in files
        ],
    )
    text = (
        f"The course's trained model as LlamaForCausalLM (llm.to_transformers), "
        f"{args.calibration} calibration sequences of 128 bytes, test: the first "
        f"{args.eval_tokens:,} bytes of the held-out files, one thread.\n\n"
        "## SparseGPT: one threshold per 128-column tile (paper) vs the same share per row\n\n"
        + table
        + "\n\n## On disk (Wanda-pruned; embeddings, norms and head stay dense in both)\n\n"
        + size_table
    )
    write_results(
        "llm_transformers",
        {"dense": dense, "mask_rules": rules, "sizes": files},
        text,
        "Pruning the course model as a transformers LlamaForCausalLM",
    )


if __name__ == "__main__":
    main()
