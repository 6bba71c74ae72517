"""Side by side with vLLM's llm-compressor: Wanda and SparseGPT on the course model.

    python benchmarks/bench_llmcompressor.py [--repeats 2] [--threads 1] [--quick]

The course's trained model converted with ``llm.to_transformers`` and saved as a
``LlamaForCausalLM`` folder (with ``llm.byte_tokenizer()``), the same 64 calibration windows of
128 bytes (``llm.calibration_batches(corpus.train, 64, 128, seed=0)``) for both libraries, and
for Wanda and SparseGPT at 50 % and 2:4, and with OWL at 50 %:

* test perplexity: ``llm.perplexity`` on the first 32,768 bytes of the held-out files, the
  same function for both libraries' pruned models;
* pruning wall time: the one call (``llm.wanda_prune`` / ``llm.sparsegpt_prune``, and
  llm-compressor's ``oneshot`` with ``WandaPruningModifier`` / ``SparseGPTModifier``);
* peak memory: each run is a fresh process that loads the model folder, imports both libraries,
  then reads its resident size; after the call, ``getrusage(RUSAGE_SELF).ru_maxrss`` is the
  peak and the difference is what the pruning added.

The libraries alternate between repeats (ours, theirs, then theirs, ours, ...); times and memory
are medians over ``--repeats``. Both run with ``--threads`` torch threads (and
``OMP_NUM_THREADS``), batches of 16 calibration sequences (our driver's chunk; llm-compressor
gets a ``DataLoader`` of batch 16), and the same settings: every linear layer inside the decoder
blocks is pruned (llm-compressor: ``targets=["Linear"]``, ``ignore=["re:.*lm_head"]``;
embeddings are never its targets), SparseGPT with dampening 0.01 of the Hessian's mean
diagonal and blocks of 128 columns (both libraries' defaults), Wanda with llm-compressor's
defaults (it has no other setting), OWL with the paper's M = 5 and lambda = 0.08. Whether the
two Wanda masks are identical is checked weight by weight. Writes
results/llm_compressor.{json,md}.

llm-compressor pulls in its own ``transformers`` (and, left alone, the CUDA build of torch),
so it gets a virtual environment of its own, with the CPU torch wheel pinned::

    python3 -m venv venv-llmc
    venv-llmc/bin/pip install torch==2.13.0      # the CPU build (this machine's wheel)
    echo "torch==2.13.0" > llmc-constraints.txt
    venv-llmc/bin/pip install -c llmc-constraints.txt llmcompressor==0.14.0.1 \\
        scikit-learn matplotlib ipywidgets tqdm   # the last four: this package's imports
    PYTHONPATH=. venv-llmc/bin/python benchmarks/bench_llmcompressor.py

(run from the repository root; no network is used at run time: ``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

LIBRARIES = ("ours", "llm-compressor")
CONFIGS = [  # (method, target label)
    ("wanda", "50%"),
    ("wanda", "2:4"),
    ("wanda", "OWL 50%"),
    ("sparsegpt", "50%"),
    ("sparsegpt", "2:4"),
    ("sparsegpt", "OWL 50%"),
]
QUICK = [("wanda", "50%"), ("wanda", "OWL 50%"), ("sparsegpt", "2:4")]
OWL_M, OWL_LAMBDA = 5, 0.08
PERPLEXITY_SLACK = 1.01  # the goal: ours no worse than theirs by more than 1 %


# ---------------------------------------------------------------- one run (a fresh process)


def status_bytes(key: str) -> int:
    """``VmRSS`` (resident now) or ``VmHWM`` (its peak) of this process, in bytes."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))


def reset_peak() -> bool:
    """Start ``VmHWM`` again from the present resident size (Linux ``clear_refs``)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def raised_where(failure: BaseException) -> str:
    """The frames of ``failure``'s traceback inside llm-compressor, outermost first, short."""
    import traceback

    frames = [
        f"{Path(f.filename).stem}.{f.name}"
        for f in traceback.extract_tb(failure.__traceback__)
        if "llmcompressor" in f.filename
    ]
    return " > ".join(frames[-6:])


