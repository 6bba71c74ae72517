"""A clean first cell: importing the library prints nothing, with either torch build.

PyPI's default torch build (CUDA, on Linux) logs "No CUDA runtime is found, using
CUDA_HOME=..." on machines without a GPU driver when ``torch.utils.benchmark`` is imported;
the library silences that one notice. The default build is found as this Python when its
torch is a CUDA build, or as the Python named by ``PRUNING_LESSONS_DEFAULT_PYTHON``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
# What a first cell does: import the library, use it, and time something (benchmark import).
FIRST_CELL = (
    "import pruning_lessons as pl\n"
    "pl.evaluate(pl.mlp(), pl.load_digits(seed=0).test)\n"
    "import torch.utils.benchmark\n"
    "import logging\n"
    "logging.getLogger('torch.utils.cpp_extension').warning('other notices still show')\n"
)


def _default_build_python() -> str | None:
    named = os.environ.get("PRUNING_LESSONS_DEFAULT_PYTHON")
    if named:
        return named
    return sys.executable if torch.version.cuda else None


def _first_cell_stderr(python: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TQDM_DISABLE": "1"}
    done = subprocess.run(
        [python, "-c", FIRST_CELL], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def _only_the_probe(stderr: str) -> list[str]:
    lines = stderr.splitlines()
    assert len(lines) == 1 and "other notices still show" in lines[0], stderr
    return lines


def test_import_prints_nothing_with_this_torch():
    _only_the_probe(_first_cell_stderr(sys.executable))


@pytest.mark.skipif(
    _default_build_python() is None,
    reason="PyPI's default (CUDA) torch build is not installed here: set "
    "PRUNING_LESSONS_DEFAULT_PYTHON to a Python that has it to run this test",
)
def test_import_prints_nothing_with_the_default_torch_build():
    python = _default_build_python()
    build = subprocess.run(
        [python, "-c", "import torch; print(torch.version.cuda)"], capture_output=True, text=True
    )
    assert build.stdout.strip() not in ("", "None"), f"{python} has no CUDA build of torch"
    _only_the_probe(_first_cell_stderr(python))
