"""Interview review: a bilingual question bank (English / 中文), grading, flash cards and a quiz.

The bank is data, ``quiz_data/questions.json``: one entry per question id holding both languages,
so English and Chinese always have the same questions with the same answers. Everything here is a
pure function of that data except :class:`QuizWidget` (a thin ipywidgets wrapper, built by
:func:`quiz_widget`) and :func:`print_quiz`, its plain-text fallback where widgets do not render.

Multiple-choice answers are graded automatically. Short answers are **self-assessed**: no
keyword count can tell a right answer from one that uses the same words to say the opposite, so
the learner writes an answer, then sees the model answer and its key points as a checklist and
ticks the points they made (:func:`grade_short` with ``ticked``). A key point lists accepted
wordings separated by ``|``, e.g. ``"fine-tuning|fine-tune|retrain"``; the optional "mentioned /
not yet mentioned" aid (:mod:`~.answer_aid`) shows which of them the answer seems to
state, and never counts one inside a negation, a reversal or a bare list of terms.
"""

from __future__ import annotations

import html
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

import ipywidgets as widgets

from .answer_aid import Aid, mention_aid

LANGUAGES = ("en", "zh")
KINDS = ("choice", "short")
MODES = ("quiz", "flashcards", "mock")
PASS_MARK = 0.5  # a self-assessed short answer counts as right from half its key points ticked
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
        "points": "You ticked {hit} of {total} key points.",
        "covered": "Ticked",
        "missed": "Not ticked",
        "self_check": "Compare your answer with the model answer and tick the key points you "
        "made. (Mentioned / not yet mentioned only says which terms your answer seems to use; "
        "you are the judge.)",
        "mentioned": "mentioned",
        "not_mentioned": "not yet mentioned",
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
        "self_check": "对照参考答案，勾选你答到的要点。"
        "（“已提到 / 尚未提到”只提示你的回答似乎用到了哪些术语，判断由你自己来做。）",
        "mentioned": "已提到",
        "not_mentioned": "尚未提到",
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


@dataclass(frozen=True)
class Result:
    """The grade of one answer: ``score`` in [0, 1]; ``hits``/``misses`` name key points.

    ``marked`` is False for a short answer whose key points the learner has not ticked yet: it is
    neither right nor wrong, and scores 0. For such a result ``hits`` / ``misses`` are what the
    aid found mentioned / not yet mentioned; once ticked, they are the ticked / unticked points.
    """

    question_id: str
    topic: str
    correct: bool
    score: float
    feedback: str
    hits: tuple[str, ...] = ()
    misses: tuple[str, ...] = ()
    model_answer: str = ""
    marked: bool = True

    def __str__(self) -> str:
        return f"[{self.question_id}] {self.feedback}"


@dataclass(frozen=True)
class Summary:
    """Totals over a set of results; ``by_topic`` holds ``(topic, correct, answered)`` rows."""

    answered: int
    correct: int
    points: float
    by_topic: tuple[tuple[str, int, int], ...]
    unmarked: int = 0

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
        if self.unmarked:
            lines.append(ui["unmarked"].format(n=self.unmarked))
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


def _label(key_point: str) -> str:
    """How a key point is shown: its first accepted wording."""
    return key_point.split("|")[0].strip()


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


def _aid(question: Question, text: str) -> Aid:
    """The mentioned / not yet mentioned aid for ``text`` as an answer to ``question``."""
    return mention_aid(
        question.key_points, text, question.text, lang=question.lang, qid=question.id
    )


def _ticked_indices(question: Question, ticked: Iterable[int | str]) -> set[int]:
    labels = [_label(k) for k in question.key_points]
    chosen = set()
    for item in ticked:
        if isinstance(item, str) and item in labels:
            chosen.add(labels.index(item))
        elif isinstance(item, int) and not isinstance(item, bool) and 0 <= item < len(labels):
            chosen.add(item)
        else:
            raise ValueError(
                f"ticked must hold key point indices 0..{len(labels) - 1} or labels {labels}, "
                f"got {item!r}"
            )
    return chosen


