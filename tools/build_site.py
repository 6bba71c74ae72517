"""Build a static website of the executed course: one HTML page per lesson, plus an index.

    python tools/build_site.py                 # every lesson, into site/
    python tools/build_site.py 01 04 --out DIR # only these lessons

Each lesson is built from its ``course/`` source in its *solution* form (so exercise cells
run instead of raising), executed top to bottom with nbclient in ``notebooks/`` (the folder
the lessons expect to run in), and exported with nbconvert's ``lab`` template. Plots become
PNG images inside the page, so a page needs no server and no kernel. Sliders need a kernel;
their cells say so, and the cell after each slider shows its default result. A cell that
raises stops the build: the site never shows an error.

Why nbconvert: it is already installed with Jupyter (no new dependency), it turns an executed
notebook into a self-contained page, and the index it needs is a few lines of HTML. Jupyter
Book or mkdocs-jupyter would add a site generator, a theme and their dependencies for
navigation this course does not need.
"""

from __future__ import annotations

import argparse
import html
import importlib.util
import os
import sys
from contextlib import contextmanager
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
WIDGET = "application/vnd.jupyter.widget-view+json"
SLIDER_NOTE = (
    "*Interactive slider: open this notebook in JupyterLab to move it. "
    "The next cell shows its default result.*"
)


def _builder():
    spec = importlib.util.spec_from_file_location(
        "build_notebooks", ROOT / "tools" / "build_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def _kernel_environment():
    """Progress bars off and matplotlib's inline backend on, for the kernels started here."""
    saved = {k: os.environ.get(k) for k in ("TQDM_DISABLE", "MPLBACKEND")}
    os.environ["TQDM_DISABLE"] = "1"
    os.environ.pop("MPLBACKEND", None)  # a test run sets Agg, which would draw nothing
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def executed(source: Path, timeout: int = 600) -> nbformat.NotebookNode:
    """The lesson in its solution form, run top to bottom; slider outputs replaced by a note."""
    from nbclient import NotebookClient

    notebook = _builder().build_one(source, "solution")
    with _kernel_environment():
        NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(ROOT / "notebooks")}},
        ).execute()
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if any(WIDGET in output.get("data", {}) for output in cell.outputs):
            cell.outputs = [
                nbformat.v4.new_output(
                    "display_data", data={"text/markdown": SLIDER_NOTE, "text/plain": ""}
                )
            ]
    return notebook


def title_of(notebook: nbformat.NotebookNode) -> str:
    return notebook.cells[0].source.splitlines()[0].lstrip("# ").strip()


def page(notebook: nbformat.NotebookNode) -> str:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_notebook_node(notebook)
    return body


def index(lessons: list[tuple[str, str]]) -> str:
    items = "\n".join(
        f'<li><a href="{html.escape(name)}">{html.escape(title)}</a></li>'
        for name, title in lessons
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>pruning-lessons</title></head><body>\n"
        "<h1>pruning-lessons: neural-network pruning, measured / 神经网络剪枝课程</h1>\n"
        "<p>Every lesson below was executed when this site was built; the numbers and plots "
        "are the ones it measured then. To run a lesson yourself, open it in JupyterLab.</p>\n"
        f"<ol>\n{items}\n</ol>\n</body></html>\n"
    )


def build(names: list[str], out: Path) -> list[Path]:
    sources = sorted((ROOT / "course").glob("[0-9][0-9]_*.py"))
    if names:
        unknown = [n for n in names if not any(s.name.startswith(n) for s in sources)]
        if unknown:
            raise SystemExit(f"no lesson source starts with {unknown}")
        sources = [s for s in sources if any(s.name.startswith(n) for n in names)]
    out.mkdir(parents=True, exist_ok=True)
    written, lessons = [], []
    for source in sources:
        print(f"executing {source.name}", flush=True)
        notebook = executed(source)
        target = out / f"{source.stem}.html"
        target.write_text(page(notebook), encoding="utf-8")
        written.append(target)
        lessons.append((target.name, title_of(notebook)))
    (out / "index.html").write_text(index(lessons), encoding="utf-8")
    print(f"wrote {len(written)} lesson page(s) and index.html to {out}")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="only these lessons (e.g. 01 04)")
    parser.add_argument("--out", type=Path, default=ROOT / "site", help="output folder")
    args = parser.parse_args(argv)
    build(args.names, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
