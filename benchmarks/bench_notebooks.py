"""How long every notebook takes to run top to bottom, with both torch builds, idle and busy.

    python benchmarks/bench_notebooks.py [--default-python PATH] [--threads N] [--update] [names]

Executes notebooks/*.ipynb and solutions/*.ipynb with nbclient (TQDM_DISABLE=1), one after
the other, and times each one, kernel start included. It does so in up to four conditions:

* with the torch build of this Python (``torch.version.cuda`` tells which) and with the
  other build, given as ``--default-python`` (a Python whose environment holds PyPI's default
  torch build, the CUDA one on Linux, which README's plain install brings);
* on a machine left idle by the benchmark, and with a competing CPU-bound process (one
  busy-looping Python, started before the first notebook and stopped after the last).

Thread counts are left as a learner gets them (no OMP_NUM_THREADS) unless ``--threads`` is
given. Writes results/notebooks.json and .md. Goals: each exercise notebook under 60 s,
every notebook under 90 s, the whole course (the student notebooks in notebooks/, what a
learner runs) under 6 minutes on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import markdown_table, write_results

ROOT = Path(__file__).resolve().parents[1]
CONDITIONS = ("idle", "loaded")


def notebook_paths(names: list[str]) -> list[Path]:
    paths = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted(
        (ROOT / "solutions").glob("*.ipynb")
    )
    if names:
        paths = [p for p in paths if any(p.name.startswith(n) for n in names)]
    return paths


def run_notebook(path: Path) -> float:
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def worker(names: list[str]) -> None:
    """Run the notebooks in this Python (its own kernel) and print one JSON line each."""
    import torch

    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads()}))
    for path in notebook_paths(names):
        seconds = run_notebook(path)
        print(json.dumps({"notebook": f"{path.parent.name}/{path.name}", "seconds": seconds}))
        sys.stdout.flush()


@contextlib.contextmanager
def competing_process(condition: str):
    """For ``loaded``: one Python process spinning on a core for the whole block."""
    if condition == "idle":
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


def measure(python: str, condition: str, names: list[str], threads: int | None) -> dict:
    env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONPATH": str(ROOT)}
    env.setdefault("MPLBACKEND", "Agg")
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(name, None)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    command = [python, str(Path(__file__).resolve()), "--worker", *names]
    with competing_process(condition):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{python} {condition}: failed\n{done.stderr[-3000:]}")
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    header, rows = lines[0], lines[1:]
    return {**header, "seconds": {r["notebook"]: r["seconds"] for r in rows}}


def torch_build(python: str) -> str:
    code = "import torch; print('CUDA' if torch.version.cuda else 'CPU')"
    return subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--default-python",
        metavar="PATH",
        help="a Python with PyPI's default torch build (CUDA on Linux); left out: one build",
    )
    parser.add_argument(
        "--threads", type=int, help="set OMP_NUM_THREADS for the kernels (default: not set)"
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite the table from results/notebooks.json without running anything",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="measure only the notebooks named and replace their rows in the saved results",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("names", nargs="*", help="only notebooks whose name starts so")
    args = parser.parse_args()
    if args.worker:
        worker(args.names)
        return
    if args.report_only:
        saved = json.loads((ROOT / "benchmarks" / "results" / "notebooks.json").read_text())
        report(saved["runs"], saved["threads"])
        return
    pythons = [sys.executable] + ([args.default_python] if args.default_python else [])
    runs = []
    for python in pythons:
        build = torch_build(python)
        label = "default build" if build == "CUDA" else "CPU build"
        for condition in CONDITIONS:
            print(f"{label}, {condition} ...", flush=True)
            run = measure(python, condition, args.names, args.threads)
            runs.append({"build": label, "condition": condition, **run})
            print(f"  {sum(run['seconds'].values()):.1f} s in all", flush=True)
    if args.update:
        runs = updated(runs, args.threads)
    report(runs, args.threads)


def updated(runs: list[dict], threads: int | None) -> list[dict]:
    """The saved runs with the notebooks just measured replaced (same builds and conditions)."""
    saved = json.loads((ROOT / "benchmarks" / "results" / "notebooks.json").read_text())
    if saved["threads"] != threads:
        raise SystemExit(f"--update: the saved results ran with threads={saved['threads']}")
    by_key = {(r["build"], r["condition"]): r for r in saved["runs"]}
    for run in runs:
        old = by_key.get((run["build"], run["condition"]))
        if old is None:
            raise SystemExit(f"--update: no saved run for {run['build']}, {run['condition']}")
        old["seconds"].update(run["seconds"])
        old.setdefault("updated", []).extend(sorted(run["seconds"]))
    if len(runs) != len(by_key):
        raise SystemExit("--update: give the same builds as the saved results (--default-python)")
    return list(by_key.values())


def report(runs: list[dict], threads: int | None) -> None:
    """Write results/notebooks.json and .md from the measured runs."""
    runs.sort(key=lambda r: (r["build"] != "CPU build", r["condition"]))
    columns = [f"{r['build']}, {r['condition']}" for r in runs]
    names = list(runs[0]["seconds"])
    rows, met_all = [], True
    for name in names:
        limit = 60 if "exercise" in name else 90
        times = [r["seconds"][name] for r in runs]
        met = all(t < limit for t in times)
        met_all &= met
        rows.append([name, *(f"{t:.1f}" for t in times), f"< {limit}", "yes" if met else "NO"])
    # the course a learner runs: the student notebooks (solutions/ are the instructor's copies,
    # each timed above against its own goal)
    totals = [
        sum(t for name, t in r["seconds"].items() if name.startswith("notebooks/")) for r in runs
    ]
    course_met = all(t < 360 for t in totals)
    rows.append(
        [
            "whole course (notebooks/)",
            *(f"{t:.1f}" for t in totals),
            "< 360",
            "yes" if course_met else "NO",
        ]
    )
    table = markdown_table(["notebook", *(f"s, {c}" for c in columns), "goal", "met"], rows)
    builds = "; ".join(
        f"{r['build']}: torch {r['torch']}, {r['threads']} thread(s) by default"
        for r in runs
        if r["condition"] == "idle"
    )
    thread_note = f"OMP_NUM_THREADS={threads}" if threads else "OMP_NUM_THREADS not set"
    later = sorted({name for r in runs for name in r.get("updated", [])})
    if later:
        thread_note += f"; measured again later, after a change: {', '.join(later)}"
    note = (
        f"\n\nSeconds for each notebook, executed top to bottom with nbclient, kernel start "
        f"included, progress bars off, {thread_note}. {builds}. *idle*: nothing else started by "
        f"the benchmark; *loaded*: one CPU-bound process spinning beside the kernel. "
        f"Every goal met in every condition: {'yes' if met_all and course_met else 'no'}."
    )
    write_results(
        "notebooks",
        {"threads": threads, "runs": runs, "totals": dict(zip(columns, totals, strict=True))},
        table + note,
        "Time to run each notebook",
    )


if __name__ == "__main__":
    main()
