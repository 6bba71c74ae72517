"""Structured pruning on the model zoo: coverage, size, MACs, pruning time and latency.

For every model of ``tests/zoo_models.py`` (random weights, small inputs) at 50 %:
whether ``prune_units`` and Torch-Pruning (``MetaPruner`` with ``MagnitudeImportance(p=1)``,
the final layer ignored, whole heads for ViT and BERT) prune it and the result runs;
parameters and MACs before and after (ours); the MAC ratios side by side, ours also with
Torch-Pruning's unit counts and width setting where the two are comparable; the time of one
pruning call, ours and Torch-Pruning's, measured alternately in this process (median of
``--rounds``), once on the machine as found and once beside a competing CPU-bound process on
one core (a busy laptop: a browser, a second notebook), each library at its default threads
(ours picks one thread for models under 5 M parameters, Torch-Pruning keeps torch's); CPU
latency speed-up of our pruned model at batch 8 on 1 thread, measured side by side with the
dense one; and the largest difference between our pruned model and the original with the
removed units zeroed, relative to the output's scale. Then the pruning call alone at full
size, both conditions: ``transformers``' default ResNet-50 and ViT-Base on one 224 x 224 image
(``--no-full-size`` skips it).

    python benchmarks/bench_zoo.py            # writes results/zoo.json and results/zoo.md
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
from _common import competing_load, load_average, markdown_table, write_results
from torch import nn

import pruning_lessons as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from zoo_models import (  # noqa: E402
    TORCH_PRUNING_COMPARABLE,
    ZOO,
    build,
    output,
    torch_pruning_counts,
    torch_pruning_prune,
    zeroed_copy,
)


def ours(model: nn.Module, example: torch.Tensor, amount: float) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pl.StructureWarning)
        return pl.prune_units(model, amount, example_input=example)


def theirs(model: nn.Module, example: torch.Tensor, amount: float, heads: bool) -> nn.Module:
    model = torch_pruning_prune(model, example, amount, heads=heads)
    with torch.no_grad():
        output(model.eval()(example))  # a result that does not run is not a result
    return model


def comparable_ratio(name: str, model: nn.Module, example: torch.Tensor, amount: float):
    """Our MAC ratio with Torch-Pruning's unit counts and width setting, or None."""
    settings = TORCH_PRUNING_COMPARABLE.get(name)
    if settings is None:
        return None
    options = {k: settings[k] for k in ("through_norms", "grouped")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pl.StructureWarning)
        counts = torch_pruning_counts(pl.unit_groups(model, example, **options), amount)
        pruned = pl.prune_units(model, counts, example_input=example, **options)
    return pl.count_macs(pruned, example) / pl.count_macs(model, example)


def timed(fn, *args) -> tuple[float, object]:
    start = time.perf_counter()
    try:
        result = fn(*args)
    except Exception as err:  # a failure is a result here: it is reported, not raised
        return time.perf_counter() - start, err
    return time.perf_counter() - start, result


CONDITIONS = ("as found", "busy")


def prune_times(model, example, amount, heads, rounds) -> tuple[list, list, object, object]:
    """Alternate one call of each, ``rounds`` times, so that load hits both alike."""
    ours_times, their_times = [], []
    mine = other = None
    for _ in range(rounds):
        seconds, mine = timed(ours, model, example, amount)
        ours_times.append(seconds)
        seconds, other = timed(theirs, model, example, amount, heads)
        their_times.append(seconds)
    return ours_times, their_times, mine, other


