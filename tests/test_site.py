"""The rendered course: tools/build_site.py executes lessons into static pages, and a real
browser shows their plots as images and no error in any cell.

To keep CI short, only two lessons are built here (01 and 04: the first lesson, and the one
with the most plots); nbval already executes every notebook elsewhere in the suite. Building
the whole site is `python tools/build_site.py`, as the README says.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = ("01", "04")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _site_module():
    spec = importlib.util.spec_from_file_location("build_site", ROOT / "tools" / "build_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    _site_module().build(list(LESSONS), out)
    return out


def test_the_build_writes_one_page_per_lesson_and_an_index(site):
    pages = sorted(p.name for p in site.glob("[0-9][0-9]_*.html"))
    assert [p[:2] for p in pages] == list(LESSONS)
    index = (site / "index.html").read_text(encoding="utf-8")
    assert all(f'href="{p}"' in index for p in pages)


def test_an_unknown_lesson_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="no lesson source"):
        _site_module().build(["99"], tmp_path)


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found: `apt-get install chromium`")
def test_pages_show_plots_as_images_and_no_errors_in_a_browser(site):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            page = browser.new_page()
            for path in sorted(site.glob("[0-9][0-9]_*.html")):
                page.goto(path.as_uri())
                images = page.locator(".jp-OutputArea-output img")
                assert images.count() >= 2, f"{path.name}: fewer than two plots"
                for i in range(images.count()):
                    image = images.nth(i)
                    assert image.get_attribute("src").startswith("data:image/png;base64,")
                    width = image.evaluate("img => img.naturalWidth")
                    assert width > 100, f"{path.name}: image {i} did not decode"
                stderr = page.locator('[data-mime-type="application/vnd.jupyter.stderr"]')
                errors = stderr.filter(has_text=re.compile(r"Traceback|\w+Error\b"))
                assert errors.count() == 0, f"{path.name}: a cell shows an error"
                text = page.inner_text("body")
                assert "Traceback (most recent call last)" not in text, path.name
                assert "<!-- bilingual-box -->" not in text, f"{path.name}: marker shown"
                assert "60 秒回答" in text and "三个要点" in text, path.name
        finally:
            browser.close()


def test_an_error_in_a_cell_would_be_caught(tmp_path):
    """The browser check looks for what nbconvert renders for a failing cell."""
    import nbformat
    from nbconvert import HTMLExporter

    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("1 / 0")
    cell.outputs = [
        nbformat.v4.new_output(
            "error",
            ename="ZeroDivisionError",
            evalue="division by zero",
            traceback=["Traceback (most recent call last)", "ZeroDivisionError: division by zero"],
        )
    ]
    notebook.cells = [cell]
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(notebook)
    assert 'data-mime-type="application/vnd.jupyter.stderr"' in body
    assert re.search(r"\w+Error\b", body)
