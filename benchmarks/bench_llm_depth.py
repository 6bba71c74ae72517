"""Depth pruning with recovery: drop blocks by Block Influence, then recover, at an equal budget.

    python benchmarks/bench_llm_depth.py [--steps 40] [--drop 2 3] [--seeds 3]

For each number of blocks dropped (lowest Block Influence, ShortGPT) from the course's small
LLaMA-style model: test perplexity right after dropping, then three recoveries on one budget
(``--steps`` AdamW steps on batches of 16 windows of 128 training bytes, the same windows for
the same seed, ``--seeds`` seeds):

* **distillation** of the shallow model from the dense one (KL at temperature 2, lr 1e-3);
* **plain fine-tuning** of the shallow model on the next-byte cross-entropy (lr 1e-3): the
  fair control, the same start and the same data, only the teacher missing;
* a model of the same shape **from scratch** (cross-entropy, lr 4e-3, weight decay 0.1, the
  training script's peak): what so small a budget buys without the pruned weights.

One thread. Writes results/llm_depth.json / .md.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import statistics
import time

import torch
from _common import RESULTS, markdown_table, write_results

import pruning_lessons as pl
from pruning_lessons import llm
from pruning_lessons.llm.model import TinyLlamaConfig, tiny_llama

BATCH, SEQ = 16, 128
#: the three recoveries, in the order the tables show them
ARMS = {"distilled": "+ distillation", "fine_tuned": "+ fine-tuning", "scratch": "from scratch"}


def from_scratch(cfg: TinyLlamaConfig, train: torch.Tensor, steps: int, seed: int):
    """A fresh model of shape ``cfg`` trained on the next-byte loss for ``steps`` batches."""
    model = tiny_llama(cfg, seed=seed)
    llm.fine_tune(
        model,
        train,
        steps=steps,
        batch_size=BATCH,
        seq_len=SEQ,
        lr=4e-3,
        weight_decay=0.1,
        seed=seed,
        progress=False,
    )
    return model.eval()


def recover(pruned, shape: TinyLlamaConfig, teacher, train, test, steps: int, seeds) -> dict:
    """Distillation and plain fine-tuning of ``pruned``, and a fresh model of ``shape`` trained
    from scratch, for every seed: test perplexities and times.

    Per arm: the mean over seeds (``distilled``, ``fine_tuned``, ``scratch``), the values
    (``runs``) and the mean seconds (``distill_seconds``, ...).
    """
    runs = {arm: [] for arm in ARMS}
    seconds = {arm: [] for arm in ARMS}
    budget = {"steps": steps, "batch_size": BATCH, "seq_len": SEQ, "lr": 1e-3, "progress": False}
    for seed in seeds:
        for arm in ARMS:
            start = time.perf_counter()
            if arm == "scratch":
                model = from_scratch(shape, train, steps, seed)
            else:
                model = copy.deepcopy(pruned)
                if arm == "distilled":
                    llm.distill(model, teacher, train, 2.0, seed=seed, **budget)
                else:
                    llm.fine_tune(model, train, seed=seed, **budget)
            seconds[arm].append(time.perf_counter() - start)
            runs[arm].append(llm.perplexity(model, test))
    out = {arm: statistics.fmean(v) for arm, v in runs.items()}
    names = {"distilled": "distill", "fine_tuned": "fine_tune", "scratch": "scratch"}
    out.update({f"{names[a]}_seconds": statistics.fmean(s) for a, s in seconds.items()})
    return {**out, "runs": runs}


def cell(row: dict, arm: str) -> str:
    """Mean +- std over the seeds of one recovery arm."""
    values = row["runs"][arm]
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.fmean(values):.2f} +- {statistics.pstdev(values):.2f}"


def study_setup(eval_tokens: int):
    """One thread; the trained model, the corpus, the test bytes, 64 calibration sequences of
    128 bytes and the dense test perplexity: what the depth and width studies share."""
    torch.set_num_threads(1)
    model = llm.load_tiny_llama()
    corpus = llm.load_corpus(seed=0)
    test = corpus.test[:eval_tokens]
    calibration = llm.calibration_batches(corpus.train, 64, 128, seed=1000)
    return model, corpus, test, calibration, llm.perplexity(model, test)


def seeds_text(seeds: list[int]) -> str:
    """How many seeds each recovery had, and what that allows one to read."""
    if len(seeds) > 1:
        return f"{len(seeds)} seeds (mean +- std)"
    return (
        f"one seed (seed {seeds[0]}), fewer than the script's default of 3 (`--seeds`) so that "
        "the run fit the time a loaded 2-core machine allowed: no spread over seeds is "
        "measured, and differences of a few hundredths are not established"
    )


def budget_text(data: dict) -> str:
    """The recovery recipe, as the width and depth pages state it."""
    return (
        f"Recovery budget, the same for each of three recoveries: {data['steps']} AdamW steps of "
        f"{BATCH} x {SEQ} bytes = {data['tokens']:,} bytes, the same windows for the same seed, "
        f"{seeds_text(data['seeds'])}. Distillation: KL at T = 2 to the dense "
        "model, lr 1e-3. Fine-tuning: the pruned model on the plain next-byte cross-entropy, "
        "lr 1e-3, no teacher. From scratch: a fresh model of the pruned shape on the same "
        "cross-entropy (lr 4e-3, weight decay 0.1). Fine-tuning is the control for "
        "distillation: the same start and the same bytes, only the teacher missing."
    )


TITLE = "Depth pruning, then distillation, fine-tuning or from scratch"
#: where runs with --part keep their rows until --merge
PARTS = RESULTS / "llm_depth_parts"


def scratch_line(rows: list[dict], data: dict) -> str:
    """What the from-scratch control reached, next to the unigram model, as a sentence."""
    low, high = min(r["scratch"] for r in rows), max(r["scratch"] for r in rows)
    unigram = data["unigram"]
    told = f"from scratch {low:.2f}-{high:.2f}, the unigram (byte frequency) model {unigram:.2f}"
    if low > 0.8 * unigram:
        return (
            f"{told}: on {data['tokens']:,} bytes a fresh model gets no further than byte "
            "frequencies, so that control shows what the pruned weights are worth, not what "
            "distillation adds"
        )
    return told


def report(data: dict) -> str:
    """The Markdown page, every sentence generated from ``data``."""
    drops = [n for n, d in data.items() if isinstance(d, dict) and "params_left" in d]
    rows = [
        [n, d["blocks"], f"{d['params_left']:.2f}", f"{d['dropped']:.2f}"]
        + [cell(d, arm) for arm in ARMS]
        for n, d in ((n, data[n]) for n in drops)
    ]
    table = markdown_table(
        ["blocks dropped", "which", "params left", "dropped", *ARMS.values()], rows
    )
    lines = []
    for n in drops:
        d = data[n]
        verdict = "beats" if d["distilled"] < d["fine_tuned"] else "loses to"
        lines.append(
            f"- {n} blocks: distillation {verdict} plain fine-tuning of the same shallow model "
            f"on the same bytes ({d['distilled']:.2f} vs {d['fine_tuned']:.2f}); dense "
            f"{data['dense']:.2f}."
        )
    lines.append(f"- The control: {scratch_line([data[n] for n in drops], data)}.")
    return (
        f"Test perplexity on {data['eval_tokens']:,} held-out bytes; dense {data['dense']:.3f} "
        f"(the dense model was trained on {data['train_tokens']:,} bytes). {budget_text(data)} "
        f"One thread; other helpers were loading the machine.\n\n{table}\n\n" + "\n".join(lines)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--drop", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--seeds", type=int, default=3, help="seeds of each recovery")
    parser.add_argument("--eval-tokens", type=int, default=32768)
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite the page from the saved JSON"
    )
    parser.add_argument(
        "--part", action="store_true", help="save the rows as a part (runs in parallel)"
    )
    parser.add_argument("--merge", action="store_true", help="join the saved parts")
    args = parser.parse_args()
    if args.report_only or args.merge:
        data = merge_parts() if args.merge else json.loads((RESULTS / "llm_depth.json").read_text())
        write_results("llm_depth", data, report(data), TITLE)
        return
    model, corpus, test, calibration, dense = study_setup(args.eval_tokens)
    seeds = list(range(args.seeds))
    data = {
        "dense": dense,
        "unigram": llm.unigram_perplexity(corpus.train, test),
        "eval_tokens": len(test),
        "train_tokens": model.record.get("train_tokens", 0),
        "steps": args.steps,
        "tokens": args.steps * BATCH * SEQ,
        "seeds": seeds,
    }
    for n in args.drop:
        blocks = llm.blocks_by_influence(model, calibration, n)
        shallow = llm.drop_blocks(model, blocks)
        share = pl.count_parameters(shallow) / pl.count_parameters(model)
        shape = dataclasses.replace(model.config, n_layers=len(model.layers) - n)
        d = {"blocks": blocks, "params_left": share, "dropped": llm.perplexity(shallow, test)}
        d.update(recover(shallow, shape, model, corpus.train, test, args.steps, seeds))
        data[str(n)] = d
        print(d)
    if args.part:
        PARTS.mkdir(parents=True, exist_ok=True)
        part = PARTS / f"{'-'.join(map(str, args.drop))}.json"
        part.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        return
    write_results("llm_depth", data, report(data), TITLE)


def merge_parts() -> dict:
    """The parts saved by runs with ``--part`` (one ``--drop`` each, run in parallel), joined
    in the order of the blocks dropped (then removed)."""
    parts = [json.loads(p.read_text()) for p in sorted(PARTS.glob("*.json"))]
    if not parts:
        raise SystemExit(f"no parts in {PARTS.name}: run with --part first")
    rows = {
        k: v
        for part in parts
        for k, v in part.items()
        if isinstance(v, dict) and "params_left" in v
    }
    settings = {k: v for k, v in parts[0].items() if k not in rows}
    for part in parts:
        if any(part[k] != v for k, v in settings.items()):
            raise SystemExit("the parts were measured with different settings")
    for p in PARTS.glob("*.json"):
        p.unlink()
    PARTS.rmdir()
    return {**settings, **{k: rows[k] for k in sorted(rows, key=int)}}


if __name__ == "__main__":
    main()
