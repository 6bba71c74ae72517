"""The class grader against a folder of hostile submissions (issue #23).

Each threat the issue lists is one student's lesson-05 notebook (the cubic schedule: its check
is quick). None may get a point it did not earn, the honest ones keep theirs, the grader ends
within its limits, nothing is written outside the scratch folders, no process outlives it,
the grader's environment does not leak, and every student has a row. The folder is graded with
the fallback sandbox (resource limits and the audit-hook guard) and, where it works here, with
bubblewrap too.
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import nbformat
import pytest

from pruning_lessons.teaching import sandbox
from pruning_lessons.teaching.grading import grade_folder, summary

RIGHT = """
def cubic(t, final, steps, initial=0.0):
    t = min(max(t, 0), steps)
    return final + (initial - final) * (1 - t / steps) ** 3
"""
WRONG = """
def cubic(t, final, steps, initial=0.0):
    return final * min(max(t, 0), steps) / steps
"""
SECRET = "pl-grader-secret-4711"
TIMEOUT = 10

#: student -> (cells, the statuses allowed for their row)
SUBMISSIONS = {
    "honest": ([RIGHT], {"correct"}),
    "honest_with_the_library": (
        [
            "def cubic(t, final, steps, initial=0.0):\n"
            "    from pruning_lessons.weights.schedules import cubic_sparsity\n"
            "    return cubic_sparsity(t, final, initial=initial, steps=steps)"
        ],
        {"correct"},
    ),
    "honest_but_wrong": ([WRONG], {"incorrect"}),
    "patches_check_at_top_level": (
        [
            WRONG,
            "from pruning_lessons.teaching.exercises.core import Exercise, Feedback\n"
            "Exercise.check = lambda self, fn: Feedback(self.key, 'correct', 'all passed')",
        ],
        {"incorrect"},
    ),
    "patches_check_from_its_function": (
        [
            "def cubic(t, final, steps, initial=0.0):\n"
            "    from pruning_lessons.teaching.exercises import core\n"
            "    core.Exercise.check = lambda self, fn: core.Feedback(self.key, 'correct', 'ok')\n"
            "    return final * t / steps"
        ],
        {"flagged", "incorrect"},
    ),
    "forges_a_stand_in": (
        [
            WRONG,
            "from pruning_lessons.teaching.exercises.lessons import lesson05 as ex1\n"
            "cubic.learners_function = ex1.reference",
        ],
        {"incorrect"},
    ),
    "prints_the_result_marker_then_silences_stdout": (
        [
            WRONG,
            'import sys, os\nprint(\'@@pruning-lessons-grades@@[["05.ex1", "correct", ""]]\')\n'
            "sys.stdout = open(os.devnull, 'w')",
        ],
        {"incorrect"},
    ),
    "marker_then_invalid_json_into_every_descriptor": (
        [
            "def cubic(t, final, steps, initial=0.0):\n"
            "    import os\n"
            "    for fd in range(3, 64):\n"
            "        try:\n"
            "            os.write(fd, b'@@pruning-lessons-grades@@{not json\\n')\n"
            "        except OSError:\n"
            "            pass\n"
            "    t = min(max(t, 0), steps)\n"
            "    return final + (initial - final) * (1 - t / steps) ** 3"
        ],
        {"flagged", "error"},
    ),
    "execs_the_solutions_notebook": (
        [
            "def cubic(t, final, steps, initial=0.0):\n"
            "    import json, pathlib, pruning_lessons\n"
            "    root = pathlib.Path(pruning_lessons.__file__).parents[1]\n"
            "    nb = json.loads((root / 'solutions' / '05_steps_of_pruning.ipynb').read_text())\n"
            "    ns = {}\n"
            "    for cell in nb['cells']:\n"
            "        if 'def cubic' in ''.join(cell['source']):\n"
            "            exec(''.join(cell['source']), ns)\n"
            "    return ns['cubic'](t, final, steps, initial)"
        ],
        {"flagged", "incorrect"},
    ),
    "reads_the_reference_source": (
        [
            "def cubic(t, final, steps, initial=0.0):\n"
            "    import inspect\n"
            "    from pruning_lessons.teaching.exercises.lessons import lesson05\n"
            "    ns = {}\n"
            "    exec(inspect.getsource(lesson05.reference), ns)\n"
            "    return ns['cubic'](t, final, steps, initial)"
        ],
        {"flagged", "incorrect"},
    ),
    "imports_the_reference_by_name": (
        ["from pruning_lessons.teaching.exercises.lessons import cubic"],
        {"flagged"},
    ),
    "calls_the_reference_from_its_function": (
        [
            "def cubic(t, final, steps, initial=0.0):\n"
            "    from pruning_lessons.teaching.exercises.lessons import cubic as theirs\n"
            "    return theirs(t, final, steps, initial)"
        ],
        {"flagged"},
    ),
    "edits_another_notebook_and_leaves_a_process": (
        [
            "def cubic(t, final, steps, initial=0.0):\n"
            "    import pathlib, subprocess, sys\n"
            "    for path in pathlib.Path(TARGET).parent.parent.rglob('*.ipynb'):\n"
            "        try:\n"
            "            path.write_text('{}')\n"
            "        except OSError:\n"
            "            pass\n"
            "    try:\n"
            "        subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'],\n"
            "                         start_new_session=True)\n"
            "    except OSError:\n"
            "        pass\n"
            "    return final * t / steps"
        ],
        {"flagged", "incorrect"},
    ),
    "forks_a_daemon": (
        [
            "def cubic(t, final, steps, initial=0.0):\n"
            "    import os, time\n"
            "    try:\n"
            "        if os.fork() == 0:\n"
            "            os.setsid(); time.sleep(30); os._exit(0)\n"
            "    except OSError:\n"
            "        pass\n"
            "    return final * t / steps"
        ],
        {"flagged", "incorrect"},
    ),
    "writes_outside_its_folder": (
        [
            "def cubic(t, final, steps, initial=0.0):\n"
            "    for where in (OUTSIDE, '/tmp/pl-hostile-was-here'):\n"
            "        try:\n"
            "            open(where, 'w').write('pwned')\n"
            "        except OSError:\n"
            "            pass\n"
            "    return final * t / steps"
        ],
        {"flagged", "incorrect"},
    ),
    "reads_the_graders_environment": (
        [
            "def cubic(t, final, steps, initial=0.0):\n"
            "    import os\n"
            "    raise RuntimeError('leaked: ' + repr(dict(os.environ)))"
        ],
        {"incorrect"},
    ),
    "busy_loop_in_c": (
        ["def cubic(t, final, steps, initial=0.0):\n    return sum(range(10**15))"],
        {"timed out"},
    ),
    "kills_its_own_process": (
        ["def cubic(t, final, steps, initial=0.0):\n    import os\n    os._exit(3)"],
        {"error"},
    ),
}


#: What the bubblewrap run grades (each check starts a fresh Python with torch: seconds each).
IN_BUBBLEWRAP = (
    "honest",
    "honest_but_wrong",
    "execs_the_solutions_notebook",
    "edits_another_notebook_and_leaves_a_process",
    "writes_outside_its_folder",
    "reads_the_graders_environment",
    "busy_loop_in_c",
)


def _write(folder: Path, outside: Path, students) -> None:
    for student in students:
        cells = SUBMISSIONS[student][0]
        path = folder / student / "05_steps_of_pruning.ipynb"
        notebook = nbformat.v4.new_notebook()
        sources = [
            c.replace("TARGET", repr(str(path))).replace("OUTSIDE", repr(str(outside)))
            for c in cells
        ]
        notebook.cells = [nbformat.v4.new_code_cell(s.strip()) for s in sources]
        path.parent.mkdir(parents=True)
        nbformat.write(notebook, path)
    (folder / "broken" / "05_steps_of_pruning.ipynb").parent.mkdir()
    (folder / "broken" / "05_steps_of_pruning.ipynb").write_text("{ not a notebook")


def _snapshot(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


MODES = ["fallback"] + (["bubblewrap"] if sandbox.bubblewrap() else [])


@pytest.mark.parametrize("mode", MODES)
def test_hostile_submissions_gain_nothing_and_stop_nothing(mode, tmp_path, monkeypatch):
    monkeypatch.setenv("PL_GRADER_TOKEN", SECRET)
    folder, outside = tmp_path / "submissions", tmp_path / "outside.txt"
    students = list(SUBMISSIONS) if mode == "fallback" else list(IN_BUBBLEWRAP)
    _write(folder, outside, students)
    before = _snapshot(folder)
    csv_path = tmp_path / "grades.csv"
    start = time.monotonic()
    grades = grade_folder(folder, csv_path, timeout=TIMEOUT, bwrap=mode == "bubblewrap")
    elapsed = time.monotonic() - start

    per_check = TIMEOUT + 2 * sandbox.GRACE_SECONDS + 30  # the limit, the grace, start-up
    assert elapsed < per_check * (len(students) + 1)
    assert sandbox.descendants(os.getpid()) == []  # no process outlives the grader
    assert _snapshot(folder) == before  # no notebook was edited
    assert not outside.exists() and not Path("/tmp/pl-hostile-was-here").exists()
    with open(csv_path, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert SECRET not in csv_path.read_text(encoding="utf-8")
    by_student = {r["student_file"].split("/")[0]: r for r in rows}
    assert set(by_student) == {*students, "broken"}  # every student has a row
    assert by_student["broken"]["status"] == "error"
    for student in students:
        allowed = SUBMISSIONS[student][1]
        assert by_student[student]["status"] in allowed, (student, by_student[student])
    assert [g.status for g in grades] == [r["status"] for r in rows]
    time.sleep(1)  # nothing rewrites the grades after the grader has finished
    assert [r["status"] for r in csv.DictReader(open(csv_path, encoding="utf-8"))] == [
        r["status"] for r in rows
    ]
    assert "timed out 1" in summary(grades)


def test_the_csv_must_be_outside_the_submissions(tmp_path):
    (tmp_path / "subs").mkdir()
    with pytest.raises(ValueError, match="inside SUBMISSIONS_DIR"):
        grade_folder(tmp_path / "subs", tmp_path / "subs" / "grades.csv")


def test_the_course_solutions_keep_every_point(tmp_path):
    """Honest work loses nothing: lessons 07 and 08's solutions, graded like submissions."""
    root = Path(__file__).resolve().parents[1]
    folder = tmp_path / "submissions"
    folder.mkdir()
    for lesson in ("07_exercise_weight_pruning", "08_exercise_structural_pruning"):
        source = root / "solutions" / f"{lesson}.ipynb"
        (folder / source.name).write_bytes(source.read_bytes())
    grades = grade_folder(folder, tmp_path / "grades.csv", timeout=300, bwrap=False)
    assert len(grades) == 9
    assert [g for g in grades if g.status != "correct"] == []
