"""Sittings without the widget: a mock interview's draw, flash cards, the quiz as plain text."""

from __future__ import annotations

import random
from collections.abc import Iterable

from .bank import UI, Question, check_topics, load_bank, topic_title
from .marking import key_point_label, option_label

MODES = ("quiz", "flashcards", "mock")


# --- sessions: mock interview, flash cards, plain text ------------------------------------


def mock_interview(
    n: int,
    seed: int = 0,
    topics: str | Iterable[str] | None = None,
    lang: str = "en",
) -> list[Question]:
    """``n`` questions drawn at random without repetition; the same seed gives the same list.

    The draw does not depend on ``lang``: both languages give the same ids in the same order.
    """
    chosen = check_topics(topics)
    pool = [q for q in load_bank(lang) if q.topic in chosen]
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if not 1 <= n <= len(pool):
        raise ValueError(f"n must be between 1 and {len(pool)} for topics {chosen}, got {n}")
    return random.Random(seed).sample(pool, n)


def front(question: Question, with_options: bool = True) -> str:
    lines = [question.text]
    if with_options:
        lines += [f"  {option_label(question, i)}" for i in range(len(question.options))]
    return "\n".join(lines)


def back(question: Question) -> str:
    ui = UI[question.lang]
    if question.kind == "choice":
        answer = ui["answer"] + ui["colon"] + option_label(question, question.answer)
        return f"{answer}\n{question.explanation}"
    key_points = ui["comma"].join(key_point_label(k) for k in question.key_points)
    return (
        f"{ui['model_answer']}{ui['colon']}{question.model_answer}\n"
        f"{ui['key_points']}{ui['colon']}{key_points}"
    )


def flash_cards(
    lang: str = "en", topic: str | Iterable[str] | None = None
) -> list[tuple[str, str]]:
    """(front, back) pairs: the question (with its options) and its answer with explanation."""
    chosen = check_topics(topic)
    return [(front(q), back(q)) for q in load_bank(lang) if q.topic in chosen]


def header(question: Question) -> str:
    ui = UI[question.lang]
    return f"[{question.id}] {topic_title(question.topic, question.lang)} · {ui[question.kind]}"


def plain_text(question: Question, reveal: bool = False) -> str:
    """The question as plain text; with ``reveal=True`` the answer follows it."""
    parts = [header(question), front(question)]
    if reveal:
        parts.append(back(question))
    return "\n\n".join(parts)


def session_questions(
    lang: str, mode: str, seed: int, n: int, topics: str | Iterable[str] | None
) -> list[Question]:
    """The questions of one sitting: the whole (filtered) bank, or a mock interview's draw."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "mock":
        return mock_interview(n, seed, topics, lang)
    chosen = check_topics(topics)
    return [q for q in load_bank(lang) if q.topic in chosen]


def print_quiz(
    lang: str = "en",
    mode: str = "quiz",
    *,
    seed: int = 0,
    n: int = 10,
    topics: str | Iterable[str] | None = None,
    reveal: bool = False,
) -> None:
    """Print the quiz as plain text, for terminals and notebooks where widgets do not render.

    ``mode="mock"`` prints ``n`` questions drawn with ``seed``; ``"flashcards"`` always reveals.
    """
    questions = session_questions(lang, mode, seed, n, topics)
    ui = UI[lang]
    show = reveal or mode == "flashcards"
    blocks = [
        ui["progress"].format(i=i, n=len(questions)) + "\n" + plain_text(q, reveal=show)
        for i, q in enumerate(questions, start=1)
    ]
    print(("\n\n" + "-" * 60 + "\n\n").join(blocks))
