"""Train the course's small LLaMA-style model on the Python standard library (bytes), offline.

    python benchmarks/train_tiny_llama.py [--steps 300] [--seed 0]

Writes pruning_lessons/llm/weights/tiny_llama_stdlib.pt (what lesson 10 and bench_llm.py load)
and results/tiny_llama.json / .md (the training record: time, perplexities, unigram baseline).
The same seed, Python version (its library files), torch version and thread count give the
same weights (one thread by default: on a 2-core machine shared with other work it was
~2.5x faster than two). AdamW with warm-up and cosine decay, on random windows of the
training bytes.
"""

from __future__ import annotations

import argparse
import math
import time

import torch
import torch.nn.functional as F
from _common import markdown_table, write_results
from tqdm.auto import tqdm

import pruning_lessons as pl
from pruning_lessons.llm.corpus import load_corpus, unigram_perplexity
from pruning_lessons.llm.evaluate import perplexity, random_windows
from pruning_lessons.llm.model import CHECKPOINT, save_tiny_llama, tiny_llama


def learning_rate(step: int, steps: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--lr", type=float, default=4e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=1, help="one thread: reproducible, and fastest on a busy CPU"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    corpus = load_corpus(seed=0)
    pl.seed_everything(args.seed)
    model = tiny_llama(seed=args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.1)
    start = time.perf_counter()
    model.train()
    for step in (bar := tqdm(range(args.steps), desc="training")):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args.steps, args.lr, warmup=40)
        batch = random_windows(corpus.train, args.batch_size, args.seq_len + 1, generator)
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
    seconds = time.perf_counter() - start
    model.eval()
    record = {
        "steps": args.steps,
        "batch_size": args.batch_size,
        "seq_len": args.seq_len,
        "lr": args.lr,
        "seed": args.seed,
        "train_tokens": args.steps * args.batch_size * args.seq_len,
        "train_seconds": round(seconds, 1),
        "parameters": pl.count_parameters(model),
        "python": corpus.python,
        "torch": str(torch.__version__),
        "threads": torch.get_num_threads(),
        "val_perplexity": round(perplexity(model, corpus.val, seq_len=args.seq_len), 3),
        "test_perplexity": round(perplexity(model, corpus.test, seq_len=args.seq_len), 3),
        "unigram_test_perplexity": round(unigram_perplexity(corpus.train, corpus.test), 3),
        "corpus_bytes": {k: len(getattr(corpus, k)) for k in ("train", "val", "test")},
    }
    CHECKPOINT.parent.mkdir(exist_ok=True)
    save_tiny_llama(model, CHECKPOINT, record)
    rows = [[k, v] for k, v in record.items()]
    table = markdown_table(["quantity", "value"], rows)
    note = (
        "\n\nPerplexity = exp(mean cross-entropy per byte) on the test files, windows of "
        f"{args.seq_len} bytes. The unigram model predicts each byte from its frequency in the "
        "training files, ignoring context. Other helpers were loading the 2-core machine."
    )
    write_results("tiny_llama", record, table + note, "Training the small LLaMA-style model")


if __name__ == "__main__":
    main()
