"""The notebooks are built from course/ sources, carry no stray outputs, and stubs raise."""

from __future__ import annotations

import importlib.util
import inspect
import re
from pathlib import Path

import nbformat
import pytest

from pruning_lessons.exercises import ALL

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


def test_committed_notebooks_match_the_build(capsys):
    assert _builder().main(["--check"]) == 0, capsys.readouterr().out


def test_every_source_is_built():
    sources = {p.stem for p in (ROOT / "course").glob("[0-9][0-9]_*.py")}
    assert sources == {p.stem for p in STUDENT}
    exercise_sources = {  # a source with an exercise cell also gets a solutions notebook
        p.stem
        for p in (ROOT / "course").glob("[0-9][0-9]_*.py")
        if 'exercise="' in p.read_text(encoding="utf-8")
    }
    assert exercise_sources == {p.stem for p in SOLUTIONS}


@pytest.mark.parametrize("path", STUDENT + SOLUTIONS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_only_golden_cells_keep_outputs_and_a_kernel_is_named(path):
    notebook = nbformat.read(path, as_version=4)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.outputs:
            assert "nbval-check-output" in cell.metadata.get("tags", []), cell.source[:60]
    golden = [c for c in notebook.cells if "nbval-check-output" in c.metadata.get("tags", [])]
    assert all(c.outputs for c in golden), "golden cells need outputs: build with --execute"


def _stub_cells(path: Path) -> list[str]:
    notebook = nbformat.read(path, as_version=4)
    return [
        c.source
        for c in notebook.cells
        if c.cell_type == "code" and "raise NotImplementedError(" in c.source
    ]


@pytest.mark.parametrize("path", [p for p in STUDENT if "exercise" in p.name], ids=lambda p: p.name)
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
        key = re.search(r"Exercise (\d\d\.ex\d)", str(raised.value)).group(1)
        assert ALL[key].short + ".hint(1)" in str(raised.value)
        named.add(key)
    assert named == expected


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solutions_have_no_markers_or_stubs(path):
    code = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    assert not [s for s in code if "### BEGIN SOLUTION" in s or "NotImplementedError" in s]


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solution_functions_pass_their_own_checks(path):
    """A solution that fails its check would silently fall back to the reference."""
    exercises = {ALL[k].reference.__name__: ALL[k] for k in ALL if k.startswith(path.name[:2])}
    namespace: dict = {}
    exec(  # noqa: S102
        "import copy\nfrom collections import OrderedDict\nimport torch\nfrom torch import nn\n",
        namespace,
    )
    checked = set()
    for cell in nbformat.read(path, as_version=4).cells:
        defined = re.findall(r"^def (\w+)\(", cell.source, flags=re.M)
        if cell.cell_type == "code" and any(name in exercises for name in defined):
            exec(cell.source, namespace)  # noqa: S102
            for name in defined:
                if name in exercises:
                    feedback = exercises[name].check(namespace[name])
                    assert feedback.status == "correct", feedback
                    checked.add(name)
    assert checked == set(exercises)
