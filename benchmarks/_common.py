"""Small helpers shared by the benchmark scripts: where results go and how tables print."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    """What the numbers were measured on (no paths, no host names)."""
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "machine": platform.machine(),
    }


def seed_spread(values: list[float]) -> dict:
    """Mean and population std over seeds, with the values: what a study saves per cell."""
    return {"mean": statistics.fmean(values), "std": statistics.pstdev(values), "values": values}


def percent_cell(s: dict) -> str:
    """A :func:`seed_spread` as a table cell in percent: ``97.3 +- 0.2``."""
    return f"{100 * s['mean']:.1f} +- {100 * s['std']:.1f}"


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(name: str, data: dict, table: str, title: str) -> None:
    """Write ``results/<name>.json`` and ``results/<name>.md`` and print the table."""
    RESULTS.mkdir(exist_ok=True)
    data = {"machine": machine(), **data}
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    (RESULTS / f"{name}.md").write_text(f"# {title}\n\n{table}\n", encoding="utf-8")
    print(table)


BUSY_LOOP = """
import os, sys, time
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})  # one core only
deadline = time.monotonic() + float(sys.argv[1])
x = 0
while time.monotonic() < deadline:
    x = (x * 31 + 7) % 1000003
"""


@contextlib.contextmanager
def competing_load(seconds: float):
    """A CPU-bound process on one core for the duration of the block (at most ``seconds``)."""
    busy = subprocess.Popen([sys.executable, "-c", BUSY_LOOP, str(seconds)])
    try:
        time.sleep(0.2)  # let it start spinning
        yield
    finally:
        busy.terminate()
        busy.wait(timeout=10)


def load_average() -> float | None:
    """The machine's 1-minute load average (None where the OS does not say)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None