def prune_ours(model, calibration, method: str, target: str) -> None:
    from pruning_lessons import llm

    options = {"n_m": (2, 4)} if target == "2:4" else {"amount": 0.5, "owl": "OWL" in target}
    if method == "wanda":
        llm.wanda_prune(model, calibration, **options)
    else:
        llm.sparsegpt_prune(model, calibration, **options, block_size=128, damp=0.01)


def prune_theirs(model, calibration, method: str, target: str, folder: str) -> None:
    import torch
    from llmcompressor import oneshot
    from llmcompressor.modifiers.pruning import SparseGPTModifier, WandaPruningModifier
    from torch.utils.data import DataLoader

    settings = {"sparsity": 0.5, "targets": ["Linear"], "ignore": ["re:.*lm_head"]}
    if target == "2:4":
        settings["mask_structure"] = "2:4"
    if "OWL" in target:
        settings |= {"sparsity_profile": "owl", "owl_m": OWL_M, "owl_lmbda": OWL_LAMBDA}
    if method == "wanda":
        recipe = WandaPruningModifier(**settings)
    else:
        recipe = SparseGPTModifier(**settings, block_size=128, dampening_frac=0.01)
    rows = [{"input_ids": ids, "attention_mask": torch.ones_like(ids)} for ids in calibration]
    loader = DataLoader(rows, batch_size=16)
    oneshot(model=model, dataset=loader, processor=folder, recipe=recipe)


def prune(library: str, model, calibration, method: str, target: str, folder: str) -> None:
    if library == "ours":
        prune_ours(model, calibration, method, target)
    else:
        prune_theirs(model, calibration, method, target, folder)


def tensor_peak(library: str, method: str, target: str, folder: str, calibration) -> float:
    """MiB of tensors alive at once beyond the model during a second, untimed pruning of a
    freshly loaded copy, counted exactly (``llm.memory.TensorMemory``); nan if it raises."""
    import transformers

    from pruning_lessons.llm.memory import TensorMemory

    model = transformers.LlamaForCausalLM.from_pretrained(folder).eval()
    try:
        with TensorMemory() as memory:
            prune(library, model, calibration, method, target, folder)
    except Exception:
        return float("nan")
    return memory.peak / 2**20


def one(
    library: str, method: str, target: str, work: str, threads: int, tensors: bool = False
) -> dict:
    """Load the saved model, prune it with ``library``, measure; what it measured.

    With ``tensors``, afterwards the same pruning again on a fresh copy under
    :func:`tensor_peak` (in the same process, so no second start-up)."""
    import gc
    import resource
    import time

    import torch
    import transformers

    from pruning_lessons import llm

    if library != "ours":
        import llmcompressor  # noqa: F401  (imported before the baseline, as ours is)
    torch.set_num_threads(threads)
    transformers.logging.set_verbosity_error()
    folder = str(Path(work) / "model")
    model = transformers.LlamaForCausalLM.from_pretrained(folder).eval()
    data = torch.load(Path(work) / "data.pt")
    calibration, test = data["calibration"], data["test"]
    gc.collect()
    before = status_bytes("VmRSS")
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    reset = reset_peak()
    start, cpu_start = time.perf_counter(), time.process_time()
    error = where = None
    try:
        prune(library, model, calibration, method, target, folder)
    except Exception as failure:  # recorded as measured: llm-compressor's OWL raises
        error, where = f"{type(failure).__name__}: {failure}", raised_where(failure)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    peak = status_bytes("VmHWM") if reset else maxrss
    row = {
        "library": library,
        "method": method,
        "target": target,
        "threads": torch.get_num_threads(),
        "error": error,
        "raised_in": where,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "baseline_mib": before / 2**20,
        "peak_mib": peak / 2**20,
        "extra_peak_mib": (peak - before) / 2**20,
        "peak_measure": "VmHWM after clear_refs" if reset else "ru_maxrss",
        "maxrss_before_mib": maxrss_before / 2**20,
        "maxrss_after_mib": maxrss / 2**20,
    }
    if error is None:
        decoder = llm.find_decoder(model)
        zeros = {
            name: (layer.weight.detach() == 0).cpu() for name, layer in decoder.all_layers().items()
        }
        total = sum(z.numel() for z in zeros.values())
        row["block_sparsity"] = sum(int(z.sum()) for z in zeros.values()) / total
        row["head_and_embedding_zeros"] = int((model.lm_head.weight == 0).sum()) + int(
            (model.model.embed_tokens.weight == 0).sum()
        )
        row["perplexity"] = llm.perplexity(model, test)
        torch.save(zeros, Path(work) / f"zeros-{library}-{method}-{target}.pt".replace(" ", "_"))
    if tensors:
        row["tensor_peak_mib"] = tensor_peak(library, method, target, folder, calibration)
    return row


