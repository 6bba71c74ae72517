"""Grade a class: run every submitted notebook and every exercise's checker on it.

``python -m pruning_lessons grade SUBMISSIONS_DIR`` finds the ``*.ipynb`` files under the
folder, runs each one from top to bottom in its own process (a time limit per notebook; a cell
that raises does not stop the run, and a notebook that hangs or kills its kernel does not stop
the others), then calls ``check`` of each exercise the notebook holds on the function the
student wrote. The result is a CSV with one row per (student file, exercise) and a summary.

Which exercises a notebook holds: those whose function it defines (``def amount_mask(``), plus
every exercise of its lesson when the file name starts with the lesson number (``07_...``), so
a deleted exercise shows up as "missing". Student code runs with your permissions: grade in a
container or a throwaway account.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .exercises import ALL

STATUSES = ("correct", "incorrect", "not attempted", "missing", "error")
MARKER = "@@pruning-lessons-grades@@"


@dataclass(frozen=True)
class Grade:
    """One row of the grade sheet."""

    student_file: str
    exercise: str
    status: str  # one of STATUSES
    message: str


def exercises_in(notebook: nbformat.NotebookNode, filename: str) -> list[str]:
    """The exercise keys a notebook holds, in course order."""
    source = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    keys = {k for k, e in ALL.items() if re.search(rf"^def {e.reference.__name__}\(", source, re.M)}
    lesson = re.search(r"(?:^|[^0-9])(\d\d)_", filename)
    if lesson:
        keys |= {k for k in ALL if k.startswith(lesson.group(1) + ".")}
    return sorted(keys)


def _grading_cell(keys: list[str]) -> str:
    return f"""
import json as _json
from pruning_lessons.teaching.exercises import ALL as _ALL
_grades = []
for _key in {keys!r}:
    _name = _ALL[_key].reference.__name__
    if _name not in globals():
        _grades.append((_key, "missing", f"no function named {{_name}} was defined"))
        continue
    _feedback = _ALL[_key].check(globals()[_name])
    _grades.append((_key, _feedback.status, _feedback.message))
print({MARKER!r} + _json.dumps(_grades))
"""


# The worker runs in its own process and imports only nbclient: importing this package (torch,
# matplotlib, widgets) is left to the kernel, which needs it for the checks anyway.
_WORKER = """
import sys
import nbformat
from nbclient import NotebookClient

path, cell_timeout, grading_cell = sys.argv[1], int(sys.argv[2]), sys.argv[3]
notebook = nbformat.read(path, as_version=4)
notebook.cells.append(nbformat.v4.new_code_cell(grading_cell))
folder = path.rsplit("/", 1)[0] if "/" in path else "."
NotebookClient(
    notebook,
    timeout=cell_timeout,
    kernel_name="python3",
    allow_errors=True,
    resources={"metadata": {"path": folder}},
).execute()
for output in notebook.cells[-1].get("outputs", []):
    print(output.get("text", ""))
"""


def grade_notebook(path: Path, root: Path, timeout: int) -> list[Grade]:
    """Grade one submission in a separate process that is stopped after ``timeout`` seconds."""
    name = path.relative_to(root).as_posix()
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # noqa: BLE001 -- an unreadable file is a row, not a crash
        return [Grade(name, "", "error", f"not a readable notebook: {error}")]
    keys = exercises_in(notebook, path.name)
    if not keys:
        return [Grade(name, "", "error", "no exercise of this course found in the notebook")]
    command = [sys.executable, "-c", _WORKER, str(path), str(timeout), _grading_cell(keys)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the kernel joins this group, so a timeout stops both
        env={**os.environ, "TQDM_DISABLE": "1", "MPLBACKEND": "Agg"},
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return [Grade(name, k, "error", f"the notebook ran longer than {timeout} s") for k in keys]
    if process.returncode != 0 or MARKER not in out:
        reason = (err.strip().splitlines() or ["the notebook could not be run"])[-1]
        return [Grade(name, k, "error", reason[:300]) for k in keys]
    rows = json.loads(out.split(MARKER, 1)[1])
    return [Grade(name, key, status, message) for key, status, message in rows]


def grade_folder(folder: Path, csv_path: Path, timeout: int = 600) -> list[Grade]:
    """Grade every notebook under ``folder`` and write the CSV; returns all rows."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"SUBMISSIONS_DIR must be a folder, got {str(folder)!r}")
    paths = sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    grades: list[Grade] = []
    for path in paths:
        rows = grade_notebook(path, folder, timeout)
        grades.extend(rows)
        done = sum(g.status == "correct" for g in rows)
        print(f"{path.relative_to(folder)}: {done} of {len(rows)} correct", flush=True)
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_file", "exercise", "status", "message"])
        writer.writerows((g.student_file, g.exercise, g.status, g.message) for g in grades)
    return grades


def summary(grades: list[Grade]) -> str:
    """Two plain-text tables: per student file, and per exercise."""
    files = sorted({g.student_file for g in grades})
    lines = [f"{'student file':40s} {'correct':>8s} {'of':>4s}"]
    for name in files:
        rows = [g for g in grades if g.student_file == name]
        lines.append(f"{name:40s} {sum(g.status == 'correct' for g in rows):8d} {len(rows):4d}")
    lines += ["", f"{'exercise':10s} " + " ".join(f"{s:>13s}" for s in STATUSES)]
    for key in sorted({g.exercise for g in grades if g.exercise}):
        counts = Counter(g.status for g in grades if g.exercise == key)
        lines.append(f"{key:10s} " + " ".join(f"{counts[s]:13d}" for s in STATUSES))
    return "\n".join(lines)
