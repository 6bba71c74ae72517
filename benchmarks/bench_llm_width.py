"""Width pruning with recovery: heads, MLP width and model width, distilled vs from scratch.

    python benchmarks/bench_llm_width.py [--steps 40] [--targets 0.25 0.5]

For each kind of unit (key/value heads with their query heads, MLP neurons, embedding
channels) of the course's small LLaMA-style model, and each target share of the parameters to
remove: the number of units per block whose removal comes closest to the target (computed from
the pruned shape's parameter count; the share actually removed is reported), removed by
``llm.prune_heads`` / ``prune_mlp_width`` / ``prune_model_width`` (activation importance,
Minitron, on 64 calibration sequences of 128 bytes). Test perplexity right after pruning
(and, as a control, with as many random units of the same layers removed, 3 seeds), with
the spread of the activation scores (max / median within a block);
after ``--steps`` steps of distillation from the dense model; and the same shape trained from
scratch on the same number of steps and bytes. The recipe and budget are those of
bench_llm_depth.py (its rows are repeated from results/llm_depth.json when they used the same
budget). Time of each pruning call, of distillation and of training from scratch. One thread.
Writes results/llm_width.json / .md (``--report-only`` rewrites the .md from the .json).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time

import torch
from _common import RESULTS, markdown_table, write_results
from bench_llm_depth import from_scratch, study_setup

import pruning_lessons as pl
from pruning_lessons import llm
from pruning_lessons.llm.model import TinyLlama, TinyLlamaConfig
from pruning_lessons.llm.width import width_plan

TITLE = "Width pruning, then distillation vs from scratch"
#: row name -> (pruning function, config field counting its units per block, what a unit is,
#: the kind as ``llm.width`` names it)
KINDS = {
    "heads": (llm.prune_heads, "n_kv_heads", "key/value heads (with their query heads)", "heads"),
    "MLP width": (llm.prune_mlp_width, "hidden_dim", "MLP neurons", "mlp"),
    "model width": (llm.prune_model_width, "dim", "embedding channels", "model"),
}
SEEDS = (0, 1, 2)


def shape_parameters(cfg: TinyLlamaConfig) -> int:
    with torch.device("meta"):
        return pl.count_parameters(TinyLlama(cfg))


def smaller(cfg: TinyLlamaConfig, field: str, removed: int) -> TinyLlamaConfig:
    """``cfg`` with ``removed`` units of ``field`` gone (query heads go with their kv head)."""
    changes = {field: getattr(cfg, field) - removed}
    if field == "n_kv_heads":
        changes["n_heads"] = cfg.n_heads * changes[field] // cfg.n_kv_heads
    return dataclasses.replace(cfg, **changes)


def closest_count(cfg: TinyLlamaConfig, field: str, target: float) -> int:
    """Units per block to remove so that the removed share of parameters is nearest ``target``."""
    total = shape_parameters(cfg)
    share = {
        k: 1 - shape_parameters(smaller(cfg, field, k)) / total
        for k in range(1, getattr(cfg, field))
    }
    return min(share, key=lambda k: (abs(share[k] - target), k))


def random_units(model, kind: str, amount: float, example: torch.Tensor, seed: int):
    """The control: as many units of the same layers removed, chosen at random."""
    _, layers, through_norms = width_plan(model, kind)
    return pl.prune_units(
        model,
        dict.fromkeys(layers, amount),
        importance="random",
        seed=seed,
        example_input=example,
        through_norms=through_norms,
    )


def spread(scores: dict[str, torch.Tensor]) -> float:
    """Max / median of the unit scores within a group, averaged over the groups."""
    return statistics.mean(float(s.max() / s.median()) for s in scores.values())


def depth_rows(steps: int) -> list[dict]:
    """The depth rows of results/llm_depth.json, if they used the same recovery budget."""
    path = RESULTS / "llm_depth.json"
    if not path.exists():
        return []
    depth = json.loads(path.read_text())
    if depth.get("steps") != steps:
        return []
    return [
        {
            "kind": "depth",
            "units": f"{n} blocks",
            "removed_share": 1 - d["params_left"],
            "pruned": d["dropped"],
            "distilled": d["distilled"],
            "scratch": d["scratch"],
            "distill_seconds": d["distill_seconds"],
            "scratch_seconds": d["scratch_seconds"],
        }
        for n, d in depth.items()
        if isinstance(d, dict) and "params_left" in d
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--targets", type=float, nargs="+", default=[0.25, 0.5])
    parser.add_argument("--eval-tokens", type=int, default=32768)
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite the page from the saved JSON"
    )
    args = parser.parse_args()
    if args.report_only:
        data = json.loads((RESULTS / "llm_width.json").read_text())
        write_results("llm_width", data, report(data), TITLE)
        return
    model, corpus, test, calibration, dense = study_setup(args.eval_tokens)
    total = pl.count_parameters(model)
    rows: list[dict] = []
    for kind, (prune, field, unit, name) in KINDS.items():
        score_spread = spread(llm.width_scores(model, calibration, name))
        counts = {t: closest_count(model.config, field, t) for t in args.targets}
        for count in sorted(set(counts.values())):
            amount = count / getattr(model.config, field)
            start = time.perf_counter()
            pruned = prune(model, amount, calibration)
            prune_s = time.perf_counter() - start
            assert getattr(pruned.config, field) == getattr(model.config, field) - count
            row = {
                "kind": kind,
                "targets": [t for t, c in counts.items() if c == count],
                "amount": amount,
                "units": f"{count} of {getattr(model.config, field)} {unit}",
                "removed_units": count,
                "units_per_block": getattr(model.config, field),
                "removed_share": 1 - pl.count_parameters(pruned) / total,
                "pruned": llm.perplexity(pruned, test),
                "prune_seconds": prune_s,
                "random": [
                    llm.perplexity(random_units(model, name, amount, calibration[:1], seed), test)
                    for seed in SEEDS
                ],
                "score_spread": score_spread,
            }
            start = time.perf_counter()
            llm.distill(
                pruned,
                model,
                corpus.train,
                2.0,
                steps=args.steps,
                batch_size=16,
                seq_len=128,
                progress=False,
            )
            row["distill_seconds"] = time.perf_counter() - start
            row["distilled"] = llm.perplexity(pruned, test)
            start = time.perf_counter()
            scratch = from_scratch(pruned.config, corpus.train, args.steps, 0)
            row["scratch_seconds"] = time.perf_counter() - start
            row["scratch"] = llm.perplexity(scratch, test)
            rows.append(row)
            print(row)
    data = {
        "dense": dense,
        "parameters": total,
        "steps": args.steps,
        "tokens": args.steps * 16 * 128,
        "eval_tokens": len(test),
        "rows": rows,
        "depth_rows": depth_rows(args.steps),
    }
    write_results("llm_width", data, report(data), TITLE)


def mean_std(values: list[float]) -> str:
    return f"{statistics.mean(values):.2f} +- {statistics.stdev(values):.2f}"


def report(data: dict) -> str:
    """The Markdown page, every sentence generated from ``data``."""
    dense, every = data["dense"], data["rows"] + data["depth_rows"]

    def secs(row: dict, key: str) -> str:
        return f"{row[key]:.1f}" if key in row else "-"

    table = markdown_table(
        [
            "removed",
            "units per block",
            "params removed",
            "pruned",
            f"random units ({len(SEEDS)} seeds)",
            "score max / median",
            "+ distillation",
            "from scratch",
            "prune s",
            "distil s",
            "scratch s",
        ],
        [
            [
                r["kind"],
                r["units"],
                f"{r['removed_share']:.0%}",
                f"{r['pruned']:.2f}",
                mean_std(r["random"]) if "random" in r else "-",
                f"{r['score_spread']:.1f}" if "score_spread" in r else "-",
                f"{r['distilled']:.2f}",
                f"{r['scratch']:.2f}",
                secs(r, "prune_seconds"),
                secs(r, "distill_seconds"),
                secs(r, "scratch_seconds"),
            ]
            for r in every
        ],
    )
    lines = []
    for r in every:
        verdict = "beats" if r["distilled"] < r["scratch"] else "loses to"
        gap = r["pruned"] - dense
        if r["distilled"] < r["pruned"] and gap > 0:
            effect = f"{(r['pruned'] - r['distilled']) / gap:.0%} of the gap to dense closed"
        else:
            effect = (
                f"distillation did not lower it; right after pruning it was {gap:+.2f} from dense"
            )
        lines.append(
            f"- {r['kind']}, {r['removed_share']:.0%} of the parameters removed: perplexity "
            f"{r['pruned']:.2f} right after pruning, {r['distilled']:.2f} after distillation "
            f"({effect}), which {verdict} the same shape from scratch ({r['scratch']:.2f})."
        )
    controls = data["rows"]
    better = [r for r in controls if r["pruned"] < min(r["random"])]
    lines.append(
        f"- Activation importance beats every one of {len(SEEDS)} random choices of as many "
        f"units of the same layers in {len(better)} of {len(controls)} rows: "
        + "; ".join(
            f"{r['kind']} {r['removed_share']:.0%}: {r['pruned']:.2f} vs "
            f"{min(r['random']):.2f}-{max(r['random']):.2f}"
            for r in controls
        )
        + "."
    )
    spreads, gains = {}, {}
    for r in controls:
        spreads[r["kind"]] = r["score_spread"]
        gains.setdefault(r["kind"], []).append(statistics.mean(r["random"]) / r["pruned"])
    by_spread = sorted(spreads, key=lambda k: -spreads[k])
    by_gain = sorted(gains, key=lambda k: -statistics.mean(gains[k]))
    if by_spread == by_gain:
        verdict = (
            "The kinds come in the same order: units of nearly equal activation give the "
            "ranking little to go on."
        )
    else:
        verdict = "The kinds do not come in the same order."
    lines.append(
        "- Spread of the scores (largest / median within a block): "
        + ", ".join(f"{k} {spreads[k]:.1f}" for k in by_spread)
        + "; mean random-choice perplexity / activation-choice perplexity: "
        + ", ".join(f"{k} {statistics.mean(gains[k]):.2f}" for k in by_gain)
        + f". {verdict}"
    )
    wins = sum(r["distilled"] < r["scratch"] for r in every)
    lines.append(
        f"- Distillation beats training from scratch in {wins} of {len(every)} rows at this budget."
    )
    heads = [r for r in data["rows"] if r["kind"] == "heads"]
    for r in heads:
        if len(r["targets"]) > 1:
            attention = r["removed_share"] * r["units_per_block"] / r["removed_units"]
            lines.append(
                f"- Heads: the model has only {r['units_per_block']} key/value heads per block, "
                f"so removing {r['removed_units']} ("
                f"{r['removed_share']:.0%} of the parameters) is the closest it gets to every "
                f"target ({', '.join(f'{t:.0%}' for t in r['targets'])}): all of its "
                f"attention holds {attention:.0%} of the parameters."
            )
    for target in sorted({t for r in data["rows"] for t in r["targets"]}):
        near = [r for r in every if abs(r["removed_share"] - target) <= 0.1]
        if len(near) > 1:
            best = min(near, key=lambda r: r["distilled"])
            first = min(near, key=lambda r: r["pruned"])
            lines.append(
                f"- Near {target:.0%} removed ({', '.join(r['kind'] for r in near)}): lowest "
                f"perplexity right after pruning: {first['kind']} ({first['pruned']:.2f}); "
                f"after distillation: {best['kind']} ({best['distilled']:.2f})."
            )
    depth_note = (
        "Depth rows are repeated from results/llm_depth.json (same recipe and budget). "
        if data["depth_rows"]
        else ""
    )
    return (
        f"Test perplexity on {data['eval_tokens']:,} held-out bytes; dense {dense:.3f} "
        f"({data['parameters']:,} parameters). Units scored by their activations on 64 "
        "calibration sequences of 128 bytes (Minitron) and removed by `prune_units`; the count "
        "per block is the one whose removal comes closest to each target share of the "
        f"parameters. Recovery budget: {data['steps']} steps of 16 x 128 bytes = "
        f"{data['tokens']:,} bytes, for distillation (KL at T = 2 to the dense model, AdamW "
        "lr 1e-3) and for the same shape trained from scratch (cross-entropy, AdamW lr 4e-3). "
        f"{depth_note}One thread; other sessions were loading the machine, so times are "
        f"noisy.\n\n{table}\n\nWhat the numbers say (generated):\n\n" + "\n".join(lines)
    )


if __name__ == "__main__":
    main()
