"""The package's layout keeps its promises: folders by axis, short files, imports that run down.

Layers, lowest first: ``core`` <- ``weights`` / ``structured`` <- ``llm`` <- ``teaching`` <- the
top level (``_api.py``, ``__main__.py``). A module may import from its own folder and from any
folder below it; ``weights`` and ``structured`` are side by side and do not import each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pruning_lessons"
TOP_LEVEL_ALLOWED = {"__init__.py", "__main__.py", "_api.py"}
MAX_LINES = 600
# What each folder may import from, besides itself.
MAY_IMPORT = {
    "core": set(),
    "weights": {"core"},
    "structured": {"core"},
    "llm": {"core", "weights", "structured"},
    "teaching": {"core", "weights", "structured", "llm"},
}
SOURCES = sorted(PACKAGE.rglob("*.py"))


def _relative(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _module(path: Path) -> list[str]:
    parts = ["pruning_lessons", *path.relative_to(PACKAGE).with_suffix("").parts]
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imported(path: Path) -> list[tuple[int, str]]:
    """Every ``pruning_lessons`` module this file imports (line, dotted name), lazy ones too."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module(path) if path.name == "__init__.py" else _module(path)[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
            found += [(node.lineno, name) for name in names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
    return [(line, name) for line, name in found if name.startswith("pruning_lessons")]


def _folder(dotted: str) -> str | None:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in MAY_IMPORT else None


def test_few_modules_at_the_top_level():
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in TOP_LEVEL_ALLOWED)
    assert len(loose) <= 8, loose
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert set(MAY_IMPORT) <= folders, folders


@pytest.mark.parametrize("path", SOURCES, ids=_relative)
def test_no_source_file_is_long(path):
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{_relative(path)} has {lines} lines (at most {MAX_LINES})"


@pytest.mark.parametrize("path", SOURCES, ids=_relative)
def test_imports_run_down_the_layers(path):
    here = _folder(".".join(_module(path)))
    if here is None:  # the top level may import anything
        return
    allowed = MAY_IMPORT[here] | {here}
    upward = [
        f"line {line}: {name}"
        for line, name in _imported(path)
        if _folder(name) not in allowed and name != "pruning_lessons"
    ]
    assert not upward, f"{_relative(path)} imports from above its layer: {upward}"


def _only_reexports(path: Path) -> bool:
    body = ast.parse(path.read_text(encoding="utf-8")).body
    for node in body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == [
            "__all__"
        ]:
            continue
        return False
    return True


@pytest.mark.parametrize(
    "path", [p for p in SOURCES if p.name != "__init__.py" and p.name != "_api.py"], ids=_relative
)
def test_no_module_only_re_exports_another(path):
    assert not _only_reexports(path), f"{_relative(path)} is a compatibility shim"


def test_the_checks_above_catch_what_they_claim_to(tmp_path):
    """The import rule reads relative, absolute and lazy imports; a shim is recognised."""
    shim = tmp_path / "shim.py"
    shim.write_text('"""Old home."""\nfrom .x import y\n__all__ = ["y"]\n', encoding="utf-8")
    assert _only_reexports(shim)
    real = PACKAGE / "core" / "train.py"
    assert not _only_reexports(real)
    names = [name for _, name in _imported(PACKAGE / "weights" / "criteria.py")]
    assert "pruning_lessons.core.batches" in names
    lazy = [name for _, name in _imported(PACKAGE / "__main__.py")]
    assert "pruning_lessons.teaching.grading" in lazy  # imported inside a function
    assert _folder("pruning_lessons.teaching.quiz") == "teaching"
