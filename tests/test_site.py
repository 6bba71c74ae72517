"""The course website: tools/build_site.py executes lessons and Sphinx (myst-nb, book theme)
renders them; a real browser then reads the pages offline.

To keep CI short, two lessons are built here: 01 (a training line, plots, a slider) and 07
(exercises, whose solutions must be folded away). nbval executes every notebook elsewhere in
the suite; building the whole site is the README's command.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = ("01", "07")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
pytest.importorskip("sphinx_book_theme", reason="no site extra: pip install -e '.[site]'")
if shutil.which("npm") is None and not (ROOT / "site_src" / "node_modules" / "mathjax").is_dir():
    pytest.skip("no npm to fetch MathJax with (install Node.js)", allow_module_level=True)


def _site_module():
    spec = importlib.util.spec_from_file_location("build_site", ROOT / "tools" / "build_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site") / "site"
    _site_module().build(list(LESSONS), out)
    return out


def _pages(site: Path) -> list[Path]:
    return sorted(site.glob("[0-9][0-9]_*.html"))


def _title(notebook_source: str) -> str:
    first = (ROOT / "course").glob(f"{notebook_source}_*.py")
    return next(first).read_text(encoding="utf-8").splitlines()[1].lstrip("# ").strip()


def test_each_lesson_has_its_page_titled_by_the_lesson_and_the_index_lists_them(site):
    pages = _pages(site)
    assert [p.name[:2] for p in pages] == list(LESSONS)
    index = (site / "index.html").read_text(encoding="utf-8")
    for page in pages:
        text = page.read_text(encoding="utf-8")
        title = re.search(r"<title>(.*?)</title>", text, re.S).group(1)
        assert html_unescape(title).startswith(_title(page.name[:2])), title
        assert f'href="{page.name}"' in index
    assert "prune a trained network and measure" in index  # README's description of 01
    assert (site / "search.html").is_file() and (site / "searchindex.js").is_file()
    assert "magnitud" in (site / "searchindex.js").read_text(encoding="utf-8")


def html_unescape(text: str) -> str:
    import html

    return html.unescape(text).strip()


def test_no_page_refers_to_anything_on_the_network(site):
    loads = re.compile(r"""<(?:script|img|link|iframe)\b[^>]*(?:src|href)=["'](https?:)?//""")
    for page in site.rglob("*.html"):
        assert not loads.search(page.read_text(encoding="utf-8")), page.name
    for sheet in site.rglob("*.css"):
        text = sheet.read_text(encoding="utf-8", errors="replace")
        assert not re.search(r"url\(\s*['\"]?https?:", text), sheet.name
        assert not re.search(r"@import\s+(url\()?['\"]?https?:", text), sheet.name


def test_exercise_solutions_are_folded_under_the_students_placeholder(site):
    from pruning_lessons.teaching.exercises import ALL

    text = (site / "07_exercise_weight_pruning.html").read_text(encoding="utf-8")
    placeholder = text.index(ALL["07.ex1"].stub_message)
    folded = text.index("<details", placeholder)
    assert "Show the solution" in text[folded : folded + 2000]
    inside = re.sub(r"<[^>]+>", "", text[folded : text.index("</details>", folded)])
    assert "weight.abs()" in inside, "the solution is not inside the fold"
    before = re.sub(r"<[^>]+>", "", text[:folded])
    assert "weight.abs()" not in before, "a solution shows before its fold"


def test_widget_cells_keep_their_printed_output_and_show_a_still_copy():
    build_site = _site_module()
    models = {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_s", "IPY_MODEL_l"]}},
        "s": {
            "model_name": "FloatSliderModel",
            "state": {"description": "pruned", "value": 0.9, "readout_format": ".0%"},
        },
        "l": {"model_name": "HTMLModel", "state": {"value": "<b>90% pruned</b>"}},
        "bar": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_p"]}},
        "p": {"model_name": "FloatProgressModel", "state": {"value": 1.0}},
    }
    view = {"data": {build_site.WIDGET: {"model_id": "box"}}}
    still = build_site.still_output(view, models)["data"]["text/html"]
    assert "pruned: <b>90%</b>" in still and "<b>90% pruned</b>" in still
    assert build_site.STILL_NOTE in still
    bar = {"data": {build_site.WIDGET: {"model_id": "bar"}}}
    assert build_site.still_output(bar, models) is None, "a progress bar is left out"


def test_readme_gives_the_site_command_after_its_marker():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    after = readme.split("<!-- site-command", 1)[1]
    block = re.search(r"```\w*\n(.*?)```", after, re.S)
    assert block and block.group(1).strip() == "python tools/build_site.py"
    assert "`site/`" in after[:2000]


def test_an_unknown_lesson_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="no lesson source"):
        _site_module().build(["99"], tmp_path)


def test_a_folder_that_holds_something_else_is_not_overwritten(tmp_path):
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(SystemExit, match="not empty"):
        _site_module()._clear(tmp_path)
    assert (tmp_path / "notes.txt").exists()


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found: `apt-get install chromium`")
def test_pages_read_offline_in_a_browser(site):
    from playwright.sync_api import sync_playwright

    shots = os.environ.get("PRUNING_LESSONS_SCREENSHOTS")  # a folder to keep screenshots in
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("request", lambda request: requests.append(request.url))
            for path in [site / "index.html", *_pages(site)]:
                page.goto(path.as_uri())
                page.wait_for_load_state("load")
                nav = page.locator(".bd-sidebar-primary a.reference.internal")
                titles = [t.strip() for t in nav.all_inner_texts()]
                assert titles[-len(LESSONS) :] == [_title(n) for n in LESSONS], titles
                text = page.inner_text("article")
                assert "Traceback (most recent call last)" not in text, path.name
                assert "<!-- bilingual-box -->" not in text, f"{path.name}: marker shown"
                if path.name.startswith("01"):
                    page.locator("mjx-container").first.wait_for(timeout=30_000)
                    assert page.locator("mjx-container").count() >= 1, "math not typeset"
                    assert "$" not in page.locator(".math").first.inner_text()
                    training = r"trained in [\d.]+ s: [\d.]+% of the test digits right"
                    assert re.search(training, text), "01's training line is missing"
                    assert "A still copy of its opening state" in text and "pruned: 90%" in text
                    assert "三个要点" in text
                    images = page.locator("article img")
                    assert images.count() >= 2
                    assert images.first.evaluate("img => img.naturalWidth") > 100
                if path.name.startswith("07"):
                    solution = page.get_by_text("weight.abs()").first
                    assert not solution.is_visible(), "a solution is shown unfolded"
                if shots:
                    page.screenshot(
                        path=str(Path(shots) / f"site_{path.stem}.png"), full_page=False
                    )
        finally:
            browser.close()
    outside = [u for u in requests if not u.startswith(("file:", "data:", "blob:"))]
    assert not outside, f"pages asked the network for {outside[:5]}"
