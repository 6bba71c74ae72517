"""The benchmark scripts are not run by the tests (they take minutes), but each must start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("bench_*.py"))


def test_there_are_benchmarks():
    assert len(SCRIPTS) >= 7


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_benchmark_prints_its_help(script):
    done = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout and "--" in done.stdout


def test_readme_quotes_the_llm_compressor_comparison_as_measured():
    """README's numbers are the sentence the benchmark makes from its saved results."""
    import importlib.util
    import json

    root = SCRIPTS[0].parents[1]
    spec = importlib.util.spec_from_file_location(
        "bench_llmc", root / "benchmarks/bench_llmcompressor.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)  # stdlib imports only: runs without llm-compressor
    data = json.loads((root / "benchmarks/results/llm_compressor.json").read_text("utf-8"))
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert bench.summary(data) in readme
    wanda = [r["masks"] for r in data["rows"] if r["method"] == "wanda" and r["masks"]]
    assert wanda and all(m["layers_identical"] == m["layers"] == 42 for m in wanda)
    assert "identical in all 42 layers" in readme
    both = [r for r in data["rows"] if not r["llm-compressor"].get("error")]
    assert all(r["goals"]["perplexity"] and r["goals"]["tensor memory"] for r in both)
    faster = [r for r in both if r["ours"]["seconds"] < r["llm-compressor"]["seconds"]]
    slower = [r for r in both if r not in faster]
    words = {3: "three", 4: "four"}
    assert f"faster in\n{words[len(faster)]} of the {words[len(both)]}" in readme
    for r in slower:
        ratio = r["ours"]["seconds"] / r["llm-compressor"]["seconds"]
        label = "Wanda" if r["method"] == "wanda" else "SparseGPT"
        assert f"slower at {label} {r['target']} (median {ratio:.2f}x" in readme
