"""The notebooks are built from course/ sources, carry no stray outputs, and stubs raise."""

from __future__ import annotations

import importlib.util
import inspect
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from pruning_lessons.teaching.exercises import ALL

ROOT = Path(__file__).resolve().parents[1]
STUDENT = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))


def _builder():
    spec = importlib.util.spec_from_file_location(
        "build_notebooks", ROOT / "tools" / "build_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def committed(path: Path, root: Path = ROOT) -> nbformat.NotebookNode:
    """The notebook as git has it staged (the index), or the file where git does not track it.

    A learner's JupyterLab saves outputs and exercise answers into the working tree; the
    tests check what the repository ships, so that using the course does not fail them.
    """
    relative = path.resolve().relative_to(root.resolve()).as_posix()
    shown = (
        subprocess.run(
            ["git", "-C", str(root), "show", f":{relative}"], capture_output=True, text=True
        )
        if shutil.which("git")
        else None
    )
    if shown is None or shown.returncode != 0:  # not a git checkout, or a new file
        return nbformat.read(path, as_version=4)
    return nbformat.reads(shown.stdout, as_version=4)


def golden_problems(notebook: nbformat.NotebookNode) -> list[str]:
    """Why ``notebook`` may not be committed as it is: stray outputs, empty golden cells."""
    problems = []
    if notebook.metadata.get("kernelspec", {}).get("name") != "python3":
        problems.append("no python3 kernelspec")
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code" and cell.outputs and "nbval-check-output" not in tags:
            problems.append(f"outputs in a cell that is not golden: {cell.source[:60]!r}")
        if "nbval-check-output" in tags and not cell.outputs:
            problems.append(
                f"a golden cell without outputs (build with --execute): {cell.source[:60]!r}"
            )
    return problems


def test_committed_notebooks_match_the_build():
    """Each notebook equals a fresh build, in the working tree or, failing that, as committed."""
    builder = _builder()
    stale = []
    for source in sorted((ROOT / "course").glob("[0-9][0-9]_*.py")):
        for folder, version in builder.targets_for(source):
            built = builder.comparable(builder.build_one(source, version))
            target = ROOT / folder / f"{source.stem}.ipynb"
            versions = [nbformat.read(target, as_version=4), committed(target)]
            if all(builder.comparable(v) != built for v in versions):
                stale.append(str(target.relative_to(ROOT)))
    assert not stale, f"stale (run python tools/build_notebooks.py): {stale}"


def test_every_source_is_built():
    sources = {p.stem for p in (ROOT / "course").glob("[0-9][0-9]_*.py")}
    assert sources == {p.stem for p in STUDENT}
    exercise_sources = {
        s for s in sources if 'exercise="' in (ROOT / "course" / f"{s}.py").read_text("utf-8")
    }
    assert exercise_sources == {p.stem for p in SOLUTIONS}


@pytest.mark.parametrize("path", STUDENT + SOLUTIONS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_only_golden_cells_keep_outputs_and_a_kernel_is_named(path):
    assert golden_problems(committed(path)) == []


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to stage a notebook")
def test_outputs_saved_in_the_working_tree_do_not_fail_the_checks(tmp_path):
    """A learner ran a lesson and JupyterLab saved every output: the committed file counts."""
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    lesson = tmp_path / STUDENT[1].name
    shutil.copy(STUDENT[1], lesson)
    subprocess.run([*git, "add", lesson.name], check=True)
    subprocess.run([*git, "commit", "-qm", "lesson"], check=True)
    used = nbformat.read(lesson, as_version=4)
    code = next(c for c in used.cells if c.cell_type == "code" and not c.outputs)
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="the learner's run\n")]
    code.source += "\n# my own note"
    nbformat.write(used, lesson)
    assert golden_problems(nbformat.read(lesson, as_version=4))  # the working tree would fail
    assert golden_problems(committed(lesson, tmp_path)) == []
    assert committed(lesson, tmp_path) == nbformat.read(STUDENT[1], as_version=4)


def _stub_cells(path: Path) -> list[str]:
    notebook = committed(path)
    return [
        c.source
        for c in notebook.cells
        if c.cell_type == "code" and "raise NotImplementedError(" in c.source
    ]


@pytest.mark.parametrize(
    "path", [p for p in STUDENT if p.stem in {s.stem for s in SOLUTIONS}], ids=lambda p: p.name
)
def test_student_stubs_raise_naming_their_exercise(path):
    cells = _stub_cells(path)
    number = path.name[:2]
    expected = {key for key in ALL if key.startswith(number)}
    named = set()
    for source in cells:
        namespace: dict = {}
        exec("import torch\nfrom torch import nn\n" + source, namespace)  # noqa: S102
        functions = [
            v for k, v in namespace.items() if inspect.isfunction(v) and k != "__builtins__"
        ]
        assert len(functions) == 1, source
        fn = functions[0]
        with pytest.raises(NotImplementedError) as raised:
            fn(*[None] * len(inspect.signature(fn).parameters))
        key = re.match(r"(\d\d\.ex\d+): ", str(raised.value)).group(1)
        assert ALL[key].short + ".hint(1)" in source  # the comment above the placeholder
        stub_lines = [
            line for line in source.splitlines() if "YOUR CODE" in line or "raise" in line
        ]
        assert all(len(line) <= 80 for line in stub_lines), "a stub line is too wide"
        named.add(key)
    assert named == expected


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solutions_have_no_markers_or_stubs(path):
    code = [c.source for c in committed(path).cells if c.cell_type == "code"]
    assert not [s for s in code if "### BEGIN SOLUTION" in s or "NotImplementedError" in s]


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solution_functions_pass_their_own_checks(path):
    """A solution that fails its check would silently fall back to the reference."""
    exercises = {ALL[k].reference.__name__: ALL[k] for k in ALL if k.startswith(path.name[:2])}
    namespace: dict = {}
    exec(  # noqa: S102
        "import copy\nfrom collections import OrderedDict\nimport torch\nfrom torch import nn\n"
        "import pruning_lessons as pl\n",
        namespace,
    )
    checked = set()
    for cell in committed(path).cells:
        defined = re.findall(r"^def (\w+)\(", cell.source, flags=re.M)
        if cell.cell_type == "code" and any(name in exercises for name in defined):
            exec(cell.source, namespace)  # noqa: S102
            for name in defined:
                if name in exercises:
                    feedback = exercises[name].check(namespace[name])
                    assert feedback.status == "correct", feedback
                    checked.add(name)
    assert checked == set(exercises)
