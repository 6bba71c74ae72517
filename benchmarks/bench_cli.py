"""How fast the command line answers when nothing is trained: help, version, a mistake.

    python benchmarks/bench_cli.py [--default-python PATH] [--repeats 5]

Runs each command as a new process (as a user types it) ``--repeats`` times and reports the
median wall-clock time, with this Python's torch build and, if given, with the Python of
PyPI's default build (``--default-python``). For comparison it also times what those answers
avoid: importing the library's API (torch included). Goals: ``--help`` under 1 s, a mistake reported
under 2 s.
Writes results/cli.json and .md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import markdown_table, write_results

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "--help": ["-m", "pruning_lessons", "--help"],
    "demo --help": ["-m", "pruning_lessons", "demo", "--help"],
    "--version": ["-m", "pruning_lessons", "--version"],
    "demo --plot curve.txt (an error)": ["-m", "pruning_lessons", "demo", "--plot", "curve.txt"],
    "import the API (torch too), for comparison": [
        "-c",
        "import pruning_lessons as pl; pl.fit",
    ],
}
GOAL = {
    "--help": 1.0,
    "demo --help": 1.0,
    "--version": 1.0,
    "demo --plot curve.txt (an error)": 2.0,
}


def median_seconds(python: str, args: list[str], repeats: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([python, *args], env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def torch_label(python: str) -> str:
    code = "import torch; print(torch.__version__)"
    version = subprocess.run([python, "-c", code], capture_output=True, text=True).stdout
    return f"torch {version.strip()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--default-python", metavar="PATH", help="a Python with the default build")
    parser.add_argument("--repeats", type=int, default=5, help="runs per command (median)")
    args = parser.parse_args()
    pythons = [sys.executable] + ([args.default_python] if args.default_python else [])
    labels = [torch_label(p) for p in pythons]
    results, rows = [], []
    for name, command in COMMANDS.items():
        seconds = [median_seconds(p, command, args.repeats) for p in pythons]
        goal = GOAL.get(name)
        met = "" if goal is None else ("yes" if all(s < goal for s in seconds) else "NO")
        results.append({"command": name, "seconds": dict(zip(labels, seconds, strict=True))})
        rows.append([name, *(f"{s:.2f}" for s in seconds), f"< {goal:g}" if goal else "", met])
        print(name, [f"{s:.2f}" for s in seconds], flush=True)
    table = markdown_table(["command", *(f"s, {label}" for label in labels), "goal", "met"], rows)
    note = (
        f"\n\nMedian of {args.repeats} runs of `python -m pruning_lessons ...`, each a new "
        "process, start-up included. Help, version and argument errors answer before torch "
        "is imported; the last row is what they would cost otherwise."
    )
    write_results(
        "cli", {"repeats": args.repeats, "results": results}, table + note, "Command-line speed"
    )


if __name__ == "__main__":
    main()
