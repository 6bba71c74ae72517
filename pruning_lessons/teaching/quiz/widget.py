"""The quiz in JupyterLab: a thin ipywidgets wrapper over the bank, the marking and the sessions."""

from __future__ import annotations

import html
from collections.abc import Iterable

import ipywidgets as widgets

from .bank import UI, Question, by_id
from .marking import (
    Result,
    grade_choice,
    grade_short,
    key_point_label,
    option_label,
    score,
    yours,
)
from .sessions import back, front, header, plain_text, session_questions

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
        session = session_questions(
            lang, mode, seed, n, topics
        )  # validates before any widget exists
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
        return by_id(self.language.value)[self.ids[self.position]]

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
        question = by_id(self.language.value)[qid]
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
                self.feedback.value = _html(UI[lang]["pick"])
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
            return back(question)
        if question.kind == "short":  # the checklist below holds the key points
            ui = UI[question.lang]
            ticked = self.ticks.get(question.id, set())
            head = [
                yours(question, self.answers[question.id]),
                ui["model_answer"] + ui["colon"] + question.model_answer,
                ui["self_check"],
            ]
            score_line = ui["points"].format(hit=len(ticked), total=len(question.key_points))
            return "\n".join([*head, score_line])
        return result.feedback

    def _end_text(self) -> str:
        ui = UI[self.language.value]
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
        ticked = self.ticks.get(question.id, set())
        boxes = []
        for i, key in enumerate(question.key_points):
            box = widgets.Checkbox(
                value=i in ticked,
                description=key_point_label(key),
                indent=False,
                layout={"width": "auto"},
            )
            box.observe(lambda change, i=i: self.tick(i, change["new"]), names="value")
            boxes.append(box)
        self.checklist.children = boxes
        _show(self.checklist, True)

    def _render(self) -> None:
        """Redraw every text from the state, in the current language."""
        ui = UI[self.language.value]
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
            f"<b>{_html(header(question))}</b><br>"
            f"{_html(front(question, with_options=not show_choices))}"
        )
        self._render_inputs(question, show_choices)
        self.feedback.value = _html(self._feedback_text(question))

    def _render_inputs(self, question: Question, show_choices: bool) -> None:
        selected = self.choices.value
        options = [(option_label(question, i), i) for i in range(len(question.options))]
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
