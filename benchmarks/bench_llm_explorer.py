"""Every setting lesson 10's explorer offers, measured once: its slider then only looks up.

    python benchmarks/bench_llm_explorer.py

Loads the course's small LLaMA-style model and its corpus exactly as lesson 10 does (one
thread, the first 8192 test bytes), and runs ``explorer_table``: magnitude, Wanda and SparseGPT
at each sparsity and calibration size of the explorer (magnitude reads no data, so it has one
row per sparsity). Writes results/llm_explorer.json (read by the explorer, which uses it only
when its dense perplexity is the lesson's) and results/llm_explorer.md.
"""

from __future__ import annotations

import argparse

import torch
from _common import markdown_table, write_results

from pruning_lessons import llm
from pruning_lessons.teaching.explorers.llm import TABLE, explorer_table

TEST_TOKENS = 8192  # lesson 10's test slice


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    torch.set_num_threads(1)  # as lesson 10
    model = llm.load_tiny_llama()
    corpus = llm.load_corpus(seed=0)
    test = corpus.test[:TEST_TOKENS]
    table = explorer_table(model, test, corpus.train, progress=lambda key: print(key, flush=True))
    rows = [
        [
            key,
            f"{row['pruned']:.3f}",
            f"{row['pruned'] / table['dense']:.2f}x",
            f"{row['seconds']:.2f}",
        ]
        for key, row in table["results"].items()
    ]
    text = (
        f"Dense perplexity {table['dense']:.3f} on the first {TEST_TOKENS} test bytes, "
        "one thread.\n\n" + markdown_table(["setting", "perplexity", "vs dense", "pruning s"], rows)
    )
    write_results(
        TABLE.removesuffix(".json"), table, text, "Lesson 10's explorer: every setting it offers"
    )


if __name__ == "__main__":
    main()
