"""Recovery after LLM pruning at an equal budget: plain fine-tuning, distillation and LoRA.

    python benchmarks/bench_llm_recovery.py [--steps 40] [--amount 0.7] [--seeds 2]

The course's small LLaMA is pruned with Wanda (``--amount`` of every row of every projection,
64 calibration sequences), then each recovery gets the same budget: ``--steps`` AdamW steps on
16 random windows of 128 training bytes, the same windows for each (the same seed):

* **fine-tuning**: every weight trained with the plain next-byte cross-entropy
  (``llm.fine_tune``; the masks hold, so the model stays as sparse);
* **distillation**: the same, but matching the dense model's next-byte distribution
  (``llm.distill``, T = 2);
* **LoRA**: the pruned weights frozen, rank-8 adapters on all seven projections trained with
  the next-byte loss, through the ``peft`` library; then merged into the weights
  (``merge_and_unload``), which shows what merging does to the sparsity.

Test perplexity on 32,768 held-out bytes, mean +- std over ``--seeds`` orders of the training
windows. Writes results/llm_recovery.json and .md.
"""

from __future__ import annotations

import argparse
import copy
import statistics

import torch
from _common import markdown_table, write_results
from peft import LoraConfig, get_peft_model
from tqdm.auto import tqdm

import pruning_lessons as pl
from pruning_lessons import llm
from pruning_lessons.llm.model import PROJECTIONS

BATCH, SEQ, LR, LORA_LR = 16, 128, 1e-3, 3e-3


def projection_sparsity(model) -> float:
    weights = [p for n, p in model.named_parameters() if n.endswith("_proj.weight")]
    return sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)


def measure(args) -> dict:
    torch.set_num_threads(1)
    dense = llm.load_tiny_llama()
    corpus = llm.load_corpus(seed=0)
    test = corpus.test[:32768]
    calibration = llm.calibration_batches(corpus.train, 64, 128, seed=1000)
    pruned = copy.deepcopy(dense)
    llm.wanda_prune(pruned, calibration, args.amount)
    out = {
        "dense": llm.perplexity(dense, test),
        "pruned": llm.perplexity(pruned, test),
        "sparsity": projection_sparsity(pruned),
        "fine-tuning": [],
        "distillation": [],
        "LoRA": [],
        "LoRA merged": [],
        "LoRA merged sparsity": [],
    }
    budget = {"steps": args.steps, "batch_size": BATCH, "seq_len": SEQ, "progress": False}
    for seed in tqdm(range(args.seeds), desc="seeds"):
        tuned = copy.deepcopy(pruned)
        llm.fine_tune(tuned, corpus.train, seed=seed, lr=LR, **budget)
        out["fine-tuning"].append(llm.perplexity(tuned, test))
        student = copy.deepcopy(pruned)
        llm.distill(student, dense, corpus.train, 2.0, seed=seed, lr=LR, **budget)
        out["distillation"].append(llm.perplexity(student, test))
        base = pl.bake_masks(copy.deepcopy(pruned))  # plain zeros: LoRA's merge may fill them
        config = LoraConfig(r=8, lora_alpha=16, target_modules=list(PROJECTIONS), lora_dropout=0.0)
        adapted = get_peft_model(base, config)
        out["LoRA trainable"] = sum(p.numel() for p in adapted.parameters() if p.requires_grad)
        llm.fine_tune(adapted, corpus.train, seed=seed, lr=LORA_LR, **budget)
        out["LoRA"].append(llm.perplexity(adapted, test))
        merged = adapted.merge_and_unload()
        out["LoRA merged"].append(llm.perplexity(merged, test))
        out["LoRA merged sparsity"].append(projection_sparsity(merged))
    out["parameters"] = pl.count_parameters(dense)
    out.update(
        steps=args.steps, amount=args.amount, seeds=args.seeds, tokens=args.steps * BATCH * SEQ
    )
    return out


def spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.fmean(values):.3f} +- {statistics.pstdev(values):.3f}"


def render(data: dict) -> str:
    rows = [
        ["dense", f"{data['dense']:.3f}", "-", "-"],
        [f"Wanda {data['amount']:.0%}", f"{data['pruned']:.3f}", f"{data['sparsity']:.1%}", "-"],
    ]
    for name in ("fine-tuning", "distillation", "LoRA"):
        trainable = data["LoRA trainable"] if name == "LoRA" else data["parameters"]
        rows.append([f"+ {name}", spread(data[name]), f"{data['sparsity']:.1%}", f"{trainable:,}"])
    merged_sparsity = statistics.fmean(data["LoRA merged sparsity"])
    rows.append(["+ LoRA, merged", spread(data["LoRA merged"]), f"{merged_sparsity:.1%}", "-"])
    table = markdown_table(["model", "test perplexity", "projection sparsity", "trained"], rows)
    means = {n: statistics.fmean(data[n]) for n in ("fine-tuning", "distillation", "LoRA")}
    order = " < ".join(sorted(means, key=means.get))
    lines = [
        f"Budget for each recovery: {data['steps']} steps of {BATCH} x {SEQ} bytes "
        f"({data['tokens']:,} bytes); mean +- std over {data['seeds']} window orders.",
        "",
        table,
        "",
        "What the numbers say (generated):",
        "",
        f"- lowest perplexity first: {order}.",
        f"- merging the LoRA adapters leaves {merged_sparsity:.1%} of the projection weights "
        f"zero, against {data['sparsity']:.1%} before: the merged model is no longer sparse.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40, help="recovery steps for each method")
    parser.add_argument("--amount", type=float, default=0.7, help="Wanda sparsity per row")
    parser.add_argument("--seeds", type=int, default=2, help="orders of the training windows")
    args = parser.parse_args()
    data = measure(args)
    title = "Recovery after pruning the small LLaMA: fine-tuning, distillation and LoRA"
    write_results("llm_recovery", data, render(data), title)


if __name__ == "__main__":
    main()
