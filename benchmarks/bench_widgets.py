"""How fast each lesson's slider redraws: the explorer's update, called with the widget's values.

    python benchmarks/bench_widgets.py [--moves 8]

Builds every explorer as its lesson does (same models, trained the same way, at the thread
count the lesson sets), then moves its slider ``--moves`` times by a few steps, as a learner
pressing the arrow keys would; each move runs the explorer's update (compute, text, PNG
pictures) synchronously, and its wall time is recorded. The first draw, when the explorer
is built, is reported apart: that is where what does not change with the slider is
computed and cached. Also merges in the browser's key-press-to-picture time for lesson 01's
slider, if ``tests/test_browser.py`` has recorded one (results/browser_redraw.json).
Writes results/widgets.json and .md.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time

import torch
from _common import RESULTS, markdown_table, write_results

import pruning_lessons as pl
from pruning_lessons.teaching.explorers import (
    amount,
    budget,
    criteria,
    granularity,
    layer_ratio,
    noise,
    schedules,
    threshold,
    units,
)
from pruning_lessons.weights.analysis import sensitivity_scan

GOAL_SECONDS = 0.5


#: explorer -> (lesson, how the lesson calls it)
EXPLORERS = {
    "amount_explorer": (
        "01",
        lambda p: amount.amount_explorer(p["mlp"], p["data"].test, start=0.9),
    ),
    "granularity_explorer": (
        "02",
        lambda p: granularity.granularity_explorer(p["mlp"], p["data"].test, start=0.5),
    ),
    "budget_explorer": (
        "03",
        lambda p: budget.budget_explorer(p["cnn"], p["data"].test, measure="macs", start=0.5),
    ),
    "criteria_explorer": ("04", lambda p: criteria.criteria_explorer(p["mlp"], p["data"])),
    "schedule_explorer": ("05", lambda p: schedules.schedule_explorer()),
    "noise_explorer": ("06", lambda p: noise.noise_explorer(p["models"], p["data"].test)),
    "layer_ratio_explorer": (
        "06",
        lambda p: layer_ratio.layer_ratio_explorer(p["mlp"], p["data"].val, p["scan"]),
    ),
    "threshold_explorer": ("07", lambda p: threshold.threshold_explorer(p["mlp"], p["data"].test)),
    "units_explorer": ("08", lambda p: units.units_explorer(p["mlp"], p["data"].test)),
}
#: lessons whose first cell runs ``torch.set_num_threads(1)``; the others keep torch's default
ONE_THREAD_LESSONS = {"01", "02", "03", "07", "08"}


def prepare() -> dict:
    data = pl.load_digits(seed=0)
    pl.seed_everything(0)
    mlp = pl.mlp()
    pl.fit(mlp, data, progress=False)
    cnn = pl.cnn()
    pl.fit(cnn, data, epochs=8, progress=False)
    pruned = copy.deepcopy(mlp)
    pl.magnitude_prune(pruned, 0.9, scope="global")
    return {
        "data": data,
        "mlp": mlp,
        "cnn": cnn,
        "models": {"dense": mlp, "90 % pruned": pruned},
        "scan": sensitivity_scan(mlp, data.val),
    }


def positions(slider, moves: int) -> list:
    """Slider values a learner reaches by pressing an arrow key a few times, back and forth."""
    step = slider.step
    values, value = [], slider.value
    direction = 1 if value + 3 * step <= slider.max else -1
    for _ in range(moves):
        nxt = value + direction * 3 * step
        if not slider.min <= nxt <= slider.max:
            direction = -direction
            nxt = value + direction * 3 * step
        value = type(slider.value)(round(nxt, 6))
        values.append(value)
    return values


def measure(name: str, parts: dict, moves: int) -> dict:
    lesson, make = EXPLORERS[name]
    default_threads = torch.get_num_threads()
    threads = 1 if lesson in ONE_THREAD_LESSONS else default_threads
    torch.set_num_threads(threads)
    try:
        start = time.perf_counter()
        box = make(parts)
        first = time.perf_counter() - start
        slider = box.children[0]
        seconds, cpu = [], []
        for value in positions(slider, moves):
            tick, cpu_tick = time.perf_counter(), time.process_time()
            slider.value = value  # runs the explorer's update, as a key press in the browser does
            seconds.append(time.perf_counter() - tick)
            cpu.append(time.process_time() - cpu_tick)
    finally:
        torch.set_num_threads(default_threads)
    return {
        "lesson": lesson,
        "threads": threads,
        "first_draw": first,
        "median": statistics.median(seconds),
        "max": max(seconds),
        "cpu_median": statistics.median(cpu),
        "moves": len(seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=8)
    parser.add_argument("--only", nargs="*", default=list(EXPLORERS))
    args = parser.parse_args()
    parts = prepare()
    results = {}
    for name in args.only:
        results[name] = measure(name, parts, args.moves)
        print(name, results[name], flush=True)
    rows = [
        [
            r["lesson"],
            f"`{name}`",
            r["threads"],
            f"{r['median']:.3f}",
            f"{r['max']:.3f}",
            f"{r['cpu_median']:.3f}",
            f"{r['first_draw']:.2f}",
            "yes" if r["median"] <= GOAL_SECONDS else "no",
        ]
        for name, r in results.items()
    ]
    table = markdown_table(
        [
            "lesson",
            "explorer",
            "torch threads",
            "redraw median (s)",
            "redraw max (s)",
            "CPU time median (s)",
            "first draw (s)",
            f"median <= {GOAL_SECONDS} s",
        ],
        rows,
    )
    notes = (
        f"Each explorer's slider moved {args.moves} times by three steps; each move runs the "
        "update the widget calls (computation, text and PNG pictures). The first draw builds "
        "the caches that do not depend on the slider."
    )
    browser = RESULTS / "browser_redraw.json"
    data = {"moves": args.moves, "results": results}
    if browser.exists():
        recorded = json.loads(browser.read_text(encoding="utf-8"))
        data["browser"] = recorded
        presses = ", ".join(f"{s:.2f}" for s in recorded["seconds"])
        notes += (
            f"\n\nIn the browser (tests/test_browser.py, JupyterLab in Chromium): lesson 01's "
            f"slider, key press to new picture: median {recorded['median']:.2f} s, max "
            f"{recorded['max']:.2f} s over {len(recorded['seconds'])} presses ({presses})."
        )
    write_results("widgets", data, table + "\n\n" + notes, "Slider redraw time per explorer")


if __name__ == "__main__":
    main()
