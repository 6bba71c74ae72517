"""The project's own promises: one dependency list, one test command, clean lint."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _readme_test_command() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    after = text.split("<!-- test-command", 1)[1]
    block = re.search(r"```\w*\n(.*?)```", after, re.S)
    assert block, "README.md needs a code block after its test-command marker"
    return block.group(1).strip()


def test_readme_gives_two_setup_commands_and_ci_reads_the_second():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install -e . && pruning-lessons lab" in readme  # install and open the course
    assert 'pip install -e ".[dev]"' in readme  # what the tests need
    assert "conda env create -f environment.yml" in readme
    assert _readme_test_command() == "python -m pytest -n 2 --dist loadfile"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "<!-- test-command" in ci and "exit 1" in ci  # reads README; fails on pytest's 5


@pytest.mark.parametrize("name", ["environment.yml", "environment-cuda.yml"])
def test_environment_yml_installs_the_package_from_pyproject(name):
    env = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    deps = env["dependencies"]
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    # the CPU file may add torch's CPU package index; nothing else may be listed here
    index = "--extra-index-url https://download.pytorch.org/whl/cpu"
    expected = [index] if name == "environment.yml" else []
    assert pip_section == [*expected, "-e ."], "the student install: no test or teaching tools"
    conda_names = {re.split(r"[=<>! ]", d)[0] for d in deps if isinstance(d, str)}
    assert conda_names == {"python", "pip"}, "list libraries in pyproject.toml only"
    python_pin = next(d for d in deps if isinstance(d, str) and d.startswith("python"))
    minimum = pyproject["project"]["requires-python"].removeprefix(">=")
    assert tuple(map(int, python_pin.split("=")[1].split("."))) >= tuple(
        map(int, minimum.split("."))
    )
    assert {"dev", "teach"} <= set(pyproject["project"]["optional-dependencies"])
    assert f"conda env create -f {name}" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_says_which_torch_build_to_take_before_the_install_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = readme.split("## Set up", 1)[1].split("2. Run the tests", 1)[0]
    cpu = setup.index("No NVIDIA GPU")
    gpu = setup.index("An NVIDIA GPU")
    assert cpu < setup.index("download.pytorch.org/whl/cpu") < gpu < setup.index("pip install", gpu)
    assert "fonts-noto-cjk" in setup


def test_ci_removes_its_venv_however_it_ends():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "trap 'rm -rf \"$venv_parent\"' EXIT" in ci
    assert ci.index("trap") < ci.index("python3 -m venv")


def test_dependencies_are_ranges_not_pins():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    requirements = project["dependencies"] + sum(project["optional-dependencies"].values(), [])
    assert not [r for r in requirements if "==" in r]
    names = {re.split(r"[<>=!]", r)[0] for r in project["dependencies"]}
    assert {
        "torch",
        "numpy",
        "matplotlib",
        "ipywidgets",
        "jupyterlab",
        "scikit-learn",
        "tqdm",
    } <= names


def _requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _installed_closure(names: set[str]) -> set[str]:
    """``names`` and every distribution they require (extras left out), as installed here."""
    from importlib import metadata

    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [_requirement_name(r) for r in requires if "extra ==" not in r]
    return seen


def test_a_student_install_has_what_the_lessons_import_and_no_test_tools():
    """Issue #25: `pip install -e .` is the whole course; tests and grading are extras."""
    import ast
    from importlib import metadata

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    base = {_requirement_name(r) for r in project["dependencies"]}
    assert not base & {"pytest", "nbval", "playwright", "nbgrader", "ruff", "hypothesis"}
    closure = _installed_closure(base)
    providers = metadata.packages_distributions()
    files = [*ROOT.glob("course/*.py"), *ROOT.glob("pruning_lessons/**/*.py")]
    missing = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                tops = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                if top in sys.stdlib_module_names or top == "pruning_lessons":
                    continue
                dists = {_requirement_name(d) for d in providers.get(top, [])}
                if not dists & closure:
                    missing.setdefault(top, path.relative_to(ROOT).as_posix())
    assert not missing, f"imported by the course but not in its dependencies: {missing}"


def test_ruff_is_clean():
    ruff = [sys.executable, "-m", "ruff"]
    for args in (["check", "."], ["format", "--check", "."]):
        result = subprocess.run(ruff + args, cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_readme_lists_every_notebook_and_nothing_else():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `(\d\d_\w+)` \|", readme, flags=re.M))
    sources = {p.stem for p in (ROOT / "course").glob("[0-9][0-9]_*.py")}
    assert listed == sources
