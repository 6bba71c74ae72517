"""Every lesson source opens with a bilingual box and ends with the 60-second answer in both
languages (the convention in course/: a Markdown cell whose first line is the marker)."""

import re
from pathlib import Path

import pytest

COURSE = Path(__file__).resolve().parent.parent / "course"
LESSONS = sorted(COURSE.glob("[0-9][0-9]_*.py"))
CHINESE = re.compile(r"[\u4e00-\u9fff]")
LATIN_WORDS = re.compile(r"[A-Za-z]{3,}(?: [A-Za-z]{2,}){3,}")  # a run of English words


def markdown_cells(source: str) -> list[str]:
    """The text of each ``# %% [markdown]`` cell of a jupytext percent source, '# ' removed."""
    cells = re.split(r"^# %%.*$", source, flags=re.MULTILINE)
    headers = re.findall(r"^# %%.*$", source, flags=re.MULTILINE)
    return [
        "\n".join(
            line[2:] if line.startswith("# ") else line.lstrip("#")
            for line in body.strip().splitlines()
        )
        for header, body in zip(headers, cells[1:], strict=True)
        if "[markdown]" in header
    ]


def test_every_lesson_source_is_found():
    assert len(LESSONS) >= 10


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
@pytest.mark.parametrize("marker", ["<!-- bilingual-box -->", "<!-- model-answer -->"])
def test_lesson_has_the_cell_in_both_languages(path, marker):
    cells = [c for c in markdown_cells(path.read_text(encoding="utf-8")) if c.startswith(marker)]
    assert len(cells) == 1, f"{path.name}: expected one Markdown cell starting with {marker}"
    text = cells[0]
    assert len(CHINESE.findall(text)) >= 20, f"{path.name}: {marker} has no Chinese text"
    assert LATIN_WORDS.search(text), f"{path.name}: {marker} has no English text"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_the_box_comes_first_and_the_answer_last_of_its_kind(path):
    cells = markdown_cells(path.read_text(encoding="utf-8"))
    box = next(i for i, c in enumerate(cells) if c.startswith("<!-- bilingual-box -->"))
    answer = next(i for i, c in enumerate(cells) if c.startswith("<!-- model-answer -->"))
    assert box <= 1, f"{path.name}: the bilingual box must open the lesson"
    assert answer >= len(cells) - 3, f"{path.name}: the 60-second answer must close the lesson"
    assert "三个要点" in cells[box] or "要点" in cells[box]
    assert "60 秒回答" in cells[answer] and "60-second answer" in cells[answer]
