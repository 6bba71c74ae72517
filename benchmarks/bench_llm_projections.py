"""Wanda against row magnitude, one projection kind at a time, on the course's small LLaMA.

    python benchmarks/bench_llm_projections.py [--samples 3] [--eval-tokens 32768]

Wanda's score ``|W_ij| * ||X_j||`` differs from row magnitude's ``|W_ij|`` only where the input
norms ``||X_j||`` differ across features, and in this model they differ a lot only at the
inputs of ``down_proj`` (see results/llm.md). So the question is not "does Wanda win" but
"where": at 50 % unstructured, per output row, this script measures test perplexity

* **swap**: all seven projections pruned; kind ``k`` takes the mask of the library's Wanda
  (block by block, as in the paper), the other six keep row magnitude's mask;
* **alone**: only kind ``k`` pruned (the rest dense), with row magnitude's mask or with
  Wanda's mask from the dense model's input norms;
* the two magnitude baselines: **per row** (the library's ``row_magnitude_prune``, the same
  comparison groups as Wanda) and **per layer** (one threshold over each whole matrix, the
  baseline of the Wanda paper's LLaMA tables).

Wanda masks depend on the calibration sample: mean +- std over ``--samples`` samples (the same
windows as bench_llm.py, 64 sequences of 128 bytes). Magnitude needs no data (one value).
Writes results/llm_projections.json and .md.
"""

from __future__ import annotations

import argparse
import copy
import statistics

import torch
from _common import markdown_table, write_results
from tqdm.auto import tqdm

import pruning_lessons as pl
from pruning_lessons import llm
from pruning_lessons.llm.model import PROJECTIONS

AMOUNT = 0.5


def kind_of(key: str) -> str:
    """``layers.3.mlp.down_proj.weight`` -> ``down_proj``."""
    return key.split(".")[-2]


def with_masks(model, masks: dict[str, torch.Tensor]):
    """A copy of the dense ``model`` with the given keep-masks installed."""
    pruned = copy.deepcopy(model)
    for key, keep in masks.items():
        pl.install_mask(pruned.get_submodule(key.removesuffix(".weight")), "weight", keep)
    return pruned


def magnitude_masks(model) -> dict[str, torch.Tensor]:
    return llm.row_magnitude_prune(copy.deepcopy(model), AMOUNT)


def wanda_masks(model, calibration) -> dict[str, torch.Tensor]:
    return llm.wanda_prune(copy.deepcopy(model), calibration, AMOUNT)


def dense_wanda_masks(model, calibration, keys) -> dict[str, torch.Tensor]:
    """Wanda's per-row masks from the *dense* model's input norms (one layer at a time)."""
    norms = llm.input_norms(model, calibration)
    masks = {}
    for key in keys:
        weight = model.get_parameter(key).detach()
        masks[key] = llm.row_mask(
            llm.wanda_scores(weight, norms[key.removesuffix(".weight")]), AMOUNT
        )
    return masks


def per_layer_magnitude_perplexity(model, keys, test) -> float:
    pruned = copy.deepcopy(model)
    pl.magnitude_prune(pruned, AMOUNT, scope="layer", parameters=keys)
    return llm.perplexity(pruned, test)


def measure(args, model, corpus) -> dict:
    test = corpus.test[: args.eval_tokens]
    magnitude = magnitude_masks(model)
    keys = sorted(magnitude)
    by_kind = {k: [key for key in keys if kind_of(key) == k] for k in PROJECTIONS}
    ppl = llm.perplexity
    data = {
        "dense": ppl(model, test),
        "row_magnitude": ppl(with_masks(model, magnitude), test),
        "layer_magnitude": per_layer_magnitude_perplexity(model, keys, test),
        "wanda": [],
        "swap": {k: [] for k in PROJECTIONS},
        "alone_magnitude": {},
        "alone_wanda": {k: [] for k in PROJECTIONS},
    }
    for kind, members in tqdm(by_kind.items(), desc="magnitude alone"):
        data["alone_magnitude"][kind] = ppl(
            with_masks(model, {m: magnitude[m] for m in members}), test
        )
    for sample in tqdm(range(args.samples), desc="calibration samples"):
        calibration = llm.calibration_batches(corpus.train, 64, 128, seed=1000 + sample)
        wanda = wanda_masks(model, calibration)
        data["wanda"].append(ppl(with_masks(model, wanda), test))
        dense_wanda = dense_wanda_masks(model, calibration, keys)
        for kind, members in by_kind.items():
            mixed = {key: (wanda if key in members else magnitude)[key] for key in keys}
            data["swap"][kind].append(ppl(with_masks(model, mixed), test))
            alone = {m: dense_wanda[m] for m in members}
            data["alone_wanda"][kind].append(ppl(with_masks(model, alone), test))
    norms = llm.input_norms(model, llm.calibration_batches(corpus.train, 64, 128, seed=1000))
    ratios = {k: [] for k in PROJECTIONS}
    for name, v in norms.items():
        ratios[kind_of(name + ".weight")].append(float(v.max() / v.median()))
    data["input_norm_max_over_median"] = {k: statistics.fmean(r) for k, r in ratios.items()}
    data["eval_tokens"] = len(test)
    data["samples"] = args.samples
    data["amount"] = AMOUNT
    return data


def mean(values: list[float]) -> float:
    return statistics.fmean(values)


def spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{mean(values):.3f} +- {statistics.stdev(values):.3f}"


def wanda_wins(data: dict) -> list[str]:
    """Kinds where Wanda's mask, swapped in alone, beats row magnitude beyond its spread."""
    wins = []
    for kind, values in data["swap"].items():
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        if mean(values) + std < data["row_magnitude"]:
            wins.append(kind)
    return wins


def render(data: dict) -> str:
    rows = []
    for kind in PROJECTIONS:
        rows.append(
            [
                kind,
                f"{data['input_norm_max_over_median'][kind]:.1f}x",
                spread(data["swap"][kind]),
                f"{data['alone_magnitude'][kind]:.3f}",
                spread(data["alone_wanda"][kind]),
            ]
        )
    table = markdown_table(
        [
            "projection",
            "largest / median input norm",
            "swap: Wanda on this kind, magnitude elsewhere",
            "alone: magnitude",
            "alone: Wanda",
        ],
        rows,
    )
    wins = wanda_wins(data)
    lines = [
        f"50 % unstructured per output row, test perplexity on {data['eval_tokens']:,} bytes; "
        f"Wanda mean +- std over {data['samples']} calibration samples of 64 x 128 bytes.",
        "",
        f"- dense {data['dense']:.3f}; row magnitude (all seven kinds) "
        f"{data['row_magnitude']:.3f}; "
        f"per-layer magnitude {data['layer_magnitude']:.3f}; Wanda (all seven) "
        f"{spread(data['wanda'])}.",
        f"- Wanda's mask on one kind beats row magnitude beyond its spread for: "
        f"{', '.join(wins) or 'none'}.",
        "",
        table,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=3, help="calibration samples for Wanda")
    parser.add_argument("--eval-tokens", type=int, default=32768, help="test bytes evaluated")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = llm.load_tiny_llama()
    corpus = llm.load_corpus(seed=0)
    data = measure(args, model, corpus)
    title = "Wanda against row magnitude, one projection kind at a time"
    write_results("llm_projections", data, render(data), title)


if __name__ == "__main__":
    main()