def grade_short(question: Question, text: str, ticked: Iterable[int | str] | None = None) -> Result:
    """A short answer: the model answer and key points to compare with, scored by the ticks.

    Without ``ticked`` the result is *unmarked* (``marked=False``, score 0, never "correct"):
    the feedback shows the model answer and the checklist, each key point labelled by the aid as
    mentioned or not yet mentioned. With ``ticked`` (key point indices or labels, the points the
    learner judges they made) the score is the share ticked, correct from ``PASS_MARK`` on.
    """
    if question.kind != "short":
        raise ValueError(f"question {question.id} is a multiple-choice question; use grade_choice")
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    ui = _UI[question.lang]
    labels = [_label(k) for k in question.key_points]
    model = ui["model_answer"] + ui["colon"] + question.model_answer
    if ticked is None:
        aid = _aid(question, text)
        found = dict(aid.points)
        lines = [model, ui["self_check"], (ui["key_points"] + ui["colon"]).rstrip()]
        lines += [
            f"  [ ] {label} ({ui['mentioned'] if found[label] else ui['not_mentioned']})"
            for label in labels
        ]
        return Result(
            question_id=question.id,
            topic=question.topic,
            correct=False,
            score=0.0,
            feedback="\n".join([*lines, *aid.notes]),
            hits=aid.mentioned,
            misses=tuple(label for label in labels if not found[label]),
            model_answer=question.model_answer,
            marked=False,
        )
    chosen = _ticked_indices(question, ticked)
    hits = tuple(label for i, label in enumerate(labels) if i in chosen)
    misses = tuple(label for i, label in enumerate(labels) if i not in chosen)
    points = len(hits) / len(labels)
    lines = [ui["points"].format(hit=len(hits), total=len(labels))]
    for name, found_labels in (("covered", hits), ("missed", misses)):
        if found_labels:
            lines.append(ui[name] + ui["colon"] + ui["comma"].join(found_labels))
    lines.append(model)
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
        unmarked=sum(not r.marked for r in results),
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
    from :func:`score`. After Reveal, a short answer shows its key points as checkboxes: the
    learner's ticks are its score. What the learner chose, wrote and ticked is kept per question,
    so switching the language re-grades in the other language without losing anything. Where
    widgets do not render, its text representation is the current question as
    :func:`plain_text` writes it.
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
        self.answers: dict[str, int | str] = {}  # question id -> chosen index or written text
        self.ticks: dict[str, set[int]] = {}  # question id -> ticked key point indices
        self._revealed = False

        self.language = widgets.ToggleButtons(
            options=[("English", "en"), ("中文", "zh")], value=lang
        )
        self.progress = widgets.HTML()
        self.question = widgets.HTML()
        self.choices = widgets.RadioButtons(options=[], value=None, layout={"width": "auto"})
        self.answer_box = widgets.Textarea(layout={"width": "100%", "height": "7em"})
        self.reveal_button = widgets.Button(button_style="primary")
        self.next_button = widgets.Button()
        self.restart_button = widgets.Button(button_style="primary")
        self.feedback = widgets.HTML()
        self.checklist = widgets.VBox()
        self.checklist.add_class("pl-checklist")

        self.language.observe(lambda _change: self._on_language(), names="value")
        self.reveal_button.on_click(self._on_reveal)
        self.next_button.on_click(self._on_next)
        self.restart_button.on_click(self._on_restart)
        buttons = widgets.HBox([self.reveal_button, self.next_button, self.restart_button])
        self.children = [
            self.language,
            self.progress,
            self.question,
            self.choices,
            self.answer_box,
            buttons,
            self.feedback,
            self.checklist,
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

    def _grade(self, qid: str) -> None:
        """(Re)grade question ``qid`` in the current language from what the learner gave."""
        question = _by_id(self.language.value)[qid]
        if question.kind == "choice":
            self.results[qid] = grade_choice(question, self.answers[qid])
        else:
            ticked = self.ticks.get(qid)
            self.results[qid] = grade_short(question, self.answers[qid], ticked)

    def tick(self, index: int, value: bool = True) -> None:
        """Tick (or untick) key point ``index`` of the revealed short answer on screen."""
        question = self.current
        if question is None or question.kind != "short" or question.id not in self.answers:
            return
        ticks = self.ticks.setdefault(question.id, set())
        if value:
            ticks.add(index)
        else:
            ticks.discard(index)
        self._grade(question.id)
        self.feedback.value = _html(self._feedback_text(question))

    def _on_language(self) -> None:
        for qid in self.answers:
            self._grade(qid)
        self._render()

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
                self.answers[question.id] = self.choices.value
            else:
                self.answers[question.id] = self.answer_box.value
            self._grade(question.id)
        self._revealed = True
        self._render()

    def _on_next(self, _button: widgets.Button | None = None) -> None:
        if self.current is None:
            return
        self.position += 1
        self._revealed = False
        self.choices.value = None
        self.answer_box.value = ""
        self._render()

    def _on_restart(self, _button: widgets.Button | None = None) -> None:
        self.position = 0
        self.results.clear()
        self.answers.clear()
        self.ticks.clear()
        self._revealed = False
        self.choices.value = None
        self.answer_box.value = ""
        self._render()

    def _feedback_text(self, question: Question) -> str:
        if not self._revealed:
            return ""
        result = self.results.get(question.id)
        if result is None:
            return _back(question)
        if question.kind == "short":  # the checklist below holds the key points
            ui = _UI[question.lang]
            ticked = self.ticks.get(question.id, set())
            notes = _aid(question, self.answers[question.id]).notes
            head = [ui["model_answer"] + ui["colon"] + question.model_answer, ui["self_check"]]
            score_line = ui["points"].format(hit=len(ticked), total=len(question.key_points))
            return "\n".join([*head, *notes, score_line])
        return result.feedback

    def _end_text(self) -> str:
        ui = _UI[self.language.value]
        if not self._answering():
            return ui["cards_done"].format(n=len(self.ids))
        results = [self.results[i] for i in self.ids if i in self.results]
        summary = score(results).text(self.language.value)
        return f"{ui['finished']}\n{summary}\n{ui['explain']}"

    def _render_checklist(self, question: Question | None) -> None:
        show = (
            question is not None
            and self._revealed
            and question.kind == "short"
            and question.id in self.answers
        )
        if not show:
            self.checklist.children = ()
            _show(self.checklist, False)
            return
        ui = _UI[question.lang]
        aid = dict(_aid(question, self.answers[question.id]).points)
        ticked = self.ticks.get(question.id, set())
        boxes = []
        for i, key in enumerate(question.key_points):
            label = _label(key)
            seen = ui["mentioned"] if aid[label] else ui["not_mentioned"]
            box = widgets.Checkbox(
                value=i in ticked,
                description=f"{label} ({seen})",
                indent=False,
                layout={"width": "auto"},
            )
            box.observe(lambda change, i=i: self.tick(i, change["new"]), names="value")
            boxes.append(box)
        self.checklist.children = boxes
        _show(self.checklist, True)

    def _render(self) -> None:
        """Redraw every text from the state, in the current language."""
        ui = _UI[self.language.value]
        question = self.current
        self.reveal_button.description = ui["reveal"]
        self.next_button.description = ui["next"]
        self.restart_button.description = ui["restart"]
        self.answer_box.placeholder = ui["placeholder"]
        self.reveal_button.disabled = question is None or self._revealed
        self.next_button.disabled = question is None
        _show(self.reveal_button, question is not None)
        _show(self.next_button, question is not None)
        _show(self.restart_button, question is None)
        self._render_checklist(question)
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
