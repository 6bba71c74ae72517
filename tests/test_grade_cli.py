"""`python -m pruning_lessons grade SUBMISSIONS_DIR` on a folder of fake submissions (issue #14):
one correct, one wrong (with an unattempted and a deleted exercise, and a cell that raises),
one whose check process dies; every notebook is graded, and the CSV says what happened to each.
A check that never finishes is stopped at its time limit. Only a notebook's definitions run
(issue #23), so code at its top level does not."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from pruning_lessons.teaching.grading import exercises_in, summary

ROOT = Path(__file__).resolve().parents[1]

RIGHT_CUBIC = """
def cubic(t, final, steps, initial=0.0):
    t = min(max(t, 0), steps)
    return final + (initial - final) * (1 - t / steps) ** 3
"""
LINEAR_CUBIC = """
def cubic(t, final, steps, initial=0.0):
    return initial + (final - initial) * min(max(t, 0), steps) / steps
"""
WRONG_AND_STUB_07 = """
def threshold_mask(weight, threshold):
    return weight.abs() >= threshold


def amount_mask(weight, amount):
    # YOUR CODE HERE
    raise NotImplementedError("07.ex2: replace this line with your code")
"""


def _notebook(path: Path, *sources: str) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.cells = [nbformat.v4.new_code_cell(s.strip()) for s in sources]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


@pytest.fixture
def submissions(tmp_path):
    folder = tmp_path / "submissions"
    _notebook(folder / "alice" / "05_steps_of_pruning.ipynb", "import math", RIGHT_CUBIC)
    _notebook(
        folder / "bob" / "07_exercise_weight_pruning.ipynb",
        "1 / 0  # a cell that raises does not stop the run",
        WRONG_AND_STUB_07,
    )
    _notebook(
        folder / "carol" / "05_steps_of_pruning.ipynb",
        "import os\n\n\ndef cubic(t, final, steps, initial=0.0):\n    os._exit(1)",
    )
    return folder


def test_grade_a_folder_of_submissions(submissions, tmp_path):
    out = tmp_path / "grades.csv"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    inside = subprocess.run(
        [sys.executable, "-m", "pruning_lessons", "grade", str(submissions)]
        + ["--csv", str(submissions / "grades.csv")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert inside.returncode == 2 and "inside SUBMISSIONS_DIR" in inside.stderr
    done = subprocess.run(
        [sys.executable, "-m", "pruning_lessons", "grade", str(submissions), "--csv", str(out)]
        + ["--timeout", "300"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    with open(out, encoding="utf-8") as handle:
        rows = {(r["student_file"], r["exercise"]): r for r in csv.DictReader(handle)}
    status = {key: row["status"] for key, row in rows.items()}
    assert status == {
        ("alice/05_steps_of_pruning.ipynb", "05.ex1"): "correct",
        ("bob/07_exercise_weight_pruning.ipynb", "07.ex1"): "incorrect",
        ("bob/07_exercise_weight_pruning.ipynb", "07.ex2"): "not attempted",
        ("bob/07_exercise_weight_pruning.ipynb", "07.ex3"): "missing",
        ("bob/07_exercise_weight_pruning.ipynb", "07.ex4"): "missing",
        ("carol/05_steps_of_pruning.ipynb", "05.ex1"): "error",
    }
    assert "threshold" in rows[("bob/07_exercise_weight_pruning.ipynb", "07.ex1")]["message"]
    assert "ended" in rows[("carol/05_steps_of_pruning.ipynb", "05.ex1")]["message"]
    assert "alice/05_steps_of_pruning.ipynb" in done.stdout and "05.ex1" in done.stdout
    assert f"saved {out}" in done.stdout


def test_a_notebook_past_its_time_limit_is_stopped_and_reported(tmp_path):
    from pruning_lessons.teaching.grading import grade_notebook

    path = tmp_path / "dave" / "05_steps_of_pruning.ipynb"
    _notebook(
        path,
        "while True:\n    pass",
        LINEAR_CUBIC.replace("return", "while True:\n        pass\n    return"),
    )
    (row,) = grade_notebook(path, tmp_path, timeout=2)
    assert (row.student_file, row.exercise, row.status) == (
        "dave/05_steps_of_pruning.ipynb",
        "05.ex1",
        "timed out",
    )
    assert row.message == "the check ran longer than 2 s"


def test_grade_refuses_a_missing_folder(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pruning_lessons", "grade", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 2 and "is not a folder" in done.stderr


def test_exercises_are_found_by_definition_and_by_lesson_number():
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("def lamp(weight):\n    return weight")]
    assert exercises_in(notebook, "my_homework.ipynb") == ["04.ex1"]
    assert exercises_in(notebook, "sam_08_exercise.ipynb") == [
        "04.ex1",
        "08.ex1",
        "08.ex2",
        "08.ex3",
        "08.ex4",
        "08.ex5",
    ]


def test_the_summary_counts_per_student_and_per_exercise():
    from pruning_lessons.teaching.grading import Grade

    grades = [
        Grade("a.ipynb", "05.ex1", "correct", ""),
        Grade("b.ipynb", "05.ex1", "incorrect", "x"),
        Grade("c.ipynb", "05.ex1", "error", "y"),
    ]
    text = summary(grades)
    assert "a.ipynb" in text and "05.ex1" in text
    line = next(row for row in text.splitlines() if row.startswith("05.ex1"))
    # correct, incorrect, not attempted, missing, error, timed out, flagged
    assert line.split()[1:] == ["1", "1", "0", "0", "1", "0", "0"]
    assert text.splitlines()[-1] == "graded 2, failed 1 (of them flagged 0), timed out 0"
