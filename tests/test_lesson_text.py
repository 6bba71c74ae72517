"""The lessons' text as a reader sees it: no stray spaces in Chinese, one word for accuracy,
and lines that stay readable in the sources."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "course").glob("[0-9][0-9]_*.py"))
QUESTIONS = ROOT / "pruning_lessons" / "teaching" / "quiz_data" / "questions.json"
# CJK ideographs, CJK punctuation (。，、：；“” etc.) and full-width forms (，：（）)
CJK = "\u3000-\u303f\u4e00-\u9fff\u2018-\u201d\uff00-\uffef"
ENDS_CJK = re.compile(f"[{CJK}]$")
STARTS_CJK = re.compile(f"^[{CJK}]")
HAS_CJK = re.compile(f"[{CJK}]")
# 精度 is precision (全精度 full precision, 半精度, 低精度, 数值精度); accuracy is 准确率
PRECISION = re.compile(r"(?<![全半低高双单数值])精度")


def markdown_cells(source: str) -> list[list[str]]:
    """The lines of each ``# %% [markdown]`` cell of a jupytext percent source, '# ' removed."""
    cells = re.split(r"^# %%.*$", source, flags=re.MULTILINE)
    headers = re.findall(r"^# %%.*$", source, flags=re.MULTILINE)
    return [
        [line[2:] if line.startswith("# ") else line.lstrip("#") for line in body.splitlines()]
        for header, body in zip(headers, cells[1:], strict=True)
        if "[markdown]" in header
    ]


def text_of(line: str) -> str:
    """A Markdown line without its block-quote markers and indentation."""
    return re.sub(r"^(?:\s*>)*\s*", "", line)


def hard_wraps(lines: list[str]) -> list[str]:
    """Pairs of lines of one paragraph where a Chinese sentence was broken across the two."""
    found = []
    for first, second in zip(lines, lines[1:], strict=False):
        a, b = text_of(first).rstrip(), text_of(second)
        if a and b and ENDS_CJK.search(a) and STARTS_CJK.search(b):
            found.append(f"{a[-20:]!r} / {b[:20]!r}")
    return found


def test_the_wrap_detector_finds_a_broken_sentence_and_spares_the_rest():
    assert hard_wraps(["> 第一行，", ">    第二行。"])
    assert hard_wraps(["一句话", "接着说"])
    assert not hard_wraps(["一句话。", "", "新的段落"])  # a blank line ends the paragraph
    assert not hard_wraps(["English line", "中文"])
    assert not hard_wraps(["   <br>中文一行。", "2. Next item"])


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_no_chinese_line_is_hard_wrapped_inside_a_paragraph(path):
    """A line break inside Chinese renders as a stray space: keep each paragraph on one line."""
    broken = [
        wrap
        for cell in markdown_cells(path.read_text(encoding="utf-8"))
        for wrap in hard_wraps(cell)
    ]
    assert not broken, f"{path.name}: Chinese hard-wrapped at {broken[:5]}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lines_without_chinese_stay_within_100_columns(path):
    """course/ is exempt from ruff's E501 only so that Chinese paragraphs can stay whole."""
    long = [
        number
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if len(line) > 100 and not HAS_CJK.search(line)
    ]
    assert not long, f"{path.name}: lines over 100 characters: {long}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lessons_say_accuracy_as_zhunquelv(path):
    text = "\n".join("\n".join(c) for c in markdown_cells(path.read_text(encoding="utf-8")))
    assert not PRECISION.search(text), f"{path.name}: 精度 used where 准确率 (accuracy) is meant"


def test_quiz_says_accuracy_as_zhunquelv():
    wrong = []
    for question in json.loads(QUESTIONS.read_text(encoding="utf-8"))["questions"]:
        zh = question["zh"]
        texts = [zh["question"], zh.get("model_answer", ""), zh.get("explanation", "")]
        texts += zh.get("options", [])
        wrong += [question["id"] for t in texts if PRECISION.search(t)]
    assert not wrong, f"精度 used for accuracy in {sorted(set(wrong))}"


NAME = re.compile(r"(?<![A-Za-z])(?=[A-Za-z]*[A-Z][a-z]*[A-Z])[A-Za-z][A-Za-z0-9]*(?![A-Za-z])")
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")


def names_and_numbers(text: str) -> set[str]:
    """Acronyms and CamelCase names (LAMP, BatchNorm, SparseGPT; a plural s dropped) and numbers."""
    names = {n[:-1] if n.endswith("s") and n[:-1].isupper() else n for n in NAME.findall(text)}
    return names | set(NUMBER.findall(text))


def test_names_and_numbers_are_read_from_mixed_text():
    assert names_and_numbers("用 SparseGPT 和 LAMP，约 1.3 到 1.8 倍") == {
        "SparseGPT",
        "LAMP",
        "1.3",
        "1.8",
    }
    assert names_and_numbers("GPUs at 1.3-1.8x, Wanda") == {"GPU", "1.3", "1.8"}


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_the_two_60_second_answers_name_the_same_methods_and_numbers(path):
    """English and Chinese answers say the same things: at least the same names and figures."""
    (answer,) = [
        "\n".join(c)
        for c in markdown_cells(path.read_text(encoding="utf-8"))
        if any(line.startswith("<!-- model-answer -->") for line in c)
    ]
    english, chinese = answer.split("**60-second answer**")[1].split("**60 秒回答**")
    only_en = names_and_numbers(english) - names_and_numbers(chinese)
    only_zh = names_and_numbers(chinese) - names_and_numbers(english)
    assert not only_en and not only_zh, f"{path.name}: English only {only_en}, Chinese {only_zh}"
