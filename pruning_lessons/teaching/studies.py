"""Reading the saved studies (``benchmarks/results/*.json``) into what the lessons plot.

The benchmark scripts write one row per (model, granularity, criterion, sparsity) with one
value per seed; these helpers find rows and turn them into mean +- spread curves.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping


def spread(values: list[float]) -> tuple[float, float]:
    """Mean and population standard deviation over seeds."""
    return statistics.fmean(values), statistics.pstdev(values)


def study_row(study: dict, model: str, granularity: str, criterion: str, sparsity: float) -> dict:
    """The one row of ``study["rows"]`` with these keys; ``KeyError`` naming them if absent."""
    key = (model, granularity, criterion, sparsity)
    for row in study["rows"]:
        if (row["model"], row["granularity"], row["criterion"], row["sparsity"]) == key:
            return row
    raise KeyError(f"no row for {key} in the study")


def study_curves(
    study: dict,
    families: Mapping[tuple[str, str], str],
    x_of: Callable[[dict], float],
    *,
    stage: str = "after",
) -> dict[str, dict[str, dict]]:
    """``{model: {label: {"family", "x", "y", "err"}}}`` for the (granularity, criterion)
    pairs in ``families``; ``x_of(row)`` places a row on the x-axis, ``stage`` picks the
    accuracy ("before", "recalibrated" or "after" fine-tuning). Labels are
    ``"<granularity>: <criterion>"``; points are sorted by x."""
    curves: dict[str, dict[str, dict]] = {}
    for row in study["rows"]:
        key = (row["granularity"], row["criterion"])
        if key not in families or stage not in row:
            continue
        label = f"{key[0]}: {key[1]}"
        curve = curves.setdefault(row["model"], {}).setdefault(
            label, {"family": families[key], "points": []}
        )
        curve["points"].append((x_of(row), *spread(row[stage])))
    for by_label in curves.values():
        for curve in by_label.values():
            xs, ys, errs = zip(*sorted(curve.pop("points")), strict=True)
            curve.update(x=list(xs), y=list(ys), err=list(errs))
    return curves
