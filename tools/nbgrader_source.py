"""Write the course as an nbgrader "source" folder, so an instructor can grade with nbgrader.

    python tools/nbgrader_source.py COURSE_DIR [07 08 ...]

For each chosen lesson (default: every lesson with exercises) this writes
``COURSE_DIR/source/lessonNN/NN_*.ipynb`` from ``course/NN_*.py``:

* an exercise cell keeps its ``### BEGIN SOLUTION`` / ``### END SOLUTION`` region and becomes an
  nbgrader *solution* cell, so ``nbgrader generate_assignment`` replaces the region with a stub;
* its ``exN.check(fn)`` cell becomes a locked, autograded *test* cell worth one point, which
  fails (and so scores 0) unless the check says Correct.

Then, in COURSE_DIR: ``nbgrader generate_assignment lessonNN``, collect the students' files
into ``submitted/STUDENT/lessonNN/``, ``nbgrader autograde lessonNN`` and
``nbgrader export``. See docs/teaching.md.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "### BEGIN SOLUTION"
CHECK = re.compile(r"^(ex\d+)\.check\((\w+)\)\s*$")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def _nbgrader(grade_id: str, *, solution: bool, grade: bool, points: int = 0) -> dict:
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": not solution,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if grade:
        meta["points"] = points
    return meta


def source_notebook(path: Path) -> nbformat.NotebookNode:
    """The lesson at ``path`` (a course/*.py file) with nbgrader cell metadata."""
    notebook = jupytext.read(path)
    notebook.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    lesson = path.stem[:2]
    for index, cell in enumerate(notebook.cells):
        cell.id = f"{lesson}-{index:03d}"
        exercise = cell.metadata.pop("exercise", None)
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        if exercise and BEGIN in cell.source:
            grade_id = exercise.replace(".", "-")
            cell.metadata["nbgrader"] = _nbgrader(grade_id, solution=True, grade=False)
            continue
        found = CHECK.match(cell.source.strip())
        if found:
            short, function = found.groups()
            cell.source = (
                f"feedback = {short}.check({function})\n"
                "print(feedback)\n"
                "assert feedback, feedback.message"
            )
            grade_id = f"{lesson}-{short}-check"
            cell.metadata["nbgrader"] = _nbgrader(grade_id, solution=False, grade=True, points=1)
    nbformat.validate(notebook)
    return notebook


def write_source(course_dir: Path, lessons: list[str] | None = None) -> list[Path]:
    """Write ``source/lessonNN/`` for each lesson with exercises; returns the files written."""
    written = []
    for path in sorted((ROOT / "course").glob("[0-9][0-9]_*.py")):
        if lessons and path.stem[:2] not in lessons:
            continue
        if 'exercise="' not in path.read_text(encoding="utf-8"):
            continue
        folder = course_dir / "source" / f"lesson{path.stem[:2]}"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{path.stem}.ipynb"
        nbformat.write(source_notebook(path), target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("course_dir", type=Path, help="the nbgrader course folder")
    parser.add_argument("lessons", nargs="*", help="lesson numbers (default: all with exercises)")
    args = parser.parse_args(argv)
    for target in write_source(args.course_dir, args.lessons or None):
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
