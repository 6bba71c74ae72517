"""Structured pruning on the whole model zoo: coverage, size, MACs, pruning time and latency.

For every model of ``tests/zoo_models.py`` (``ALL``: the zoo and the architectures beyond it,
random weights, small inputs) at 50 %: whether ``prune_units`` (its self-check on, the
default) prunes it exactly, keeps groups whole by name, or refuses it by name; whether
Torch-Pruning (``MetaPruner`` with ``MagnitudeImportance(p=1)``, the final layer ignored,
whole heads where the model has ``config.num_attention_heads`` and q/k/v projections) prunes
it into a model that runs, within ``--tp-limit`` seconds; parameters and MACs before and after
(ours); the MAC ratios side by side, ours also with Torch-Pruning's unit counts and width
setting where the two are comparable; the time of one pruning call, ours with and without the
self-check and Torch-Pruning's, measured alternately in this process (ours, ours unchecked,
TP, then TP, ours unchecked, ours, ...; medians of ``--rounds`` calls each), once on the
machine as found and once beside a competing CPU-bound process on one core (a busy laptop),
each library at its default threads (ours picks one thread for models under 5 M parameters,
Torch-Pruning keeps torch's); CPU latency speed-up of our pruned model at batch 8 on 1 thread;
and the largest difference between our pruned model and the original with the removed units
zeroed, relative to the output's scale (the tests' judgement, computed independently of the
self-check). Then the pruning call alone at full size, both conditions: ResNet-50 and
ViT-B/16 (``transformers`` classes, random weights) on one 224 x 224 image (``--no-full-size``
skips it).

    python benchmarks/bench_zoo.py            # writes results/zoo.json and results/zoo.md
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import signal
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
from _common import RESULTS, competing_load, load_average, markdown_table, write_results
from bench_latency import table as latency_table
from full_size import full_size_models
from torch import nn

import pruning_lessons as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from zoo_models import (  # noqa: E402
    ALL,
    ATTENTION_INPUTS,
    BEYOND,
    TORCH_PRUNING_COMPARABLE,
    build,
    output,
    torch_pruning_counts,
    torch_pruning_prune,
    zeroed_copy,
)

CONDITIONS = ("as found", "busy")


def ours(model: nn.Module, example: torch.Tensor, amount: float) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pl.StructureWarning)
        return pl.prune_units(model, amount, example_input=example)


def ours_unchecked(model: nn.Module, example: torch.Tensor, amount: float) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pl.StructureWarning)
        return pl.prune_units(model, amount, example_input=example, verify=False)


def theirs(model: nn.Module, example: torch.Tensor, amount: float, heads: bool) -> nn.Module:
    model = torch_pruning_prune(model, example, amount, heads=heads)
    with torch.no_grad():
        output(model.eval()(example))  # a result that does not run is not a result
    return model


def tp_heads(name: str, model: nn.Module) -> bool:
    """Whole heads for Torch-Pruning (its documented options) where the model says how many
    it has and names its q/k/v projections; the zoo's table of settings where it has one."""
    if name in TORCH_PRUNING_COMPARABLE:
        return bool(TORCH_PRUNING_COMPARABLE[name]["heads"])
    config = getattr(model, "config", None)
    if not isinstance(getattr(config, "num_attention_heads", None), int):
        return False
    return any(
        isinstance(m, nn.Linear) and n.rpartition(".")[2] in ATTENTION_INPUTS
        for n, m in model.named_modules()
    )


class TimedOut(Exception):
    """Torch-Pruning did not finish within the time limit."""


