"""nbgrader's own flow on the course (issue #14): tools/nbgrader_source.py writes lesson 07 as an
nbgrader source, `nbgrader generate_assignment` turns its solution regions into stubs, and
`nbgrader autograde` gives the released (unsolved) notebook 0 of 4 points and the solved one
4 of 4. Skips where nbgrader is not installed (it is in the dev extra)."""

from __future__ import annotations

import csv
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("nbgrader") is None, reason="nbgrader is not installed"
    ),
]


def _nbgrader(course: Path, *args: str) -> None:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "TQDM_DISABLE": "1"}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_generate_assignment_and_autograde_lesson_07(tmp_path):
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from nbgrader_source import write_source
    finally:
        sys.path.remove(str(ROOT / "tools"))
    course = tmp_path / "course"
    (source,) = write_source(course, ["07"])
    (course / "nbgrader_config.py").write_text(
        'c = get_config()\nc.CourseDirectory.course_id = "pruning-lessons"\n', encoding="utf-8"
    )
    _nbgrader(course, "generate_assignment", "lesson07", "--CourseDirectory.create_assignment=True")
    released = course / "release" / "lesson07" / source.name
    text = released.read_text(encoding="utf-8")
    assert "### BEGIN SOLUTION" not in text and text.count("raise NotImplementedError()") == 4

    for student, notebook in (("stuck", released), ("solved", source)):
        folder = course / "submitted" / student / "lesson07"
        folder.mkdir(parents=True)
        shutil.copy(notebook, folder / source.name)
        _nbgrader(course, "db", "student", "add", student)
    _nbgrader(course, "autograde", "lesson07")
    _nbgrader(course, "export")
    with open(course / "grades.csv", encoding="utf-8") as handle:
        scores = {
            row["student_id"]: (row["score"], row["max_score"]) for row in csv.DictReader(handle)
        }
    assert scores == {"stuck": ("0.0", "4.0"), "solved": ("4.0", "4.0")}
