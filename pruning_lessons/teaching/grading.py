"""Grade a class: every exercise of every submitted notebook, each in a fresh isolated process.

``python -m pruning_lessons grade SUBMISSIONS_DIR`` finds the ``*.ipynb`` files under the folder
and, for each exercise a notebook holds, hands the notebook's *definitions* (imports, plain
``def`` statements, constants: see :func:`~.check_runner.definitions`) to a fresh process that
imports the checks itself, in a sandbox (:mod:`.sandbox`: bubblewrap where available, otherwise
resource limits and an audit-hook guard), with a time limit per check. The notebook is never
run as a whole, so code at its top level (patching the checker, printing the result marker,
starting processes, editing other files) never runs. Results come back through a file the
sandbox cannot see, each line carrying a random token; a row is ``flagged`` (0 points) when the
submission called a reference solution, read what it must not, or tampered with the checker.

Which exercises a notebook holds: those whose function it defines (``def amount_mask(``), plus
every exercise of its lesson when the file name starts with the lesson number (``07_...``), so
a deleted exercise shows up as "missing". Every problem with one notebook (unreadable, a
crash, a hang, garbage results) becomes that student's rows; the class goes on. ``grades.csv``
is written row by row, outside the submissions folder. What this defends against and what it
does not: ``docs/teaching.md``.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .check_runner import STATUSES, definitions
from .exercises import ALL
from .sandbox import become_subreaper, bubblewrap, run_isolated


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


def hidden_folders(root: Path) -> list[str]:
    """What a submission must not read: the submissions, and the course's solutions."""
    package = Path(__file__).resolve().parents[2]
    folders = [root.resolve(), package / "solutions", package / "notebooks", package / "course"]
    return [str(f) for f in folders]


def _row(name: str, key: str, outcome, timeout: int) -> Grade:
    """The grade a runner's outcome gives; anything malformed is an error, never a point."""
    if outcome.foreign or len(outcome.lines) > 1:
        return Grade(name, key, "flagged", "the results were tampered with (extra lines)")
    if outcome.lines:
        try:
            result = json.loads(outcome.lines[0])
            assert result["key"] == key and result["status"] in STATUSES
            return Grade(name, key, result["status"], str(result["message"]))
        except (ValueError, KeyError, TypeError, AssertionError):
            return Grade(name, key, "error", "the check's result could not be read")
    if outcome.timed_out:
        return Grade(name, key, "timed out", f"the check ran longer than {timeout} s")
    reason = outcome.stderr_tail or f"the process ended with code {outcome.returncode}"
    return Grade(name, key, "error", f"the check's process ended early: {reason}")


def grade_notebook(
    path: Path, root: Path, timeout: int, *, bwrap: str | None | bool = True
) -> list[Grade]:
    """Grade one submission: each exercise in its own isolated process (``timeout`` s each).

    ``bwrap``: True finds bubblewrap if it works here, False or None uses the fallback, a path
    uses that program.
    """
    name = path.relative_to(root).as_posix()
    try:
        notebook = nbformat.read(path, as_version=4)
        cells = [c.source for c in notebook.cells if c.cell_type == "code"]
    except Exception as error:  # noqa: BLE001 -- an unreadable file is a row, not a crash
        return [Grade(name, "", "error", f"not a readable notebook: {error}")]
    keys = exercises_in(notebook, path.name)
    if not keys:
        return [Grade(name, "", "error", "no exercise of this course found in the notebook")]
    statements, _ = definitions(cells)
    program = bubblewrap() if bwrap is True else (bwrap or None)
    rows = []
    for key in keys:
        config = json.dumps({"key": key, "statements": statements, "timeout": timeout})
        outcome = run_isolated(config, timeout=timeout, hidden=hidden_folders(root), bwrap=program)
        rows.append(_row(name, key, outcome, timeout))
    return rows


def grade_folder(
    folder: Path, csv_path: Path, timeout: int = 600, *, bwrap: str | None | bool = True
) -> list[Grade]:
    """Grade every notebook under ``folder``, appending each row to ``csv_path`` as it comes."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"SUBMISSIONS_DIR must be a folder, got {str(folder)!r}")
    csv_path = Path(csv_path)
    if csv_path.resolve().is_relative_to(folder.resolve()):
        raise ValueError(
            f"the CSV {csv_path} is inside SUBMISSIONS_DIR, where a submission could reach it: "
            "write it somewhere else"
        )
    become_subreaper()
    program = bubblewrap() if bwrap is True else (bwrap or None)
    paths = sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    grades: list[Grade] = []
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_file", "exercise", "status", "message"])
        handle.flush()
        for path in paths:
            name = path.relative_to(folder).as_posix()
            try:
                rows = grade_notebook(path, folder, timeout, bwrap=program)
            except Exception as error:  # noqa: BLE001 -- one notebook never stops the class
                rows = [Grade(name, "", "error", f"the grader failed on it: {error!r}"[:300])]
            writer.writerows((g.student_file, g.exercise, g.status, g.message) for g in rows)
            handle.flush()
            grades.extend(rows)
            done = sum(g.status == "correct" for g in rows)
            print(f"{name}: {done} of {len(rows)} correct", flush=True)
    return grades


def summary(grades: list[Grade]) -> str:
    """Per student file and per exercise, then how many checks were graded, failed, timed out."""
    files = sorted({g.student_file for g in grades})
    lines = [f"{'student file':40s} {'correct':>8s} {'of':>4s}"]
    for name in files:
        rows = [g for g in grades if g.student_file == name]
        lines.append(f"{name:40s} {sum(g.status == 'correct' for g in rows):8d} {len(rows):4d}")
    lines += ["", f"{'exercise':10s} " + " ".join(f"{s:>13s}" for s in STATUSES)]
    for key in sorted({g.exercise for g in grades if g.exercise}):
        counts = Counter(g.status for g in grades if g.exercise == key)
        lines.append(f"{key:10s} " + " ".join(f"{counts[s]:13d}" for s in STATUSES))
    counts = Counter(g.status for g in grades)
    graded = sum(counts[s] for s in ("correct", "incorrect", "not attempted", "missing"))
    lines += [
        "",
        f"graded {graded}, failed {counts['error'] + counts['flagged']} "
        f"(of them flagged {counts['flagged']}), timed out {counts['timed out']}",
    ]
    return "\n".join(lines)