@contextlib.contextmanager
def time_limit(seconds: int):
    def stop(*_):
        raise TimedOut(f"did not finish within {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def timed(fn, *args) -> tuple[float, object]:
    start = time.perf_counter()
    try:
        result = fn(*args)
    except Exception as err:  # a failure is a result here: it is reported, not raised
        return time.perf_counter() - start, err
    return time.perf_counter() - start, result


def alternating_times(calls: dict, rounds: int) -> dict[str, float]:
    """Median seconds of each call, run in turn and in reverse turn (A B C, C B A, ...),
    ``rounds`` times each, so that a change of load hits every call alike."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    order = list(calls)
    for r in range(rounds):
        for name in order if r % 2 == 0 else reversed(order):
            seconds, _ = timed(calls[name])
            times[name].append(seconds)
    return {name: statistics.median(values) for name, values in times.items()}


def probe_ours(model, example, amount) -> tuple[object, list[str]]:
    """Our result (a model or the exception) and the StructureWarnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, result = timed(lambda: pl.prune_units(model, amount, example_input=example))
    said = [str(w.message) for w in caught if issubclass(w.category, pl.StructureWarning)]
    return result, said


def kept_by_check(messages: list[str]) -> set[str]:
    """Groups the self-check kept whole, by name (as tests/test_zoo_beyond.py reads them)."""
    return {n for m in messages if "self-check" in m for n in re.findall(r"'([^']+)' \(layers", m)}


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


def macs(model: nn.Module, example: torch.Tensor) -> int | None:
    """``pl.count_macs``, or None where torch's FLOP counter cannot run the model."""
    try:
        return pl.count_macs(model, example)
    except Exception:  # noqa: BLE001 -- e.g. a kernel that asserts autograd state (Mamba)
        return None


def _over(a, b):
    return None if a is None or b is None else a / b


def _error(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}".splitlines()[0][:160]


def judge_ours(row: dict, model, example, amount, mine, said) -> None:
    """Fill in what our result is: exact, refused by name, or a failure (never expected)."""
    row["warnings"] = [m[:300] for m in said]
    if not isinstance(mine, nn.Module):
        refused = isinstance(mine, ValueError | TypeError | NotImplementedError)
        row["ours_status"] = "refused" if refused else "crashed"
        row["ours_error"] = _error(mine)
        return
    kept = kept_by_check(said)
    groups = pl.unit_groups(model, example)
    removed = pl.select_units(model, amount, example_input=example)
    removed = {n: u for n, u in removed.items() if n not in kept and u}
    with torch.no_grad():
        expected = output(zeroed_copy(model, groups, removed)(example))
        got = output(mine.eval()(example))
    diff = float((got - expected).abs().max() / expected.abs().max().clamp_min(1e-12))
    row["max_rel_diff"] = diff
    row["ours_status"] = "exact" if diff <= 1e-5 else "WRONG"
    row["pinned"] = sum(g.pinned is not None for g in groups) + len(kept)
    row["groups"] = len(groups)
    row["kept_by_check"] = sorted(kept)
    row["params_after"] = pl.count_parameters(mine)
    row["macs_after"] = macs(mine, example)
    row["mac_ratio"] = _over(row["macs_after"], row["macs"])
    try:
        dense_ms, pruned_ms = [], []
        for _ in range(2):
            dense_ms.append(pl.measure_latency(model, example, batch_size=8, min_run_time=0.1))
            pruned_ms.append(pl.measure_latency(mine, example, batch_size=8, min_run_time=0.1))
        row["speedup"] = min(d.median for d in dense_ms) / min(p.median for p in pruned_ms)
    except Exception as err:  # noqa: BLE001 -- reported in the row
        row["speedup_error"] = _error(err)


def study(name: str, amount: float, rounds: int, tp_limit: int) -> dict:
    model, example = build(name)
    row: dict = {"model": name, "set": "beyond" if name in BEYOND else "zoo", "amount": amount}
    row["load_average"] = load_average()
    row["params"] = pl.count_parameters(model)
    row["macs"] = macs(model, example)
    heads = tp_heads(name, model)
    row["tp_heads"] = heads
    mine, said = probe_ours(model, example, amount)
    with time_limit(tp_limit):
        _, other = timed(theirs, model, example, amount, heads)
    row["theirs_ok"] = isinstance(other, nn.Module)
    row["theirs_error"] = "" if row["theirs_ok"] else _error(other)
    if row["theirs_ok"]:
        row["theirs_mac_ratio"] = _over(macs(other, example), row["macs"])
        row["comparable_mac_ratio"] = comparable_ratio(name, model, example, amount)
    calls = {
        "ours": lambda: ours(model, example, amount),
        "ours_unchecked": lambda: ours_unchecked(model, example, amount),
    }
    if row["theirs_ok"]:
        calls["theirs"] = lambda: theirs(model, example, amount, heads)
    for condition in CONDITIONS:
        with competing_load(900) if condition == "busy" else contextlib.nullcontext():
            medians = alternating_times(calls, rounds)
        for call, seconds in medians.items():
            row[f"{call}_s {condition}"] = seconds
    judge_ours(row, model, example, amount, mine, said)
    return row


def full_size_row(name, model, image, heads, amount, rounds) -> dict:
    row = {"model": name, "params": pl.count_parameters(model)}
    calls = {
        "ours": lambda: ours(model, image, amount),
        "ours_unchecked": lambda: ours_unchecked(model, image, amount),
        "theirs": lambda: theirs(model, image, amount, heads),
    }
    for call in calls.values():  # warm: first calls allocate
        call()
    for condition in CONDITIONS:
        with competing_load(900) if condition == "busy" else contextlib.nullcontext():
            medians = alternating_times(calls, rounds)
        for call, seconds in medians.items():
            row[f"{call}_s {condition}"] = seconds
    return row


def full_size_study(amount: float, rounds: int) -> list[dict]:
    """Pruning time at full size, ours (with and without the check) and Torch-Pruning's."""
    return [
        full_size_row(name, model, image, heads, amount, rounds)
        for name, (model, image, heads) in full_size_models().items()
    ]


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _ratio(row: dict, condition: str) -> str:
    theirs_s = row.get(f"theirs_s {condition}")
    ours_s = row[f"ours_s {condition}"]
    if theirs_s is None:
        return f"{ours_s:.3f} / -"
    return f"{ours_s:.3f} / {theirs_s:.3f} ({ours_s / theirs_s:.2f}x)"


def _check_cost(row: dict, condition: str) -> float:
    return row[f"ours_s {condition}"] / row[f"ours_unchecked_s {condition}"] - 1


def _status(row: dict) -> str:
    if row["ours_status"] == "exact":
        kept = len(row.get("kept_by_check", []))
        return "exact" + (f", {kept} kept whole by the check" if kept else "")
    return f"{row['ours_status']} ({row['ours_error'][:70]})"


def zoo_table(rows: list[dict]) -> str:
    header = [
        "model",
        "ours",
        "Torch-Pruning",
        "params",
        "our MAC ratio",
        "ours, TP's counts",
        "TP MAC ratio",
        *(f"prune s, ours / TP ({c})" for c in CONDITIONS),
        f"self-check cost ({' / '.join(CONDITIONS)})",
        "latency speed-up (b8, 1 thr, best of 2)",
        "max rel diff",
        "groups kept whole",
    ]
    table = []
    for r in rows:
        theirs_cell = "yes" + (" (heads)" if r["tp_heads"] else "")
        table.append(
            [
                r["model"] + (" *" if r["set"] == "beyond" else ""),
                _status(r),
                theirs_cell if r["theirs_ok"] else f"no ({r['theirs_error'][:50]})",
                f"{r['params']:,} -> {r['params_after']:,}" if "params_after" in r else "-",
                _fmt(r.get("mac_ratio"), ".3f"),
                _fmt(r.get("comparable_mac_ratio"), ".3f"),
                _fmt(r.get("theirs_mac_ratio"), ".3f"),
                *(_ratio(r, c) for c in CONDITIONS),
                " / ".join(f"{_check_cost(r, c):+.0%}" for c in CONDITIONS),
                _fmt(r.get("speedup"), ".2f") + ("x" if r.get("speedup") else ""),
                _fmt(r.get("max_rel_diff"), ".1e"),
                f"{r['pinned']} of {r['groups']}" if "groups" in r else "-",
            ]
        )
    return markdown_table(header, table)


def full_size_table(rows: list[dict]) -> str:
    header = [
        "model (full size)",
        "params",
        *(f"prune s, ours / TP ({c})" for c in CONDITIONS),
        f"self-check cost ({' / '.join(CONDITIONS)})",
    ]
    table = [
        [
            r["model"],
            f"{r['params']:,}",
            *(_ratio(r, c) for c in CONDITIONS),
            " / ".join(f"{_check_cost(r, c):+.0%}" for c in CONDITIONS),
        ]
        for r in rows
    ]
    return markdown_table(header, table)


def _names(rows: list[dict]) -> str:
    return f" ({', '.join(r['model'] for r in rows)})" if rows else ""


def summary(rows: list[dict], full: list[dict], args) -> str:
    exact = [r for r in rows if r["ours_status"] == "exact"]
    refused = [r for r in rows if r["ours_status"] == "refused"]
    bad = [r for r in rows if r["ours_status"] not in ("exact", "refused")]
    with_check = [r for r in exact if r.get("kept_by_check")]
    both = [r for r in rows if r["theirs_ok"] and r["ours_status"] == "exact"]
    parts = [
        f"{args.amount:.0%} of the units of every prunable group removed, {len(rows)} models "
        f"(* : beyond the original zoo). Ours: {len(exact)} pruned exactly (max rel diff "
        f"<= 1e-5 against the original with the removed units zeroed, judged here "
        f"independently of the self-check; {len(with_check)} of them with groups the "
        f"self-check kept whole, named in its warning), {len(refused)} refused by name "
        f"({', '.join(r['model'] + ': ' + r['ours_error'][:90] for r in refused) or 'none'})"
        f", {len(bad)} other outcomes{_names(bad)}"
        f". Torch-Pruning returned a model that runs for {sum(r['theirs_ok'] for r in rows)}."
    ]
    for condition in CONDITIONS:
        slower = [
            f"{r['model']} {r[f'ours_s {condition}'] / r[f'theirs_s {condition}']:.2f}x"
            for r in both
            if r[f"ours_s {condition}"] > r[f"theirs_s {condition}"]
        ]
        parts.append(
            f"With its self-check on, our pruning call was no slower than Torch-Pruning's on "
            f"{len(both) - len(slower)} of the {len(both)} models both prune ({condition}"
            f"{'; slower: ' + ', '.join(slower) if slower else ''})."
        )
    costs = [_check_cost(r, "as found") for r in rows if r["ours_status"] == "exact"]
    if costs:
        parts.append(
            f"The self-check (the pruned copy and the original with the removed units zeroed "
            f"each run once on example_input, then compared) cost {statistics.median(costs):+.0%}"
            f" of the unchecked call in the median over the {len(costs)} models pruned, "
            f"{min(costs):+.0%} to {max(costs):+.0%} (as found)."
        )
    loads = [r["load_average"] for r in rows if r["load_average"] is not None]
    if loads:
        parts.append(f"1-minute load average {min(loads):.1f}-{max(loads):.1f} before each model.")
    parts.append(
        "\"ours, TP's counts\": our MAC ratio with Torch-Pruning's unit counts (it removes "
        "n - int(n x (1 - amount)) of n units, we remove round(amount x n)) and, for ConvNeXt, "
        "ViT and BERT, through_norms=True as it prunes LayerNorm widths; '(heads)': "
        "Torch-Pruning pruned whole heads (num_heads, prune_num_heads=True), as ours does; "
        "RegNet with grouped='within' (every group narrowed, as Torch-Pruning does). Groups "
        "kept whole: the model's outputs, by default widths that a LayerNorm or RMSNorm "
        "normalises over (through_norms=True prunes those too, as Torch-Pruning does, at the "
        "cost of exactness), operations we cannot follow (named in a StructureWarning) and "
        "groups the self-check kept. Times in seconds, medians of "
        f"{args.rounds} alternating calls each, on a shared CPU: compare ratios, not absolute "
        f"values. Torch-Pruning calls were stopped after {args.tp_limit} s. Each library at "
        "its default threads: ours runs models under 5 M parameters on one thread, "
        "Torch-Pruning at torch's default, which on a loaded machine slows its small-model "
        "calls most; at full size both use torch's default."
    )
    if full:
        for condition in CONDITIONS:
            slower = [
                f"{r['model']} {r[f'ours_s {condition}'] / r[f'theirs_s {condition}']:.2f}x"
                for r in full
                if r[f"ours_s {condition}"] > r[f"theirs_s {condition}"]
            ]
            if slower:
                parts.append(f"At full size ({condition}) ours was slower on: {', '.join(slower)}.")
    return " ".join(parts)


def main() -> None:
    global CONDITIONS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--amount", type=float, default=0.5, help="fraction of units removed")
    parser.add_argument("--rounds", type=int, default=6, help="alternating calls of each")
    parser.add_argument("--models", nargs="*", default=list(ALL), help="zoo models to run")
    parser.add_argument("--tp-limit", type=int, default=20, help="seconds per Torch-Pruning try")
    parser.add_argument(
        "--conditions",
        nargs="+",
        default=list(CONDITIONS),
        choices=CONDITIONS,
        help="'as found' and/or 'busy' (beside a CPU-bound process on one core)",
    )
    parser.add_argument(
        "--no-full-size", action="store_true", help="skip the full-size ResNet-50 and ViT-B/16"
    )
    parser.add_argument(
        "--render", action="store_true", help="rewrite zoo.md from zoo.json, measuring nothing"
    )
    args = parser.parse_args()
    CONDITIONS = tuple(args.conditions)
    if args.render:
        data = json.loads((RESULTS / "zoo.json").read_text())
        args.amount, args.rounds = data["amount"], data["rounds"]
        write_page(data, args)
        return
    warm, example = build("resnet18")  # first calls of both libraries warm up
    ours(warm, example, args.amount)
    theirs(warm, example, args.amount, False)
    rows = []
    for name in args.models:
        rows.append(study(name, args.amount, args.rounds, args.tp_limit))
        print(name, rows[-1]["ours_status"], rows[-1]["theirs_ok"], flush=True)
    full = [] if args.no_full_size else full_size_study(args.amount, min(args.rounds, 4))
    data = {"amount": args.amount, "rounds": args.rounds, "rows": rows, "full_size": full}
    write_page(data, args)


def write_page(data: dict, args) -> None:
    """zoo.md from the measurements, with bench_latency.py's full-size latency table."""
    rows, full = data["rows"], data["full_size"]
    page = summary(rows, full, args) + "\n\n" + zoo_table(rows)
    if full:
        page += (
            f"\n\nThe same pruning call at full size (medians of {min(args.rounds, 4)} "
            "alternating calls; these models are over 5 M parameters, so ours keeps torch's "
            "default threads too):\n\n" + full_size_table(full)
        )
    latency = RESULTS / "latency.json"
    if latency.is_file():
        page += (
            "\n\nFull-size latency after pruning (`bench_latency.py`, its own run; see "
            "latency.md for what is left of each model):\n\n"
            + latency_table(json.loads(latency.read_text())["rows"])
        )
    write_results("zoo", data, page, "Structured pruning on the model zoo (ours vs Torch-Pruning)")


if __name__ == "__main__":
    main()
