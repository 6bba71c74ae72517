"""Build the course website: every lesson executed, one page each, readable without a kernel.

    python tools/build_site.py                 # every lesson, into site/
    python tools/build_site.py 01 07 --out DIR # only these lessons

Each lesson runs top to bottom in its solution form (so exercise cells run instead of
raising), in ``notebooks/`` (the folder the lessons expect), with nbclient. The page shows the
*student* version: an exercise cell shows the student's placeholder, and the solution that ran
is folded under "Show the solution". Widgets need a kernel, so each widget output becomes a
still copy of its opening state (pictures, labels, the sliders' values) with one quiet line
saying that it moves in JupyterLab; progress bars are left out, printed output stays. A cell
that raises stops the build: the site never shows an error.

The site generator is Sphinx with myst-nb (it renders the executed notebooks) and
sphinx-book-theme (left navigation, search); their configuration is ``site_src/``. Math is
typeset by a local copy of MathJax (the npm package ``mathjax``, pinned in
``site_src/package.json``; ``npm ci`` fetches it once), so no page loads anything from the
network.
"""

from __future__ import annotations

import argparse
import base64
import html
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SITE_SRC = ROOT / "site_src"
WIDGET = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
STILL_NOTE = "A still copy of its opening state: in JupyterLab the controls move."
SOLUTION_NOTE = (
    "*On this page the reference solution runs (fold it open above), so the checks below "
    "pass; in JupyterLab they judge your own code.*"
)
#: The parts of MathJax 3 the pages use: TeX in, HTML out, its fonts and on-demand packages.
MATHJAX_PARTS = ("tex-chtml.js", "output/chtml", "input/tex/extensions", "a11y", "ui")
CONTROLS = ("Slider", "ToggleButtons", "Dropdown", "Button", "Checkbox", "Text", "RadioButtons")


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
    """The lesson in its solution form, run top to bottom, with its widgets' state."""
    from nbclient import NotebookClient

    notebook = _builder().build_one(source, "solution")
    with _kernel_environment():
        NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name="python3",
            store_widget_state=True,
            resources={"metadata": {"path": str(ROOT / "notebooks")}},
        ).execute()
    return notebook


# ------------------------------------------------------------------ widgets as still output


def _models(notebook: nbformat.NotebookNode) -> dict:
    return notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})


def _children(state: dict) -> list[str]:
    return [c.removeprefix("IPY_MODEL_") for c in state.get("children", [])]


def _tree(model_id: str, models: dict) -> list[dict]:
    """The model and every model below it (box children), as {name, state} entries."""
    model = models.get(model_id)
    if model is None:
        return []
    found = [model]
    for child in _children(model["state"]):
        found += _tree(child, models)
    return found


def _hidden(state: dict, models: dict) -> bool:
    layout = models.get(str(state.get("layout", "")).removeprefix("IPY_MODEL_"), {})
    shown = layout.get("state", {})
    return shown.get("display") == "none" or shown.get("visibility") == "hidden"


def _value_text(state: dict) -> str:
    """What a control shows as its value: the chosen label, or the number as read out."""
    labels = state.get("_options_labels")
    if labels is not None:
        index = state.get("index")
        if index is None or index == []:  # nothing chosen yet: the choices
            return " · ".join(labels)
        return ", ".join(labels[i] for i in index) if isinstance(index, list) else labels[index]
    value = state.get("value")
    spec = state.get("readout_format")
    if isinstance(value, int | float) and spec:
        try:
            return format(value, spec.removeprefix("~"))
        except ValueError:
            pass
    return str(value)


def still(model_id: str, models: dict) -> str:
    """HTML for a widget's opening state: pictures, texts, the controls' values."""
    model = models.get(model_id)
    if model is None:
        return ""
    name, state = model["model_name"].removesuffix("Model"), model["state"]
    if _hidden(state, models):
        return ""
    if name in ("VBox", "HBox", "Box", "GridBox", "Accordion", "Tab", "Stack"):
        inside = "".join(still(child, models) for child in _children(state))
        row = " pl-still-row" if name == "HBox" else ""
        return f'<div class="pl-still{row}">{inside}</div>' if inside else ""
    if name == "Image":
        buffer = next((b for b in model.get("buffers", []) if b.get("path") == ["value"]), None)
        if buffer is None:
            return ""
        data = buffer["data"]
        data = data if buffer.get("encoding") == "base64" else base64.b64encode(data).decode()
        return f'<img alt="" src="data:image/{state.get("format", "png")};base64,{data}">'
    if name in ("HTML", "HTMLMath"):
        return f"<div>{state.get('value', '')}</div>"
    if name == "Label":
        return f"<div>{html.escape(str(state.get('value', '')))}</div>"
    if name == "Output":
        return "".join(_output_html(o) for o in state.get("outputs", []))
    if any(name.endswith(kind) for kind in CONTROLS) and name != "Button":
        value = _value_text(state)
        if value in ("", "None"):
            return ""  # an empty answer box
        label = html.escape(str(state.get("description", "")))
        label = f"{label}: " if label else ""
        return f'<div class="pl-still-control">{label}<b>{html.escape(value)}</b></div>'
    return ""  # buttons and the rest: nothing to read without a kernel


def _output_html(output: dict) -> str:
    if output.get("output_type") == "stream":
        return f"<pre>{html.escape(output.get('text', ''))}</pre>"
    data = output.get("data", {})
    if "image/png" in data:
        return f'<img alt="" src="data:image/png;base64,{data["image/png"]}">'
    if "text/html" in data:
        return data["text/html"]
    return f"<pre>{html.escape(data.get('text/plain', ''))}</pre>" if "text/plain" in data else ""


