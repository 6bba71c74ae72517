"""Build the student notebooks and the solutions from one source per notebook.

    python tools/build_notebooks.py            # write notebooks/ and solutions/
    python tools/build_notebooks.py --check    # exit 1 if the committed notebooks are stale

Sources are jupytext "percent" files in ``course/``. A code cell that holds an exercise
carries ``exercise="07.ex1"`` in its ``# %%`` header and marks its answer with nbgrader's
``### BEGIN SOLUTION`` / ``### END SOLUTION`` lines:

* ``notebooks/`` (students): each solution region becomes a ``raise NotImplementedError``
  that names the exercise and points at its hint; sources that hold an exercise are built.
* ``solutions/``: the markers are dropped and the code stays.

Outputs are never committed, except for cells tagged ``nbval-check-output`` (golden cells,
whose output nbval compares). ``--execute`` runs each built notebook once to fill those in.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "course"
TARGETS = {"notebooks": "student", "solutions": "solution"}
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
GOLDEN = "nbval-check-output"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def _stub(exercise: str, indent: str) -> list[str]:
    from pruning_lessons.teaching.exercises import ALL

    if exercise not in ALL:
        raise SystemExit(f"unknown exercise {exercise!r}; known: {sorted(ALL)}")
    message = ALL[exercise].stub_message
    comment = ALL[exercise].stub_comment
    return [f"{indent}# {comment}", f"{indent}raise NotImplementedError({message!r})"]


def transform(source: str, exercise: str | None, version: str) -> str:
    """Turn one cell's source into its student or solution form."""
    if BEGIN not in source:
        return source
    if exercise is None:
        raise SystemExit(f"a cell with {BEGIN} needs exercise=... in its header:\n{source}")
    lines, out, inside = source.split("\n"), [], False
    for line in lines:
        stripped = line.strip()
        if stripped == BEGIN:
            inside = True
            if version == "student":
                out += _stub(exercise, line[: len(line) - len(line.lstrip())])
        elif stripped == END:
            inside = False
        elif not inside or version == "solution":
            out.append(line)
    if inside:
        raise SystemExit(f"{BEGIN} without {END} in exercise {exercise}")
    return "\n".join(out)


def has_exercises(notebook: nbformat.NotebookNode) -> bool:
    return any(BEGIN in cell.source for cell in notebook.cells)


def build_one(path: Path, version: str) -> nbformat.NotebookNode:
    notebook = jupytext.read(path)
    notebook.metadata = {
        "kernelspec": KERNELSPEC,
        "language_info": {"name": "python"},
    }
    for index, cell in enumerate(notebook.cells):
        cell.id = f"{path.stem[:2]}-{index:03d}"  # stable ids: rebuilding changes nothing
        exercise = cell.metadata.pop("exercise", None)
        cell.source = transform(cell.source, exercise, version)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.validate(notebook)
    return notebook


def targets_for(path: Path) -> list[tuple[str, str]]:
    notebook = jupytext.read(path)
    folders = ["notebooks", "solutions"] if has_exercises(notebook) else ["notebooks"]
    return [(folder, TARGETS[folder]) for folder in folders]


def execute(notebook: nbformat.NotebookNode, folder: Path) -> nbformat.NotebookNode:
    """Run the notebook and keep the outputs of golden cells only."""
    from nbclient import NotebookClient

    ran = copy.deepcopy(notebook)
    NotebookClient(
        ran, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    for cell, done in zip(notebook.cells, ran.cells, strict=True):
        if cell.cell_type == "code" and GOLDEN in cell.metadata.get("tags", []):
            cell.outputs = done.outputs
            cell.execution_count = done.execution_count
    return notebook


def comparable(notebook: nbformat.NotebookNode) -> list[tuple]:
    """What must match between a fresh build and the committed file (outputs aside)."""
    cells = [
        (c.get("id"), c.cell_type, c.source, sorted(c.metadata.get("tags", [])))
        for c in notebook.cells
    ]
    return cells + [("metadata", repr(sorted(notebook.metadata.get("kernelspec", {}).items())), [])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    parser.add_argument("--execute", action="store_true", help="fill in golden cells' outputs")
    parser.add_argument("names", nargs="*", help="only these sources (e.g. 07)")
    args = parser.parse_args(argv)
    sources = sorted(SOURCES.glob("[0-9][0-9]_*.py"))
    if args.names:
        sources = [s for s in sources if any(s.name.startswith(n) for n in args.names)]
    stale = []
    for source in sources:
        for folder, version in targets_for(source):
            built = build_one(source, version)
            target = ROOT / folder / (source.stem + ".ipynb")
            if args.check:
                committed = nbformat.read(target, as_version=4) if target.exists() else None
                if committed is None or comparable(committed) != comparable(built):
                    stale.append(str(target.relative_to(ROOT)))
                continue
            if args.execute:
                built = execute(built, target.parent)
            else:  # keep golden outputs that a previous --execute filled in
                for earlier in (target, ROOT / "notebooks" / target.name):
                    if earlier.exists():  # a new solutions notebook takes the student's
                        _carry_golden_outputs(nbformat.read(earlier, as_version=4), built)
            target.parent.mkdir(exist_ok=True)
            nbformat.write(built, target)
            print(f"wrote {target.relative_to(ROOT)}")
    if stale:
        print("stale (run python tools/build_notebooks.py --execute):", *stale, sep="\n  ")
        return 1
    return 0


def _carry_golden_outputs(old: nbformat.NotebookNode, new: nbformat.NotebookNode) -> None:
    previous = {c.source: c for c in old.cells if GOLDEN in c.metadata.get("tags", [])}
    for cell in new.cells:
        if cell.get("outputs"):
            continue
        if GOLDEN in cell.metadata.get("tags", []) and cell.source in previous:
            cell.outputs = previous[cell.source].outputs
            cell.execution_count = previous[cell.source].execution_count


if __name__ == "__main__":
    sys.exit(main())