def study(name: str, amount: float, rounds: int) -> dict:
    model, example = build(name)
    row: dict = {"model": name, "amount": amount, "load_average": load_average()}
    heads = TORCH_PRUNING_COMPARABLE.get(name, {}).get("heads", False)
    for condition in CONDITIONS:
        with competing_load(600) if condition == "busy" else contextlib.nullcontext():
            ours_times, their_times, mine, other = prune_times(
                model, example, amount, heads, rounds
            )
        row[f"ours_s {condition}"] = statistics.median(ours_times)
        row[f"theirs_s {condition}"] = statistics.median(their_times)
    row["ours_ok"] = isinstance(mine, nn.Module)
    row["theirs_ok"] = isinstance(other, nn.Module)
    row["theirs_error"] = "" if row["theirs_ok"] else f"{type(other).__name__}: {other}"[:120]
    for condition in CONDITIONS:
        if not row["theirs_ok"]:
            row[f"theirs_s {condition}"] = None
    dense_macs = pl.count_macs(model, example)
    row["params"] = pl.count_parameters(model)
    row["macs"] = dense_macs
    if row["theirs_ok"]:
        row["theirs_mac_ratio"] = pl.count_macs(other, example) / dense_macs
        row["comparable_mac_ratio"] = comparable_ratio(name, model, example, amount)
    if not row["ours_ok"]:
        row["ours_error"] = f"{type(mine).__name__}: {mine}"[:120]
        return row
    row["params_after"] = pl.count_parameters(mine)
    row["macs_after"] = pl.count_macs(mine, example)
    row["mac_ratio"] = row["macs_after"] / dense_macs
    groups = pl.unit_groups(model, example)
    removed = pl.select_units(model, amount, example_input=example)
    with torch.no_grad():
        expected = output(zeroed_copy(model, groups, removed)(example))
        got = output(mine.eval()(example))
    row["max_rel_diff"] = float((got - expected).abs().max() / expected.abs().max())
    row["pinned"] = sum(g.pinned is not None for g in groups)
    row["groups"] = len(groups)
    dense_ms, pruned_ms = [], []
    for _ in range(3):
        dense_ms.append(pl.measure_latency(model, example, batch_size=8, min_run_time=0.2).median)
        pruned_ms.append(pl.measure_latency(mine, example, batch_size=8, min_run_time=0.2).median)
    row["speedup"] = min(dense_ms) / min(pruned_ms)
    return row


def full_size_models() -> dict:
    """Real sizes, not the zoo's small versions: ``transformers``' default ResNet-50 and
    ViT-Base configs (random weights), one 224 x 224 image."""
    import transformers

    image = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    resnet = transformers.ResNetForImageClassification(transformers.ResNetConfig())
    vit = transformers.ViTForImageClassification(transformers.ViTConfig())
    return {"ResNet-50": (resnet, image, False), "ViT-Base": (vit, image, True)}


def full_size_study(amount: float, rounds: int) -> list[dict]:
    """Pruning time at full size, ours and Torch-Pruning's, in both conditions."""
    rows = []
    for name, (model, image, heads) in full_size_models().items():
        row = {"model": name, "params": pl.count_parameters(model)}
        for condition in CONDITIONS:
            with competing_load(600) if condition == "busy" else contextlib.nullcontext():
                ours_times, their_times, *_ = prune_times(
                    model.eval(), image, amount, heads, rounds
                )
            row[f"ours_s {condition}"] = statistics.median(ours_times)
            row[f"theirs_s {condition}"] = statistics.median(their_times)
        rows.append(row)
    return rows