def still_output(view: dict, models: dict) -> dict | None:
    """One widget-view output as still HTML output; ``None`` for a progress bar."""
    tree = _tree(view["data"][WIDGET]["model_id"], models)
    names = [m["model_name"].removesuffix("Model") for m in tree]
    if any(n.endswith("Progress") for n in names):
        return None  # a progress bar is not content
    body = still(view["data"][WIDGET]["model_id"], models)
    if any(n.endswith(CONTROLS) for n in names):
        body += f'<p class="pl-still-note">{STILL_NOTE}</p>'
    if not body:
        return None
    return nbformat.v4.new_output("display_data", data={"text/html": body})


# ------------------------------------------------------------------ the page of one lesson


def page_notebook(source: Path, ran: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook a page shows: student code, solutions folded, widgets as still output."""
    student = _builder().build_one(source, "student")
    models = _models(ran)
    cells = []
    for shown, done in zip(student.cells, ran.cells, strict=True):
        if done.cell_type != "code":
            cells.append(done)
            continue
        outputs = []
        for output in done.outputs:
            if WIDGET in output.get("data", {}):
                output = still_output(output, models)
            if output is not None:
                outputs.append(output)
        done.outputs = outputs
        if shown.source != done.source:  # an exercise: the placeholder, then the solution
            cells.append(nbformat.v4.new_code_cell(shown.source, id=f"{shown.id}-student"))
            done.metadata.setdefault("tags", []).append("hide-input")
            cells.append(done)
            cells.append(nbformat.v4.new_markdown_cell(SOLUTION_NOTE, id=f"{shown.id}-note"))
        else:
            cells.append(done)
    ran.cells = cells
    ran.metadata.pop("widgets", None)
    return ran


def title_of(notebook: nbformat.NotebookNode) -> str:
    return notebook.cells[0].source.splitlines()[0].lstrip("# ").strip()


def descriptions() -> dict[str, str]:
    """What each lesson is about, from README's table of lessons (one place says it)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return dict(re.findall(r"^\| `(\d\d_\w+)` \| (.+?) \|$", text, flags=re.M))


def index_page(lessons: list[tuple[str, str]]) -> str:
    about = descriptions()
    items = "\n".join(
        f"- [{title}]({stem}.ipynb): {about.get(stem, '')}" for stem, title in lessons
    )
    toctree = "\n".join(stem for stem, _ in lessons)
    intro = (SITE_SRC / "index.md").read_text(encoding="utf-8")
    return (
        f"{intro.rstrip()}\n\n## The lessons\n\n{items}\n\n"
        f"```{{toctree}}\n:hidden:\n:maxdepth: 1\n\n{toctree}\n```\n"
    )


# ------------------------------------------------------------------ MathJax and Sphinx


def mathjax_folder() -> Path:
    """The local MathJax 3 (``site_src/node_modules``), fetched with ``npm ci`` if absent."""
    folder = SITE_SRC / "node_modules" / "mathjax" / "es5"
    if not (folder / "tex-chtml.js").is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit(
                "MathJax is not installed and npm was not found: install Node.js (npm), "
                "then run `npm ci --prefix site_src` once"
            )
        print("installing MathJax once: npm ci --prefix site_src", flush=True)
        subprocess.run(
            [npm, "ci", "--prefix", str(SITE_SRC), "--no-audit", "--no-fund"], check=True
        )
    return folder


def copy_mathjax(static: Path) -> None:
    folder = mathjax_folder()
    (static / "mathjax").mkdir(parents=True, exist_ok=True)
    shutil.copy2(folder.parent / "LICENSE", static / "mathjax" / "LICENSE")  # Apache-2.0
    for part in MATHJAX_PARTS:
        target = static / "mathjax" / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if (folder / part).is_dir():
            shutil.copytree(folder / part, target)
        else:
            shutil.copy2(folder / part, target)


def sphinx_build(source: Path, out: Path) -> None:
    from sphinx.cmd.build import build_main

    status = build_main(["-b", "html", "-q", "-E", str(source), str(out)])
    if status:
        raise SystemExit(f"Sphinx failed (exit {status})")


def _clear(out: Path) -> None:
    """Remove an earlier site in ``out``; refuse a folder that holds anything else."""
    if not out.exists():
        return
    if any(out.iterdir()) and not (out / ".buildinfo").is_file():
        raise SystemExit(f"--out {out} is not empty and holds no earlier site: choose another")
    shutil.rmtree(out)


def build(names: list[str], out: Path) -> list[Path]:
    sources = sorted((ROOT / "course").glob("[0-9][0-9]_*.py"))
    if names:
        unknown = [n for n in names if not any(s.name.startswith(n) for s in sources)]
        if unknown:
            raise SystemExit(f"no lesson source starts with {unknown}")
        sources = [s for s in sources if any(s.name.startswith(n) for n in names)]
    mathjax_folder()  # before minutes of execution: fail early if it cannot be had
    with tempfile.TemporaryDirectory(prefix="pruning-lessons-site-") as folder:
        project = Path(folder) / "source"
        shutil.copytree(SITE_SRC, project, ignore=shutil.ignore_patterns("node_modules"))
        copy_mathjax(project / "_static")
        lessons = []
        for source in sources:
            print(f"executing {source.name}", flush=True)
            notebook = page_notebook(source, executed(source))
            nbformat.write(notebook, project / f"{source.stem}.ipynb")
            lessons.append((source.stem, title_of(notebook)))
        (project / "index.md").write_text(index_page(lessons), encoding="utf-8")
        print("building the pages with Sphinx", flush=True)
        _clear(out)
        sphinx_build(project, out)
    written = [out / f"{stem}.html" for stem, _ in lessons]
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
