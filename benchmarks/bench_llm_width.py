"""Width pruning with recovery: heads, MLP width and model width; distilled, fine-tuned, scratch.

    python benchmarks/bench_llm_width.py [--steps 40] [--targets 0.25 0.5] [--seeds 3]
    python benchmarks/bench_llm_width.py --kinds heads "MLP width" & ...; then --merge

For each kind of unit (key/value heads with their query heads, MLP neurons, embedding
channels) of the course's small LLaMA-style model, and each target share of the parameters to
remove: the number of units per block whose removal comes closest to the target (computed from
the pruned shape's parameter count; the share actually removed is reported), removed by
``llm.prune_heads`` / ``prune_mlp_width`` / ``prune_model_width`` (activation importance,
Minitron, on 64 calibration sequences of 128 bytes). Test perplexity right after pruning
(and, as a control, with as many random units of the same layers removed, 3 seeds), with
the spread of the activation scores (max / median within a block). Then the three recoveries
of bench_llm_depth.py on one budget (``--steps`` steps, the same windows for the same seed,
``--seeds`` seeds): distillation from the dense model, plain next-byte fine-tuning of the same
pruned model, and the same shape trained from scratch. The depth rows are repeated from
results/llm_depth.json when they used the same budget and seeds. Time of each pruning call and
of each recovery. One thread. Writes results/llm_width.json / .md (``--report-only`` rewrites
the .md from the .json).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time

import torch
from _common import RESULTS, markdown_table, write_results
from bench_llm_depth import ARMS, budget_text, cell, recover, scratch_line, study_setup

import pruning_lessons as pl
from pruning_lessons import llm
from pruning_lessons.llm.model import TinyLlama, TinyLlamaConfig
from pruning_lessons.llm.width import width_plan

TITLE = "Width pruning, then distillation, fine-tuning or from scratch"
#: row name -> (pruning function, config field counting its units per block, what a unit is,
#: the kind as ``llm.width`` names it)
KINDS = {
    "heads": (llm.prune_heads, "n_kv_heads", "key/value heads (with their query heads)", "heads"),
    "MLP width": (llm.prune_mlp_width, "hidden_dim", "MLP neurons", "mlp"),
    "model width": (llm.prune_model_width, "dim", "embedding channels", "model"),
}
SEEDS = (0, 1, 2)
#: where runs with --kinds keep their rows until --merge
PARTS = RESULTS / "llm_width_parts"


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


def depth_rows(steps: int, seeds: list[int]) -> list[dict]:
    """The depth rows of results/llm_depth.json, if they used the same budget and seeds."""
    path = RESULTS / "llm_depth.json"
    if not path.exists():
        return []
    depth = json.loads(path.read_text())
    if depth.get("steps") != steps or depth.get("seeds") != seeds:
        return []
    keys = (*ARMS, "runs", "distill_seconds", "fine_tune_seconds", "scratch_seconds")
    return [
        {
            "kind": "depth",
            "units": f"{n} blocks",
            "removed_share": 1 - d["params_left"],
            "pruned": d["dropped"],
            **{k: d[k] for k in keys},
        }
        for n, d in depth.items()
        if isinstance(d, dict) and "params_left" in d
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--targets", type=float, nargs="+", default=[0.25, 0.5])
    parser.add_argument("--seeds", type=int, default=3, help="seeds of each recovery")
    parser.add_argument("--eval-tokens", type=int, default=32768)
    parser.add_argument(
        "--kinds",
        nargs="+",
        choices=list(KINDS),
        default=list(KINDS),
        help="measure only these kinds and save them as a part (runs in parallel); --merge "
        "then writes the page from the parts",
    )
    parser.add_argument("--part", action="store_true", help="save the rows as a part")
    parser.add_argument("--merge", action="store_true", help="join the saved parts")
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite the page from the saved JSON"
    )
    args = parser.parse_args()
    if args.merge:
        data = merge_parts()
        write_results("llm_width", data, report(data), TITLE)
        return
    if args.report_only:
        data = json.loads((RESULTS / "llm_width.json").read_text())
        data["depth_rows"] = depth_rows(data["steps"], data["seeds"])
        write_results("llm_width", data, report(data), TITLE)
        return
    model, corpus, test, calibration, dense = study_setup(args.eval_tokens)
    seeds = list(range(args.seeds))
    total = pl.count_parameters(model)
    rows: list[dict] = []
    for kind in args.kinds:
        prune, field, unit, name = KINDS[kind]
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
            row.update(recover(pruned, pruned.config, model, corpus.train, test, args.steps, seeds))
            rows.append(row)
            print(row)
    data = {
        "dense": dense,
        "unigram": llm.unigram_perplexity(corpus.train, test),
        "parameters": total,
        "steps": args.steps,
        "tokens": args.steps * 16 * 128,
        "seeds": seeds,
        "eval_tokens": len(test),
        "rows": rows,
    }
    if args.kinds != list(KINDS) or args.part:
        PARTS.mkdir(parents=True, exist_ok=True)
        first = min(list(KINDS).index(k) for k in args.kinds)
        part = PARTS / f"{first}-{'-'.join(map(str, args.targets))}.json"
        part.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        return
    data["depth_rows"] = depth_rows(args.steps, seeds)
    write_results("llm_width", data, report(data), TITLE)


def merge_parts() -> dict:
    """The parts saved by runs with ``--kinds``, joined in the order of KINDS (then removed)."""
    parts = [json.loads(p.read_text()) for p in sorted(PARTS.glob("*.json"))]
    kinds = [r["kind"] for part in parts for r in part["rows"]]
    if sorted(set(kinds), key=list(KINDS).index) != list(KINDS):
        raise SystemExit(f"the parts hold {sorted(set(kinds))}, not every kind of {list(KINDS)}")
    same = ("dense", "unigram", "parameters", "steps", "tokens", "seeds", "eval_tokens")
    if any(part[k] != parts[0][k] for part in parts for k in same):
        raise SystemExit("the parts were measured with different settings")
    data = {k: parts[0][k] for k in same}
    data["rows"] = sorted(
        (r for part in parts for r in part["rows"]), key=lambda r: list(KINDS).index(r["kind"])
    )
    data["depth_rows"] = depth_rows(data["steps"], data["seeds"])
    for p in PARTS.glob("*.json"):
        p.unlink()
    PARTS.rmdir()
    return data


def mean_std(values: list[float]) -> str:
    return f"{statistics.mean(values):.2f} +- {statistics.stdev(values):.2f}"


def closed(row: dict, arm: str, dense: float) -> str:
    """How much of the gap to dense one recovery closed, as a phrase."""
    gap = row["pruned"] - dense
    if row[arm] < row["pruned"] and gap > 0:
        return f"{(row['pruned'] - row[arm]) / gap:.0%} of the gap to dense closed"
    return "no lower than right after pruning"


def separated(row: dict) -> bool:
    """Distillation and fine-tuning differ by more than their two seed spreads together
    (never said of one seed, which measures no spread)."""
    if len(row["runs"]["distilled"]) < 2:
        return False
    spread = sum(statistics.pstdev(row["runs"][arm]) for arm in ("distilled", "fine_tuned"))
    return abs(row["distilled"] - row["fine_tuned"]) > spread


def recovery_lines(data: dict) -> list[str]:
    """Per row: pruned, distilled, fine-tuned, from scratch; then the count of wins."""
    dense, every, lines = data["dense"], data["rows"] + data["depth_rows"], []
    for r in every:
        better = "distillation" if r["distilled"] < r["fine_tuned"] else "fine-tuning"
        margin = "by more than the seed spread" if separated(r) else "within the seed spread"
        if len(r["runs"]["distilled"]) < 2:
            margin = "one seed, no spread measured"
        lines.append(
            f"- {r['kind']}, {r['removed_share']:.0%} of the parameters removed: perplexity "
            f"{r['pruned']:.2f} right after pruning; {r['distilled']:.2f} after distillation "
            f"({closed(r, 'distilled', dense)}), {r['fine_tuned']:.2f} after plain fine-tuning "
            f"({closed(r, 'fine_tuned', dense)}): {better} lower, {margin}; "
            f"the same shape from scratch {r['scratch']:.2f}."
        )
    wins = [r for r in every if r["distilled"] < r["fine_tuned"]]
    clear = [r for r in wins if separated(r)]
    lost = [r for r in every if r["distilled"] > r["fine_tuned"] and separated(r)]
    lines.append(
        f"- Distillation is lower than plain fine-tuning on the same budget in {len(wins)} of "
        f"{len(every)} rows"
        + (f", by more than the seed spread in {len(clear)}" if len(data["seeds"]) > 1 else "")
        + (f"; fine-tuning lower by more than it in {len(lost)}" if lost else "")
        + ". "
        + (
            "Both beat the same shape from scratch in every row; "
            if all(max(r["distilled"], r["fine_tuned"]) < r["scratch"] for r in every)
            else "Not every recovery beats the same shape from scratch; "
        )
        + f"{scratch_line(every, data)}."
    )
    return lines


def ranking_lines(rows: list[dict]) -> list[str]:
    """Activation importance against random units: where it won, and where it did worse."""
    best = [r for r in rows if r["pruned"] < min(r["random"])]
    worst = [r for r in rows if r["pruned"] > max(r["random"])]
    below_mean = [r for r in rows if statistics.mean(r["random"]) < r["pruned"] <= max(r["random"])]

    def named(some: list[dict]) -> str:
        return ", ".join(
            f"{r['kind']} {r['removed_share']:.0%} ({r['pruned']:.2f} vs random "
            f"{min(r['random']):.2f}-{max(r['random']):.2f})"
            for r in some
        )

    lines = [
        f"- Activation importance beats every one of {len(SEEDS)} random choices of as many "
        f"units of the same layers in {len(best)} of {len(rows)} rows"
        + (f": {named(best)}." if best else ".")
    ]
    if worst:
        lines.append(
            f"- Activation importance did worse than every random choice in {len(worst)} of "
            f"{len(rows)} rows: {named(worst)}. There the units with the smallest activations "
            "were not the ones the model could spare."
        )
    if below_mean:
        lines.append(
            f"- Worse than the mean of the random choices, though not than all of them: "
            f"{named(below_mean)}."
        )
    return lines


def report(data: dict) -> str:
    """The Markdown page, every sentence generated from ``data``."""
    every = data["rows"] + data["depth_rows"]

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
            *ARMS.values(),
            "prune s",
            "distil s",
            "fine-tune s",
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
                *(cell(r, arm) for arm in ARMS),
                secs(r, "prune_seconds"),
                secs(r, "distill_seconds"),
                secs(r, "fine_tune_seconds"),
                secs(r, "scratch_seconds"),
            ]
            for r in every
        ],
    )
    controls = data["rows"]
    lines = recovery_lines(data) + ranking_lines(controls)
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
    for r in (r for r in controls if r["kind"] == "heads" and len(r["targets"]) > 1):
        attention = r["removed_share"] * r["units_per_block"] / r["removed_units"]
        lines.append(
            f"- Heads: the model has only {r['units_per_block']} key/value heads per block, "
            f"so removing {r['removed_units']} ({r['removed_share']:.0%} of the parameters) "
            f"is the closest it gets to every target "
            f"({', '.join(f'{t:.0%}' for t in r['targets'])}): all of its attention holds "
            f"{attention:.0%} of the parameters."
        )
    for target in sorted({t for r in controls for t in r["targets"]}):
        near = [r for r in every if abs(r["removed_share"] - target) <= 0.1]
        if len(near) > 1:
            first = min(near, key=lambda r: r["pruned"])
            best = min(near, key=lambda r: min(r["distilled"], r["fine_tuned"]))
            lines.append(
                f"- Near {target:.0%} removed ({', '.join(r['kind'] for r in near)}): lowest "
                f"perplexity right after pruning: {first['kind']} ({first['pruned']:.2f}); "
                f"after recovery: {best['kind']} (distilled {best['distilled']:.2f}, "
                f"fine-tuned {best['fine_tuned']:.2f})."
            )
    depth_note = (
        "Depth rows are repeated from results/llm_depth.json (same recipe, budget and seeds). "
        if data["depth_rows"]
        else ""
    )
    return (
        f"Test perplexity on {data['eval_tokens']:,} held-out bytes; dense {data['dense']:.3f} "
        f"({data['parameters']:,} parameters). Units scored by their activations on 64 "
        "calibration sequences of 128 bytes (Minitron) and removed by `prune_units`; the count "
        "per block is the one whose removal comes closest to each target share of the "
        f"parameters. {budget_text(data)} {depth_note}One thread; other sessions were loading "
        f"the machine, so times are noisy.\n\n{table}\n\nWhat the numbers say (generated):\n\n"
        + "\n".join(lines)
    )


if __name__ == "__main__":
    main()
