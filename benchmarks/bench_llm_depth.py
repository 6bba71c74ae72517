"""Depth pruning with recovery: drop blocks by Block Influence, then distil, at an equal budget.

    python benchmarks/bench_llm_depth.py [--steps 40] [--drop 2 3]

For each number of blocks dropped (lowest Block Influence, ShortGPT) from the course's small
LLaMA-style model: test perplexity right after dropping; after ``--steps`` steps of
distillation from the dense model (KL at temperature 2, AdamW lr 1e-3); and a model of the same
shape trained from scratch with the same number of steps and tokens (cross-entropy, AdamW lr
4e-3, the training script's peak). Batches of 16 windows of 128 bytes. One thread. Writes
results/llm_depth.json / .md.
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
import torch.nn.functional as F
from _common import markdown_table, write_results
from tqdm.auto import tqdm

import pruning_lessons as pl
from pruning_lessons import llm
from pruning_lessons.llm.evaluate import random_windows
from pruning_lessons.llm.model import TinyLlamaConfig, tiny_llama


def from_scratch(cfg: TinyLlamaConfig, train: torch.Tensor, steps: int, seed: int):
    model = tiny_llama(cfg, seed=seed).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=4e-3, weight_decay=0.1)
    generator = torch.Generator().manual_seed(seed)
    for _ in tqdm(range(steps), desc="from scratch"):
        batch = random_windows(train, 16, 129, generator)
        loss = F.cross_entropy(model(batch[:, :-1]).flatten(0, 1), batch[:, 1:].flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return model.eval()


def study_setup(eval_tokens: int):
    """One thread; the trained model, the corpus, the test bytes, 64 calibration sequences of
    128 bytes and the dense test perplexity: what the depth and width studies share."""
    torch.set_num_threads(1)
    model = llm.load_tiny_llama()
    corpus = llm.load_corpus(seed=0)
    test = corpus.test[:eval_tokens]
    calibration = llm.calibration_batches(corpus.train, 64, 128, seed=1000)
    return model, corpus, test, calibration, llm.perplexity(model, test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--drop", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--eval-tokens", type=int, default=32768)
    args = parser.parse_args()
    model, corpus, test, calibration, dense = study_setup(args.eval_tokens)
    rows, data = [], {"dense": dense, "steps": args.steps, "tokens": args.steps * 16 * 128}
    for n in args.drop:
        blocks = llm.blocks_by_influence(model, calibration, n)
        shallow = llm.drop_blocks(model, blocks)
        share = pl.count_parameters(shallow) / pl.count_parameters(model)
        dropped = llm.perplexity(shallow, test)
        student = copy.deepcopy(shallow)
        start = time.perf_counter()
        llm.distill(
            student, model, corpus.train, 2.0, steps=args.steps, batch_size=16, seq_len=128, lr=1e-3
        )
        distil_s = time.perf_counter() - start
        distilled = llm.perplexity(student, test)
        cfg = TinyLlamaConfig(n_layers=len(model.layers) - n)
        start = time.perf_counter()
        scratch = llm.perplexity(from_scratch(cfg, corpus.train, args.steps, 0), test)
        scratch_s = time.perf_counter() - start
        data[str(n)] = {
            "blocks": blocks,
            "params_left": share,
            "dropped": dropped,
            "distilled": distilled,
            "scratch": scratch,
            "distill_seconds": distil_s,
            "scratch_seconds": scratch_s,
        }
        rows.append(
            [n, blocks, f"{share:.2f}", f"{dropped:.2f}", f"{distilled:.2f}", f"{scratch:.2f}"]
        )
    table = markdown_table(
        ["blocks dropped", "which", "params left", "dropped", "+ distillation", "from scratch"],
        rows,
    )
    lines = [
        f"- {n} blocks: distillation {'beats' if d['distilled'] < d['scratch'] else 'loses to'} "
        f"training the same shape from scratch on the same {data['tokens']:,} bytes "
        f"({d['distilled']:.2f} vs {d['scratch']:.2f}); dense {dense:.2f}."
        for n, d in ((n, data[str(n)]) for n in args.drop)
    ]
    text = (
        f"Test perplexity on {len(test):,} held-out bytes; dense {dense:.3f}. Recovery budget: "
        f"{args.steps} steps of 16 x 128 bytes = {data['tokens']:,} bytes (the dense model was "
        f"trained on {model.record.get('train_tokens', 0):,}). One thread; other helpers were "
        f"loading the machine.\n\n{table}\n\n" + "\n".join(lines)
    )
    write_results("llm_depth", data, text, "Depth pruning, then distillation vs from scratch")


if __name__ == "__main__":
    main()
