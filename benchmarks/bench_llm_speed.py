"""Where the speed of a pruned LLM layer comes from: one linear layer on the CPU, and 2:4 on a GPU.

    python benchmarks/bench_llm_speed.py [--features 2048] [--rounds 9]

Times ``x @ W^T`` for a square weight at batch 1 (memory-bound, like decoding one token) and
batch 256 (compute-bound, like a prompt): dense, 50 % zeros kept in dense storage, the same
zeros as CSR, and half the rows removed (structured width). Variants alternate within each
round; the median of the rounds is reported. Then
``torch.sparse.to_sparse_semi_structured`` (2:4) vs dense float16 on a CUDA GPU of compute
capability >= 8.0, or the reason it was skipped. Timed at 1 thread and at the default.
Writes results/llm_speed.json / .md.
"""

from __future__ import annotations

import argparse

import torch
from _common import markdown_table, write_results

from pruning_lessons.llm.speed import linear_timings, semi_structured_timing

FACTS = """## Quantization with sparsity: what exists (facts, with sources)

- 2:4 sparsity runs on NVIDIA sparse tensor cores from Ampere (compute capability 8.0) on, at
  up to 2x the dense math throughput (Mishra et al. 2021, "Accelerating Sparse Deep Neural
  Networks"; NVIDIA A100 architecture whitepaper). PyTorch exposes it through
  `torch.sparse.to_sparse_semi_structured` for float16, bfloat16 and int8 weights, with minimum
  shapes per dtype (32 x 64 for float16, 32 x 128 for int8), on CUTLASS or cuSPARSELt
  (`torch/sparse/semi_structured.py`).
- torchao combines 2:4 with quantization on recent NVIDIA GPUs: int8 dynamic activations +
  int8 weights (`int8_dynamic_activation_int8_semi_sparse_weight`, or the int8 config with
  `SemiSparseLayout`), int4 weight-only with the Marlin 2:4 kernel (`MarlinSparseLayout`,
  float16 activations), and float8 with `CutlassSemiSparseLayout` (torchao API reference:
  `torchao.sparsity`, `torchao.dtypes`).
- SparseGPT applies jointly with GPTQ-style weight quantization in one pass (Frantar &
  Alistarh 2023, section "Joint sparsification and quantization"), e.g. 50 % + 4-bit.
- On a CPU none of these give speed in stock PyTorch: zeros in dense storage cost the same
  time, and CSR pays for its indices (measured above). Compression (bytes) still applies.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    default_threads = torch.get_num_threads()
    tables, rows = [], []
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        timed = linear_timings(args.features, (1, 256), rounds=args.rounds, repeat=args.repeat)
        rows += [{**r, "threads": threads} for r in timed]
        table = markdown_table(
            ["batch", "variant", "ms per call", "speed-up vs dense"],
            [
                [r["batch"], r["variant"], f"{r['seconds'] * 1e3:.3f}", f"{r['speedup']:.2f}x"]
                for r in timed
            ],
        )
        tables.append(f"### {threads} thread{'s' if threads > 1 else ''}\n\n{table}")
    torch.set_num_threads(default_threads)
    reason, gpu = semi_structured_timing()
    gpu_text = (
        f"2:4 on the GPU skipped: {reason}."
        if gpu is None
        else f"2:4 float16 4096x4096 @ 4096: dense {gpu['dense'] * 1e3:.3f} ms, 2:4 "
        f"{gpu['2:4'] * 1e3:.3f} ms, speed-up {gpu['speedup']:.2f}x."
    )
    text = (
        f"One {args.features} x {args.features} linear layer, float32, median of "
        f"{args.rounds} alternating rounds of {args.repeat} calls, at 1 thread and at torch's "
        f"default ({default_threads}). Other helpers were loading the machine: compare ratios "
        "within a table. With every core busy, a multi-threaded call waits for the slowest "
        "thread, which can swamp a batch-1 call that takes microseconds.\n\n"
        + "\n\n".join(tables)
        + f"\n\n{gpu_text}\n\n{FACTS}"
    )
    write_results(
        "llm_speed",
        {"features": args.features, "rows": rows, "gpu_2_4": gpu, "gpu_skipped": reason},
        text,
        "Where speed comes from: one linear layer",
    )


if __name__ == "__main__":
    main()
