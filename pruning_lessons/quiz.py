"""Interview review: a bilingual question bank (English / 中文), grading, flash cards and a quiz.

The bank is data, ``quiz_data/questions.json``: one entry per question id holding both languages,
so English and Chinese always have the same questions with the same answers. Everything here is a
pure function of that data except :class:`QuizWidget` (a thin ipywidgets wrapper, built by
:func:`quiz_widget`) and :func:`print_quiz`, its plain-text fallback where widgets do not render.

Short answers are self-graded by key points. A key point lists accepted wordings separated by
``|``, e.g. ``"fine-tuning|fine-tune|retrain"``; an answer covers it when one wording occurs in the
answer, ignoring case, spaces and punctuation. Chinese is matched the same way, as substrings.
"""

from __future__ import annotations

import html
import json
import random
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

import ipywidgets as widgets

LANGUAGES = ("en", "zh")
KINDS = ("choice", "short")
MODES = ("quiz", "flashcards", "mock")
PASS_MARK = 0.5  # a short answer counts as correct when it covers at least half its key points
_LETTERS = "ABCDE"

_UI = {
    "en": {
        "choice": "multiple choice",
        "short": "short answer",
        "answer": "Answer",
        "model_answer": "Model answer",
        "key_points": "Key points",
        "right": "Correct.",
        "wrong": "Not quite. The right answer: {answer}",
        "points": "{hit} of {total} key points covered.",
        "covered": "Covered",
        "missed": "Missed",
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
        "points": "覆盖了 {total} 个要点中的 {hit} 个。",
        "covered": "已覆盖",
        "missed": "遗漏",
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


@dataclass(frozen=True)
class Result:
    """The grade of one answer: ``score`` in [0, 1]; ``hits``/``misses`` name key points."""

    question_id: str
    topic: str
    correct: bool
    score: float
    feedback: str
    hits: tuple[str, ...] = ()
    misses: tuple[str, ...] = ()
    model_answer: str = ""


@dataclass(frozen=True)
class Summary:
    """Totals over a set of results; ``by_topic`` holds ``(topic, correct, answered)`` rows."""

    answered: int
    correct: int
    points: float
    by_topic: tuple[tuple[str, int, int], ...]

    @property
    def fraction(self) -> float:
        """Fraction of answers that were correct (0 when nothing was answered)."""
        return self.correct / self.answered if self.answered else 0.0

    def text(self, lang: str = "en") -> str:
        """The summary as plain text in ``lang``, one line per topic after the total."""
        ui = _UI[_check_language(lang)]
        lines = [
            ui["summary"].format(
                correct=self.correct,
                answered=self.answered,
                fraction=self.fraction,
                points=self.points,
            )
        ]
        known = topics()
        for t, c, a in self.by_topic:
            title = topic_title(t, lang) if t in known else t
            lines.append(f"  {title}{ui['colon']}{c}/{a}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text("en")


# --- the bank -------------------------------------------------------------------------------


def _check_language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {LANGUAGES}, got {lang!r}")
    return lang


@cache
def _data() -> dict:
    path = resources.files(__package__) / "quiz_data" / "questions.json"
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
def _by_id(lang: str) -> dict[str, Question]:
    return {q.id: q for q in _bank(lang)}


def load_bank(lang: str = "en") -> list[Question]:
    """All questions in ``lang`` ("en" or "zh"), in course order; ids are the same in both."""
    return list(_bank(_check_language(lang)))


def topics() -> list[str]:
    """The topic ids in course order: lessons 01-06, then the exercises 07 and 08."""
    return [t["id"] for t in _data()["topics"]]


def topic_title(topic: str, lang: str = "en") -> str:
    """The human-readable title of a topic in ``lang``."""
    _check_language(lang)
    for t in _data()["topics"]:
        if t["id"] == topic:
            return t[lang]
    raise ValueError(f"topic must be one of {topics()}, got {topic!r}")


def _check_topics(selected: str | Iterable[str] | None) -> tuple[str, ...]:
    known = topics()
    if selected is None:
        return tuple(known)
    chosen = (selected,) if isinstance(selected, str) else tuple(selected)
    if not chosen or any(t not in known for t in chosen):
        raise ValueError(
            f"topics must be None or a non-empty selection of {known}, got {selected!r}"
        )
    return chosen


# --- grading --------------------------------------------------------------------------------


def _normalise(text: str) -> str:
    """Case-folded letters and digits only: 'Fine-Tuning!' -> 'finetuning', '微调。' -> '微调'."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())


def _label(key_point: str) -> str:
    """How a key point is shown: its first accepted wording."""
    return key_point.split("|")[0].strip()


def _covers(answer: str, key_point: str) -> bool:
    """Whether the normalised ``answer`` contains one of the key point's wordings."""
    wordings = (_normalise(w) for w in key_point.split("|"))
    return any(w and w in answer for w in wordings)


def _option_label(question: Question, index: int) -> str:
    return f"{_LETTERS[index]}. {question.options[index]}"


def grade_choice(question: Question, chosen_index: int) -> Result:
    """Grade a multiple-choice answer given as the 0-based index of the chosen option."""
    if question.kind != "choice":
        raise ValueError(f"question {question.id} is a short-answer question; use grade_short")
    if isinstance(chosen_index, bool) or not isinstance(chosen_index, int):
        raise TypeError(f"chosen_index must be an int, got {type(chosen_index).__name__}")
    last = len(question.options) - 1
    if not 0 <= chosen_index <= last:
        raise ValueError(
            f"chosen_index must be between 0 and {last} for question {question.id}, "
            f"got {chosen_index}"
        )
    ui = _UI[question.lang]
    correct = chosen_index == question.answer
    verdict = (
        ui["right"]
        if correct
        else ui["wrong"].format(answer=_option_label(question, question.answer))
    )
    return Result(
        question_id=question.id,
        topic=question.topic,
        correct=correct,
        score=float(correct),
        feedback=f"{verdict}\n{question.explanation}",
        model_answer=question.model_answer,
    )


def grade_short(question: Question, text: str) -> Result:
    """Grade a short answer by the key points it covers; correct from PASS_MARK of them on."""
    if question.kind != "short":
        raise ValueError(f"question {question.id} is a multiple-choice question; use grade_choice")
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    answer = _normalise(text)
    hits = tuple(_label(k) for k in question.key_points if _covers(answer, k))
    misses = tuple(_label(k) for k in question.key_points if not _covers(answer, k))
    points = len(hits) / len(question.key_points)
    ui = _UI[question.lang]
    lines = [ui["points"].format(hit=len(hits), total=len(question.key_points))]
    for name, found in (("covered", hits), ("missed", misses)):
        if found:
            lines.append(ui[name] + ui["colon"] + ui["comma"].join(found))
    lines.append(ui["model_answer"] + ui["colon"] + question.model_answer)
    return Result(
        question_id=question.id,
        topic=question.topic,
        correct=points >= PASS_MARK,
        score=points,
        feedback="\n".join(lines),
        hits=hits,
        misses=misses,
        model_answer=question.model_answer,
    )


def score(results: Iterable[Result]) -> Summary:
    """Sum up graded answers: how many were correct, points (partial credit), per topic."""
    results = list(results)
    per_topic: dict[str, tuple[int, int]] = {}
    for r in results:
        correct, answered = per_topic.get(r.topic, (0, 0))
        per_topic[r.topic] = (correct + r.correct, answered + 1)
    order = [t for t in topics() if t in per_topic] + sorted(set(per_topic) - set(topics()))
    return Summary(
        answered=len(results),
        correct=sum(r.correct for r in results),
        points=sum(r.score for r in results),
        by_topic=tuple((t, *per_topic[t]) for t in order),
    )


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
    chosen = _check_topics(topics)
    pool = [q for q in load_bank(lang) if q.topic in chosen]
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if not 1 <= n <= len(pool):
        raise ValueError(f"n must be between 1 and {len(pool)} for topics {chosen}, got {n}")
    return random.Random(seed).sample(pool, n)


def _front(question: Question, with_options: bool = True) -> str:
    lines = [question.text]
    if with_options:
        lines += [f"  {_option_label(question, i)}" for i in range(len(question.options))]
    return "\n".join(lines)


def _back(question: Question) -> str:
    ui = _UI[question.lang]
    if question.kind == "choice":
        answer = ui["answer"] + ui["colon"] + _option_label(question, question.answer)
        return f"{answer}\n{question.explanation}"
    key_points = ui["comma"].join(_label(k) for k in question.key_points)
    return (
        f"{ui['model_answer']}{ui['colon']}{question.model_answer}\n"
        f"{ui['key_points']}{ui['colon']}{key_points}"
    )


def flash_cards(
    lang: str = "en", topic: str | Iterable[str] | None = None
) -> list[tuple[str, str]]:
    """(front, back) pairs: the question (with its options) and its answer with explanation."""
    chosen = _check_topics(topic)
    return [(_front(q), _back(q)) for q in load_bank(lang) if q.topic in chosen]


def _header(question: Question) -> str:
    ui = _UI[question.lang]
    return f"[{question.id}] {topic_title(question.topic, question.lang)} · {ui[question.kind]}"


def plain_text(question: Question, reveal: bool = False) -> str:
    """The question as plain text; with ``reveal=True`` the answer follows it."""
    parts = [_header(question), _front(question)]
    if reveal:
        parts.append(_back(question))
    return "\n\n".join(parts)


def _session(
    lang: str, mode: str, seed: int, n: int, topics: str | Iterable[str] | None
) -> list[Question]:
    """The questions of one sitting: the whole (filtered) bank, or a mock interview's draw."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "mock":
        return mock_interview(n, seed, topics, lang)
    chosen = _check_topics(topics)
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
    questions = _session(lang, mode, seed, n, topics)
    ui = _UI[lang]
    show = reveal or mode == "flashcards"
    blocks = [
        ui["progress"].format(i=i, n=len(questions)) + "\n" + plain_text(q, reveal=show)
        for i, q in enumerate(questions, start=1)
    ]
    print(("\n\n" + "-" * 60 + "\n\n").join(blocks))


# --- the widget -----------------------------------------------------------------------------


def _html(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def _show(widget: widgets.Widget, visible: bool) -> None:
    widget.layout.display = None if visible else "none"


class QuizWidget(widgets.VBox):
    """The quiz in JupyterLab: a language toggle, the question, an answer input, Reveal and Next.

    A thin wrapper over the pure functions above: questions come from :func:`load_bank` or
    :func:`mock_interview`, grades from :func:`grade_choice` / :func:`grade_short`, the final tally
    from :func:`score`. Where widgets do not render, its text representation is the current
    question as :func:`plain_text` writes it.
    """

    def __init__(
        self,
        lang: str = "en",
        mode: str = "quiz",
        seed: int = 0,
        n: int = 10,
        topics: str | Iterable[str] | None = None,
    ) -> None:
        session = _session(lang, mode, seed, n, topics)  # validates before any widget exists
        super().__init__()
        self.mode = mode
        self.ids = [q.id for q in session]
        self.position = 0
        self.results: dict[str, Result] = {}
        self._revealed = False
        self._graded: tuple[str, Result] | None = None  # (language graded in, result)

        self.language = widgets.ToggleButtons(
            options=[("English", "en"), ("中文", "zh")], value=lang
        )
        self.progress = widgets.HTML()
        self.question = widgets.HTML()
        self.choices = widgets.RadioButtons(options=[], value=None, layout={"width": "auto"})
        self.answer_box = widgets.Textarea(layout={"width": "100%", "height": "7em"})
        self.reveal_button = widgets.Button(button_style="primary")
        self.next_button = widgets.Button()
        self.feedback = widgets.HTML()

        self.language.observe(lambda _change: self._render(), names="value")
        self.reveal_button.on_click(self._on_reveal)
        self.next_button.on_click(self._on_next)
        buttons = widgets.HBox([self.reveal_button, self.next_button])
        self.children = [
            self.language,
            self.progress,
            self.question,
            self.choices,
            self.answer_box,
            buttons,
            self.feedback,
        ]
        self._render()

    @property
    def current(self) -> Question | None:
        """The question on screen in the current language, or None once the session is over."""
        if self.position >= len(self.ids):
            return None
        return _by_id(self.language.value)[self.ids[self.position]]

    def text(self) -> str:
        """What the widget shows, as plain text (the fallback where widgets do not render)."""
        question = self.current
        if question is None:
            return self._end_text()
        return plain_text(question, reveal=self._revealed)

    def _answering(self) -> bool:
        return self.mode != "flashcards"

    def _on_reveal(self, _button: widgets.Button | None = None) -> None:
        question = self.current
        if question is None or self._revealed:
            return
        lang = self.language.value
        if self._answering():
            if question.kind == "choice" and self.choices.value is None:
                self.feedback.value = _html(_UI[lang]["pick"])
                return
            if question.kind == "choice":
                result = grade_choice(question, self.choices.value)
            else:
                result = grade_short(question, self.answer_box.value)
            self.results[question.id] = result
            self._graded = (lang, result)
        self._revealed = True
        self._render()

    def _on_next(self, _button: widgets.Button | None = None) -> None:
        if self.current is None:
            return
        self.position += 1
        self._revealed = False
        self._graded = None
        self.choices.value = None
        self.answer_box.value = ""
        self._render()

    def _feedback_text(self, question: Question) -> str:
        if not self._revealed:
            return ""
        if self._graded and self._graded[0] == question.lang:
            return self._graded[1].feedback
        return _back(question)

    def _end_text(self) -> str:
        ui = _UI[self.language.value]
        if not self._answering():
            return ui["cards_done"].format(n=len(self.ids))
        results = [self.results[i] for i in self.ids if i in self.results]
        return ui["finished"] + "\n" + score(results).text(self.language.value)

    def _render(self) -> None:
        """Redraw every text from the state, in the current language."""
        ui = _UI[self.language.value]
        question = self.current
        self.reveal_button.description = ui["reveal"]
        self.next_button.description = ui["next"]
        self.answer_box.placeholder = ui["placeholder"]
        self.reveal_button.disabled = question is None or self._revealed
        self.next_button.disabled = question is None
        if question is None:
            self.progress.value = ""
            self.question.value = _html(self._end_text())
            self.feedback.value = ""
            _show(self.choices, False)
            _show(self.answer_box, False)
            return
        show_choices = self._answering() and question.kind == "choice"
        self.progress.value = _html(ui["progress"].format(i=self.position + 1, n=len(self.ids)))
        self.question.value = (
            f"<b>{_html(_header(question))}</b><br>"
            f"{_html(_front(question, with_options=not show_choices))}"
        )
        self._render_inputs(question, show_choices)
        self.feedback.value = _html(self._feedback_text(question))

    def _render_inputs(self, question: Question, show_choices: bool) -> None:
        selected = self.choices.value
        options = [(_option_label(question, i), i) for i in range(len(question.options))]
        self.choices.options = options if show_choices else []
        self.choices.value = selected if show_choices else None  # setting options resets it
        self.choices.disabled = self._revealed
        self.answer_box.disabled = self._revealed
        _show(self.choices, show_choices)
        _show(self.answer_box, self._answering() and question.kind == "short")

    def _repr_mimebundle_(self, **kwargs) -> dict | None:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is not None:
            bundle["text/plain"] = self.text()
        return bundle


def quiz_widget(
    lang: str = "en",
    mode: str = "quiz",
    seed: int = 0,
    n: int = 10,
    topics: str | Iterable[str] | None = None,
) -> QuizWidget:
    """Build the interactive quiz.

    ``mode="quiz"`` goes through every question (of ``topics``), ``"flashcards"`` shows each
    question and reveals its answer on demand, ``"mock"`` asks ``n`` random questions (drawn with
    ``seed``) and reveals each answer once given, then shows the score.
    """
    return QuizWidget(lang=lang, mode=mode, seed=seed, n=n, topics=topics)
