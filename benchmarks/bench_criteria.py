"""Pruning criteria side by side at an equal fine-tuning budget, over seeds.

    python benchmarks/bench_criteria.py [--seeds 3] [--threads 1] [--quick]

Weights of the digits MLP (64-300-100-10): magnitude per layer and global, random, Taylor
(global and per layer), SNIP, movement, LAMP at 80 / 90 / 95 % sparsity, and N:M 2:4 (50 %,
its own row). Channels of the CNN (32-64-64): L1, L2, BatchNorm scale (with and without
Network Slimming's L1 penalty during training), FPGM, Taylor and random, removing 80 / 90 /
95 % of every conv layer's channels. Neurons of the MLP's two hidden layers: L1, random and
redundancy merging (on weights and on activations). Each dense model is trained once per
seed; every criterion prunes a copy.

Budgets (epochs; Adam; ``fit`` at lr 2e-3 for training, ``fine_tune`` at lr 1e-3 after):

* every criterion but SNIP and movement: train dense, score, prune once, fine-tune F epochs;
* SNIP: score the *initialised* model (same initialisation as the dense one) on one batch,
  prune, then train the sparse model with the dense schedule (T epochs) plus F epochs of
  fine-tuning: the same T + F epochs in all;
* movement: train dense, fine-tune F/2 epochs under a MovementTracker, prune on the
  recorded scores, fine-tune the other F/2 epochs: F epochs of fine-tuning in all.

Each pruned CNN is also measured after ``recalibrate_bn`` (one pass of training data in
train mode, no gradient step), before fine-tuning: right after channel pruning the
BatchNorm running statistics are stale, so "before fine-tuning" mostly measures them.
Taylor (weights and channels) reads 4 batches of 128 training images, SNIP one batch of 128.
"score s" is the median over seeds of the time to compute the scores (for Taylor units it
includes the gradient passes; for merging, the whole merge; for movement, reading the scores:
the recording itself happens inside the fine-tuning epochs). Writes results/criteria.json and
results/criteria.md.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable

import torch
from _common import markdown_table, write_results
from torch import nn

import pruning_lessons as pl

SLIMMING_STRENGTH = 1e-2  # L1 on BatchNorm scales; the largest tried that kept dense accuracy


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


class Results:
    """Per-seed accuracies and timings, by (model, granularity, criterion, sparsity)."""

    def __init__(self) -> None:
        self.runs: dict[tuple, dict[str, list]] = {}

    def add(self, key: tuple, before: float, after: float, seconds: float, **extra) -> None:
        run = self.runs.setdefault(key, {"before": [], "after": [], "seconds": []})
        run["before"].append(before)
        run["after"].append(after)
        run["seconds"].append(seconds)
        for name, value in extra.items():
            run.setdefault(name, []).append(value)


def fine_tuned(model: nn.Module, data: pl.Splits, epochs: int, seed: int) -> float:
    pl.fine_tune(model, data, epochs=epochs, seed=seed, progress=False)
    return pl.evaluate(model, data.test)


def train(build: Callable[[], nn.Module], data, epochs: int, seed: int, penalty=None):
    pl.seed_everything(seed)
    model = build()
    pl.fit(model, data, epochs=epochs, seed=seed, penalty=penalty, progress=False)
    return model


# --- weights of the MLP ---------------------------------------------------------------------

WEIGHT_CRITERIA = {
    # label: (criterion, scope)
    "magnitude, per layer": ("magnitude", "layer"),
    "magnitude, global": ("magnitude", "global"),
    "random": ("random", "global"),
    "Taylor, global": ("taylor", "global"),
    "Taylor, per layer": ("taylor", "layer"),
    "LAMP": ("lamp", "global"),
}


def kept_per_layer(masks: dict[str, torch.Tensor]) -> dict[str, int]:
    return {name: int(mask.sum()) for name, mask in masks.items()}


def weight_criteria(dense: nn.Module, data, seed: int, args, out: Results) -> None:
    for label, (criterion, scope) in WEIGHT_CRITERIA.items():
        scores, seconds = timed(
            lambda c=criterion: pl.weight_scores(dense, c, data=data, seed=seed)
        )
        for sparsity in args.sparsities:
            model = copy.deepcopy(dense)
            masks = pl.prune_weights(model, sparsity, criterion=scores, scope=scope)
            before = pl.evaluate(model, data.test)
            after = fine_tuned(model, data, args.fine_tune_epochs, seed)
            out.add(
                ("MLP", "weights", label, sparsity),
                before,
                after,
                seconds,
                kept=kept_per_layer(masks),
            )
    snip(data, seed, args, out)
    movement(dense, data, seed, args, out)
    model = copy.deepcopy(dense)
    _, seconds = timed(lambda: pl.nm_prune(model))
    before = pl.evaluate(model, data.test)
    after = fine_tuned(model, data, args.fine_tune_epochs, seed)
    out.add(("MLP", "weights", "N:M 2:4", 0.5), before, after, seconds)


def snip(data, seed: int, args, out: Results) -> None:
    pl.seed_everything(seed)
    initial = pl.mlp()  # the same initialisation the dense model started from
    scores, seconds = timed(lambda: pl.snip_scores(initial, data))
    for sparsity in args.sparsities:
        model = copy.deepcopy(initial)
        masks = pl.prune_weights(model, sparsity, criterion=scores, scope="global")
        before = pl.evaluate(model, data.test)
        pl.fit(model, data, epochs=args.mlp_epochs, seed=seed, progress=False)
        after = fine_tuned(model, data, args.fine_tune_epochs, seed)
        out.add(
            ("MLP", "weights", "SNIP (at init, then trained)", sparsity),
            before,
            after,
            seconds,
            kept=kept_per_layer(masks),
        )


def movement(dense: nn.Module, data, seed: int, args, out: Results) -> None:
    first = args.fine_tune_epochs // 2
    tracked = copy.deepcopy(dense)
    with pl.MovementTracker(tracked) as tracker:
        pl.fine_tune(tracked, data, epochs=first, seed=seed, progress=False)
    scores, seconds = timed(tracker.scores)
    for sparsity in args.sparsities:
        model = copy.deepcopy(tracked)
        masks = pl.prune_weights(model, sparsity, criterion=scores, scope="global")
        before = pl.evaluate(model, data.test)
        after = fine_tuned(model, data, args.fine_tune_epochs - first, seed)
        out.add(
            ("MLP", "weights", "movement", sparsity),
            before,
            after,
            seconds,
            kept=kept_per_layer(masks),
        )


# --- units ----------------------------------------------------------------------------------


def channel_criteria(dense: nn.Module, slim: nn.Module, data, seed: int, args, out) -> None:
    criteria: dict[str, tuple[nn.Module, Callable[[], object]]] = {
        "L1": (dense, lambda: "l1"),
        "L2": (dense, lambda: "l2"),
        "BN scale": (dense, lambda: "bn"),
        f"BN scale, trained with L1 {SLIMMING_STRENGTH:g}": (slim, lambda: "bn"),
        "FPGM": (dense, lambda: "fpgm"),
        "Taylor": (dense, lambda: pl.taylor_unit_importance(dense, data)),
        "random": (dense, lambda: pl.random_importance(seed)),
    }
    for label, (base, make) in criteria.items():

        def score(base=base, make=make):
            importance = make()
            return importance, pl.unit_scores(base, importance)

        (importance, scores), seconds = timed(score)
        for sparsity in args.sparsities:
            model = pl.prune_units(base, sparsity, importance=lambda g, s=scores: s[g.name])
            before = pl.evaluate(model, data.test)
            pl.recalibrate_bn(model, data)  # fresh BatchNorm statistics, no gradient step
            recalibrated = pl.evaluate(model, data.test)
            after = fine_tuned(model, data, args.fine_tune_epochs, seed)
            widths = [m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)]
            out.add(
                ("CNN", "channels", label, sparsity),
                before,
                after,
                seconds,
                kept=widths,
                recalibrated=recalibrated,
            )


def neuron_criteria(dense: nn.Module, data, seed: int, args, out: Results) -> None:
    for sparsity in args.sparsities:
        criteria = {
            "L1": lambda a=sparsity: pl.prune_units(dense, a, importance="l1"),
            "random": lambda a=sparsity: pl.prune_units(dense, a, importance="random", seed=seed),
            "merge redundant (weights)": lambda a=sparsity: pl.merge_redundant_neurons(dense, a),
            "merge redundant (activations)": lambda a=sparsity: pl.merge_redundant_neurons(
                dense, a, data=data
            ),
        }
        for label, prune in criteria.items():
            model, seconds = timed(prune)
            before = pl.evaluate(model, data.test)
            after = fine_tuned(model, data, args.fine_tune_epochs, seed)
            widths = [m.out_features for m in model.modules() if isinstance(m, nn.Linear)][:-1]
            out.add(("MLP", "neurons", label, sparsity), before, after, seconds, kept=widths)


# --- 2:4 kernels ----------------------------------------------------------------------------


def semi_structured_speedup() -> dict:
    """Dense vs 2:4 sparse fp16 ``Linear(4096, 4096)`` at batch 4096 on CUDA, else why not."""
    device = pl.pick_device()
    reason = pl.semi_structured_unavailable(device)
    if reason is not None:
        return {"status": f"skipped: {reason}"}
    torch.manual_seed(0)
    dense = nn.Sequential(nn.Linear(4096, 4096)).half().to(device).eval()
    pl.nm_prune(dense)
    sparse, report = pl.to_semi_structured(dense)
    x = torch.rand(4096, 4096, dtype=torch.half, device=device)

    def milliseconds(model: nn.Module) -> float:
        times = []
        with torch.inference_mode():
            for _ in range(30):
                start, end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
                start.record()
                model(x)
                end.record()
                torch.cuda.synchronize()
                times.append(start.elapsed_time(end))
        return statistics.median(times[5:])

    dense_ms, sparse_ms = milliseconds(dense), milliseconds(sparse)
    return {
        "status": "measured",
        "layers": report,
        "dense_ms": dense_ms,
        "sparse_ms": sparse_ms,
        "speedup": dense_ms / sparse_ms,
        "device": torch.cuda.get_device_name(device),
    }


# --- report ---------------------------------------------------------------------------------


def spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{100 * values[0]:.1f}"
    return f"{100 * statistics.fmean(values):.1f} +- {100 * statistics.pstdev(values):.1f}"


def summarise(out: Results) -> tuple[list[list], list[dict]]:
    rows, records = [], []
    for (model, granularity, label, sparsity), run in out.runs.items():
        seconds = statistics.median(run["seconds"])
        rows.append(
            [
                model,
                granularity,
                label,
                f"{sparsity:.0%}",
                spread(run["before"]),
                spread(run["recalibrated"]) if "recalibrated" in run else "",
                spread(run["after"]),
                f"{seconds:.4f}",
            ]
        )
        records.append(
            {
                "model": model,
                "granularity": granularity,
                "criterion": label,
                "sparsity": sparsity,
                "score_seconds_median": seconds,
                **run,
            }
        )
    return rows, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a short smoke run: 1 seed, 90 %%")
    args = parser.parse_args()
    args.sparsities = (0.9,) if args.quick else (0.8, 0.9, 0.95)
    args.seeds = 1 if args.quick else args.seeds
    args.mlp_epochs, args.cnn_epochs = (3, 2) if args.quick else (30, 10)
    args.fine_tune_epochs = 2 if args.quick else 10
    torch.set_num_threads(args.threads)
    data = pl.load_digits(seed=0)
    out, dense_accuracy, scales = Results(), {"MLP": [], "CNN": [], "CNN slim": []}, []
    start = time.perf_counter()
    for seed in range(args.seeds):
        mlp = train(pl.mlp, data, args.mlp_epochs, seed)
        cnn = train(pl.cnn, data, args.cnn_epochs, seed)
        slim = train(pl.cnn, data, args.cnn_epochs, seed, pl.bn_l1_penalty(SLIMMING_STRENGTH))
        for key, model in (("MLP", mlp), ("CNN", cnn), ("CNN slim", slim)):
            dense_accuracy[key].append(pl.evaluate(model, data.test))
        scales.append(
            [
                float(
                    torch.cat(
                        [
                            m.weight.detach().abs()
                            for m in model.modules()
                            if isinstance(m, nn.BatchNorm2d)
                        ]
                    ).mean()
                )
                for model in (cnn, slim)
            ]
        )
        weight_criteria(mlp, data, seed, args, out)
        channel_criteria(cnn, slim, data, seed, args, out)
        neuron_criteria(mlp, data, seed, args, out)
        print(f"seed {seed} done after {time.perf_counter() - start:.0f} s", flush=True)
    kernels = semi_structured_speedup()
    rows, records = summarise(out)
    header = [
        "model",
        "removed",
        "criterion",
        "sparsity",
        "test % before fine-tuning",
        "test % with recalibrated BN",
        "test % after",
        "score s (median)",
    ]
    dense = ", ".join(f"{k} {spread(v)}" for k, v in dense_accuracy.items())
    mean_scales = [statistics.fmean(s[i] for s in scales) for i in range(2)]
    top = max(args.sparsities)

    def widths(model: str, granularity: str) -> str:
        run = out.runs[(model, granularity, "L1", top)]
        return " / ".join(str(w) for w in run["kept"][0])

    note = (
        f"\n\nDense test accuracy % (mean +- std over {args.seeds} seed(s)): {dense}. "
        f"Trained {args.mlp_epochs} (MLP) / {args.cnn_epochs} (CNN) epochs with Adam at lr 2e-3, "
        f"fine-tuned {args.fine_tune_epochs} epochs at lr 1e-3 after pruning (SNIP: trained "
        f"{args.mlp_epochs} + {args.fine_tune_epochs} epochs after pruning at initialisation; "
        f"movement: {args.fine_tune_epochs // 2} epochs recording scores, then prune, then the "
        f"other {args.fine_tune_epochs - args.fine_tune_epochs // 2}). "
        "Weights: sparsity = fraction of the Linear weights that are zero. Channels and "
        "neurons: the fraction of every prunable layer's units removed (the classifier keeps "
        f"its outputs); at {top:.0%} the CNN keeps {widths('CNN', 'channels')} channels and "
        f"the MLP {widths('MLP', 'neurons')} hidden neurons: it still runs, close to "
        "degenerate. "
        f"Mean |BatchNorm scale| of the CNN after training: {mean_scales[0]:.3f} without, "
        f"{mean_scales[1]:.3f} with the L1 penalty (Adam moves a scale by at most about lr "
        "per step, so a few epochs cannot drive scales all the way to zero as Network "
        "Slimming's long SGD schedule does). "
        f"2:4 semi-structured kernels: {kernels['status']}"
        + (f", {kernels['speedup']:.2f}x on {kernels['device']}" if "speedup" in kernels else "")
        + f". {args.threads} CPU thread(s); "
        f"{time.perf_counter() - start:.0f} s in all."
    )
    write_results(
        "criteria",
        {
            "settings": {
                k: getattr(args, k)
                for k in (
                    "seeds",
                    "threads",
                    "quick",
                    "sparsities",
                    "mlp_epochs",
                    "cnn_epochs",
                    "fine_tune_epochs",
                )
            }
            | {"slimming_strength": SLIMMING_STRENGTH},
            "dense_accuracy": dense_accuracy,
            "mean_bn_scale": {"CNN": mean_scales[0], "CNN slim": mean_scales[1]},
            "semi_structured": kernels,
            "rows": records,
        },
        markdown_table(header, rows) + note,
        "Pruning criteria at an equal fine-tuning budget",
    )


if __name__ == "__main__":
    main()
