"""The question bank: both languages of every question, its topics, and the interface's words.

The bank is data, ``quiz_data/questions.json`` (in the ``teaching`` package): one entry per
question id holding both languages, so English and Chinese always have the same questions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

LANGUAGES = ("en", "zh")
KINDS = ("choice", "short")
LETTERS = "ABCDE"

UI = {
    "en": {
        "choice": "multiple choice",
        "short": "short answer",
        "answer": "Answer",
        "model_answer": "Model answer",
        "key_points": "Key points",
        "right": "Correct.",
        "wrong": "Not quite. The right answer: {answer}",
        "points": "You ticked {hit} of {total} key points.",
        "covered": "Ticked",
        "missed": "Not ticked",
        "self_check": "Compare your answer with the model answer and tick the key points you "
        "made, in your words or in others: you are the judge.",
        "your_answer": "Your answer",
        "unmarked": "{n} short answer(s) not ticked yet count 0 points.",
        "explain": "Points: 1 for each multiple-choice answer that is right; for a short answer, "
        "the share of its key points you ticked. A short answer counts as right from half of "
        "its key points on.",
        "restart": "Start again",
        "pick": "Pick an option first.",
        "placeholder": "Type your answer, then press Reveal.",
        "reveal": "Reveal",
        "next": "Next",
        "progress": "Question {i} of {n}",
        "finished": "Finished.",
        "cards_done": "You went through all {n} cards.",
        "summary": "{correct} of {answered} correct ({fraction:.0%}), {points:.1f} points.",
        "colon": ": ",
        "comma": ", ",
    },
    "zh": {
        "choice": "选择题",
        "short": "简答题",
        "answer": "答案",
        "model_answer": "参考答案",
        "key_points": "要点",
        "right": "回答正确。",
        "wrong": "回答错误。正确答案：{answer}",
        "points": "你勾选了 {total} 个要点中的 {hit} 个。",
        "covered": "已勾选",
        "missed": "未勾选",
        "self_check": "对照参考答案，勾选你答到的要点（用词不同也算），判断由你自己来做。",
        "your_answer": "你的回答",
        "unmarked": "有 {n} 道简答题还没有勾选，计 0 分。",
        "explain": "计分方式：选择题答对得 1 分；简答题的得分是你勾选的要点所占的比例，"
        "勾选到一半及以上算答对。",
        "restart": "重新开始",
        "pick": "请先选择一个选项。",
        "placeholder": "在这里输入你的回答，然后点击“显示答案”。",
        "reveal": "显示答案",
        "next": "下一题",
        "progress": "第 {i} 题，共 {n} 题",
        "finished": "已完成。",
        "cards_done": "{n} 张卡片已全部看完。",
        "summary": "答对 {correct} / {answered} 题（{fraction:.0%}），得分 {points:.1f}。",
        "colon": "：",
        "comma": "、",
    },
}


@dataclass(frozen=True)
class Question:
    """One question in one language.

    ``options`` and ``answer`` (the index of the one correct option) are set for ``kind="choice"``;
    ``key_points`` for ``kind="short"``. ``model_answer`` is set for both (for a choice question it
    is the correct option's text).
    """

    id: str
    topic: str
    kind: str
    lang: str
    text: str
    options: tuple[str, ...]
    answer: int | None
    model_answer: str
    key_points: tuple[str, ...]
    explanation: str


# --- the bank -------------------------------------------------------------------------------


def check_language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {LANGUAGES}, got {lang!r}")
    return lang


@cache
def _data() -> dict:
    path = resources.files("pruning_lessons.teaching") / "quiz_data" / "questions.json"
    return json.loads(path.read_text(encoding="utf-8"))


def _question(entry: dict, lang: str) -> Question:
    side = entry[lang]
    if entry["kind"] not in KINDS:
        raise ValueError(f"question {entry['id']}: kind must be one of {KINDS}")
    if entry["kind"] == "choice":
        options = tuple(side["options"])
        answer = entry["answer"]
        model_answer, key_points = options[answer], ()
    else:
        options, answer = (), None
        model_answer, key_points = side["model_answer"], tuple(side["key_points"])
    return Question(
        id=entry["id"],
        topic=entry["topic"],
        kind=entry["kind"],
        lang=lang,
        text=side["question"],
        options=options,
        answer=answer,
        model_answer=model_answer,
        key_points=key_points,
        explanation=side.get("explanation", ""),
    )


@cache
def _bank(lang: str) -> tuple[Question, ...]:
    return tuple(_question(entry, lang) for entry in _data()["questions"])


@cache
def by_id(lang: str) -> dict[str, Question]:
    return {q.id: q for q in _bank(lang)}


def load_bank(lang: str = "en") -> list[Question]:
    """All questions in ``lang`` ("en" or "zh"), in course order; ids are the same in both."""
    return list(_bank(check_language(lang)))


def topics() -> list[str]:
    """The topic ids in course order: lessons 01-06, then the exercises 07 and 08."""
    return [t["id"] for t in _data()["topics"]]


def topic_title(topic: str, lang: str = "en") -> str:
    """The human-readable title of a topic in ``lang``."""
    check_language(lang)
    for t in _data()["topics"]:
        if t["id"] == topic:
            return t[lang]
    raise ValueError(f"topic must be one of {topics()}, got {topic!r}")


def check_topics(selected: str | Iterable[str] | None) -> tuple[str, ...]:
    known = topics()
    if selected is None:
        return tuple(known)
    chosen = (selected,) if isinstance(selected, str) else tuple(selected)
    if not chosen or any(t not in known for t in chosen):
        raise ValueError(
            f"topics must be None or a non-empty selection of {known}, got {selected!r}"
        )
    return chosen
