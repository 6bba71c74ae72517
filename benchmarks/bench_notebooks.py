"""How long every notebook takes to run top to bottom, as a learner's kernel would run it.

    python benchmarks/bench_notebooks.py [--threads 2] [names ...]

Executes notebooks/*.ipynb and solutions/*.ipynb with nbclient (TQDM_DISABLE=1, the kernel
from this environment), one after the other, and times each one, kernel start included.
Writes results/notebooks.json and .md. Goals: each exercise notebook under 60 s, every
notebook under 90 s, the whole course under 6 minutes on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import nbformat
from _common import markdown_table, write_results
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def run_notebook(path: Path) -> float:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--threads", type=int, default=2, help="OMP threads for the kernels (a 2-core laptop: 2)"
    )
    parser.add_argument("names", nargs="*", help="only notebooks whose name starts so")
    args = parser.parse_args()
    os.environ["TQDM_DISABLE"] = "1"
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    os.environ.setdefault("MPLBACKEND", "Agg")
    paths = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted(
        (ROOT / "solutions").glob("*.ipynb")
    )
    if args.names:
        paths = [p for p in paths if any(p.name.startswith(n) for n in args.names)]
    rows, results = [], []
    for path in paths:
        seconds = run_notebook(path)
        limit = 60 if "exercise" in path.name else 90
        name = f"{path.parent.name}/{path.name}"
        results.append({"notebook": name, "seconds": seconds, "limit": limit})
        rows.append([name, f"{seconds:.1f}", f"< {limit}", "yes" if seconds < limit else "NO"])
        print(f"{name}: {seconds:.1f} s", flush=True)
    total = sum(r["seconds"] for r in results)
    rows.append(["whole course", f"{total:.1f}", "< 360", "yes" if total < 360 else "NO"])
    table = markdown_table(["notebook", "seconds", "goal", "met"], rows)
    note = (
        f"\n\nEach notebook executed top to bottom with nbclient, kernel start included, "
        f"OMP_NUM_THREADS={args.threads}, progress bars off."
    )
    write_results(
        "notebooks",
        {"threads": args.threads, "results": results, "total_seconds": total},
        table + note,
        "Time to run each notebook",
    )


if __name__ == "__main__":
    main()