# ---------------------------------------------------------------- the comparison


def prepare(work: Path, calibration_n: int, eval_tokens: int) -> float:
    """The model folder and the data both libraries read; the dense perplexity."""
    import torch

    from pruning_lessons import llm

    corpus = llm.load_corpus(seed=0)
    model = llm.to_transformers(llm.load_tiny_llama())
    model.save_pretrained(work / "model")
    llm.byte_tokenizer().save_pretrained(work / "model")
    calibration = llm.calibration_batches(corpus.train, calibration_n, 128, seed=0)
    test = corpus.test[:eval_tokens].clone()
    torch.save({"calibration": calibration, "test": test}, work / "data.pt")
    return llm.perplexity(model, test)


def run_child(
    library: str, method: str, target: str, work: Path, threads: int, tensors: bool
) -> dict:
    env = os.environ | {
        "OMP_NUM_THREADS": str(threads),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    command = [sys.executable, __file__, "--one", library, method, target, str(work)]
    command += ["--threads", str(threads)] + (["--tensor-memory"] if tensors else [])
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{library} {method} {target} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def mask_agreement(work: Path, method: str, target: str) -> dict | None:
    """Share of block weights whose zero / non-zero state is the same in both libraries."""
    import torch

    files = [work / f"zeros-{lib}-{method}-{target}.pt".replace(" ", "_") for lib in LIBRARIES]
    if not all(f.exists() for f in files):
        return None
    ours, theirs = (torch.load(f) for f in files)
    same = sum(int((ours[k] == theirs[k]).sum()) for k in ours)
    total = sum(v.numel() for v in ours.values())
    layers_identical = sum(bool(torch.equal(ours[k], theirs[k])) for k in ours)
    return {"same_share": same / total, "layers_identical": layers_identical, "layers": len(ours)}


def summarise(runs: list[dict], method: str, target: str) -> dict:
    out = {"method": method, "target": target}
    for lib in LIBRARIES:
        mine = [r for r in runs if r["library"] == lib]
        errors = sorted({r["error"] for r in mine if r["error"]})
        entry = {"runs": len(mine), "error": errors[0] if errors else None}
        if errors:
            entry["raised_in"] = next(r["raised_in"] for r in mine if r["error"])
            entry["seconds_to_error"] = statistics.median(r["seconds"] for r in mine)
            out[lib] = entry
            continue
        for key in ("seconds", "cpu_seconds", "extra_peak_mib", "peak_mib", "baseline_mib"):
            entry[key] = statistics.median(r[key] for r in mine)
            entry[key + "_values"] = [r[key] for r in mine]
        entry["perplexity"] = statistics.median(r["perplexity"] for r in mine)
        entry["perplexity_values"] = sorted({r["perplexity"] for r in mine})
        entry["tensor_peak_mib"] = next(
            r["tensor_peak_mib"] for r in mine if "tensor_peak_mib" in r
        )
        entry["block_sparsity"] = mine[0]["block_sparsity"]
        entry["head_and_embedding_zeros"] = mine[0]["head_and_embedding_zeros"]
        out[lib] = entry
    return out


GOALS = {  # goal -> (measure, how much of llm-compressor's value ours may reach)
    "perplexity": ("perplexity", PERPLEXITY_SLACK),
    "time": ("seconds", 1.0),
    "CPU time": ("cpu_seconds", 1.0),
    "tensor memory": ("tensor_peak_mib", 1.0),
    "resident memory": ("extra_peak_mib", 1.0),
}


def goals(row: dict) -> dict:
    """Whether ours meets each goal against llm-compressor (None where theirs did not run)."""
    ours, theirs = row["ours"], row["llm-compressor"]
    if ours.get("error") or theirs.get("error"):
        return dict.fromkeys(GOALS)
    return {goal: ours[key] <= slack * theirs[key] for goal, (key, slack) in GOALS.items()}


def _cell(entry: dict, key: str, fmt: str) -> str:
    return "raised" if entry.get("error") else format(entry[key], fmt)


def _ratio(row: dict, key: str) -> str:
    ours, theirs = row["ours"], row["llm-compressor"]
    if ours.get("error") or theirs.get("error"):
        return "-"
    return f"{ours[key] / theirs[key]:.3f}"


def _verdict(row: dict) -> str:
    g = row["goals"]
    if all(v is None for v in g.values()):
        return "n/a (llm-compressor raised)"
    missed = [goal for goal, ok in g.items() if not ok]
    return "all met" if not missed else "missed: " + ", ".join(missed)


MEASURES = [  # (column, key, format)
    ("perplexity", "perplexity", ".3f"),
    ("prune s", "seconds", ".1f"),
    ("prune CPU s", "cpu_seconds", ".1f"),
    ("tensor peak MiB", "tensor_peak_mib", ".1f"),
    ("RSS extra MiB", "extra_peak_mib", ".0f"),
]


def report(data: dict) -> str:
    from _common import markdown_table

    rows = data["rows"]
    header = ["method", "target"]
    for column, _, _ in MEASURES:
        header += [f"{column} ours", "llm-c", "ours / llm-c"]
    table = []
    for row in rows:
        cells = [row["method"], row["target"]]
        for _, key, fmt in MEASURES:
            ours, theirs = row["ours"], row["llm-compressor"]
            cells += [_cell(ours, key, fmt), _cell(theirs, key, fmt), _ratio(row, key)]
        table.append(cells)
    verdicts = markdown_table(
        ["method", "target", *GOALS, "verdict"],
        [
            [r["method"], r["target"]]
            + [{True: "met", False: "missed", None: "n/a"}[r["goals"][g]] for g in GOALS]
            + [_verdict(r)]
            for r in rows
        ],
    )
    masks = markdown_table(
        ["method", "target", "weights in the same state (zero / kept)", "layers identical"],
        [
            [
                r["method"],
                r["target"],
                f"{100 * r['masks']['same_share']:.3f} %",
                f"{r['masks']['layers_identical']} / {r['masks']['layers']}",
            ]
            for r in rows
            if r.get("masks")
        ],
    )
    errors = [
        f"* {r['method']} {r['target']}: `{r['llm-compressor']['error']}`, raised in "
        f"`{r['llm-compressor']['raised_in']}`, "
        f"{r['llm-compressor']['seconds_to_error']:.2f} s into the call"
        for r in rows
        if r["llm-compressor"].get("error")
    ]
    spread = markdown_table(
        [
            "method",
            "target",
            "prune s ours",
            "prune s llm-c",
            "CPU s ours",
            "CPU s llm-c",
            "RSS extra MiB ours",
            "RSS extra MiB llm-c",
            "resident before ours",
            "resident before llm-c",
        ],
        [
            [r["method"], r["target"]]
            + [_values(r[lib], "seconds", ".1f") for lib in LIBRARIES]
            + [_values(r[lib], "cpu_seconds", ".1f") for lib in LIBRARIES]
            + [_values(r[lib], "extra_peak_mib", ".0f") for lib in LIBRARIES]
            + [_cell(r[lib], "baseline_mib", ".0f") for lib in LIBRARIES]
            for r in rows
        ],
    )
    meta = data["setup"]
    return (
        f"The course's trained model as LlamaForCausalLM (1,246,848 parameters, 6 blocks), "
        f"{meta['calibration']} calibration sequences of 128 bytes for both libraries, test "
        f"perplexity on the first {meta['eval_tokens']:,} held-out bytes (dense "
        f"{data['dense_perplexity']:.3f}) with the same `llm.perplexity` for both; "
        f"llm-compressor {meta['llmcompressor']}, transformers {meta['transformers']}, torch "
        f"{meta['torch']}, {meta['threads']} torch thread(s) for both, {meta['repeats']} "
        "runs per library and setting, each in a fresh process, the libraries alternated "
        "(ours first in even repeats, llm-compressor first in odd ones); times and resident "
        "memory are medians. 'CPU s': the process's CPU time during the call (one torch "
        "thread, so it counts the work done and not the time spent waiting for the shared "
        "cores; wall time 'prune s' counts both). 'tensor peak': the most tensor bytes alive "
        "at once beyond the "
        "model during the call, counted exactly (`llm.memory.TensorMemory`, one extra untimed "
        "run each). 'RSS extra': peak resident size during the call (`VmHWM`, reset with "
        "`clear_refs` just before it) minus the resident size just before it (model loaded, "
        "the library imported). Goals: perplexity within 1 % of llm-compressor's, time and "
        "memory no higher.\n\n"
        + markdown_table(header, table)
        + "\n\n"
        + summary(data)
        + "\n\n## Goals, row by row\n\n"
        + verdicts
        + "\n\n"
        + misses(rows)
        + "\n\n## Are the masks the same?\n\n"
        + masks
        + "\n\n## What llm-compressor raised\n\n"
        + ("\n".join(errors) if errors else "Nothing.")
        + "\n\n## Every run (seconds and resident MiB, in run order)\n\n"
        + spread
    )


def _overlap(row: dict, key: str) -> bool:
    ours, theirs = (row[lib][key + "_values"] for lib in LIBRARIES)
    return min(ours) <= max(theirs) and min(theirs) <= max(ours)


def misses(rows: list[dict]) -> str:
    """Each missed goal with the spread of its runs (generated from the numbers)."""
    keys = {
        "time": ("seconds", "s", ".1f"),
        "CPU time": ("cpu_seconds", "CPU s", ".1f"),
        "resident memory": ("extra_peak_mib", "MiB", ".0f"),
    }
    lines = []
    for r in rows:
        for goal, ok in r["goals"].items():
            if ok is not False:
                continue
            if goal not in keys:
                lines.append(f"* {r['method']} {r['target']}: {goal} missed.")
                continue
            key, unit, fmt = keys[goal]
            spans = [
                f"{lib} {min(r[lib][key + '_values']):{fmt}}-{max(r[lib][key + '_values']):{fmt}}"
                for lib in LIBRARIES
            ]
            verdict = (
                "the two ranges overlap: at this many runs the gap is within the run-to-run spread"
                if _overlap(r, key)
                else "the ranges do not overlap"
            )
            lines.append(
                f"* {r['method']} {r['target']}, {goal}: {', '.join(spans)} {unit} over the "
                f"runs; {verdict}."
            )
    maxrss = [run["maxrss_after_mib"] for r in rows for run in r["runs"]]
    return (
        "Where a goal was missed:\n\n"
        + ("\n".join(lines) if lines else "* none.")
        + "\n\nWall times come from a shared 2-core machine under other work, so one library's "
        "runs of the same setting vary by up to the factor shown in the per-run table below; "
        "the tensor count does not depend on the load. `getrusage(RUSAGE_SELF).ru_maxrss` read "
        f"{min(maxrss):.0f}-{max(maxrss):.0f} MiB in every run, whatever the setting: a child "
        "keeps the peak of the process that started it across fork and exec (the driver had "
        "loaded the corpus), so the peak is read from `VmHWM` after resetting it instead."
    )


def summary(data: dict) -> str:
    """One sentence of the key numbers (README quotes it; tests/test_benchmarks.py checks)."""
    parts = []
    for r in data["rows"]:
        ours, theirs = r["ours"], r["llm-compressor"]
        label = f"{'Wanda' if r['method'] == 'wanda' else 'SparseGPT'} {r['target']}"
        if theirs.get("error"):
            parts.append(f"{label} {ours['perplexity']:.3f} (llm-compressor raised)")
        else:
            parts.append(
                f"{label} {ours['perplexity']:.3f} vs {theirs['perplexity']:.3f}, "
                f"{ours['tensor_peak_mib']:.1f} vs {theirs['tensor_peak_mib']:.1f} MiB, "
                f"{ours['seconds']:.1f} vs {theirs['seconds']:.1f} s"
            )
    return (
        f"Test perplexity (dense {data['dense_perplexity']:.3f}), tensor peak and median "
        "pruning time, ours vs llm-compressor "
        + data["setup"]["llmcompressor"]
        + ": "
        + "; ".join(parts)
        + "."
    )


def _values(entry: dict, key: str, fmt: str) -> str:
    if entry.get("error"):
        return "raised"
    return " / ".join(format(v, fmt) for v in entry[key + "_values"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="runs per library and setting")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both")
    parser.add_argument("--calibration", type=int, default=64, help="calibration sequences")
    parser.add_argument("--eval-tokens", type=int, default=32768, help="held-out bytes")
    parser.add_argument(
        "--quick", action="store_true", help="three settings, one repeat, no results written"
    )
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite the report from the saved JSON"
    )
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--tensor-memory", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(*args.one, threads=args.threads, tensors=args.tensor_memory)))
        return
    from _common import RESULTS, write_results

    if args.report_only:
        data = json.loads((RESULTS / "llm_compressor.json").read_text())
        write_results("llm_compressor", data, report(data), TITLE)
        return
    try:
        import llmcompressor
    except ImportError:
        sys.exit(
            "bench_llmcompressor: llmcompressor is not importable in this Python: install it "
            "in an environment of its own, as the docstring of this script says"
        )
    import torch
    import transformers

    configs, repeats = (QUICK, 1) if args.quick else (CONFIGS, args.repeats)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        dense = prepare(work, args.calibration, args.eval_tokens)
        print(f"dense perplexity {dense:.3f}", flush=True)
        rows = []
        for method, target in configs:
            runs = []
            for r in range(repeats):
                for lib in LIBRARIES if r % 2 == 0 else LIBRARIES[::-1]:
                    runs.append(run_child(lib, method, target, work, args.threads, r == 0))
                    print(json.dumps(runs[-1]), flush=True)
            row = summarise(runs, method, target)
            row["runs"] = runs
            row["goals"] = goals(row)
            row["masks"] = mask_agreement(work, method, target)
            rows.append(row)
    data = {
        "setup": {
            "calibration": args.calibration,
            "eval_tokens": args.eval_tokens,
            "threads": args.threads,
            "repeats": repeats,
            "llmcompressor": llmcompressor.__version__,
            "transformers": transformers.__version__,
            "torch": torch.__version__,
        },
        "dense_perplexity": dense,
        "rows": rows,
    }
    if args.quick:
        print(report(data))
        return
    write_results("llm_compressor", data, report(data), TITLE)


TITLE = "Side by side with llm-compressor: Wanda and SparseGPT on the course model"

if __name__ == "__main__":
    main()