def full_size_table(rows: list[dict]) -> str:
    header = ["model (full size)", "params", *(f"prune s, ours / TP ({c})" for c in CONDITIONS)]
    table = [
        [
            r["model"],
            f"{r['params']:,}",
            *(
                f"{r[f'ours_s {c}']:.2f} / {r[f'theirs_s {c}']:.2f} "
                f"({r[f'ours_s {c}'] / r[f'theirs_s {c}']:.2f}x)"
                for c in CONDITIONS
            ),
        ]
        for r in rows
    ]
    return markdown_table(header, table)


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--amount", type=float, default=0.5, help="fraction of units removed")
    parser.add_argument("--rounds", type=int, default=5, help="alternating timing rounds")
    parser.add_argument("--models", nargs="*", default=list(ZOO), help="zoo models to run")
    parser.add_argument(
        "--no-full-size", action="store_true", help="skip the full-size ResNet-50 and ViT-Base"
    )
    args = parser.parse_args()
    warm, example = build("resnet18")  # first calls of both libraries warm up
    ours(warm, example, args.amount)
    theirs(warm, example, args.amount, False)
    rows = [study(name, args.amount, args.rounds) for name in args.models]
    header = [
        "model",
        "ours",
        "Torch-Pruning",
        "params",
        "MACs",
        "our MAC ratio",
        "ours, TP's counts",
        "TP MAC ratio",
        "prune s, ours / TP (as found)",
        "prune s, ours / TP (busy)",
        "latency speed-up (b8, 1 thr)",
        "max rel diff",
        "groups kept whole",
    ]
    table = []
    for r in rows:
        table.append(
            [
                r["model"],
                "yes" if r["ours_ok"] else "no",
                "yes" if r["theirs_ok"] else f"no ({r['theirs_error'][:50]})",
                f"{r['params']:,} -> {r.get('params_after', 0):,}",
                f"{r['macs']:,} -> {r.get('macs_after', 0):,}",
                _fmt(r.get("mac_ratio"), ".3f"),
                _fmt(r.get("comparable_mac_ratio"), ".3f"),
                _fmt(r.get("theirs_mac_ratio"), ".3f"),
                *(
                    f"{_fmt(r[f'ours_s {c}'], '.3f')} / {_fmt(r[f'theirs_s {c}'], '.3f')}"
                    for c in CONDITIONS
                ),
                _fmt(r.get("speedup"), ".2f") + "x",
                _fmt(r.get("max_rel_diff"), ".1e"),
                f"{r.get('pinned', '-')} of {r.get('groups', '-')}",
            ]
        )
    covered = sum(r["ours_ok"] for r in rows)
    theirs_covered = sum(r["theirs_ok"] for r in rows)
    both = sum(r["theirs_ok"] for r in rows)
    faster = {
        c: [r["model"] for r in rows if r["theirs_ok"] and r[f"ours_s {c}"] <= r[f"theirs_s {c}"]]
        for c in CONDITIONS
    }
    slower = {
        c: ", ".join(
            f"{r['model']} {r[f'ours_s {c}'] / r[f'theirs_s {c}']:.2f}x"
            for r in rows
            if r["theirs_ok"] and r["model"] not in faster[c]
        )
        for c in CONDITIONS
    }
    loads = [r["load_average"] for r in rows if r["load_average"] is not None]
    load = f"{min(loads):.1f}-{max(loads):.1f}" if loads else "unknown"
    summary = (
        f"{args.amount:.0%} of the units of every prunable group removed. We prune "
        f"{covered} of {len(rows)} models, Torch-Pruning {theirs_covered}. Our pruning call "
        f"was no slower than Torch-Pruning's on {len(faster['as found'])} of the {both} "
        f"models both prune on the machine as found (1-minute load average {load} before "
        f"each model){' (slower: ' + slower['as found'] + ')' if slower['as found'] else ''}, "
        f"and on {len(faster['busy'])} of {both} beside a busy process"
        f"{' (slower: ' + slower['busy'] + ')' if slower['busy'] else ''}. "
        "\"ours, TP's counts\": our MAC ratio with Torch-Pruning's unit counts (it removes "
        "n - int(n x (1 - amount)) of n units, we remove round(amount x n)) and, for ConvNeXt, "
        "ViT and BERT, through_norms=True as it prunes LayerNorm widths; ViT and BERT are "
        "pruned by whole heads on both sides (Torch-Pruning's num_heads options); RegNet with "
        "grouped='within' (every group narrowed, as Torch-Pruning does; our default removes "
        "whole groups, which leaves its grouped convolutions more MACs: 'our MAC ratio'). "
        "Groups kept whole: the model's outputs and, by default, widths that a LayerNorm or "
        "RMSNorm normalises over (pass through_norms=True to prune those too, as "
        "Torch-Pruning does, at the cost of exactness). Times in seconds (median of "
        f"{args.rounds} alternating rounds) on a shared CPU: compare ratios, not absolute values."
    )
    full = [] if args.no_full_size else full_size_study(args.amount, min(args.rounds, 3))
    page = summary + "\n\n" + markdown_table(header, table)
    if full:
        page += (
            "\n\nThe same pruning call at full size (median of 3 alternating rounds; these "
            "models are over 5 M parameters, so ours keeps torch's default threads too):\n\n"
            + full_size_table(full)
        )
    write_results(
        "zoo",
        {"amount": args.amount, "rounds": args.rounds, "rows": rows, "full_size": full},
        page,
        "Structured pruning on the model zoo (ours vs Torch-Pruning)",
    )


if __name__ == "__main__":
    main()
